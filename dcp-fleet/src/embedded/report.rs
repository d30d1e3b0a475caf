//! What the fleet commands print: one JSON object each.

use std::path::PathBuf;

use serde::Serialize;

use crate::embedded::state::End;

/// `status`: every recorded worker and whether it is alive.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The run folder.
    pub run_dir: PathBuf,
    /// When the fleet was started (unix seconds); `None` when no fleet is recorded.
    pub started: Option<u64>,
    /// Live workers.
    pub alive: usize,
    /// Every recorded worker, by index.
    pub workers: Vec<WorkerStatus>,
}

/// One worker in [`Status`].
#[derive(Clone, Debug, Serialize)]
pub struct WorkerStatus {
    /// Its slot.
    pub index: u32,
    /// Its process id.
    pub pid: u32,
    /// Whether that process is alive and is this worker.
    pub alive: bool,
    /// When it was launched (unix seconds).
    pub started: u64,
    /// When it was found stopped (unix seconds).
    pub stopped: Option<u64>,
    /// How it ended.
    pub end: Option<End>,
}

/// `start`: the fleet launched.
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The settings file the workers read.
    pub config: PathBuf,
    /// When the fleet was started (unix seconds).
    pub started: u64,
    /// The workers launched.
    pub workers: Vec<Launched>,
}

/// A worker launched.
#[derive(Clone, Debug, Serialize)]
pub struct Launched {
    /// Its slot.
    pub index: u32,
    /// Its process id.
    pub pid: u32,
}

/// `scale`: the workers launched and stopped to reach the wanted count.
#[derive(Clone, Debug, Serialize)]
pub struct Scaled {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Live workers now.
    pub alive: usize,
    /// Workers launched.
    pub launched: Vec<Launched>,
    /// Workers stopped, or found gone.
    pub stopped: Vec<Ended>,
}

/// `stop`: the workers stopped.
#[derive(Clone, Debug, Serialize)]
pub struct Stopped {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Live workers left (0 unless one could not be killed).
    pub alive: usize,
    /// Workers stopped now, or found gone; empty when the fleet was already stopped.
    pub stopped: Vec<Ended>,
}

/// A worker that ended.
#[derive(Clone, Debug, Serialize)]
pub struct Ended {
    /// Its slot.
    pub index: u32,
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub end: End,
}
