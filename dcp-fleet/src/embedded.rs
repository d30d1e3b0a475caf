//! The embedded fleet of a dcp run: background `dcp-worker` processes on this machine, the
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
//! [`EmbeddedFleet`] starts, inspects, scales and stops it ([`report`] is what it returns);
//! [`process`] does the process work.

pub mod process;
pub mod report;
pub mod state;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dcp_common::{Backend, Config};

use dcp_common::file::{unix_seconds, write_atomic};

use crate::FleetError;
use process::is_worker;
use report::{Ended, Launched, Scaled, Started, Status, Stopped, WorkerStatus};
use state::{End, FleetState, WorkerRecord};

/// The embedded fleet of one run, kept in its run folder.
#[derive(Clone, Debug)]
pub struct EmbeddedFleet {
    run_dir: PathBuf,
    program: Option<PathBuf>,
}

impl EmbeddedFleet {
    /// The embedded fleet of the run the settings describe (embedded backend only).
    pub fn new(config: &Config) -> Result<EmbeddedFleet, FleetError> {
        match config.backend {
            Backend::Embedded => {
                // The run folder and its workers/ resolve inside AWS_BUCKET (no link out).
                let key = format!("runs/{}/workers", config.app_name);
                dcp_common::store::path_in_bucket(&config.aws_bucket, &key)?;
                Ok(EmbeddedFleet {
                    run_dir: config.local_run_dir(),
                    program: None,
                })
            }
            Backend::Aws => Err(FleetError::NoAwsBackend),
        }
    }

    /// Launches `program` as the worker instead of [`process::worker_program`]'s choice.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> EmbeddedFleet {
        self.program = Some(program.into());
        self
    }

    /// The run folder.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The folder of the workers' outcome lines (`<n>.jsonl`) and logs (`<n>.log`).
    pub fn workers_dir(&self) -> PathBuf {
        self.run_dir.join("workers")
    }

    /// The fleet's record, if one was written.
    pub fn state(&self) -> Result<Option<FleetState>, FleetError> {
        FleetState::load(&self.state_path())
    }

    /// Every recorded worker and whether it is alive; an empty status when no fleet is
    /// recorded. Changes nothing.
    pub fn status(&self) -> Result<Status, FleetError> {
        let state = self.state()?;
        let workers: Vec<WorkerStatus> = state
            .iter()
            .flat_map(|s| {
                s.workers.iter().map(|w| WorkerStatus {
                    index: w.index,
                    pid: w.pid,
                    alive: is_worker(w.pid, &w.program, &s.config),
                    started: w.started,
                    stopped: w.stopped,
                    end: w.end,
                })
            })
            .collect();
        Ok(Status {
            run_dir: self.run_dir.clone(),
            started: state.as_ref().map(|s| s.started),
            alive: workers.iter().filter(|w| w.alive).count(),
            workers,
        })
    }

    /// Writes `config.json` and launches `LOCAL_WORKERS` workers (one per CPU core when 0).
    /// Refuses when live workers are recorded; a stopped fleet's record is replaced (its
    /// workers' files are kept and appended to).
    pub fn start(&self, config: &Config) -> Result<Started, FleetError> {
        let _lock = self.lock()?;
        if let Some(old) = self.state()? {
            let alive = old
                .workers
                .iter()
                .filter(|w| is_worker(w.pid, &w.program, &old.config))
                .count();
            if alive > 0 {
                return Err(FleetError::AlreadyRunning {
                    run_dir: self.run_dir.clone(),
                    alive,
                });
            }
        }
        let mut state = self.fresh(config)?;
        let launched = self.launch_slots(&mut state, config.local_worker_count() as usize);
        state.save(&self.state_path())?;
        Ok(Started {
            run_dir: self.run_dir.clone(),
            config: state.config,
            started: state.started,
            workers: launched?,
        })
    }

    /// Launches or stops workers until `wanted` are alive; the newest are stopped first
    /// (SIGTERM, up to `grace`, then SIGKILL). A fleet with no live worker is started anew
    /// with these settings; a live one keeps the settings it was started with.
    pub fn scale(
        &self,
        config: &Config,
        wanted: usize,
        grace: Duration,
    ) -> Result<Scaled, FleetError> {
        let _lock = self.lock()?;
        let mut state = self.state()?;
        let mut stopped = state.as_mut().map(mark_exited).unwrap_or_default();
        let live = |s: &FleetState| running(s).len();
        let mut state = match state {
            Some(s) if live(&s) > 0 => s,
            Some(s) => FleetState {
                workers: s.workers,
                ..self.fresh(config)?
            },
            None => self.fresh(config)?,
        };
        let alive = live(&state);
        let launched = if alive < wanted {
            self.launch_slots(&mut state, wanted - alive)
        } else {
            let mut newest = running(&state);
            newest.sort_by_key(|w| std::cmp::Reverse((w.started, w.index)));
            let extra: Vec<u32> = newest[..alive - wanted].iter().map(|w| w.index).collect();
            stopped.extend(stop_slots(&mut state, &extra, grace));
            Ok(Vec::new())
        };
        state.save(&self.state_path())?;
        Ok(Scaled {
            run_dir: self.run_dir.clone(),
            alive: live(&state),
            launched: launched?,
            stopped,
        })
    }

    /// Stops every worker (SIGTERM, up to `grace`, then SIGKILL) and marks them stopped in
    /// the record, which is kept. Stopping a stopped fleet, or none, changes nothing.
    pub fn stop(&self, grace: Duration) -> Result<Stopped, FleetError> {
        let mut stopped = Vec::new();
        if self.state()?.is_some() {
            let _lock = self.lock()?;
            if let Some(mut state) = self.state()? {
                stopped = mark_exited(&mut state);
                let live: Vec<u32> = running(&state).iter().map(|w| w.index).collect();
                stopped.extend(stop_slots(&mut state, &live, grace));
                state.save(&self.state_path())?;
            }
        }
        Ok(Stopped {
            alive: self.status()?.alive,
            run_dir: self.run_dir.clone(),
            stopped,
        })
    }

    fn state_path(&self) -> PathBuf {
        self.run_dir.join("fleet.json")
    }

    /// Takes the fleet's lock (released when the file is dropped), creating the run folder.
    fn lock(&self) -> Result<File, FleetError> {
        std::fs::create_dir_all(self.workers_dir()).map_err(FleetError::io(self.workers_dir()))?;
        let path = self.run_dir.join("fleet.lock");
        let file = File::create(&path).map_err(FleetError::io(&path))?;
        file.lock().map_err(FleetError::io(&path))?;
        Ok(file)
    }

    /// A new, empty record, with the settings written to `config.json` for its workers.
    fn fresh(&self, config: &Config) -> Result<FleetState, FleetError> {
        let path = self.run_dir.join("config.json");
        let mut text = serde_json::to_vec_pretty(config).map_err(|source| FleetError::State {
            path: path.clone(),
            source,
        })?;
        text.push(b'\n');
        write_atomic(&path, &text).map_err(FleetError::io(&path))?;
        Ok(FleetState {
            started: unix_seconds(),
            config: path,
            workers: Vec::new(),
        })
    }

    /// Launches `count` workers into the lowest slots without a running worker, recording
    /// each in `state` as it starts (so a failure part-way leaves no worker unrecorded).
    fn launch_slots(
        &self,
        state: &mut FleetState,
        count: usize,
    ) -> Result<Vec<Launched>, FleetError> {
        let program = match &self.program {
            Some(p) => p.clone(),
            None => process::worker_program()?,
        };
        let mut launched = Vec::new();
        let mut index = 0;
        while launched.len() < count {
            index += 1;
            if state.worker(index).is_some_and(|w| w.stopped.is_none()) {
                continue;
            }
            let dir = self.workers_dir();
            let record = WorkerRecord {
                index,
                pid: 0,
                program: program.clone(),
                started: unix_seconds(),
                outcomes: dir.join(format!("{index}.jsonl")),
                log: dir.join(format!("{index}.log")),
                stopped: None,
                end: None,
            };
            let pid = process::launch(
                &program,
                &state.config,
                index,
                &record.outcomes,
                &record.log,
            )?;
            state.workers.retain(|w| w.index != index);
            state.workers.push(WorkerRecord { pid, ..record });
            state.workers.sort_by_key(|w| w.index);
            launched.push(Launched { index, pid });
        }
        Ok(launched)
    }
}

/// The workers recorded as running.
fn running(state: &FleetState) -> Vec<&WorkerRecord> {
    state
        .workers
        .iter()
        .filter(|w| w.stopped.is_none())
        .collect()
}

/// Stops the workers in slots `indices` and records how each ended.
fn stop_slots(state: &mut FleetState, indices: &[u32], grace: Duration) -> Vec<Ended> {
    let targets: Vec<&WorkerRecord> = indices.iter().filter_map(|&i| state.worker(i)).collect();
    let ends = process::stop(&targets, &state.config, grace);
    let ended: Vec<Ended> = targets
        .iter()
        .zip(ends)
        .map(|(w, end)| Ended {
            index: w.index,
            pid: w.pid,
            end,
        })
        .collect();
    record_ends(state, &ended);
    ended
}

/// Marks the workers recorded as running that are gone as exited; returns them.
fn mark_exited(state: &mut FleetState) -> Vec<Ended> {
    let gone: Vec<Ended> = state
        .workers
        .iter()
        .filter(|w| w.stopped.is_none() && !is_worker(w.pid, &w.program, &state.config))
        .map(|w| Ended {
            index: w.index,
            pid: w.pid,
            end: End::Exited,
        })
        .collect();
    record_ends(state, &gone);
    gone
}

fn record_ends(state: &mut FleetState, ended: &[Ended]) {
    let at = unix_seconds();
    for e in ended {
        if let Some(w) = state.workers.iter_mut().find(|w| w.index == e.index) {
            w.stopped = Some(at);
            w.end = Some(e.end);
        }
    }
}
