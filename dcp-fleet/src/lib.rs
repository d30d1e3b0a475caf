//! The fleet of workers of a dcp run, one room per backend, each with the same commands
//! (setup, start, status, scale, stop, teardown) returning typed reports:
//!
//! - [`embedded`]: background `dcp-worker` processes on this machine, kept in the run
//!   folder ([`EmbeddedFleet`]);
//! - [`aws`] (feature `aws`): ECS tasks on EC2 capacity, found from the settings and tags
//!   alone ([`aws::AwsFleet`]).
//!
//! [`fleet_file`] reads DCP's fleet file, which both backends check before anything changes.

#[cfg(feature = "aws")]
pub mod aws;
pub mod check;
pub mod embedded;
pub mod fleet_file;
pub mod scale;

use std::path::PathBuf;

pub use embedded::EmbeddedFleet;
pub use embedded::report::{Ended, Launched, Scaled, Started, Status, Stopped, WorkerStatus};

/// The environment variable naming the worker program to launch instead of `dcp-worker`.
pub const WORKER_ENV: &str = "DCP_WORKER";

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The embedded fleet was asked for on the AWS backend.
    #[error("BACKEND = \"aws\": the embedded fleet runs on the embedded backend only")]
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
    #[cfg(feature = "aws")]
    #[error("AWS: {0}")]
    Aws(#[from] dcp_common::aws::AwsError),
    /// `scale` found no capacity of the run to resize.
    #[error(
        "no Auto Scaling group or open Spot Fleet tagged Name = {app_name}: start one with \
         `dcp-fleet start FLEET.json`"
    )]
    NotStarted {
        /// APP_NAME, the tag the capacity carries.
        app_name: String,
    },
    /// `scale N` asked for more than the settings may ever hold ([`scale`]).
    #[error("scale {wanted}: above the most {setting} may be ({most}); nothing was changed")]
    ScaleAbove {
        /// N.
        wanted: u32,
        /// The setting whose bound it is.
        setting: &'static str,
        /// That bound.
        most: u32,
    },
    /// A request of `start` failed; what it had made was removed (the names of the
    /// requests that removed it), or removing it failed too (why).
    #[error(
        "{failed}; {}",
        match undone {
            Ok(removed) if removed.is_empty() => "start had made nothing to remove".to_owned(),
            Ok(removed) => format!("what start had made was removed ({})", removed.join(", ")),
            Err(why) => format!(
                "removing what start had made failed too ({why}): run `dcp-fleet stop`"
            ),
        }
    )]
    StartUndone {
        /// The request that failed.
        failed: Box<FleetError>,
        /// The requests that removed what start had made, or why that failed.
        undone: Result<Vec<String>, String>,
    },
    /// `start` found capacity of the run already there.
    #[error(
        "the run {app_name} has machines already (an Auto Scaling group or Spot Fleet tagged \
         Name = {app_name}): use `dcp-fleet scale N` to resize or `dcp-fleet stop` to end them"
    )]
    AlreadyStarted {
        /// APP_NAME.
        app_name: String,
    },
    /// The run's queues could not be read.
    #[error(transparent)]
    Queue(#[from] dcp_common::QueueError),
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

/// A fleet file, AWS settings on the embedded fleet and a build without the AWS backend are bad
/// input; a fleet already running, a queue not drained and what fails while working are
/// failures.
impl dcp_common::exit::Classify for FleetError {
    fn kind(&self) -> dcp_common::exit::Kind {
        use dcp_common::exit::Kind;
        match self {
            FleetError::NoAwsBackend
            | FleetError::FleetFile { .. }
            | FleetError::Input(_)
            | FleetError::ScaleAbove { .. } => Kind::BadInput,
            FleetError::Bucket(e) => dcp_common::exit::Classify::kind(e),
            #[cfg(feature = "aws")]
            FleetError::Aws(_) => Kind::Failure,
            FleetError::Queue(e) => dcp_common::exit::Classify::kind(e),
            FleetError::StartUndone { failed, .. } => failed.kind(),
            FleetError::NotDrained { .. }
            | FleetError::NotStarted { .. }
            | FleetError::AlreadyStarted { .. }
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
