use std::collections::BTreeMap;

use super::*;
use crate::queue::BatchCounts;

fn spec(visibility_ms: u64, max_receives: u32) -> QueueSpec {
    QueueSpec {
        name: "TestQueue".into(),
        dead_letter_queue: "TestDeadMessages".into(),
        visibility_timeout: Duration::from_millis(visibility_ms),
        max_receives,
    }
}

fn bodies(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("task {i}")).collect()
}

async fn queue(dir: &tempfile::TempDir, visibility_ms: u64, max_receives: u32) -> EmbeddedQueue {
    let q = EmbeddedQueue::open(
        &dir.path().join("q.sqlite"),
        spec(visibility_ms, max_receives),
    )
    .unwrap();
    q.create().await.unwrap();
    q
}

#[tokio::test]
async fn create_is_idempotent_and_updates_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let q = EmbeddedQueue::open(&dir.path().join("q.sqlite"), spec(1000, 3)).unwrap();
    assert!(matches!(q.counts().await, Err(QueueError::Missing(_))));
    assert!(matches!(
        q.send(&bodies(1)).await,
        Err(SendError {
            source: QueueError::Missing(_),
            ..
        })
    ));
    assert_eq!(
        q.create().await.unwrap(),
        Created {
            queue: true,
            dead_letter_queue: true
        }
    );
    q.send(&bodies(2)).await.unwrap();
    let again = EmbeddedQueue::open(&dir.path().join("q.sqlite"), spec(1000, 1)).unwrap();
    assert_eq!(
        again.create().await.unwrap(),
        Created {
            queue: false,
            dead_letter_queue: false
        }
    );
    assert_eq!(
        again.counts().await.unwrap(),
        Counts {
            visible: 2,
            in_flight: 0,
            dead: 0
        }
    );
    // The new redrive policy (max 1 receive) is the one in force.
    again.receive(2, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(again.receive(2, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(again.counts().await.unwrap().dead, 2);
}

#[tokio::test]
async fn received_messages_hide_until_visibility_ends() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 300, 5).await;
    q.send(&bodies(3)).await.unwrap();
    let first = q.receive(2, Duration::ZERO).await.unwrap();
    assert_eq!(
        first.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["task 0", "task 1"]
    );
    assert_eq!(
        q.counts().await.unwrap(),
        Counts {
            visible: 1,
            in_flight: 2,
            dead: 0
        }
    );
    let rest = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = q.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|m| m.receive_count == 2));
}

#[tokio::test]
async fn receipt_goes_stale_when_received_again() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 100, 5).await;
    q.send(&bodies(1)).await.unwrap();
    let old = q.receive(1, Duration::ZERO).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let new = q.receive(1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(old.id, new.id);
    assert_ne!(old.receipt, new.receipt);
    assert!(matches!(
        q.delete_message(&old.receipt).await,
        Err(QueueError::StaleReceipt(_))
    ));
    assert!(matches!(
        q.change_visibility(&old.receipt, Duration::ZERO).await,
        Err(QueueError::StaleReceipt(_))
    ));
    assert!(matches!(
        q.delete_message("garbage").await,
        Err(QueueError::StaleReceipt(_))
    ));
    q.delete_message(&new.receipt).await.unwrap();
    assert!(matches!(
        q.delete_message(&new.receipt).await,
        Err(QueueError::StaleReceipt(_))
    ));
    assert_eq!(q.counts().await.unwrap(), Counts::default());
}

#[tokio::test]
async fn change_visibility_extends_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 200, 5).await;
    q.send(&bodies(1)).await.unwrap();
    let m = q.receive(1, Duration::ZERO).await.unwrap().remove(0);
    q.change_visibility(&m.receipt, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        q.receive(1, Duration::ZERO).await.unwrap().is_empty(),
        "extended visibility must hold"
    );
    q.change_visibility(&m.receipt, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(q.receive(1, Duration::ZERO).await.unwrap().len(), 1);
}

#[tokio::test]
async fn dead_letter_after_max_receives_and_redrive() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 50, 2).await;
    q.send(&bodies(2)).await.unwrap();
    for round in 1..=2 {
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2, "receive {round}");
        assert!(got.iter().all(|m| m.receive_count == round));
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(
        q.counts().await.unwrap(),
        Counts {
            visible: 0,
            in_flight: 0,
            dead: 2
        }
    );
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(
        dead.iter()
            .map(|d| (d.body.as_str(), d.receive_count))
            .collect::<Vec<_>>(),
        [("task 0", 2), ("task 1", 2)]
    );
    assert_eq!(q.redrive(None).await.unwrap(), 2);
    assert_eq!(
        q.counts().await.unwrap(),
        Counts {
            visible: 2,
            in_flight: 0,
            dead: 0
        }
    );
    assert!(
        q.receive(10, Duration::ZERO)
            .await
            .unwrap()
            .iter()
            .all(|m| m.receive_count == 1)
    );
}

#[tokio::test]
async fn receive_waits_for_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 1000, 3).await;
    let start = Instant::now();
    assert!(
        q.receive(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    let sender = EmbeddedQueue::open(&dir.path().join("q.sqlite"), spec(1000, 3)).unwrap();
    let (got, ()) = tokio::join!(q.receive(1, Duration::from_secs(5)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sender.send(&bodies(1)).await.unwrap();
    });
    assert_eq!(got.unwrap().len(), 1);
}

#[tokio::test]
async fn purge_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 1000, 3).await;
    q.send(&bodies(5)).await.unwrap();
    assert_eq!(q.purge(false).await.unwrap(), 5);
    assert_eq!(q.counts().await.unwrap(), Counts::default());
    q.send(&bodies(1)).await.unwrap();
    q.delete_queues().await.unwrap();
    assert!(matches!(q.counts().await, Err(QueueError::Missing(_))));
}

/// A queue of the file in `dir` whose dead-letter queue is DCP's default, shared by
/// every APP_NAME; one receive before a task goes there.
async fn sharing(dir: &tempfile::TempDir, name: &str) -> EmbeddedQueue {
    let spec = QueueSpec {
        name: name.into(),
        dead_letter_queue: "user_DeadMessages".into(),
        visibility_timeout: Duration::from_millis(50),
        max_receives: 1,
    };
    let q = EmbeddedQueue::open(&dir.path().join("q.sqlite"), spec).unwrap();
    q.create().await.unwrap();
    q
}

/// Sends `body` and receives it until the dead-letter queue takes it.
async fn kill(q: &EmbeddedQueue, body: &str) {
    q.send(&[body.to_owned()]).await.unwrap();
    assert_eq!(q.receive(1, Duration::ZERO).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(q.receive(1, Duration::ZERO).await.unwrap().is_empty());
}

fn bodies_of(dead: &[DeadLetter]) -> Vec<&str> {
    dead.iter().map(|d| d.body.as_str()).collect()
}

/// The queues the file at `path` holds, and its messages as (queue, body).
fn file_contents(path: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let conn = Connection::open(path).unwrap();
    let queues = conn
        .prepare("SELECT name FROM queues ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let messages = conn
        .prepare("SELECT queue, body FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (queues, messages)
}

#[tokio::test]
async fn queues_sharing_a_dead_letter_queue_see_only_their_own_letters() {
    let dir = tempfile::tempdir().unwrap();
    let illum = sharing(&dir, "illum_Queue").await;
    let analysis = sharing(&dir, "analysis_Queue").await;
    kill(&illum, "illum task").await;
    kill(&analysis, "analysis task").await;

    for (q, body) in [(&illum, "illum task"), (&analysis, "analysis task")] {
        assert_eq!(q.counts().await.unwrap().dead, 1);
        assert_eq!(bodies_of(&q.dead_letters().await.unwrap()), [body]);
    }
    assert_eq!(analysis.redrive(None).await.unwrap(), 1);
    assert_eq!(
        analysis.counts().await.unwrap(),
        Counts {
            visible: 1,
            in_flight: 0,
            dead: 0
        }
    );
    assert_eq!(illum.counts().await.unwrap().dead, 1, "left in place");
    assert_eq!(
        analysis.receive(1, Duration::ZERO).await.unwrap()[0].body,
        "analysis task"
    );

    // Dead again, then purged: only the analysis letter goes.
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        analysis
            .receive(1, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(analysis.purge(true).await.unwrap(), 1);
    assert_eq!(analysis.purge(true).await.unwrap(), 0);
    assert_eq!(
        bodies_of(&illum.dead_letters().await.unwrap()),
        ["illum task"]
    );
}

#[tokio::test]
async fn a_shared_dead_letter_queue_goes_with_the_last_queue_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let illum = sharing(&dir, "illum_Queue").await;
    let analysis = sharing(&dir, "analysis_Queue").await;
    kill(&illum, "illum task").await;
    kill(&analysis, "analysis task").await;

    assert_eq!(
        illum.delete_queues().await.unwrap(),
        Deleted {
            deleted: vec!["illum_Queue".into()],
            kept: vec![
                "dead-letter queue user_DeadMessages: the redrive policy of analysis_Queue names it"
                    .into()
            ],
        }
    );
    assert_eq!(
        file_contents(&path),
        (
            vec!["analysis_Queue".into(), "user_DeadMessages".into()],
            vec![("user_DeadMessages".into(), "analysis task".into())]
        )
    );
    assert_eq!(analysis.counts().await.unwrap().dead, 1);
    assert_eq!(
        analysis.delete_queues().await.unwrap(),
        Deleted {
            deleted: vec!["analysis_Queue".into(), "user_DeadMessages".into()],
            kept: Vec::new(),
        }
    );
    assert_eq!(file_contents(&path), (Vec::new(), Vec::new()));
}

/// The schema before dead letters recorded their source.
const OLD_SCHEMA: &str = "
CREATE TABLE queues (name TEXT PRIMARY KEY, visibility_ms INTEGER NOT NULL,
    dead_letter_queue TEXT, max_receives INTEGER);
CREATE TABLE messages (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
    sent_ms INTEGER NOT NULL, visible_ms INTEGER NOT NULL, receives INTEGER NOT NULL DEFAULT 0,
    receipt TEXT);
INSERT INTO queues VALUES ('illum_Queue', 50, 'user_DeadMessages', 1),
    ('analysis_Queue', 50, 'user_DeadMessages', 1), ('user_DeadMessages', 50, NULL, NULL);
INSERT INTO messages (queue, body, sent_ms, visible_ms, receives)
    VALUES ('user_DeadMessages', 'old letter', 0, 0, 1);
";

#[tokio::test]
async fn old_files_keep_their_letters_which_belong_to_a_sole_source() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join("q.sqlite"))
        .unwrap()
        .execute_batch(OLD_SCHEMA)
        .unwrap();
    let illum = sharing(&dir, "illum_Queue").await;
    let analysis = sharing(&dir, "analysis_Queue").await;
    // Two queues name the dead-letter queue: a letter without a source is neither's.
    assert_eq!(illum.counts().await.unwrap().dead, 0);
    assert_eq!(analysis.redrive(None).await.unwrap(), 0);
    assert_eq!(analysis.purge(true).await.unwrap(), 0);
    // New letters record their source beside it.
    kill(&analysis, "analysis task").await;
    assert_eq!(
        bodies_of(&analysis.dead_letters().await.unwrap()),
        ["analysis task"]
    );
    analysis.delete_queues().await.unwrap();
    // illum_Queue alone names it now: the old letter is illum's.
    assert_eq!(
        bodies_of(&illum.dead_letters().await.unwrap()),
        ["old letter"]
    );
    assert_eq!(illum.redrive(None).await.unwrap(), 1);
    assert_eq!(illum.counts().await.unwrap().visible, 1);
    // The file got the batch column too: the old task has none, a new one keeps its own.
    assert_eq!(illum.batch_counts().await.unwrap(), BTreeMap::new());
    illum
        .send_with_progress(&bodies(1), Some("P1"), &|_| {})
        .await
        .unwrap();
    let batches: Vec<Option<String>> = illum
        .receive(10, Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.batch)
        .collect();
    assert_eq!(batches, [None, Some("P1".into())]);
}

#[tokio::test]
async fn a_batch_is_counted_and_keeps_its_name_through_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let q = queue(&dir, 50, 1).await;
    for (batch, n) in [("illum-P1", 2), ("illum-P2", 1)] {
        let bodies: Vec<String> = (0..n).map(|i| format!("{batch} task {i}")).collect();
        q.send_with_progress(&bodies, Some(batch), &|_| {})
            .await
            .unwrap();
    }
    q.send(&bodies(1)).await.unwrap();
    let taken = q.receive(1, Duration::ZERO).await.unwrap();
    assert_eq!(taken[0].batch.as_deref(), Some("illum-P1"));
    let counts = q.batch_counts().await.unwrap();
    let expected = |visible, in_flight, dead| BatchCounts {
        visible: Some(visible),
        in_flight: Some(in_flight),
        dead,
    };
    assert_eq!(counts["illum-P1"], expected(1, 1, 0));
    assert_eq!(counts["illum-P2"], expected(1, 0, 0));
    assert_eq!(counts.len(), 2, "a task without a batch is in none");

    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(q.receive(10, Duration::ZERO).await.unwrap().len(), 3);
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Every task was received once: all four go to the dead-letter queue.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    let counts = q.batch_counts().await.unwrap();
    assert_eq!(counts["illum-P1"], expected(0, 0, 2));
    let dead: Vec<Option<&str>> = q
        .dead_letters()
        .await
        .unwrap()
        .iter()
        .map(|d| d.batch.as_deref())
        .map(|b| b.map(|b| if b == "illum-P1" { "illum-P1" } else { "other" }))
        .collect();
    assert_eq!(
        dead,
        [Some("illum-P1"), Some("illum-P1"), Some("other"), None]
    );
    assert_eq!(q.redrive(Some("illum-P1")).await.unwrap(), 2);
    let counts = q.batch_counts().await.unwrap();
    assert_eq!(counts["illum-P1"], expected(2, 0, 0));
    assert_eq!(counts["illum-P2"], expected(0, 0, 1), "left in place");
    assert_eq!(q.counts().await.unwrap().dead, 2);
}
