//! `fleet.json`: the record of a run's embedded fleet, kept after the fleet stops so that the
//! monitor can still find every worker's files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use dcp_common::file::write_atomic;

use crate::FleetError;

/// The record of a fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetState {
    /// When the fleet was started (unix seconds).
    pub started: u64,
    /// The settings file the workers read (`<run_dir>/config.json`).
    pub config: PathBuf,
    /// One record per worker slot, by index; a stopped slot keeps its last worker's record
    /// until a new worker takes the slot.
    pub workers: Vec<WorkerRecord>,
}

/// One worker process of the fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// The worker's slot, from 1; its files are `workers/<index>.jsonl` and `.log`.
    pub index: u32,
    /// The process id (also its session and process group).
    pub pid: u32,
    /// The program that was launched.
    pub program: PathBuf,
    /// When it was launched (unix seconds).
    pub started: u64,
    /// Its stdout: outcome lines, appended.
    pub outcomes: PathBuf,
    /// Its stderr: the human log, appended.
    pub log: PathBuf,
    /// When the fleet found it stopped (unix seconds); `None` while it is taken to run.
    pub stopped: Option<u64>,
    /// How it ended, once stopped.
    pub end: Option<End>,
}

/// How a worker ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum End {
    /// It exited after SIGTERM, within the grace period.
    Terminated,
    /// It outlived the grace period and was killed (SIGKILL to its process group).
    Killed,
    /// It was already gone when the fleet looked (it exited or crashed on its own).
    Exited,
}

impl FleetState {
    /// Reads `path`; `None` when there is no record.
    pub fn load(path: &Path) -> Result<Option<FleetState>, FleetError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FleetError::io(path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| FleetError::State {
                path: path.to_owned(),
                source,
            })
    }

    /// Writes the record to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), FleetError> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|source| FleetError::State {
            path: path.to_owned(),
            source,
        })?;
        text.push(b'\n');
        write_atomic(path, &text).map_err(FleetError::io(path))
    }

    /// The record of slot `index`.
    pub fn worker(&self, index: u32) -> Option<&WorkerRecord> {
        self.workers.iter().find(|w| w.index == index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FleetState {
        let worker = |index, stopped, end| WorkerRecord {
            index,
            pid: 4000 + index,
            program: "/opt/dcp/bin/dcp-worker".into(),
            started: 1_700_000_000,
            outcomes: format!("/run/workers/{index}.jsonl").into(),
            log: format!("/run/workers/{index}.log").into(),
            stopped,
            end,
        };
        FleetState {
            started: 1_700_000_000,
            config: "/run/config.json".into(),
            workers: vec![
                worker(1, None, None),
                worker(2, Some(1_700_000_100), Some(End::Killed)),
            ],
        }
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        assert_eq!(FleetState::load(&path).unwrap(), None);
        let state = sample();
        state.save(&path).unwrap();
        assert_eq!(FleetState::load(&path).unwrap(), Some(state.clone()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"end\": \"killed\""), "{text}");
        assert_eq!(state.worker(2).unwrap().pid, 4002);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_broken_record_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.json");
        std::fs::write(&path, "{\"started\": 1").unwrap();
        let err = FleetState::load(&path).unwrap_err().to_string();
        assert!(err.contains("fleet.json: not a fleet record"), "{err}");
    }
}
