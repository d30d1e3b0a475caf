//! Batches on SQS (moto): `dcp-queue push --batch` sends the name as the `DCP_BATCH`
//! message attribute beside DCP's body; SQS keeps it when its redrive policy moves a task to
//! the dead-letter queue, so `status`, `dead --batch` and `redrive --batch` find the
//! batch's letters, and a redriven task keeps its batch.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use aws_sdk_sqs::types::Message;
use dcp_tests::moto::{Moto, queue_url};
use dcp_tests::{golden, stdout_ok};
use serde_json::Value;

fn dcp_queue(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    moto.tool("dcp-queue", dir).args(args).output().unwrap()
}

fn batch_of(m: &Message) -> Option<&str> {
    m.message_attributes
        .as_ref()?
        .get("DCP_BATCH")?
        .string_value()
}

/// Receives every visible message of `url`, hiding each for 30 s.
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    let mut all: Vec<Message> = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_keeps_its_name_through_the_dead_letter_queue_and_redrive() {
    let moto = Moto::start();
    // Where each push records its batch's tasks.
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("dcp-logs").send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let queue_golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../dcp-queue");
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Fly\"\nAWS_BUCKET = \"dcp-logs\"\nJOB_RETRIES = 1\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.json"),
        golden(queue_golden, "examplefly-job.json"),
    )
    .unwrap();
    std::fs::write(
        d.join("template.json"),
        golden(queue_golden, "template.json"),
    )
    .unwrap();
    std::fs::write(d.join("plates.csv"), "Metadata_Plate\nBR00117010\n").unwrap();
    stdout_ok(dcp_queue(&moto, d, &["create"]));
    assert_eq!(
        stdout_ok(dcp_queue(
            &moto,
            d,
            &["push", "job.json", "--batch", "illum-P1"]
        )),
        "{\"queue\":\"FlyQueue\",\"source\":\"job.json\",\"batch\":\"illum-P1\",\"sent\":3}\n"
    );

    // One task done; the two others received once, then moved by SQS's redrive policy.
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = queue_url(&sqs, "FlyQueue").await;
    let taken = receive_all(&sqs, &url).await;
    assert_eq!(taken.len(), 3);
    assert!(taken.iter().all(|m| batch_of(m) == Some("illum-P1")));
    let expected: Vec<&str> = golden(queue_golden, "examplefly-bodies.jsonl")
        .leak()
        .lines()
        .collect();
    let mut bodies: Vec<&str> = taken.iter().map(|m| m.body.as_deref().unwrap()).collect();
    bodies.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(bodies, sorted, "DCP's bodies, unchanged");
    for task in &taken {
        let receipt = task.receipt_handle.as_deref().unwrap();
        if task.body.as_deref() == Some(expected[0]) {
            let deleted = sqs.delete_message().queue_url(&url).receipt_handle(receipt);
            deleted.send().await.unwrap();
        } else {
            let released = sqs.change_message_visibility().queue_url(&url);
            let released = released.receipt_handle(receipt).visibility_timeout(0);
            released.send().await.unwrap();
        }
    }
    assert!(
        receive_all(&sqs, &url).await.is_empty(),
        "moved to the dead-letter queue"
    );

    let args = [
        "push",
        "plates.csv",
        "--job",
        "template.json",
        "--wells",
        "A01",
        "--sites",
        "1-2",
    ];
    let pushed = stdout_ok(dcp_queue(&moto, d, &args));
    assert!(
        pushed.contains("\"batch\":\"plates\",\"sent\":2"),
        "{pushed}"
    );
    assert_eq!(
        stdout_ok(dcp_queue(&moto, d, &["status"])),
        "{\"queue\":\"FlyQueue\",\"dead_letter_queue\":\"FlyDeadMessages\",\"visible\":2,\
         \"in_flight\":0,\"dead\":2,\"batches\":{\"illum-P1\":{\"dead\":2}}}\n"
    );
    assert_eq!(
        stdout_ok(dcp_queue(&moto, d, &["dead", "--batch", "plates"])),
        ""
    );
    let dead = stdout_ok(dcp_queue(&moto, d, &["dead", "--batch", "illum-P1"]));
    let mut letters: Vec<Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    letters.sort_by_key(|l| l["task"]["Metadata"].to_string());
    let line = |i: usize| -> Value {
        serde_json::json!({"batch": "illum-P1",
            "task": serde_json::from_str::<Value>(expected[i]).unwrap()})
    };
    for letter in &mut letters {
        // Ids are SQS's; receive counts grow as the dead-letter queue is read.
        let fields = letter.as_object_mut().unwrap();
        fields.remove("id");
        fields.remove("receive_count");
    }
    assert_eq!(letters, [line(2), line(1)]);

    // SQS counts only dead letters by batch: a batch without them is said to have none.
    let none_dead = dcp_queue(&moto, d, &["redrive", "--batch", "plates"]);
    let stderr = String::from_utf8_lossy(&none_dead.stderr).into_owned();
    assert!(
        stderr.contains("batch `plates`: the dead-letter queue holds none of its tasks"),
        "{stderr}"
    );
    assert_eq!(
        stdout_ok(none_dead),
        "{\"queue\":\"FlyQueue\",\"redriven\":0,\"batch\":\"plates\"}\n"
    );
    assert_eq!(
        stdout_ok(dcp_queue(&moto, d, &["redrive", "--batch", "illum-P1"])),
        "{\"queue\":\"FlyQueue\",\"redriven\":2,\"batch\":\"illum-P1\"}\n"
    );
    let mut held: Vec<Option<&str>> = Vec::new();
    let messages = receive_all(&sqs, &url).await;
    held.extend(messages.iter().map(batch_of));
    held.sort();
    assert_eq!(
        held,
        [
            Some("illum-P1"),
            Some("illum-P1"),
            Some("plates"),
            Some("plates")
        ]
    );
}
