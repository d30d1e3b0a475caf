//! Watching one batch (`dcp-watch --batch NAME`) on the embedded backend: the tasks pushed
//! with `dcp-queue push --batch NAME` (reference: the "Plate batches"), until none
//! is visible or in flight. It never stops the fleet: other batches may still have work;
//! the whole-queue watch stops it when the queue drains.
//!
//! As on AWS, a task counts at its latest push: a dead letter of a task that a later push
//! finished is left out of the batch's summary (it stays in the dead-letter queue, and the
//! run report lists it), so `make` after a failure, pushing the batch again, ends in 0.

use std::time::Duration;

use dcp_common::file::unix_seconds;
use dcp_common::metadata::join_pairs;
use dcp_common::outcome::Outcome;
use dcp_common::queue::{BatchCounts, DeadLetter};
use dcp_common::{Config, Queue, Task};
use dcp_fleet::EmbeddedFleet;
use serde::Serialize;

use super::outcomes::OutcomeLog;
use crate::WatchError;
use crate::batch::BatchSummary;
use crate::outcomes::Batch;
use crate::report::Report;

/// How long a finished batch waits before its last reading of the outcome lines: a worker
/// appends a task's line just after deleting its message.
const LAST_LINES: Duration = Duration::from_millis(500);

/// What one look at a batch saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchTick {
    /// The batch's name.
    pub batch: String,
    /// Its tasks waiting in the queue.
    pub visible: u64,
    /// Its tasks received and not yet deleted.
    pub in_flight: u64,
    /// Its tasks in the dead-letter queue.
    pub dead: u64,
    /// Its tasks with a done outcome, each once.
    pub done: u64,
    /// Its failed attempts.
    pub failed_attempts: u64,
    /// The run's live workers (`dcp-fleet start`): none while tasks wait means no one
    /// serves the queue.
    pub workers_alive: u64,
    /// Seconds since the watch started.
    pub elapsed_seconds: u64,
}

impl BatchTick {
    /// None of the batch's tasks is visible or in flight.
    pub fn finished(&self) -> bool {
        self.visible + self.in_flight == 0
    }
}

/// Watches the tasks of one batch through a queue and the workers' outcome lines.
pub struct BatchWatch<Q> {
    config: Config,
    queue: Q,
    name: String,
    fleet: EmbeddedFleet,
    log: OutcomeLog,
    seen: Batch,
    since: u64,
}

impl<Q: Queue> BatchWatch<Q> {
    /// Watches batch `name` of the run the settings describe through `queue`.
    pub fn new(config: &Config, queue: Q, name: &str) -> Result<BatchWatch<Q>, WatchError> {
        let fleet = EmbeddedFleet::new(config)?;
        Ok(BatchWatch {
            config: config.clone(),
            queue,
            name: name.to_owned(),
            log: OutcomeLog::new(fleet.workers_dir()),
            fleet,
            seen: Batch::default(),
            since: unix_seconds(),
        })
    }

    /// Takes one look: the batch's counts in the queue and its new outcome lines.
    pub async fn tick(&mut self) -> Result<BatchTick, WatchError> {
        let counts = self.counts().await?;
        self.read_lines()?;
        let report = self.report(&[]);
        let fleet = self.fleet.status()?;
        Ok(BatchTick {
            batch: self.name.clone(),
            visible: counts.visible.unwrap_or(0),
            in_flight: counts.in_flight.unwrap_or(0),
            dead: counts.dead,
            done: report.counts.done,
            failed_attempts: report.counts.failed_attempts,
            workers_alive: fleet.alive as u64,
            elapsed_seconds: unix_seconds().saturating_sub(self.since),
        })
    }

    /// The summary of a finished batch; [`WatchError::UnknownBatch`] when nothing of it was found.
    pub async fn finish(&mut self) -> Result<BatchSummary, WatchError> {
        tokio::time::sleep(LAST_LINES).await;
        self.read_lines()?;
        let dead: Vec<_> = self
            .queue
            .dead_letters()
            .await?
            .into_iter()
            .filter(|d| d.batch.as_deref() == Some(&self.name))
            .filter(|d| !finished_later(d, &self.seen.outcomes))
            .collect();
        let report = self.report(&dead);
        if report.counts.tasks + report.counts.dead == 0 {
            return Err(WatchError::UnknownBatch {
                batch: self.name.clone(),
            });
        }
        Ok(BatchSummary::new(&self.name, report, self.since))
    }

    async fn counts(&self) -> Result<BatchCounts, WatchError> {
        let mut all = self.queue.batch_counts().await?;
        Ok(all.remove(&self.name).unwrap_or_default())
    }

    /// Keeps the batch's lines of those appended since the last reading.
    fn read_lines(&mut self) -> Result<(), WatchError> {
        let new = self.log.read_new()?;
        let name = Some(self.name.as_str());
        self.seen.outcomes.extend(
            new.outcomes
                .into_iter()
                .filter(|o| o.batch.as_deref() == name),
        );
        Ok(())
    }

    fn report(&self, dead: &[DeadLetter]) -> Report {
        Report::build(&self.config, None, unix_seconds(), &self.seen, dead)
    }
}

/// Whether a later push finished the task of `letter`: an attempt at another message of
/// the same task (its batch, output prefix and group) ended done after the last attempt at
/// the letter's own message started (or, with none seen, at all). Attempts without a
/// start time cannot be ordered and finish nothing.
fn finished_later(letter: &DeadLetter, outcomes: &[Outcome]) -> bool {
    let Some((pairs, prefix)) = Task::from_body(&letter.body)
        .ok()
        .and_then(|task| task.resolve().ok())
    else {
        return false;
    };
    let group = join_pairs(&pairs);
    let of_task = || {
        outcomes
            .iter()
            .filter(|o| o.output == prefix && o.group == group && o.batch == letter.batch)
    };
    let given_up = of_task()
        .filter(|o| o.message_id == letter.id)
        .filter_map(|o| o.started)
        .fold(f64::NEG_INFINITY, f64::max);
    of_task().any(|o| {
        o.message_id != letter.id
            && o.status.is_done()
            && o.started.is_some_and(|started| started > given_up)
    })
}
