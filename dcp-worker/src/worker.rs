//! The worker loop: copies of it pull tasks one at a time, keep each hidden from other
//! workers while it runs, and delete it on success or hand it back on failure.

use std::fs::OpenOptions;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use dcp_common::metadata::join_pairs;
use dcp_common::outcome::{Outcome, Status};
use dcp_common::prefix::log_key;
use dcp_common::queue::Received;
use dcp_common::store::Placement;
use dcp_common::{Config, Queue, QueueError, Store, Task};
use tokio::sync::{mpsc, watch};

use crate::attempt::{Attempt, Done, Failure};
use crate::in_flight::{Claim, InFlight};
use crate::load_check::LoadChecks;
use crate::stop::Stop;
use crate::warm::Launch;
use dcp_common::loaddata::LoadDataCache;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Copies of the loop run side by side (DOCKER_CORES).
    pub copies: u32,
    /// Delay between the starts of the copies (SECONDS_TO_START).
    pub stagger: Duration,
    /// Keep polling when the queue is empty, instead of exiting.
    pub wait: bool,
    /// How long a failed task stays hidden before it can be retried.
    pub retry_delay: Duration,
    /// Where attempts get their private folders.
    pub scratch: PathBuf,
}

/// A finished attempt's log, handed on for a copy kept elsewhere (CloudWatch Logs on AWS).
#[derive(Clone, Debug)]
pub struct AttemptLog {
    /// The task's output prefix.
    pub prefix: String,
    /// When the attempt started.
    pub started: SystemTime,
    /// When the attempt ended.
    pub ended: SystemTime,
    /// The copy of the worker loop that ran it.
    pub copy: u32,
    /// The log: the worker's notes and CellProfiler's output.
    pub text: String,
}

/// Pulls tasks from `queue` and runs them against `store`.
pub struct Worker<'a, Q, S> {
    config: &'a Config,
    queue: &'a Q,
    store: &'a S,
    options: WorkerOptions,
    shutdown: watch::Receiver<Stop>,
    load_data: LoadDataCache,
    load_checks: LoadChecks,
    in_flight: InFlight,
    attempt_logs: Option<mpsc::UnboundedSender<AttemptLog>>,
}

/// How long one receive waits for a task.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);

impl<'a, Q: Queue, S: Store> Worker<'a, Q, S> {
    /// A worker that stops taking tasks once `shutdown` leaves [`Stop::Run`], and hands
    /// back the ones it holds at [`Stop::HandBack`] (or when the sender is dropped).
    pub fn new(
        config: &'a Config,
        queue: &'a Q,
        store: &'a S,
        options: WorkerOptions,
        shutdown: watch::Receiver<Stop>,
    ) -> Self {
        Worker {
            config,
            queue,
            store,
            options,
            shutdown,
            load_data: LoadDataCache::default(),
            load_checks: LoadChecks::default(),
            in_flight: InFlight::default(),
            attempt_logs: None,
        }
    }

    /// Also sends every finished attempt's log to `logs`.
    pub fn with_attempt_logs(mut self, logs: mpsc::UnboundedSender<AttemptLog>) -> Self {
        self.attempt_logs = Some(logs);
        self
    }

    /// Runs the copies until the queue has nothing visible or in flight (or, with `wait`,
    /// until shutdown); `emit` receives every attempt's outcome.
    pub async fn run(&self, emit: &(dyn Fn(&Outcome) + Sync)) -> Result<(), QueueError> {
        let copies = (0..self.options.copies.max(1)).map(|i| self.copy(i, emit));
        for result in futures::future::join_all(copies).await {
            result?;
        }
        Ok(())
    }

    async fn copy(&self, index: u32, emit: &(dyn Fn(&Outcome) + Sync)) -> Result<(), QueueError> {
        let mut shutdown = self.shutdown.clone();
        let start = self.options.stagger * index;
        if tokio::time::timeout(start, shutdown.wait_for(|&stop| stop != Stop::Run))
            .await
            .is_ok()
        {
            return Ok(());
        }
        let mut launch = Launch::of(self.config, self.runner_log(index));
        if let Launch::Warm(runner) = &mut launch {
            runner.start_early();
        }
        let mut backoff = Backoff::default();
        while *shutdown.borrow() == Stop::Run {
            let message = match self.next_message().await {
                Ok(Next::Message(message)) => message,
                Ok(Next::Waited) => continue,
                Ok(Next::Drained) => break,
                Err(e @ QueueError::Missing(_)) => return Err(e),
                Err(e) => {
                    eprintln!("dcp-worker: the queue failed, trying again: {e}");
                    backoff.wait(&mut shutdown).await;
                    continue;
                }
            };
            backoff = Backoff::default();
            let Some(claim) = self.in_flight.claim(&message) else {
                eprintln!(
                    "dcp-worker: task {} was received again while another copy of this worker \
                     runs it; that copy keeps it",
                    message.id
                );
                continue;
            };
            if let Some(outcome) = self.handle(index, &message, &claim, &mut launch).await? {
                emit(&outcome);
            }
        }
        drop(launch);
        let _ = std::fs::remove_dir_all(self.scratch(index));
        let _ = std::fs::remove_file(self.runner_log(index));
        Ok(())
    }

    /// The next task; `Drained` when nothing is visible or in flight (unless `wait`).
    async fn next_message(&self) -> Result<Next, QueueError> {
        if let Some(message) = self.queue.receive(1, Duration::ZERO).await?.pop() {
            return Ok(Next::Message(message));
        }
        // Nothing visible: done if nothing is in flight either (a task in flight may still
        // come back), otherwise wait a while for one.
        if !self.options.wait && self.queue.drained().await? {
            return Ok(Next::Drained);
        }
        Ok(match self.queue.receive(1, RECEIVE_WAIT).await?.pop() {
            Some(message) => Next::Message(message),
            None => Next::Waited,
        })
    }

    /// Runs one task while extending its visibility, then deletes it (done) or hides it
    /// for the retry delay (failed). `None` when shut down meanwhile: the task is then
    /// handed back at once. A queue error about this one task ends in its outcome; only
    /// a queue that is gone ([`QueueError::Missing`]) is an error.
    async fn handle(
        &self,
        copy: u32,
        message: &Received,
        claim: &Claim<'_>,
        launch: &mut Launch,
    ) -> Result<Option<Outcome>, QueueError> {
        let started = Instant::now();
        let started_at = SystemTime::now();
        let (group, output, result, log) = match resolve(&message.body) {
            Err((group, detail)) => {
                let failure = Failure {
                    status: Status::InputProblem,
                    detail,
                    exit_code: None,
                };
                let result = self.settle(message, claim, Err(failure)).await?;
                (group, String::new(), result, None)
            }
            Ok((task, pairs, prefix)) => {
                let group = join_pairs(&pairs);
                let work = self.attempt(copy, &task, &group, &pairs, &prefix, launch);
                let (finished, result) = match self.hold(message, claim, work).await? {
                    Held::Finished(result) => (true, result),
                    Held::ShutDown => {
                        self.file_log(copy, &prefix, &group, started_at).await;
                        return Ok(None);
                    }
                    Held::Lost(e) => (
                        false,
                        Err(Failure {
                            status: Status::LostReceipt,
                            detail: format!(
                                "the task was taken from this worker while it ran, so the \
                                 attempt was stopped: {e} (purged, deleted, or received again \
                                 after its visibility timeout)"
                            ),
                            exit_code: None,
                        }),
                    ),
                };
                if let Err(failure) = &result {
                    self.note(copy, &format!("{:?}: {}", failure.status, failure.detail));
                }
                // The log is filed before the task is deleted, so that the outcome line
                // follows the deletion at once: a worker killed between the two would
                // leave a task done and gone from the queue with no outcome.
                let log = self.file_log(copy, &prefix, &group, started_at).await;
                let result = if finished {
                    self.settle(message, claim, result).await?
                } else {
                    result
                };
                (group, prefix, result, log)
            }
        };
        let (status, outputs, exit_code, detail) = match result {
            Ok(done) => (done.status, done.outputs, done.exit_code, done.detail),
            Err(f) => (f.status, Vec::new(), f.exit_code, Some(f.detail)),
        };
        Ok(Some(Outcome {
            group,
            output,
            status,
            seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
            started: Some(unix_millis(started_at)),
            copy: Some(copy),
            worker: None,
            outputs,
            exit_code,
            message_id: message.id.clone(),
            receive_count: message.receive_count,
            detail,
            log,
            batch: message.batch.clone(),
        }))
    }

    /// Awaits `work` while keeping the task hidden from other workers.
    async fn hold(
        &self,
        message: &Received,
        claim: &Claim<'_>,
        work: impl Future<Output = Result<Done, Failure>>,
    ) -> Result<Held, QueueError> {
        let visibility = Duration::from_secs(self.config.sqs_message_visibility);
        let period = (visibility / 3).max(Duration::from_millis(100));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut shutdown = self.shutdown.clone();
        tokio::pin!(work);
        loop {
            tokio::select! {
                done = &mut work => return Ok(Held::Finished(done)),
                _ = heartbeat.tick() => {
                    match self.change_visibility(claim, visibility).await {
                        Ok(()) => {}
                        Err(e @ QueueError::Missing(_)) => return Err(e),
                        Err(e @ QueueError::StaleReceipt(_)) => return Ok(Held::Lost(e)),
                        Err(e) => eprintln!("dcp-worker: cannot extend task {}: {e}", message.id),
                    }
                }
                _ = shutdown.wait_for(|&stop| stop == Stop::HandBack) => {
                    match self.change_visibility(claim, Duration::ZERO).await {
                        Ok(()) | Err(QueueError::StaleReceipt(_)) => {}
                        Err(e @ QueueError::Missing(_)) => return Err(e),
                        Err(e) => eprintln!("dcp-worker: cannot hand back task {}: {e}", message.id),
                    }
                    return Ok(Held::ShutDown);
                }
            }
        }
    }

    /// Tells the queue how the attempt ended: a finished task is deleted, a failed one
    /// hidden for the retry delay. A deletion the queue refuses turns the outcome into
    /// [`Status::LostReceipt`] or [`Status::QueueProblem`] (the outputs stay published).
    async fn settle(
        &self,
        message: &Received,
        claim: &Claim<'_>,
        result: Result<Done, Failure>,
    ) -> Result<Result<Done, Failure>, QueueError> {
        match result {
            Ok(done) => match newest_receipt(claim, |receipt| async move {
                self.queue.delete_message(&receipt).await
            })
            .await
            {
                Ok(()) => Ok(Ok(done)),
                Err(e @ QueueError::Missing(_)) => Err(e),
                Err(e) => {
                    let status = match e {
                        QueueError::StaleReceipt(_) => Status::LostReceipt,
                        _ => Status::QueueProblem,
                    };
                    Ok(Err(Failure {
                        status,
                        detail: format!(
                            "{} {} outputs, but the task could not be deleted, so it may run \
                             again: {e}",
                            if done.status == Status::SkippedDone {
                                "found"
                            } else {
                                "published"
                            },
                            done.outputs.len()
                        ),
                        exit_code: done.exit_code,
                    }))
                }
            },
            Err(failure) => {
                match self
                    .change_visibility(claim, self.options.retry_delay)
                    .await
                {
                    Ok(()) | Err(QueueError::StaleReceipt(_)) => {}
                    Err(e @ QueueError::Missing(_)) => return Err(e),
                    Err(e) => eprintln!("dcp-worker: cannot delay task {}: {e}", message.id),
                }
                Ok(Err(failure))
            }
        }
    }

    /// Hides the claimed task for `timeout` from now.
    async fn change_visibility(
        &self,
        claim: &Claim<'_>,
        timeout: Duration,
    ) -> Result<(), QueueError> {
        newest_receipt(claim, |receipt| async move {
            self.queue.change_visibility(&receipt, timeout).await
        })
        .await
    }

    /// The scratch folder of one copy, emptied at the start and end of each attempt.
    fn scratch(&self, copy: u32) -> PathBuf {
        self.options
            .scratch
            .join(format!("{}-{copy}", std::process::id()))
    }

    /// The log of a copy's warm runner (CellProfiler's output between tasks), beside the
    /// copy's scratch folder.
    fn runner_log(&self, copy: u32) -> PathBuf {
        self.options
            .scratch
            .join(format!("{}-{copy}.runner.log", std::process::id()))
    }

    fn log_path(&self, copy: u32) -> PathBuf {
        self.scratch(copy).join("task.log")
    }

    /// Appends a line of the worker's own to the attempt's log.
    fn note(&self, copy: u32, line: &str) {
        use std::io::Write;
        if let Ok(mut log) = OpenOptions::new().append(true).open(self.log_path(copy)) {
            let _ = writeln!(log, "dcp-worker: {line}");
        }
    }

    /// Runs one task in the copy's emptied scratch folder.
    async fn attempt(
        &self,
        copy: u32,
        task: &Task,
        group: &str,
        pairs: &[(String, String)],
        prefix: &str,
        launch: &mut Launch,
    ) -> Result<Done, Failure> {
        let scratch = &self.scratch(copy);
        let scratch_error = |e: std::io::Error| Failure {
            status: Status::InputProblem,
            detail: format!("scratch folder {}: {e}", scratch.display()),
            exit_code: None,
        };
        let _ = std::fs::remove_dir_all(scratch);
        std::fs::create_dir_all(scratch).map_err(scratch_error)?;
        let log_path = self.log_path(copy);
        // Appending: a warm runner appends CellProfiler's output to the same file.
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(scratch_error)?;
        let mut attempt = Attempt {
            config: self.config,
            store: self.store,
            scratch,
            log: &mut log,
            log_path: &log_path,
            launch,
            load_data: &self.load_data,
            load_checks: &self.load_checks,
        };
        attempt.run(task, group, pairs, prefix).await
    }

    /// Files the attempt's log at [`log_key`] in the destination bucket (and hands it on
    /// for CloudWatch Logs on AWS), then empties the scratch folder; returns the key, or
    /// `None` when the log could not be filed.
    async fn file_log(
        &self,
        copy: u32,
        prefix: &str,
        group: &str,
        started: SystemTime,
    ) -> Option<String> {
        let log_path = self.log_path(copy);
        if let Some(logs) = &self.attempt_logs {
            let text = std::fs::read(&log_path)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_else(|e| format!("dcp-worker: cannot read the task's log: {e}"));
            let _ = logs.send(AttemptLog {
                prefix: prefix.to_owned(),
                started,
                ended: SystemTime::now(),
                copy,
                text,
            });
        }
        let key = log_key(prefix, group, started);
        let filed = self
            .store
            .place(
                &self.config.destination_bucket,
                &key,
                &log_path,
                Placement::Replace,
            )
            .await;
        let _ = std::fs::remove_dir_all(self.scratch(copy));
        match filed {
            Ok(()) => Some(key),
            Err(e) => {
                eprintln!("dcp-worker: cannot file the log of {group}: {e}");
                None
            }
        }
    }
}

/// What [`Worker::next_message`] found.
enum Next {
    Message(Received),
    /// Nothing arrived while waiting; tasks are still in flight.
    Waited,
    /// Nothing is visible or in flight.
    Drained,
}

/// How holding a task ended.
enum Held {
    /// The attempt ended.
    Finished(Result<Done, Failure>),
    /// The worker is shutting down; the task was handed back.
    ShutDown,
    /// The task's receipt went stale while it ran: the attempt was stopped.
    Lost(QueueError),
}

/// Waits between tries at a failing queue: 1 s, doubling up to 30 s.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    async fn wait(&mut self, shutdown: &mut watch::Receiver<Stop>) {
        let delay = Duration::from_secs(1 << self.0.min(5)).min(Duration::from_secs(30));
        self.0 += 1;
        let _ = tokio::time::timeout(delay, shutdown.wait_for(|&stop| stop != Stop::Run)).await;
    }
}

/// Runs `op` with the claimed task's newest receipt, and again with a newer one when a
/// receive of the task by another copy replaced it meanwhile and made it stale.
async fn newest_receipt<F, Fut>(claim: &Claim<'_>, op: F) -> Result<(), QueueError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), QueueError>>,
{
    loop {
        let receipt = claim.receipt();
        match op(receipt.clone()).await {
            Err(QueueError::StaleReceipt(_)) if claim.receipt() != receipt => continue,
            result => return result,
        }
    }
}

/// A task with its group's key/value pairs and its output prefix.
type Resolved = (Task, Vec<(String, String)>, String);

/// The task in a message body, with its group's pairs and output prefix; otherwise the
/// group (as far as it can be read) and what is wrong.
fn resolve(body: &str) -> Result<Resolved, (String, String)> {
    let task = Task::from_body(body).map_err(|e| (String::new(), e.to_string()))?;
    let pairs = task
        .metadata
        .pairs()
        .map_err(|e| (String::new(), e.to_string()))?;
    match task.locate(&pairs) {
        Ok(prefix) => Ok((task, pairs, prefix)),
        Err(e) => Err((join_pairs(&pairs), e.to_string())),
    }
}

/// `time` as unix seconds, to the millisecond.
fn unix_millis(time: SystemTime) -> f64 {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as f64 / 1000.0
}
