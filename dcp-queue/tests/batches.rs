//! Golden tests of batches on the embedded queue: `push --batch`, per-batch counts in
//! `status`, `dead --batch` and `redrive --batch`; tasks are received and given up through
//! the queue library, as workers would.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use dcp_common::{EmbeddedQueue, Queue, QueueSpec};
use dcp_tests::stdout_ok;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-queue");

fn golden(name: &str) -> String {
    dcp_tests::golden(env!("CARGO_MANIFEST_DIR"), name)
}

fn dcp_queue(dir: &Path, args: &[&str]) -> Output {
    dcp_tests::run(BIN, dir, args, "")
}

/// The queue of `dir`'s settings, as a worker opens it: one receive per task.
fn worker_queue(dir: &Path) -> EmbeddedQueue {
    let spec = QueueSpec {
        name: "GoldenQueue".into(),
        dead_letter_queue: "GoldenDeadMessages".into(),
        visibility_timeout: Duration::from_secs(1),
        max_receives: 1,
    };
    EmbeddedQueue::open(&dir.join("dcp-queue.sqlite"), spec).unwrap()
}

#[tokio::test]
async fn batches_are_pushed_counted_listed_and_redriven_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "APP_NAME = \"Golden\"\nAWS_BUCKET = \"bucket\"\nJOB_RETRIES = 1\nSQS_MESSAGE_VISIBILITY = 1\n",
    )
    .unwrap();
    std::fs::write(d.join("job.json"), golden("examplefly-job.json")).unwrap();
    std::fs::write(d.join("template.json"), golden("template.json")).unwrap();
    std::fs::write(d.join("plates.csv"), "Metadata_Plate\nBR00117010\n").unwrap();
    stdout_ok(dcp_queue(d, &["create"]));

    assert_eq!(
        stdout_ok(dcp_queue(d, &["push", "job.json", "--batch", "illum-P1"])),
        "{\"queue\":\"GoldenQueue\",\"source\":\"job.json\",\"batch\":\"illum-P1\",\"sent\":3}\n"
    );
    // One task done, two given up.
    let queue = worker_queue(d);
    let taken = queue.receive(3, Duration::ZERO).await.unwrap();
    assert_eq!(taken.len(), 3);
    assert!(taken.iter().all(|t| t.batch.as_deref() == Some("illum-P1")));
    queue.delete_message(&taken[0].receipt).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());

    // The batch is named after the plate list by default.
    let args = [
        "push",
        "plates.csv",
        "--job",
        "template.json",
        "--wells",
        "A01",
    ];
    let pushed = stdout_ok(dcp_queue(d, &[&args[..], &["--sites", "1-2"]].concat()));
    assert!(
        pushed.contains("\"batch\":\"plates\",\"sent\":2"),
        "{pushed}"
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["status"])),
        golden("status-batches.json")
    );
    assert_eq!(stdout_ok(dcp_queue(d, &["dead", "--batch", "plates"])), "");
    assert_eq!(
        stdout_ok(dcp_queue(d, &["dead", "--batch", "illum-P1"])),
        golden("dead-batch.jsonl")
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["dead"])),
        golden("dead-batch.jsonl"),
        "every dead letter is illum-P1's"
    );

    let refused = dcp_queue(d, &["redrive", "--batch", "illum P1"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("batch name `illum P1`"));
    assert_eq!(
        stdout_ok(dcp_queue(d, &["redrive", "--batch", "plates"])),
        "{\"queue\":\"GoldenQueue\",\"redriven\":0,\"batch\":\"plates\"}\n"
    );
    assert_eq!(
        stdout_ok(dcp_queue(d, &["redrive", "--batch", "illum-P1"])),
        "{\"queue\":\"GoldenQueue\",\"redriven\":2,\"batch\":\"illum-P1\"}\n"
    );
    // A batch the queue holds nothing of is said to be so (stderr, and in redrive's JSON).
    for command in ["dead", "redrive"] {
        let unknown = dcp_queue(d, &[command, "--batch", "ilum-P1"]);
        let stderr = String::from_utf8_lossy(&unknown.stderr).into_owned();
        assert!(
            stderr.contains("batch `ilum-P1`: none of its tasks is in the queue's counts"),
            "{command}: {stderr}"
        );
        let stdout = stdout_ok(unknown);
        if command == "redrive" {
            assert_eq!(
                stdout,
                "{\"queue\":\"GoldenQueue\",\"redriven\":0,\"batch\":\"ilum-P1\",\
                 \"batch_in_queue\":false}\n"
            );
        } else {
            assert_eq!(stdout, "");
        }
    }
    let known = dcp_queue(d, &["dead", "--batch", "plates"]);
    assert!(known.stderr.is_empty(), "{known:?}");
    let redriven = queue.receive(10, Duration::ZERO).await.unwrap();
    let batches: Vec<&str> = redriven.iter().filter_map(|t| t.batch.as_deref()).collect();
    assert_eq!(batches, ["plates", "plates", "illum-P1", "illum-P1"]);
}

#[test]
fn a_file_name_that_is_not_a_batch_name_is_refused_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "APP_NAME = \"Golden\"\nAWS_BUCKET = \"bucket\"\n",
    )
    .unwrap();
    stdout_ok(dcp_queue(d, &["create"]));
    let job = golden("examplefly-job.json");
    let long = format!("{}.json", "p".repeat(81));
    for name in ["plates 1.json", "platé-1.json", long.as_str()] {
        std::fs::write(d.join(name), &job).unwrap();
        let refused = dcp_queue(d, &["push", name]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name}: its name")), "{stderr}");
        assert!(stderr.contains("pass --batch NAME"), "{stderr}");
    }
    let status = stdout_ok(dcp_queue(d, &["status"]));
    assert!(
        status.contains("\"visible\":0"),
        "nothing was sent: {status}"
    );

    // The same file with a name given, and a file whose stem is a name, are taken as they are.
    let pushed = stdout_ok(dcp_queue(
        d,
        &["push", "plates 1.json", "--batch", "plates_1"],
    ));
    assert!(pushed.contains("\"batch\":\"plates_1\""), "{pushed}");
    std::fs::write(d.join("plates-1.json"), &job).unwrap();
    let pushed = stdout_ok(dcp_queue(d, &["push", "plates-1.json"]));
    assert!(pushed.contains("\"batch\":\"plates-1\""), "{pushed}");

    for bad in ["..", "plates/1", "plät", &"p".repeat(81), "-x", "--"] {
        let flag = format!("--batch={bad}");
        for command in [
            &["push", "plates-1.json", &flag][..],
            &["dead", &flag],
            &["redrive", &flag],
        ] {
            let refused = dcp_queue(d, command);
            assert_eq!(refused.status.code(), Some(2), "{command:?}");
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains(&format!("batch name `{bad}`")), "{stderr}");
            assert!(
                stderr.contains("not starting with '-'"),
                "the rule: {stderr}"
            );
        }
    }
    // A file whose stem starts with '-' names no batch either.
    std::fs::write(d.join("-x.json"), &job).unwrap();
    let refused = dcp_queue(d, &["push", "--", "-x.json"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("-x.json: its name `-x` cannot name the batch (1 to 80"),
        "{stderr}"
    );
    let status = stdout_ok(dcp_queue(d, &["status"]));
    assert!(!status.contains("\"-x\""), "nothing was sent: {status}");
}
