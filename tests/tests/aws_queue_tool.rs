//! dcp-queue with `BACKEND = "aws"` against a real local moto server, pointed there by
//! `AWS_ENDPOINT_URL` alone; what it sent is read back independently through the SDK.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::{Moto, queue_url};
use dcp_tests::{golden, stdout_ok};

fn dcp_queue(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    moto.tool("dcp-queue", dir).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn dcp_queue_creates_and_fills_an_sqs_queue() {
    let moto = Moto::start();
    // Where each push records its batch's tasks.
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("dcp-logs").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let queue_golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../dcp-queue");
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Fly\"\nAWS_BUCKET = \"dcp-logs\"\nJOB_RETRIES = 4\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.json"),
        golden(queue_golden, "examplefly-job.json"),
    )
    .unwrap();

    let created: serde_json::Value =
        serde_json::from_str(&stdout_ok(dcp_queue(&moto, d, &["create"]))).unwrap();
    assert_eq!(
        (
            created["queue"].as_str(),
            created["created"]["queue"].as_bool()
        ),
        (Some("FlyQueue"), Some(true))
    );
    stdout_ok(dcp_queue(&moto, d, &["push", "job.json"]));
    let status: serde_json::Value =
        serde_json::from_str(&stdout_ok(dcp_queue(&moto, d, &["status"]))).unwrap();
    assert_eq!(
        (status["visible"].as_u64(), status["dead"].as_u64()),
        (Some(3), Some(0))
    );

    // Read the messages back with the SDK: DCP's bodies, byte for byte.
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = queue_url(&sqs, "FlyQueue").await;
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut bodies: Vec<String> = received
        .messages
        .unwrap()
        .into_iter()
        .map(|m| m.body.unwrap())
        .collect();
    bodies.sort();
    let mut expected: Vec<String> = golden(queue_golden, "examplefly-bodies.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);

    stdout_ok(dcp_queue(&moto, d, &["delete"]));
    let gone = dcp_queue(&moto, d, &["status"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"));
}
