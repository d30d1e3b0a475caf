//! Golden tests: the built dcp-queue binary, stdin → stdout, against an embedded queue.

use std::path::Path;
use std::process::Output;

use dcp_tests::stdout_ok;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-queue");

fn golden(name: &str) -> String {
    dcp_tests::golden(env!("CARGO_MANIFEST_DIR"), name)
}

fn dcp_queue(dir: &Path, args: &[&str], stdin: &str) -> Output {
    dcp_tests::run(BIN, dir, args, stdin)
}

/// A run directory with a dcp.toml for the embedded backend.
fn run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dcp.toml"),
        "APP_NAME = \"Golden\"\nAWS_BUCKET = \"bucket\"\nJOB_RETRIES = 2\n",
    )
    .unwrap();
    dir
}

#[test]
fn push_dry_run_prints_dcp_message_bodies() {
    let dir = run_dir();
    let out = stdout_ok(dcp_queue(
        dir.path(),
        &["push", "--dry-run"],
        &golden("examplefly-job.json"),
    ));
    assert_eq!(out, golden("examplefly-bodies.jsonl"));
    let bad = golden("examplefly-job.json").replace("Metadata_Position=76", "Metadata_Position");
    let refused = dcp_queue(dir.path(), &["push"], &bad);
    assert_eq!(refused.status.code(), Some(2));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files,
        ["dcp.toml"],
        "a dry run, or a refused push, writes nothing: not even the queue file"
    );
}

#[test]
fn csv_plate_list_expands_into_wells_and_sites() {
    let dir = run_dir();
    std::fs::write(dir.path().join("template.json"), golden("template.json")).unwrap();
    let csv = "Metadata_Plate,pipeline\nBR00117010,\nBR00117011,illum.cppipe\n";
    let args = [
        "push",
        "--dry-run",
        "--job",
        "template.json",
        "--wells",
        "A01,P24",
        "--sites",
        "1-2",
    ];
    let out = stdout_ok(dcp_queue(dir.path(), &args, csv));
    assert_eq!(out, golden("plates-bodies.jsonl"));
}

#[test]
fn create_push_status_dead() {
    let dir = run_dir();
    let d = dir.path();
    assert_eq!(
        stdout_ok(dcp_queue(d, &["create"], "")),
        golden("create.json")
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["create"], "")),
        golden("create-again.json")
    );
    std::fs::write(d.join("job.json"), golden("examplefly-job.json")).unwrap();
    assert_eq!(
        stdout_ok(dcp_queue(d, &["push", "job.json"], "")),
        golden("push.json")
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["status"], "")),
        golden("status.json")
    );
    assert_eq!(stdout_ok(dcp_queue(d, &["dead"], "")), "");
    assert_eq!(
        stdout_ok(dcp_queue(d, &["purge"], "")),
        "{\"queue\":\"GoldenQueue\",\"purged\":3}\n"
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["delete"], "")),
        "{\"deleted\":[\"GoldenQueue\",\"GoldenDeadMessages\"],\"kept\":[]}\n"
    );
    let gone = dcp_queue(d, &["status"], "");
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("queue `GoldenQueue` does not exist"));
}

#[test]
fn a_bad_job_is_refused_whole_and_nothing_is_sent() {
    let dir = run_dir();
    let d = dir.path();
    stdout_ok(dcp_queue(d, &["create"], ""));
    let job =
        golden("examplefly-job.json").replace("Metadata_Position=76", "Metadata_Position=../76");
    let out = dcp_queue(d, &["push"], &job);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "<stdin>:11: Metadata: the value `../76` of `Metadata_Position` holds a path separator"
        ),
        "{stderr}"
    );
    let spaced =
        golden("examplefly-job.json").replace("Metadata_Position=76", "Metadata_Position=76 ");
    let out = dcp_queue(d, &["push"], &spaced);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "<stdin>:11: Metadata: the value `76 ` of `Metadata_Position` begins or ends with \
             whitespace"
        ),
        "{stderr}"
    );
    let duplicate =
        golden("examplefly-job.json").replace("Metadata_Position=76", "Metadata_Position=2");
    let out = dcp_queue(d, &["push"], &duplicate);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("<stdin>:11: Metadata: duplicate of the group at line 10")
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["status"], "")),
        golden("status-empty.json")
    );
}

#[test]
fn config_can_come_from_stdin() {
    let dir = run_dir();
    let json = r#"{"APP_NAME": "Piped", "AWS_BUCKET": "bucket"}"#;
    let out = stdout_ok(dcp_queue(dir.path(), &["create"], json));
    assert!(out.starts_with("{\"queue\":\"PipedQueue\""), "{out}");
}

#[test]
fn message_bodies_push_as_json_lines() {
    let dir = run_dir();
    let d = dir.path();
    let bodies = golden("examplefly-bodies.jsonl");
    std::fs::write(d.join("unsent.jsonl"), &bodies).unwrap();
    let args = ["push", "--dry-run", "--format", "jsonl"];
    assert_eq!(stdout_ok(dcp_queue(d, &args, &bodies)), bodies);
    stdout_ok(dcp_queue(d, &["create"], ""));

    let lines: Vec<&str> = bodies.lines().collect();
    let bad = [
        lines[0],
        &lines[1].replace("\"input\"", "\"inputs\""),
        lines[2],
    ]
    .join("\n");
    std::fs::write(d.join("bad.jsonl"), bad).unwrap();
    let out = dcp_queue(d, &["push", "bad.jsonl"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bad.jsonl:2: inputs: unknown key"),
        "{stderr}"
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["status"], "")),
        golden("status-empty.json")
    );

    assert_eq!(
        stdout_ok(dcp_queue(
            d,
            &["push", "unsent.jsonl", "--batch", "job"],
            ""
        )),
        "{\"queue\":\"GoldenQueue\",\"source\":\"unsent.jsonl\",\"batch\":\"job\",\"sent\":3}\n"
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["status"], "")),
        golden("status.json")
    );
}

#[test]
fn bytes_that_are_not_utf8_are_bad_input_with_their_line() {
    let dir = run_dir();
    let mut csv = b"Metadata_Plate\nP1\n".to_vec();
    csv.extend_from_slice(b"P\xff2\n");
    std::fs::write(dir.path().join("plates.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("template.json"),
        r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o"}"#,
    )
    .unwrap();
    let out = dcp_queue(
        dir.path(),
        &["push", "plates.csv", "--job", "template.json"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plates.csv:3: file: not UTF-8 text"),
        "{stderr}"
    );
    std::fs::write(dir.path().join("dcp.toml"), b"APP_NAME = \"G\xe9\"\n").unwrap();
    let out = dcp_queue(dir.path(), &["status"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dcp.toml:1: not UTF-8 text"), "{stderr}");
}

#[test]
fn a_push_never_takes_a_piped_stdin_for_its_settings() {
    let dir = run_dir();
    std::fs::write(dir.path().join("job.json"), golden("examplefly-job.json")).unwrap();
    stdout_ok(dcp_queue(dir.path(), &["create"], ""));
    // As in a `while read` loop or under cron: stdin is piped, but holds no settings.
    let out = stdout_ok(dcp_queue(
        dir.path(),
        &["push", "job.json"],
        "plate-list line\n",
    ));
    assert!(out.contains("\"sent\":3"), "{out}");
}
