//! Several processes draining one embedded queue file lose and duplicate nothing.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use dcp_tests::tool;

#[test]
fn two_processes_drain_one_queue_without_loss_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("dcp.toml");
    std::fs::write(
        &settings,
        "APP_NAME = \"Drain\"\nAWS_BUCKET = \"bucket\"\nSQS_MESSAGE_VISIBILITY = 600\n",
    )
    .unwrap();
    let queue = tool("dcp-queue");
    let run = |args: &[&str], stdin: Stdio| {
        let out = Command::new(&queue)
            .args(args)
            .current_dir(dir.path())
            .stdin(stdin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["create"], Stdio::null());
    let groups = 3000;
    let csv: String = std::iter::once("Metadata_Plate,Metadata_Well\n".to_owned())
        .chain((0..groups).map(|i| format!("P{},W{i}\n", i % 7)))
        .collect();
    std::fs::write(dir.path().join("groups.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("job.json"),
        r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o"}"#,
    )
    .unwrap();
    run(&["push", "groups.csv", "--job", "job.json"], Stdio::null());

    let mut drainers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_queue-drain"))
                .arg(&settings)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Both start draining together.
    for drainer in &mut drainers {
        drainer.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    let mut seen = HashSet::new();
    let mut per_process = Vec::new();
    for child in drainers {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let bodies: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        per_process.push(bodies.len());
        for body in bodies {
            assert!(seen.insert(body.clone()), "delivered twice: {body}");
        }
    }
    assert_eq!(seen.len(), groups, "every task delivered once");
    assert!(
        per_process.iter().all(|&n| n > 0),
        "both processes took work: {per_process:?}"
    );
    let status: serde_json::Value = serde_json::from_str(&run(&["status"], Stdio::null())).unwrap();
    assert_eq!(
        (status["visible"].as_u64(), status["in_flight"].as_u64()),
        (Some(0), Some(0))
    );
}
