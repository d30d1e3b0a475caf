//! The task queue seam: a queue of DCP task messages with a dead-letter queue, with SQS
//! semantics (visibility timeout, receive count, receipt handles, redrive policy).
//!
//! # Runs that share a dead-letter queue
//!
//! DCP's settings name one dead-letter queue for every APP_NAME (`user_DeadMessages` in
//! its `config.py`), so several task queues may name the same one in their redrive policy.
//! Each queue sees only its own dead letters: counts, lists, purges and redrives touch
//! only letters whose *source* is this queue, and leave the others in place, visible.
//! A letter's source is the queue it was moved from: SQS records it in the
//! `DeadLetterQueueSourceArn` message system attribute (and dcp also sends each task with
//! the message attribute [`SOURCE_ATTRIBUTE`], for endpoints that do not record it); the
//! embedded queue records it in its file. A letter whose source is not recorded belongs
//! to this queue when no other queue names the dead-letter queue (SQS
//! ListDeadLetterSourceQueues), and to no queue otherwise. Deleting a queue keeps its
//! dead-letter queue while another queue's redrive policy names it or it holds letters.

mod embedded;
#[cfg(feature = "aws")]
mod sqs;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::Config;

pub use embedded::{EmbeddedQueue, SettingApplied};
#[cfg(feature = "aws")]
pub use sqs::{DeadLetterQueueState, QueueState, SqsQueue};

/// What a queue is: its name, its dead-letter queue and its redrive policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueSpec {
    /// The task queue (SQS_QUEUE_NAME).
    #[serde(rename = "queue")]
    pub name: String,
    /// Where tasks go after `max_receives` receives (SQS_DEAD_LETTER_QUEUE).
    pub dead_letter_queue: String,
    /// How long a received task stays hidden (SQS_MESSAGE_VISIBILITY).
    #[serde(rename = "visibility_timeout_seconds", serialize_with = "seconds")]
    pub visibility_timeout: Duration,
    /// Receives before a task goes to the dead-letter queue (JOB_RETRIES).
    pub max_receives: u32,
}

impl QueueSpec {
    /// The queue the settings describe.
    pub fn from_config(config: &Config) -> Self {
        QueueSpec {
            name: config.sqs_queue_name.clone(),
            dead_letter_queue: config.sqs_dead_letter_queue.clone(),
            visibility_timeout: Duration::from_secs(config.sqs_message_visibility),
            max_receives: config.job_retries,
        }
    }
}

/// Whole seconds as an integer (as SQS takes them), fractions as a float.
fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if d.subsec_nanos() == 0 {
        s.serialize_u64(d.as_secs())
    } else {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// A received message. Its receipt handle is what deletes it or changes its visibility,
/// and it goes stale once the message is received again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The message's id, stable across receives.
    pub id: String,
    /// The handle of this receive.
    pub receipt: String,
    /// The message body (a DCP task).
    pub body: String,
    /// How often the message has been received, this time included.
    pub receive_count: u32,
    /// The batch the task was pushed in ([`BATCH_ATTRIBUTE`]), when it has one.
    pub batch: Option<String>,
}

/// A message in the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The message's id.
    pub id: String,
    /// How often it was received before it was given up.
    pub receive_count: u32,
    /// The message body (a DCP task).
    pub body: String,
    /// The batch the task was pushed in, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// How many tasks of one batch a queue holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// Waiting to be received; `None` on SQS, which cannot count a queue's messages by
    /// attribute without receiving them (and so raising their receive count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<u64>,
    /// Received and hidden; `None` on SQS, as `visible`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u64>,
    /// This queue's dead letters of the batch.
    pub dead: u64,
}

/// How many messages a queue holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and hidden until deleted or their visibility timeout ends.
    pub in_flight: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

/// The message attribute (type `String`) naming the task queue a message was sent to,
/// DCP's `SQS_QUEUE_NAME`: the source of a dead letter where SQS's own
/// `DeadLetterQueueSourceArn` is missing.
pub const SOURCE_ATTRIBUTE: &str = "SQS_QUEUE_NAME";

/// The message attribute (type `String`) naming the batch a task was pushed in
/// (`dcp-queue push --batch`). Beside the body, so DCP's message format is unchanged; SQS
/// keeps message attributes when it moves a message to the dead-letter queue.
pub const BATCH_ATTRIBUTE: &str = "DCP_BATCH";

/// The rule for batch names, as [`BatchNameError`] and the tools' messages state it.
pub const BATCH_NAME_RULE: &str =
    "1 to 80 letters, digits, '-', '_' or '.', not starting with '-' and not only dots";

/// Why a batch name is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("batch name `{0}`: use {BATCH_NAME_RULE}")]
pub struct BatchNameError(pub String);

/// Checks a batch name ([`BATCH_NAME_RULE`]): 1 to 80 ASCII letters, digits, `-`, `_` or
/// `.` (SQS's rule for queue names, with dots), not starting with `-` and not only dots, so
/// it is a file name, a make target and a shell word as is, never read as an option
/// (`dcp-watch --batch -x`), and well inside what an SQS message attribute value may hold
/// (Unicode text, within the message's 256 KiB). Every command taking a batch name checks
/// it here.
pub fn check_batch_name(name: &str) -> Result<(), BatchNameError> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if (1..=80).contains(&name.len())
        && name.chars().all(fits)
        && !name.starts_with('-')
        && !name.chars().all(|c| c == '.')
    {
        Ok(())
    } else {
        Err(BatchNameError(name.to_owned()))
    }
}

/// The batch name a file gives by default: its stem as it is (`job_illum_P1` of
/// `jobs/job_illum_P1.json`), or `None` when the stem is not a batch name
/// ([`check_batch_name`]). A stem is never rewritten: `plates 1` and `plates-1` would both
/// become `plates-1`, and two batches would count as one.
pub fn batch_name_from(file_stem: &str) -> Option<String> {
    check_batch_name(file_stem)
        .ok()
        .map(|()| file_stem.to_owned())
}

/// Whether a dead letter whose source is `source` (`None`: not recorded) is the letter of
/// `queue`; `alone` says that no other queue names the dead-letter queue.
pub fn is_source(queue: &str, source: Option<&str>, alone: bool) -> bool {
    source.map_or(alone, |s| s == queue)
}

/// What `delete_queues` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// The queues deleted (with this queue's dead letters).
    pub deleted: Vec<String>,
    /// Queues kept, each with the reason.
    pub kept: Vec<String>,
}

impl Deleted {
    /// Records the dead-letter queue `name` as deleted, or kept while `other_sources`
    /// (queues whose redrive policy names it) remain or it holds `letters` of theirs.
    fn dead_letter_queue(&mut self, name: &str, other_sources: &[String], letters: u64) {
        if !other_sources.is_empty() {
            self.kept.push(format!(
                "dead-letter queue {name}: the redrive policy of {} names it",
                other_sources.join(", ")
            ));
        } else if letters > 0 {
            self.kept.push(format!(
                "dead-letter queue {name}: holds {letters} task(s) of other queues"
            ));
        } else {
            self.deleted.push(name.to_owned());
        }
    }
}

/// Whether `create` made the queues or found them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Created {
    /// The task queue was made now.
    pub queue: bool,
    /// The dead-letter queue was made now.
    pub dead_letter_queue: bool,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue has not been created.
    #[error("queue `{0}` does not exist (create it with `dcp-queue create`)")]
    Missing(String),
    /// The receipt handle is unknown or stale: the message was deleted or received again.
    #[error("receipt handle `{0}` is stale: the message was deleted or received again")]
    StaleReceipt(String),
    /// The queue service (SQS) refused or failed a call.
    #[error("{operation} {queue}: {message}")]
    Service {
        /// The API call.
        operation: &'static str,
        /// The queue's name.
        queue: String,
        /// The service's error, with its context.
        message: String,
    },
    /// The embedded queue file failed.
    #[error("queue file {path}: {source}")]
    Embedded {
        /// The SQLite file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// Why a send stopped, and which of its messages the queue holds nonetheless.
#[derive(Debug, thiserror::Error)]
#[error("{} of {total} messages were sent", total - unsent.len())]
pub struct SendError {
    /// How many bodies were given.
    pub total: usize,
    /// The positions, ascending, of the bodies the queue did not acknowledge: every one on
    /// the embedded queue; on SQS, those of failed entries, of batches whose call failed,
    /// and of batches not sent after the failure.
    pub unsent: Vec<usize>,
    /// The failure.
    pub source: QueueError,
}

impl SendError {
    /// A failure before any message was sent.
    pub fn nothing_sent(total: usize, source: QueueError) -> Self {
        SendError {
            total,
            unsent: (0..total).collect(),
            source,
        }
    }

    /// How many messages the queue acknowledged.
    pub fn sent(&self) -> usize {
        self.total - self.unsent.len()
    }
}

/// A task queue with its dead-letter queue. Implemented by [`EmbeddedQueue`] (SQLite) and
/// by the AWS backend (SQS).
pub trait Queue: Send + Sync {
    /// Creates the dead-letter queue and the task queue with its redrive policy; existing
    /// queues are kept and their attributes set to the spec's.
    fn create(&self) -> impl Future<Output = Result<Created, QueueError>> + Send;

    /// Sends message bodies, in order, in no batch: [`Queue::send_with_progress`] without
    /// progress.
    fn send(
        &self,
        bodies: &[String],
    ) -> impl Future<Output = Result<Vec<String>, SendError>> + Send {
        self.send_with_progress(bodies, None, &|_| {})
    }

    /// Sends message bodies, in order, labelled with `batch` (the [`BATCH_ATTRIBUTE`] on
    /// SQS, a column of the embedded queue) when given, calling `progress` with how many of them are sent
    /// so far (on the embedded queue: written, made visible together at the end). Returns
    /// the ids the queue gave the messages, in the order of `bodies` (as [`Received::id`]
    /// and the workers' outcome lines name them).
    ///
    /// The embedded queue sends all or nothing, even if the process is killed. SQS cannot:
    /// it stops at the first failure, lets the batches already under way finish, and the
    /// [`SendError`] lists exactly the messages SQS did not acknowledge.
    fn send_with_progress(
        &self,
        bodies: &[String],
        batch: Option<&str>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> impl Future<Output = Result<Vec<String>, SendError>> + Send;

    /// Receives up to `max` messages, hiding each for the visibility timeout; waits up to
    /// `wait` for one to arrive. A message received `max_receives` times before is moved
    /// to the dead-letter queue instead of being returned.
    fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Received>, QueueError>> + Send;

    /// Hides a received message for `timeout` from now (zero makes it visible at once).
    fn change_visibility(
        &self,
        receipt: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Deletes a received message.
    fn delete_message(&self, receipt: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Counts visible and in-flight messages, and this queue's dead letters.
    fn counts(&self) -> impl Future<Output = Result<Counts, QueueError>> + Send;

    /// Whether the task queue holds no message, visible or in flight (cheap: the
    /// dead-letter queue is not read).
    fn drained(&self) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Deletes every message of the task queue (or this queue's dead letters); returns how many.
    fn purge(&self, dead_letters: bool) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Lists this queue's dead letters.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Counts this queue's tasks batch by batch (tasks pushed without a batch are not
    /// counted), by batch name. On SQS only dead letters are counted ([`BatchCounts`]).
    fn batch_counts(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, BatchCounts>, QueueError>> + Send;

    /// Moves this queue's dead letters (of `batch` only, when given) back to it with a fresh
    /// receive count and their batch; returns how many.
    fn redrive(&self, batch: Option<&str>) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Deletes the task queue with its messages and its dead letters, and the dead-letter
    /// queue unless another queue's redrive policy names it or it holds letters.
    fn delete_queues(&self) -> impl Future<Output = Result<Deleted, QueueError>> + Send;
}
