//! What the dcp-queue commands print: one JSON object each, or JSON Lines for lists.

use std::collections::BTreeMap;
use std::path::Path;

use dcp_common::QueueSpec;
use dcp_common::queue::{BatchCounts, Counts, Created, DeadLetter, SettingApplied};
use serde::Serialize;
use serde_json::Value;

/// `dcp-queue create`: the queues and whether they were made now.
#[derive(Serialize)]
pub struct CreateReport<'a> {
    /// The queues and their redrive policy.
    #[serde(flatten)]
    pub spec: &'a QueueSpec,
    /// Which of them were made now (false: found and updated).
    pub created: Created,
}

/// `dcp-queue status`: the queue's counts.
#[derive(Serialize)]
pub struct StatusReport<'a> {
    /// The task queue.
    pub queue: &'a str,
    /// Its dead-letter queue.
    pub dead_letter_queue: &'a str,
    /// How many messages each holds.
    #[serde(flatten)]
    pub counts: Counts,
    /// The counts of each batch, by name (`dcp-queue push --batch`).
    pub batches: BTreeMap<String, BatchCounts>,
}

/// `dcp-queue push`: what was sent, and, when SQS failed part-way, what was not.
#[derive(Serialize)]
pub struct PushReport<'a> {
    /// The task queue.
    pub queue: &'a str,
    /// Where the groups came from.
    pub source: &'a str,
    /// The batch every task is labelled with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<&'a str>,
    /// Tasks sent (acknowledged by the queue), one per group.
    pub sent: usize,
    /// Embedded queue: its attributes that differed from the settings and were set to them.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub settings_applied: &'a [SettingApplied],
    /// Tasks not sent, after a failure part-way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsent: Option<usize>,
    /// The JSON Lines file holding them, which `dcp-queue push` takes to finish the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsent_file: Option<&'a Path>,
}

/// One line of `dcp-queue dead`: a dead letter with its task decoded.
#[derive(Serialize)]
pub struct DeadLine {
    /// The message id.
    pub id: String,
    /// Receives before it was given up.
    pub receive_count: u32,
    /// Its batch, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// The task (the message body as JSON; the raw text if it is not JSON).
    pub task: Value,
}

impl From<DeadLetter> for DeadLine {
    fn from(d: DeadLetter) -> Self {
        let task = serde_json::from_str(&d.body).unwrap_or(Value::String(d.body));
        DeadLine {
            id: d.id,
            receive_count: d.receive_count,
            batch: d.batch,
            task,
        }
    }
}
