//! The monitor of a dcp run (reference §7): watches the queue drain, and when it has,
//! stops the local fleet and writes the run report.
//!
//! [`tick::Watch`] takes one look at a time: queue counts, the workers' outcome lines
//! ([`outcomes`]) and the fleet's live workers. [`report`] gathers the final outcome of
//! every task and the dead letters into `<run_dir>/report.json`. On AWS, [`cloud`] does
//! the same from the run's resources alone, and tears the run down.

#[cfg(feature = "aws")]
pub mod cloud;
pub mod outcomes;
pub mod report;
pub mod tick;

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
    #[error("AWS: {0}")]
    Aws(String),
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
            WatchError::Aws(_) | WatchError::Io { .. } => dcp_common::exit::Kind::Failure,
        }
    }
}

impl WatchError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WatchError {
        let path = path.into();
        move |source| WatchError::Io { path, source }
    }
}
