//! Watching one batch on AWS (`dcp-watch --batch NAME`). SQS cannot count a batch's
//! messages without receiving them, which raises their receive counts toward the redrive
//! policy's maximum, so the task queue is never read: each look compares the tasks
//! `dcp-queue push` recorded for the batch
//! (`s3://AWS_BUCKET/runs/APP_NAME/batches/NAME.json`,
//! [`dcp_common::aws::batch_record`]) with the batch's outcome lines in the workers' log
//! streams and its dead letters (by their `DCP_BATCH` attribute), each task's only since its
//! latest push. It never touches the fleet: other batches may still have work.
//!
//! Several watches at once are safe: a dead letter another look holds while listing the
//! dead-letter queue leaves its task waiting for one more look, never counted done.

use std::collections::HashSet;

use dcp_common::aws::batch_record::{self, BatchRecord, PushedTask};
use dcp_common::file::unix_seconds;
use dcp_common::outcome::Outcome;
use dcp_common::queue::DeadLetter;
use dcp_common::{Config, Queue};
use serde::Serialize;

use super::outcomes::OutcomeStreams;
use crate::WatchError;
use crate::batch::BatchSummary;
use crate::outcomes::Batch;
use crate::report::Report;

/// What one look at a batch on AWS saw, when some of its tasks are still waiting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwsBatchTick {
    /// The batch's name.
    pub batch: String,
    /// Its tasks, as its pushes recorded them.
    pub pushed: u64,
    /// Those whose final outcome is done.
    pub done: u64,
    /// Those in the dead-letter queue.
    pub dead: u64,
    /// Those neither done nor dead: waiting, running, or being retried.
    pub waiting: u64,
    /// Its failed attempts.
    pub failed_attempts: u64,
    /// Seconds since the watch started.
    pub elapsed_seconds: u64,
}

/// What a look at a batch found.
#[derive(Clone, Debug)]
pub enum BatchLook {
    /// Some of its tasks are neither done nor dead.
    Going(AwsBatchTick),
    /// Every task is done or dead: the batch's summary.
    Finished(BatchSummary),
}

/// Watches one batch of the run the settings describe.
pub struct AwsBatchWatch<Q> {
    config: Config,
    queue: Q,
    s3: aws_sdk_s3::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    name: String,
    since: u64,
    streams: OutcomeStreams,
    /// The batch's outcome lines read so far.
    seen: Vec<Outcome>,
}

impl<Q: Queue> AwsBatchWatch<Q> {
    /// Watches batch `name` through `queue` (for its dead letters) and the run's S3 and logs.
    pub async fn connect(config: &Config, queue: Q, name: &str) -> AwsBatchWatch<Q> {
        let shared = dcp_common::aws::sdk_config(config).await;
        AwsBatchWatch {
            config: config.clone(),
            queue,
            s3: dcp_common::aws::s3_client(config).await,
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            name: name.to_owned(),
            since: unix_seconds(),
            streams: OutcomeStreams::default(),
            seen: Vec::new(),
        }
    }

    /// Takes one look. Errors: [`WatchError::UnrecordedBatch`] when no push recorded the
    /// batch; a failed AWS call; the queue gone (the run was torn down).
    pub async fn look(&mut self) -> Result<BatchLook, WatchError> {
        let record = batch_record::read(&self.s3, &self.config, &self.name)
            .await?
            .ok_or_else(|| WatchError::UnrecordedBatch {
                batch: self.name.clone(),
                record: format!(
                    "s3://{}/{}",
                    self.config.aws_bucket,
                    batch_record::record_key(&self.config, &self.name)
                ),
            })?;
        // No log group yet: no worker has written a line.
        let new = self
            .streams
            .read_new(&self.logs, &self.config.log_group_name)
            .await?
            .unwrap_or_default();
        let name = Some(self.name.as_str());
        self.seen.extend(
            new.outcomes
                .into_iter()
                .filter(|o| o.batch.as_deref() == name),
        );
        let dead = self.queue.dead_letters().await?;
        let (outcomes, dead) = of_latest_pushes(
            &record,
            self.seen.iter().cloned(),
            dead.into_iter().filter(|d| d.batch.as_deref() == name),
        );
        let seen = Batch {
            outcomes,
            unreadable: 0,
        };
        let report = Report::build(&self.config, None, unix_seconds(), &seen, &dead);
        let pushed = record.tasks.len() as u64;
        let waiting = waiting(record.tasks.iter().map(|t| &t.task), &report);
        if waiting == 0 {
            return Ok(BatchLook::Finished(BatchSummary::new(
                &self.name, report, self.since,
            )));
        }
        Ok(BatchLook::Going(AwsBatchTick {
            batch: self.name.clone(),
            pushed,
            done: report.counts.done,
            dead: report.counts.dead,
            waiting,
            failed_attempts: report.counts.failed_attempts,
            elapsed_seconds: unix_seconds().saturating_sub(self.since),
        }))
    }
}

/// The batch's outcome lines and dead letters that belong to its tasks' latest pushes: an
/// attempt at the message a task's latest push sent, or one that started after that push
/// began (a redriven message's, or an earlier push's message still under way); a dead
/// letter of such a message. A batch pushed again is resumed: its earlier pushes' attempts
/// and dead letters are its past, not its figures.
fn of_latest_pushes(
    record: &BatchRecord,
    outcomes: impl IntoIterator<Item = Outcome>,
    dead: impl IntoIterator<Item = DeadLetter>,
) -> (Vec<Outcome>, Vec<DeadLetter>) {
    let sent: HashSet<String> = record
        .tasks
        .iter()
        .filter_map(|t| t.message_id.clone())
        .collect();
    let since_push = |o: &Outcome| {
        let task = PushedTask {
            output: o.output.clone(),
            group: o.group.clone(),
        };
        let at = record.pushed_at(&task);
        at.zip(o.started).is_some_and(|(at, started)| started >= at)
    };
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .filter(|o| sent.contains(&o.message_id) || since_push(o))
        .collect();
    let ran: HashSet<&str> = outcomes.iter().map(|o| o.message_id.as_str()).collect();
    let dead = dead
        .into_iter()
        .filter(|d| sent.contains(&d.id) || ran.contains(d.id.as_str()))
        .collect();
    (outcomes, dead)
}

/// How many of `pushed` are neither done (a final outcome done) nor dead in `report`.
fn waiting<'a>(pushed: impl IntoIterator<Item = &'a PushedTask>, report: &Report) -> u64 {
    let key = |output: &str, group: &str| (output.to_owned(), group.to_owned());
    let mut finished: HashSet<(String, String)> = report
        .tasks
        .iter()
        .filter(|t| t.last.status.is_done())
        .map(|t| key(&t.last.output, &t.last.group))
        .collect();
    finished.extend(report.dead_letters.iter().filter_map(|d| {
        let (output, group) = (d.output.as_deref()?, d.group.as_deref()?);
        Some(key(output, group))
    }));
    pushed
        .into_iter()
        .filter(|t| !finished.contains(&key(&t.output, &t.group)))
        .count() as u64
}
