//! The record of a batch's tasks on AWS, `s3://AWS_BUCKET/runs/APP_NAME/batches/NAME.json`:
//! `dcp-queue push --batch NAME` adds the tasks it sends, and `dcp-watch --batch NAME` waits
//! until each is done or dead. SQS cannot count a batch's messages without receiving them
//! (which raises their receive counts), so the pusher writes down what it sent.
//!
//! A batch pushed again is the resume (the "Plate batches"): the record keeps each
//! push, and each task remembers its latest push and the message that push sent, so the
//! watch tells the new push's outcomes and dead letters from the earlier ones'.

use serde::{Deserialize, Serialize};

use super::{AwsError, failed};
use crate::Config;

/// One task as the run report keys it: its output prefix and its group (`Key=Value,…`),
/// as a worker's outcome line names them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PushedTask {
    /// The task's output prefix.
    pub output: String,
    /// Its group, as `Key=Value,…`.
    pub group: String,
}

/// One push of the batch: `{"at", "tasks"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Push {
    /// When it began, before its first message was sent (unix seconds, to the millisecond,
    /// by the pushing machine's clock).
    pub at: f64,
    /// How many tasks it sent.
    pub tasks: u64,
}

/// A task of the batch with its latest push: `{"output", "group", "push", "message_id"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedTask {
    /// The task.
    #[serde(flatten)]
    pub task: PushedTask,
    /// Its latest push, by position in [`BatchRecord::pushes`].
    pub push: usize,
    /// The id SQS gave the message that push sent; `None` until the push has sent it (or
    /// when SQS did not acknowledge it).
    pub message_id: Option<String>,
}

/// Every push of one batch and its tasks: `{"batch", "pushes": [{"at", "tasks"}, …],
/// "tasks": [{"output", "group", "push", "message_id"}, …]}`. A task pushed again (a
/// re-run) is listed once, with its latest push.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// The batch's name.
    pub batch: String,
    /// Its pushes, oldest first.
    pub pushes: Vec<Push>,
    /// Its tasks, sorted.
    pub tasks: Vec<RecordedTask>,
}

impl BatchRecord {
    /// When the latest push of `task` began (unix seconds), `None` for a task not recorded.
    pub fn pushed_at(&self, task: &PushedTask) -> Option<f64> {
        let i = self.tasks.binary_search_by(|t| t.task.cmp(task)).ok()?;
        Some(self.pushes.get(self.tasks[i].push)?.at)
    }

    /// Adds a push that began at `at` with `tasks` (in the order sent), each task's latest
    /// push now this one, with no message id yet. Returns the push's position.
    fn add_push(&mut self, at: f64, tasks: &[PushedTask]) -> usize {
        let push = self.pushes.len();
        self.pushes.push(Push {
            at,
            tasks: tasks.len() as u64,
        });
        for task in tasks {
            let recorded = RecordedTask {
                task: task.clone(),
                push,
                message_id: None,
            };
            match self.tasks.binary_search_by(|t| t.task.cmp(task)) {
                Ok(i) => self.tasks[i] = recorded,
                Err(i) => self.tasks.insert(i, recorded),
            }
        }
        push
    }

    /// Notes the message ids push `push` sent its tasks with (pairs of task and id). A task
    /// pushed since by another push keeps that push's.
    fn note_ids(&mut self, push: usize, sent: &[(PushedTask, String)]) {
        for (task, id) in sent {
            if let Ok(i) = self.tasks.binary_search_by(|t| t.task.cmp(task))
                && self.tasks[i].push == push
            {
                self.tasks[i].message_id = Some(id.clone());
            }
        }
    }
}

/// The record's key in AWS_BUCKET: `runs/APP_NAME/batches/NAME.json`.
pub fn record_key(config: &Config, batch: &str) -> String {
    format!("runs/{}/batches/{batch}.json", config.app_name)
}

/// The record of `batch`, `None` when no push wrote one. Errors: the S3 call failed, or
/// the object is not a record.
pub async fn read(
    s3: &aws_sdk_s3::Client,
    config: &Config,
    batch: &str,
) -> Result<Option<BatchRecord>, AwsError> {
    let bucket = &config.aws_bucket;
    let key = record_key(config, batch);
    let resource = format!("{bucket}/{key}");
    let object = match s3.get_object().bucket(bucket).key(&key).send().await {
        Ok(object) => object,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(failed("GetObject", &resource)(e)),
    };
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| AwsError::new("GetObject", &resource, e.to_string()))?
        .into_bytes();
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AwsError::new("GetObject", &resource, format!("not a batch record: {e}")))
}

/// Adds a push of `tasks` that began at `at` (unix seconds) to the record of `batch`
/// (creating it), before they are sent. Returns the push's position, for [`note_ids`].
/// Pushes of one batch at the same moment may each miss the other's tasks: push a batch
/// from one shell at a time.
pub async fn add(
    s3: &aws_sdk_s3::Client,
    config: &Config,
    batch: &str,
    at: f64,
    tasks: &[PushedTask],
) -> Result<usize, AwsError> {
    let mut record = read(s3, config, batch)
        .await?
        .unwrap_or_else(|| BatchRecord {
            batch: batch.to_owned(),
            ..BatchRecord::default()
        });
    let push = record.add_push(at, tasks);
    write(s3, config, &record).await?;
    Ok(push)
}

/// Notes the message ids push `push` of `batch` sent its tasks with, once sent.
pub async fn note_ids(
    s3: &aws_sdk_s3::Client,
    config: &Config,
    batch: &str,
    push: usize,
    sent: &[(PushedTask, String)],
) -> Result<(), AwsError> {
    let Some(mut record) = read(s3, config, batch).await? else {
        return Err(AwsError::new(
            "GetObject",
            format!("{}/{}", config.aws_bucket, record_key(config, batch)),
            "the batch's record is gone",
        ));
    };
    record.note_ids(push, sent);
    write(s3, config, &record).await
}

async fn write(
    s3: &aws_sdk_s3::Client,
    config: &Config,
    record: &BatchRecord,
) -> Result<(), AwsError> {
    let bucket = &config.aws_bucket;
    let key = record_key(config, &record.batch);
    let body = serde_json::to_vec(record).expect("a batch record is JSON");
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(failed("PutObject", format!("{bucket}/{key}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(group: &str) -> PushedTask {
        PushedTask {
            output: "out".into(),
            group: group.into(),
        }
    }

    #[test]
    fn a_task_pushed_again_has_its_latest_push_and_message() {
        let mut record = BatchRecord::default();
        let first = record.add_push(10.0, &[task("P=1"), task("P=2")]);
        record.note_ids(
            first,
            &[(task("P=1"), "a".into()), (task("P=2"), "b".into())],
        );
        let second = record.add_push(20.5, &[task("P=2"), task("P=3")]);
        // The first push's late note does not undo the second push.
        record.note_ids(first, &[(task("P=2"), "b".into())]);
        record.note_ids(second, &[(task("P=3"), "d".into())]);
        let ids: Vec<_> = record
            .tasks
            .iter()
            .map(|t| (t.task.group.as_str(), t.push, t.message_id.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("P=1", 0, Some("a")),
                ("P=2", 1, None),
                ("P=3", 1, Some("d"))
            ]
        );
        assert_eq!(record.pushed_at(&task("P=1")), Some(10.0));
        assert_eq!(record.pushed_at(&task("P=2")), Some(20.5));
        assert_eq!(record.pushed_at(&task("P=9")), None);
        assert_eq!(record.pushes.len(), 2);
    }
}
