//! The local fleet of a dcp run: background `dcp-worker` processes on this machine, the
//! embedded backend's counterpart of DCP's Spot Fleet (reference §5).
//!
//! A fleet lives in the run folder ([`dcp_common::Config::local_run_dir`]):
//!
//! | file | holds |
//! |---|---|
//! | `config.json` | the resolved settings every worker of the fleet reads |
//! | `fleet.json` | the fleet's record ([`state::FleetState`]), replaced atomically |
//! | `fleet.lock` | held while `start`, `scale` or `stop` change the fleet |
//! | `workers/<n>.jsonl` | worker *n*'s stdout: one outcome line per task attempt (appended) |
//! | `workers/<n>.log` | worker *n*'s stderr (appended) |
//!
//! [`Fleet`] starts, inspects, scales and stops it ([`report`] is what it returns);
//! [`local`] does the process work.

pub mod check;
#[cfg(feature = "aws")]
pub mod cloud;
#[cfg(feature = "aws")]
pub mod ecs;
mod fleet;
pub mod fleet_file;
pub mod local;
pub mod report;
#[cfg(feature = "aws")]
pub mod spot;
pub mod state;

use std::path::PathBuf;

pub use fleet::Fleet;
pub use report::{Ended, Launched, Scaled, Started, Status, Stopped, WorkerStatus};

/// The environment variable naming the worker program to launch instead of `dcp-worker`.
pub const WORKER_ENV: &str = "DCP_WORKER";

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The local fleet was asked for on the AWS backend.
    #[error("BACKEND = \"aws\": a local fleet runs on the embedded backend only")]
    NoAwsBackend,
    /// `teardown` found tasks still queued.
    #[error(
        "queue {queue} still holds {tasks} task(s): let the run finish, or pass --force to \
         tear it down anyway"
    )]
    NotDrained {
        /// The task queue.
        queue: String,
        /// Tasks visible or in flight.
        tasks: u64,
    },
    /// The fleet file cannot be used.
    #[error(
        "{}{}: {}{message}",
        if file.is_empty() { "fleet request" } else { file },
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        if field.is_empty() { String::new() } else { format!("{field}: ") }
    )]
    FleetFile {
        /// The fleet file (empty for a request built in memory).
        file: String,
        /// The line of the field, when known.
        line: Option<usize>,
        /// The field by its path, e.g. `LaunchSpecifications[0].Ebs.VolumeSize` (empty for
        /// the file as a whole).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The fleet file cannot be read.
    #[error(transparent)]
    Input(#[from] dcp_common::text::InputFileError),
    /// The run folder cannot be used (a symbolic link leads out of AWS_BUCKET).
    #[error(transparent)]
    Bucket(#[from] dcp_common::StoreError),
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
    /// `fleet.json` is not a fleet record.
    #[error("{path}: not a fleet record: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// `start` found live workers already recorded.
    #[error(
        "a fleet of {alive} live worker(s) is already running in {run_dir}; \
         use `dcp-fleet scale N` to resize it or `dcp-fleet stop` to end it"
    )]
    AlreadyRunning {
        /// The run folder.
        run_dir: PathBuf,
        /// Its live workers.
        alive: usize,
    },
    /// No worker program was found.
    #[error("no dcp-worker next to {beside} nor in PATH (set {WORKER_ENV} to the worker program)")]
    NoWorker {
        /// The folder of the running executable.
        beside: PathBuf,
    },
    /// A worker could not be launched.
    #[error("cannot launch {program}: {source}")]
    Spawn {
        /// The worker program.
        program: PathBuf,
        /// The error of the launch.
        source: std::io::Error,
    },
}

/// A fleet file, AWS settings on a local fleet and a build without the AWS backend are bad
/// input; a fleet already running, a queue not drained and what fails while working are
/// failures.
impl dcp_common::exit::Classify for FleetError {
    fn kind(&self) -> dcp_common::exit::Kind {
        use dcp_common::exit::Kind;
        match self {
            FleetError::NoAwsBackend | FleetError::FleetFile { .. } | FleetError::Input(_) => {
                Kind::BadInput
            }
            FleetError::Bucket(e) => dcp_common::exit::Classify::kind(e),
            FleetError::NotDrained { .. }
            | FleetError::Aws(_)
            | FleetError::Io { .. }
            | FleetError::State { .. }
            | FleetError::AlreadyRunning { .. }
            | FleetError::NoWorker { .. }
            | FleetError::Spawn { .. } => Kind::Failure,
        }
    }
}

impl FleetError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FleetError {
        let path = path.into();
        move |source| FleetError::Io { path, source }
    }
}

/// Reads a non-negative number of seconds, e.g. `10` or `0.5` (for `--grace` and
/// `--interval` options).
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{text}` is not a number of seconds ≥ 0"))
}
