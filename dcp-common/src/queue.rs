//! The task queue seam: a queue of DCP task messages with a dead-letter queue, with SQS
//! semantics (visibility timeout, receive count, receipt handles, redrive policy).

mod embedded;
#[cfg(feature = "aws")]
mod sqs;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::Config;

pub use embedded::EmbeddedQueue;
#[cfg(feature = "aws")]
pub use sqs::{QueueState, SqsQueue};

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
    #[error("{operation}: {message}")]
    Service {
        /// The API call.
        operation: &'static str,
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

    /// Sends message bodies, in order: [`Queue::send_with_progress`] without progress.
    fn send(&self, bodies: &[String]) -> impl Future<Output = Result<(), SendError>> + Send {
        self.send_with_progress(bodies, &|_| {})
    }

    /// Sends message bodies, in order, calling `progress` with how many of them are sent
    /// so far (on the embedded queue: written, made visible together at the end).
    ///
    /// The embedded queue sends all or nothing, even if the process is killed. SQS cannot:
    /// it stops at the first failure, lets the batches already under way finish, and the
    /// [`SendError`] lists exactly the messages SQS did not acknowledge.
    fn send_with_progress(
        &self,
        bodies: &[String],
        progress: &(dyn Fn(usize) + Sync),
    ) -> impl Future<Output = Result<(), SendError>> + Send;

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

    /// Counts visible, in-flight and dead messages.
    fn counts(&self) -> impl Future<Output = Result<Counts, QueueError>> + Send;

    /// Deletes every message of the task queue (or of the dead-letter queue); returns how many.
    fn purge(&self, dead_letters: bool) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Lists the messages of the dead-letter queue.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Moves every dead letter back to the task queue with a fresh receive count; returns how many.
    fn redrive(&self) -> impl Future<Output = Result<u64, QueueError>> + Send;

    /// Deletes both queues and their messages.
    fn delete_queues(&self) -> impl Future<Output = Result<(), QueueError>> + Send;
}
