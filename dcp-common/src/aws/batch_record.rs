//! The record of a batch's tasks on AWS, `s3://AWS_BUCKET/runs/APP_NAME/batches/NAME.json`:
//! `dcp-queue push --batch NAME` adds the tasks it sent, and `dcp-watch --batch NAME` waits
//! until each is done or dead. SQS cannot count a batch's messages without receiving them
//! (which raises their receive counts), so the pusher writes down what it sent.

use std::collections::BTreeSet;

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

/// Every task pushed in one batch, over all its pushes: `{"batch", "tasks": [{"output",
/// "group"}, …]}`. A task pushed twice (a re-run) is listed once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// The batch's name.
    pub batch: String,
    /// Its tasks, sorted.
    pub tasks: BTreeSet<PushedTask>,
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

/// Adds `tasks` to the record of `batch` (creating it) and returns the record written.
/// Pushes of one batch at the same moment may each miss the other's tasks: push a batch
/// from one shell at a time.
pub async fn add(
    s3: &aws_sdk_s3::Client,
    config: &Config,
    batch: &str,
    tasks: impl IntoIterator<Item = PushedTask>,
) -> Result<BatchRecord, AwsError> {
    let mut record = read(s3, config, batch)
        .await?
        .unwrap_or_else(|| BatchRecord {
            batch: batch.to_owned(),
            tasks: BTreeSet::new(),
        });
    record.tasks.extend(tasks);
    let bucket = &config.aws_bucket;
    let key = record_key(config, batch);
    let body = serde_json::to_vec(&record).expect("a batch record is JSON");
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(failed("PutObject", format!("{bucket}/{key}")))?;
    Ok(record)
}
