//! JOB_RETRIES and SQS_MESSAGE_VISIBILITY edited after `dcp-queue create`: the embedded
//! queue takes them at the next push, and says so (JSON and stderr).

use std::path::Path;
use std::time::Duration;

use dcp_common::{EmbeddedQueue, Queue, QueueSpec};
use dcp_tests::stdout_ok;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-queue");

fn settings(dir: &Path, retries: u32, visibility: u32) {
    let text = format!(
        "APP_NAME = \"Golden\"\nAWS_BUCKET = \"bucket\"\nJOB_RETRIES = {retries}\n\
         SQS_MESSAGE_VISIBILITY = {visibility}\n"
    );
    std::fs::write(dir.join("dcp.toml"), text).unwrap();
}

#[tokio::test]
async fn job_retries_changed_after_create_holds_from_the_next_push() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    settings(d, 1, 1);
    stdout_ok(dcp_tests::run(BIN, d, &["create"], ""));
    let job = dcp_tests::golden(env!("CARGO_MANIFEST_DIR"), "examplefly-job.json");
    std::fs::write(d.join("job.json"), job).unwrap();

    // Unchanged settings: nothing to say.
    let first = dcp_tests::run(BIN, d, &["push", "job.json", "--batch", "b1"], "");
    assert!(first.stderr.is_empty(), "{first:?}");
    let first = stdout_ok(first);
    assert!(!first.contains("settings_applied"), "{first}");

    settings(d, 3, 2);
    let second = dcp_tests::run(BIN, d, &["push", "job.json", "--batch", "b2"], "");
    let stderr = String::from_utf8_lossy(&second.stderr).into_owned();
    assert!(
        stderr.contains("JOB_RETRIES: the queue GoldenQueue now has 3 (it had 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("SQS_MESSAGE_VISIBILITY"), "{stderr}");
    assert_eq!(
        stdout_ok(second),
        "{\"queue\":\"GoldenQueue\",\"source\":\"job.json\",\"batch\":\"b2\",\"sent\":3,\
         \"settings_applied\":[{\"setting\":\"JOB_RETRIES\",\"was\":1,\"now\":3},\
         {\"setting\":\"SQS_MESSAGE_VISIBILITY\",\"was\":1,\"now\":2}]}\n"
    );

    // A task now survives its first receive: with JOB_RETRIES = 1 it would be dead.
    let spec = QueueSpec {
        name: "GoldenQueue".into(),
        dead_letter_queue: "GoldenDeadMessages".into(),
        visibility_timeout: Duration::from_secs(2),
        max_receives: 3,
    };
    let queue = EmbeddedQueue::open(&d.join("dcp-queue.sqlite"), spec).unwrap();
    assert_eq!(queue.receive(10, Duration::ZERO).await.unwrap().len(), 6);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(queue.receive(10, Duration::ZERO).await.unwrap().len(), 6);
    assert_eq!(queue.counts().await.unwrap().dead, 0);
}
