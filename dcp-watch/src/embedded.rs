//! The monitor on the embedded backend: [`EmbeddedWatch`] takes one look at a run per tick
//! (queue counts, the workers' outcome lines from [`outcomes`], the embedded fleet's live
//! workers), and ends a drained run: it stops the fleet and writes the run report.

pub mod batch;
pub mod outcomes;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use dcp_common::file::unix_seconds;
use dcp_common::{Config, Queue};
use dcp_fleet::EmbeddedFleet;
use serde::Serialize;

use crate::WatchError;
use crate::report::Report;
use outcomes::{OutcomeLog, read_all};

/// What one tick saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Tick {
    /// Tasks waiting in the queue.
    pub visible: u64,
    /// Tasks received and not yet deleted.
    pub in_flight: u64,
    /// The run's tasks in the dead-letter queue.
    pub dead: u64,
    /// Tasks with a done outcome (success or skipped-done), each once (a task is its group
    /// in its output prefix: tasks may share a prefix).
    pub done: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Live workers of the embedded fleet.
    pub workers_alive: u64,
    /// Seconds since the fleet was started (since the watch started, without a fleet).
    pub elapsed_seconds: u64,
}

impl Tick {
    /// Nothing is left in the queue: nothing visible, nothing in flight.
    pub fn drained(&self) -> bool {
        self.visible + self.in_flight == 0
    }
}

/// The last line of a drained run.
#[derive(Clone, Debug, Serialize)]
pub struct Drained {
    /// Always true.
    pub drained: bool,
    /// The report written.
    pub report: PathBuf,
    /// Tasks with an outcome.
    pub tasks: u64,
    /// Tasks done.
    pub done: u64,
    /// The run's tasks in the dead-letter queue.
    pub dead: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Workers the watch stopped (or found gone).
    pub workers_stopped: u64,
    /// Seconds from the fleet's start (or the watch's) to now.
    pub elapsed_seconds: u64,
}

/// Watches one run: its queue, its workers' outcome lines and its embedded fleet.
pub struct EmbeddedWatch<Q> {
    config: Config,
    queue: Q,
    fleet: EmbeddedFleet,
    log: OutcomeLog,
    /// Tasks with a done outcome: batch, output prefix and group, as the report keys them.
    done: HashSet<(Option<String>, String, String)>,
    failed_attempts: u64,
    since: u64,
}

impl<Q: Queue> EmbeddedWatch<Q> {
    /// Watches the run the settings describe through `queue`.
    pub fn new(config: &Config, queue: Q) -> Result<EmbeddedWatch<Q>, WatchError> {
        let fleet = EmbeddedFleet::new(config)?;
        Ok(EmbeddedWatch {
            config: config.clone(),
            queue,
            log: OutcomeLog::new(fleet.workers_dir()),
            fleet,
            done: HashSet::new(),
            failed_attempts: 0,
            since: unix_seconds(),
        })
    }

    /// Takes one look: the queue's counts, the outcome lines written since the last look,
    /// and the fleet's live workers.
    pub async fn tick(&mut self) -> Result<Tick, WatchError> {
        let counts = self.queue.counts().await?;
        let batch = self.log.read_new()?;
        for outcome in batch.outcomes {
            if outcome.status.is_done() {
                self.done
                    .insert((outcome.batch, outcome.output, outcome.group));
            } else {
                self.failed_attempts += 1;
            }
        }
        let fleet = self.fleet.status()?;
        Ok(Tick {
            visible: counts.visible,
            in_flight: counts.in_flight,
            dead: counts.dead,
            done: self.done.len() as u64,
            failed_attempts: self.failed_attempts,
            workers_alive: fleet.alive as u64,
            elapsed_seconds: unix_seconds().saturating_sub(fleet.started.unwrap_or(self.since)),
        })
    }

    /// Ends a drained run: stops the embedded fleet (the workers' last lines are written when
    /// they exit), then writes `<run_dir>/report.json` (and its page, `report.html`) from
    /// every outcome line and the dead letters. Safe to repeat: a stopped fleet stays stopped, the report is rewritten.
    pub async fn finish(&mut self, grace: Duration) -> Result<(Drained, Report), WatchError> {
        let stopped = self.fleet.stop(grace)?;
        let batch = read_all(&self.fleet.workers_dir())?;
        let dead = self.queue.dead_letters().await?;
        let started = self.fleet.state()?.map(|s| s.started);
        let finished = unix_seconds();
        let report = Report::build(&self.config, started, finished, &batch, &dead);
        let run_dir = self.fleet.run_dir();
        std::fs::create_dir_all(run_dir).map_err(WatchError::io(run_dir))?;
        let path = report.write(run_dir)?;
        let drained = Drained {
            drained: true,
            report: path,
            tasks: report.counts.tasks,
            done: report.counts.done,
            dead: report.counts.dead,
            failed_attempts: report.counts.failed_attempts,
            workers_stopped: stopped.stopped.len() as u64,
            elapsed_seconds: finished.saturating_sub(started.unwrap_or(self.since)),
        };
        Ok((drained, report))
    }
}
