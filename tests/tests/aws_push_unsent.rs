//! Issue 8, case 6 on SQS: a push that fails part-way reports exactly what SQS
//! acknowledged, writes the tasks it did not send to a file, and pushing that file finishes
//! the job without duplicates. Against a real local moto server, read back through the SDK.
#![cfg(feature = "aws")]

use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_sqs::types::QueueAttributeName;
use dcp_tests::moto::{Moto, queue_url};
use dcp_tests::{assert_exit, stdout_ok};

/// Groups of the job, one row each (moto slows down as its queue fills).
const TASKS: usize = 400;
/// The group whose message body SQS refuses, in the 21st batch of ten: after the first
/// 16 batches sent at once.
const TOO_LONG: usize = 200;

fn dcp_queue(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    moto.tool("dcp-queue", dir).args(args).output().unwrap()
}

/// A plate list of [`TASKS`] groups; the group at [`TOO_LONG`] names a pipeline long
/// enough that its message body exceeds 1 KiB.
fn plate_list() -> String {
    let mut csv = String::from("Metadata_Plate,Metadata_Well,Metadata_Site,pipeline\n");
    // Parts of at most 255 bytes, as keys must have; 1,100 bytes in all.
    let long = format!(
        "pipelines/{}p.cppipe",
        format!("{}/", "a".repeat(200)).repeat(5)
    );
    for i in 0..TASKS {
        let (row, column, site) = (i / (24 * 9), i / 9 % 24 + 1, i % 9 + 1);
        let well = format!("{}{column:02}", char::from(b'A' + row as u8));
        let pipeline = if i == TOO_LONG { long.as_str() } else { "" };
        csv.push_str(&format!("BR00117010,{well},{site},{pipeline}\n"));
    }
    csv
}

/// Sets the queue's MaximumMessageSize (bytes), as SQS and moto enforce it on each body.
async fn set_maximum_message_size(sqs: &aws_sdk_sqs::Client, url: &str, bytes: u32) {
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::MaximumMessageSize, bytes.to_string())
        .send()
        .await
        .unwrap();
}

/// Every message the queue holds, received (and hidden) until none is left.
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        bodies.extend(messages.into_iter().map(|m| m.body.unwrap()));
    }
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    attributes[&QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_push_leaves_a_file_that_finishes_the_job() {
    let moto = Moto::start();
    // Where each push records its batch's tasks.
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("dcp-logs").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Fly\"\nAWS_BUCKET = \"dcp-logs\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("template.json"),
        dcp_tests::golden(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../dcp-queue"),
            "template.json",
        ),
    )
    .unwrap();
    std::fs::write(d.join("plates.csv"), plate_list()).unwrap();
    let job = ["plates.csv", "--job", "template.json"];
    let dry_run = stdout_ok(dcp_queue(
        &moto,
        d,
        &[&["push", "--dry-run"][..], &job].concat(),
    ));
    let mut expected: Vec<&str> = dry_run.lines().collect();
    assert_eq!(expected.len(), TASKS);

    stdout_ok(dcp_queue(&moto, d, &["create"]));
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = queue_url(&sqs, "FlyQueue").await;
    set_maximum_message_size(&sqs, &url, 1024).await;

    let failed = dcp_queue(&moto, d, &[&["push"][..], &job].concat());
    assert_exit(&failed, 1);
    let report: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    let sent = report["sent"].as_u64().unwrap() as usize;
    let unsent = report["unsent"].as_u64().unwrap() as usize;
    let file = PathBuf::from(report["unsent_file"].as_str().unwrap());
    assert!(
        0 < sent && sent < TASKS && sent.is_multiple_of(10),
        "{report}"
    );
    assert_eq!(sent + unsent, TASKS);
    assert_eq!(
        visible(&sqs, &url).await,
        sent,
        "SQS holds what was reported"
    );
    assert_eq!(
        file.parent(),
        Some(d),
        "the file is in the current directory"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    for needed in [
        format!("{sent} of {TASKS} messages were sent"),
        format!("the {unsent} tasks not sent are in {}", file.display()),
        format!("`dcp-queue push {} --batch plates`", file.display()),
        "SendMessageBatch".to_owned(),
    ] {
        assert!(stderr.contains(&needed), "{needed:?} not in {stderr}");
    }

    let lines = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), unsent);
    assert!(lines.contains(&expected[TOO_LONG]));
    assert!(
        lines.iter().all(|l| expected.contains(l)),
        "the file holds the job's message bodies"
    );

    // The cause fixed, pushing the file sends the rest, and the job is whole, once.
    set_maximum_message_size(&sqs, &url, 262_144).await;
    let finished: serde_json::Value = serde_json::from_str(&stdout_ok(dcp_queue(
        &moto,
        d,
        &["push", file.to_str().unwrap(), "--batch", "plates"],
    )))
    .unwrap();
    assert_eq!(finished["sent"].as_u64(), Some(unsent as u64));
    assert_eq!(finished["batch"], "plates", "the batch of the first push");
    let mut held = receive_all(&sqs, &url).await;
    held.sort();
    expected.sort();
    assert_eq!(held, expected);
}
