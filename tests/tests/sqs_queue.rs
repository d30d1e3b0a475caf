//! The queue on SQS, against a real local moto server: attributes and redrive policy read
//! back independently through the SDK, receive counts, visibility, dead letters, redrive.
#![cfg(feature = "aws")]

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use dcp_common::queue::{Counts, Created, SqsQueue};
use dcp_common::{Queue, QueueError, QueueSpec};
use dcp_tests::moto::{Moto, queue_url};

async fn client(moto: &Moto) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto.sdk_config().await)
}

fn spec(visibility: u64, max_receives: u32) -> QueueSpec {
    QueueSpec {
        name: "MotoQueue".into(),
        dead_letter_queue: "MotoDeadMessages".into(),
        visibility_timeout: Duration::from_secs(visibility),
        max_receives,
    }
}

fn bodies(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{{\"task\": {i}}}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_sets_dcps_attributes_and_redrive_policy() {
    let moto = Moto::start();
    let sqs = client(&moto).await;
    let queue = SqsQueue::new(sqs.clone(), spec(90, 3));
    assert!(matches!(queue.counts().await, Err(QueueError::Missing(_))));
    assert_eq!(
        queue.create().await.unwrap(),
        Created {
            queue: true,
            dead_letter_queue: true
        }
    );
    let again = SqsQueue::new(sqs.clone(), spec(120, 5));
    assert_eq!(
        again.create().await.unwrap(),
        Created {
            queue: false,
            dead_letter_queue: false
        }
    );

    let url = queue_url(&sqs, "MotoQueue").await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "120");
    assert_eq!(
        attributes[&QueueAttributeName::MessageRetentionPeriod],
        "1209600"
    );
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(":MotoDeadMessages"),
        "{redrive}"
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_receive_visibility_delete() {
    let moto = Moto::start();
    let queue = SqsQueue::new(client(&moto).await, spec(60, 3));
    queue.create().await.unwrap();
    queue.send(&bodies(25)).await.unwrap();
    assert_eq!(
        queue.counts().await.unwrap(),
        Counts {
            visible: 25,
            in_flight: 0,
            dead: 0
        }
    );
    let got = queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|m| m.receive_count == 1));
    assert_eq!(
        queue.counts().await.unwrap(),
        Counts {
            visible: 15,
            in_flight: 10,
            dead: 0
        }
    );
    queue
        .change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    for m in &got[1..] {
        queue.delete_message(&m.receipt).await.unwrap();
    }
    assert_eq!(
        queue.counts().await.unwrap(),
        Counts {
            visible: 16,
            in_flight: 0,
            dead: 0
        }
    );
    assert_eq!(queue.purge(false).await.unwrap(), 16);
    assert_eq!(queue.counts().await.unwrap(), Counts::default());
    queue.delete_queues().await.unwrap();
    let gone = SqsQueue::new(client(&moto).await, spec(60, 3));
    assert!(matches!(gone.counts().await, Err(QueueError::Missing(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_after_max_receives_are_listed_and_redriven() {
    let moto = Moto::start();
    let queue = SqsQueue::new(client(&moto).await, spec(1, 2));
    queue.create().await.unwrap();
    queue.send(&bodies(2)).await.unwrap();
    for round in 1..=2u32 {
        let got = queue.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2, "receive {round}");
        assert!(got.iter().all(|m| m.receive_count == round));
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "the third receive moves them"
    );
    assert_eq!(
        queue.counts().await.unwrap(),
        Counts {
            visible: 0,
            in_flight: 0,
            dead: 2
        }
    );
    let dead = queue.dead_letters().await.unwrap();
    let mut listed: Vec<&str> = dead.iter().map(|d| d.body.as_str()).collect();
    listed.sort();
    assert_eq!(listed, ["{\"task\": 0}", "{\"task\": 1}"]);
    assert_eq!(
        queue.counts().await.unwrap().dead,
        2,
        "listing leaves them in place"
    );
    assert_eq!(queue.redrive(None).await.unwrap(), 2);
    assert_eq!(
        queue.counts().await.unwrap(),
        Counts {
            visible: 2,
            in_flight: 0,
            dead: 0
        }
    );
}
