//! A closed stdout (the reader is `head`, or gone) ends every tool quietly with exit 0, as
//! ripgrep does, instead of a panic or a "Broken pipe" error.

use std::path::Path;
use std::process::{Command, Stdio};

use dcp_tests::{stdout_ok, tool};

/// Runs `bin args` in `dir` with a stdout whose reading end is already closed.
fn run_into_closed_pipe(bin: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(tool(bin))
        .args(args)
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn every_tool_ends_quietly_on_a_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "APP_NAME = \"Pipe\"\nAWS_BUCKET = \"run\"\n",
    )
    .unwrap();
    let groups: Vec<String> = (1..=500)
        .map(|site| format!("{{\"Metadata\": \"Metadata_Site={site}\"}}"))
        .collect();
    let job = format!(
        "{{\"pipeline\": \"p.cppipe\", \"data_file\": \"d.csv\", \"input\": \"in\", \
         \"output\": \"out\", \"groups\": [{}]}}",
        groups.join(", ")
    );
    std::fs::write(d.join("job.json"), job).unwrap();
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    for (bin, args) in [
        ("dcp-config", &["init"][..]),
        ("dcp-config", &[][..]),
        ("dcp-queue", &["push", "--dry-run", "job.json"][..]),
        ("dcp-queue", &["status"][..]),
        ("dcp-queue", &["push", "job.json"][..]),
    ] {
        let out = run_into_closed_pipe(bin, d, args);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "{bin} {args:?}"
        );
    }
    // The push was done before its report met the closed pipe.
    let status = stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["status"], ""));
    assert!(status.contains("\"visible\":500"), "{status}");
}
