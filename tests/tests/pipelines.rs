//! The tools composed as a user composes them: dcp-config's JSON piped into dcp-queue.

use std::io::Write;
use std::process::{Command, Stdio};

use dcp_tests::tool;

#[test]
fn dcp_config_pipes_into_dcp_queue_create() {
    let dir = tempfile::tempdir().unwrap();
    let init = Command::new(tool("dcp-config"))
        .arg("init")
        .output()
        .unwrap();
    assert!(init.status.success());
    std::fs::write(dir.path().join("settings.toml"), &init.stdout).unwrap();

    let mut config = Command::new(tool("dcp-config"))
        .args(["--config", "settings.toml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let create = Command::new(tool("dcp-queue"))
        .arg("create")
        .current_dir(std::env::temp_dir())
        .stdin(config.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(config.wait().unwrap().success());
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&create.stdout).unwrap();
    assert_eq!(report["queue"], "MyRunQueue");
    assert_eq!(report["created"]["queue"], true);
    // The queue file lands where the settings file says, not in the working directory.
    assert!(dir.path().join("dcp-queue.sqlite").exists());

    let mut push = Command::new(tool("dcp-queue"))
        .args(["--config", "settings.toml", "push", "--dry-run"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let job = r#"{"pipeline": "p.cppipe", "data_file": "d.csv", "input": "in/", "output": "out", "groups": [{"Metadata": "Metadata_Plate=P1"}]}"#;
    push.stdin
        .take()
        .unwrap()
        .write_all(job.as_bytes())
        .unwrap();
    let out = push.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"Metadata\": \"Metadata_Plate=P1\", \"pipeline\": \"p.cppipe\", \"output\": \"out\", \"input\": \"in/\", \"data_file\": \"d.csv\", \"output_structure\": \"\"}\n"
    );
}
