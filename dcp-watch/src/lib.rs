//! The monitor of a dcp run (reference §7): watches the queue drain, and when it has, stops
//! the fleet and writes the run report. One room per backend:
//!
//! - [`embedded`]: [`embedded::EmbeddedWatch`] takes one look at a time (queue counts, the
//!   workers' outcome lines, the embedded fleet's live workers), then stops the fleet and
//!   writes `<run_dir>/report.json`;
//! - [`aws`] (feature `aws`): [`aws::AwsWatch`] does the same from the run's resources
//!   alone, and tears the run down.
//!
//! [`report`] gathers the final outcome of every task ([`outcomes`]) and the dead letters.

#[cfg(feature = "aws")]
pub mod aws;
pub mod batch;
pub mod embedded;
pub mod outcomes;
pub mod report;

use std::path::PathBuf;

use dcp_common::QueueError;
use dcp_fleet::FleetError;

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The queue could not be read.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The fleet could not be read or stopped.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// An AWS call failed.
    #[cfg(feature = "aws")]
    #[error("AWS: {0}")]
    Aws(#[from] dcp_common::aws::AwsError),
    /// The queue is gone and the run has no report.
    #[error(
        "queue {queue} does not exist and the run has no report: nothing to watch \
         (create the queue with `dcp-queue create`)"
    )]
    NothingToWatch {
        /// SQS_QUEUE_NAME.
        queue: String,
    },
    /// `dcp-watch --batch NAME` found no task of the batch anywhere.
    #[error(
        "batch `{batch}`: no task of it is in the queue, its dead letters or the workers' \
         outcome lines (push it with `dcp-queue push --batch {batch}`)"
    )]
    UnknownBatch {
        /// The batch's name.
        batch: String,
    },
    /// `dcp-watch --batch NAME` on AWS found no record of the batch's push.
    #[error(
        "batch `{batch}`: no push recorded it at {record} (push it with \
         `dcp-queue push --batch {batch}`)"
    )]
    UnrecordedBatch {
        /// The batch's name.
        batch: String,
        /// Where its record would be (`s3://…`).
        record: String,
    },
    /// A file of the run folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The kind of the queue's or the fleet's error; the rest fail while working.
impl dcp_common::exit::Classify for WatchError {
    fn kind(&self) -> dcp_common::exit::Kind {
        match self {
            WatchError::Queue(e) => e.kind(),
            WatchError::Fleet(e) => e.kind(),
            #[cfg(feature = "aws")]
            WatchError::Aws(_) => dcp_common::exit::Kind::Failure,
            WatchError::NothingToWatch { .. }
            | WatchError::UnknownBatch { .. }
            | WatchError::UnrecordedBatch { .. }
            | WatchError::Io { .. } => dcp_common::exit::Kind::Failure,
        }
    }
}

impl WatchError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WatchError {
        let path = path.into();
        move |source| WatchError::Io { path, source }
    }
}
