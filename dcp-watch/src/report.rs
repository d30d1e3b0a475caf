//! The run report (`<run_dir>/report.json`): every task's final outcome with its attempts,
//! counts per final status and per batch, the dead letters with the class of their last
//! failure, and every attempt on a timeline; [`html`] draws it as `report.html`.

pub mod cost;
pub mod html;
mod task_key;
pub mod timeline;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use dcp_common::Config;
use dcp_common::Task;
use dcp_common::metadata::join_pairs;
use dcp_common::outcome::Outcome;
use dcp_common::queue::DeadLetter;
use serde::Serialize;
use serde_json::Value;

use crate::WatchError;
use crate::outcomes::Batch;
use task_key::{TaskKey, letter_key, task_key};
use timeline::{Span, timeline};

/// The report of a drained run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// APP_NAME.
    pub app: String,
    /// The task queue.
    pub queue: String,
    /// Its dead-letter queue.
    pub dead_letter_queue: String,
    /// When the fleet was started (unix seconds); `None` without a recorded fleet.
    pub started: Option<u64>,
    /// When the run was found drained (unix seconds).
    pub finished: u64,
    /// Totals.
    pub counts: Counts,
    /// Tasks per final status (`success`, `skipped-done`, or the class of the last failure).
    pub by_status: BTreeMap<String, u64>,
    /// Every task that has an outcome line, by batch, output prefix and group.
    pub tasks: Vec<TaskReport>,
    /// The run's dead letters, by message id.
    pub dead_letters: Vec<DeadReport>,
    /// Totals per batch (`dcp-queue push --batch`), by name; absent when no task has one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub batches: BTreeMap<String, BatchTotals>,
    /// Every attempt, by worker, copy and start: the run's timeline.
    pub timeline: Vec<Span>,
    /// AWS: the machines over time and the cost of the run; absent on the embedded backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<cost::Cost>,
}

/// Totals of one batch in a run report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchTotals {
    /// Its tasks: `done + dead +` those neither, as [`Counts::tasks`].
    pub tasks: u64,
    /// Those whose final outcome is done.
    pub done: u64,
    /// Its dead letters.
    pub dead: u64,
    /// Attempts at its tasks (retries are `attempts - tasks`).
    pub attempts: u64,
    /// Those that failed.
    pub failed_attempts: u64,
    /// Its tasks per final status, as [`Report::by_status`].
    pub by_status: BTreeMap<String, u64>,
}

/// Totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Tasks seen: `done + dead +` those neither (still being retried). Each dead letter is
    /// a task, even one whose task left no outcome line, or whose group a later push (in
    /// its batch or another) finished; so `done + dead <= tasks`.
    pub tasks: u64,
    /// Tasks whose final outcome is done (success or skipped-done).
    pub done: u64,
    /// The run's dead letters (a shared dead-letter queue holds other runs' too).
    pub dead: u64,
    /// Outcome lines: attempts of all tasks.
    pub attempts: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Lines of the outcome files that were not outcomes.
    pub unreadable_lines: u64,
}

/// A task's final outcome: its last done attempt if it has one, else its last attempt.
#[derive(Clone, Debug, Serialize)]
pub struct TaskReport {
    /// The final attempt (its `seconds` is that attempt's wall time).
    #[serde(flatten)]
    pub last: Outcome,
    /// Attempts of the task.
    pub attempts: u64,
    /// Wall time of all its attempts.
    pub total_seconds: f64,
    /// Whether the task is dead: its final outcome is a failure and the dead-letter queue
    /// holds it (a dead letter of a task a later push finished is counted apart).
    pub dead: bool,
}

/// A dead letter with its task and its last failed attempt.
#[derive(Clone, Debug, Serialize)]
pub struct DeadReport {
    /// The message id.
    pub id: String,
    /// Receives before it was given up.
    pub receive_count: u32,
    /// The task (the message body as JSON; the raw text if it is not JSON).
    pub task: Value,
    /// Its batch, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// The task's output prefix, when the body is a valid task.
    pub output: Option<String>,
    /// The task's group, as `Key=Value,…`, when the body is a valid task.
    pub group: Option<String>,
    /// Failed attempts found for it.
    pub attempts: u64,
    /// Its last failed attempt (whose `status` is the failure's class), if a worker
    /// reported one.
    pub last_failure: Option<Outcome>,
}

impl Report {
    /// Builds the report from every outcome line and the dead letters. Attempts are
    /// ordered by receive count, then by the order they were read.
    pub fn build(
        config: &Config,
        started: Option<u64>,
        finished: u64,
        batch: &Batch,
        dead: &[DeadLetter],
    ) -> Report {
        let outcomes = &batch.outcomes;
        let rank = |i: &usize| (outcomes[*i].receive_count, *i);
        let dead_letters: Vec<DeadReport> = dead.iter().map(|d| dead_report(d, outcomes)).collect();
        let mut letters = HashMap::<TaskKey, u64>::new();
        for letter in &dead_letters {
            *letters.entry(letter_key(letter)).or_default() += 1;
        }

        let mut by_task: BTreeMap<TaskKey, Vec<usize>> = BTreeMap::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            by_task.entry(task_key(outcome)).or_default().push(i);
        }
        let tasks: Vec<TaskReport> = by_task
            .into_iter()
            .map(|(key, attempts)| {
                let done = attempts
                    .iter()
                    .copied()
                    .filter(|&i| outcomes[i].status.is_done());
                let last = done
                    .max_by_key(rank)
                    .or_else(|| attempts.iter().copied().max_by_key(rank));
                let last = last.expect("a task has at least one attempt");
                let last = outcomes[last].clone();
                TaskReport {
                    dead: !last.status.is_done() && letters.contains_key(&key),
                    last,
                    attempts: attempts.len() as u64,
                    total_seconds: attempts.iter().map(|&i| outcomes[i].seconds).sum(),
                }
            })
            .collect();

        let mut by_status = BTreeMap::new();
        let mut batches = BTreeMap::<String, BatchTotals>::new();
        let (mut done, mut going) = (0, 0);
        for task in &tasks {
            let status = status_name(&task.last);
            *by_status.entry(status.clone()).or_default() += 1;
            let is_done = task.last.status.is_done();
            // Neither done nor dead: still being retried, or given up on but not yet moved.
            let is_going = !is_done && !task.dead;
            done += u64::from(is_done);
            going += u64::from(is_going);
            if let Some(batch) = &task.last.batch {
                let totals = batches.entry(batch.clone()).or_default();
                totals.tasks += u64::from(is_done || is_going);
                totals.done += u64::from(is_done);
                *totals.by_status.entry(status).or_default() += 1;
            }
        }
        for outcome in outcomes {
            if let Some(batch) = &outcome.batch {
                let totals = batches.entry(batch.clone()).or_default();
                totals.attempts += 1;
                totals.failed_attempts += u64::from(!outcome.status.is_done());
            }
        }
        for letter in &dead_letters {
            if let Some(batch) = &letter.batch {
                let totals = batches.entry(batch.clone()).or_default();
                totals.dead += 1;
                totals.tasks += 1;
            }
        }
        let failed = outcomes.iter().filter(|o| !o.status.is_done()).count();
        Report {
            app: config.app_name.clone(),
            queue: config.sqs_queue_name.clone(),
            dead_letter_queue: config.sqs_dead_letter_queue.clone(),
            started,
            finished,
            counts: Counts {
                tasks: done + dead_letters.len() as u64 + going,
                done,
                dead: dead_letters.len() as u64,
                attempts: outcomes.len() as u64,
                failed_attempts: failed as u64,
                unreadable_lines: batch.unreadable as u64,
            },
            by_status,
            tasks,
            dead_letters,
            batches,
            timeline: timeline(outcomes),
            cost: None,
        }
    }

    /// Writes the report to `dir` atomically: `report.json` (pretty JSON) and its page,
    /// `report.html` ([`html`]). Returns the JSON's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, WatchError> {
        let path = dir.join("report.json");
        let mut text =
            serde_json::to_vec_pretty(self).map_err(|e| WatchError::io(&path)(e.into()))?;
        text.push(b'\n');
        dcp_common::file::write_atomic(&path, &text).map_err(WatchError::io(&path))?;
        let page = dir.join("report.html");
        dcp_common::file::write_atomic(&page, html::render(self).as_bytes())
            .map_err(WatchError::io(&page))?;
        Ok(path)
    }
}

fn status_name(outcome: &Outcome) -> String {
    serde_json::to_value(outcome.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A dead letter's failed attempts are those of its task (its output prefix and group in
/// its batch; for a body that is not a task, its message id); attempts of the same message
/// rank first.
fn dead_report(dead: &DeadLetter, outcomes: &[Outcome]) -> DeadReport {
    let resolved = Task::from_body(&dead.body)
        .ok()
        .and_then(|task| task.resolve().ok())
        .map(|(pairs, prefix)| (join_pairs(&pairs), prefix));
    let (group, output) = resolved.unzip();
    let failures: Vec<(usize, &Outcome)> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.status.is_done())
        .filter(|(_, o)| match (&output, &group) {
            (Some(prefix), Some(group)) => {
                &o.output == prefix && &o.group == group && o.batch == dead.batch
            }
            _ => o.message_id == dead.id,
        })
        .collect();
    let last = failures
        .iter()
        .max_by_key(|(i, o)| (o.message_id == dead.id, o.receive_count, *i))
        .map(|(_, o)| (*o).clone());
    DeadReport {
        id: dead.id.clone(),
        receive_count: dead.receive_count,
        task: serde_json::from_str(&dead.body).unwrap_or_else(|_| Value::String(dead.body.clone())),
        batch: dead.batch.clone(),
        output,
        group,
        attempts: failures.len() as u64,
        last_failure: last,
    }
}

#[cfg(test)]
mod tests;
