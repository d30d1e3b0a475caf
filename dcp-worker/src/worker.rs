//! The worker loop: copies of it pull tasks one at a time, keep each hidden from other
//! workers while it runs, and delete it on success or hand it back on failure.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use dcp_common::metadata::join_pairs;
use dcp_common::outcome::{Outcome, Status};
use dcp_common::queue::Received;
use dcp_common::{Config, Queue, QueueError, Store, Task};
use tokio::sync::{mpsc, watch};

use crate::attempt::{Attempt, Done, Failure};
use crate::loaddata::LoadDataCache;

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
    shutdown: watch::Receiver<bool>,
    load_data: LoadDataCache,
    attempt_logs: Option<mpsc::UnboundedSender<AttemptLog>>,
}

/// How long one receive waits for a task.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);

impl<'a, Q: Queue, S: Store> Worker<'a, Q, S> {
    /// A worker that stops taking tasks, and hands back the ones it holds, once `shutdown`
    /// turns true.
    pub fn new(
        config: &'a Config,
        queue: &'a Q,
        store: &'a S,
        options: WorkerOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Worker {
            config,
            queue,
            store,
            options,
            shutdown,
            load_data: LoadDataCache::default(),
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
        if tokio::time::timeout(start, shutdown.wait_for(|&stop| stop))
            .await
            .is_ok()
        {
            return Ok(());
        }
        while !*shutdown.borrow() {
            let mut message = self.queue.receive(1, Duration::ZERO).await?.pop();
            if message.is_none() {
                // Nothing visible: done if nothing is in flight either (a task in flight may
                // still come back), otherwise wait a while for one.
                if !self.options.wait && self.queue.drained().await? {
                    break;
                }
                message = self.queue.receive(1, RECEIVE_WAIT).await?.pop();
            }
            if let Some(message) = message
                && let Some(outcome) = self.handle(index, message).await?
            {
                emit(&outcome);
            }
        }
        let _ = std::fs::remove_dir_all(self.scratch(index));
        Ok(())
    }

    /// Runs one task while extending its visibility; `None` when shut down meanwhile (the
    /// task is then handed back at once).
    async fn handle(&self, copy: u32, message: Received) -> Result<Option<Outcome>, QueueError> {
        let started = Instant::now();
        let visibility = Duration::from_secs(self.config.sqs_message_visibility);
        let period = (visibility / 3).max(Duration::from_millis(100));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut shutdown = self.shutdown.clone();
        let work = self.attempt(copy, &message);
        tokio::pin!(work);
        let (group, output, result) = loop {
            tokio::select! {
                done = &mut work => break done,
                _ = heartbeat.tick() => {
                    if let Err(e) = self.queue.change_visibility(&message.receipt, visibility).await {
                        eprintln!("dcp-worker: cannot extend task {}: {e}", message.id);
                    }
                }
                _ = shutdown.wait_for(|&stop| stop) => {
                    self.queue.change_visibility(&message.receipt, Duration::ZERO).await?;
                    return Ok(None);
                }
            }
        };
        let (status, outputs, exit_code, detail) = match result {
            Ok(Done {
                status,
                outputs,
                exit_code,
            }) => {
                self.queue.delete_message(&message.receipt).await?;
                (status, outputs, exit_code, None)
            }
            Err(Failure {
                status,
                detail,
                exit_code,
            }) => {
                self.queue
                    .change_visibility(&message.receipt, self.options.retry_delay)
                    .await?;
                (status, Vec::new(), exit_code, Some(detail))
            }
        };
        Ok(Some(Outcome {
            group,
            output,
            status,
            seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
            outputs,
            exit_code,
            message_id: message.id.clone(),
            receive_count: message.receive_count,
            detail,
        }))
    }

    /// The scratch folder of one copy, reused by its attempts: rewriting the same few
    /// files costs the file system far less than creating and deleting them every task.
    fn scratch(&self, copy: u32) -> PathBuf {
        self.options
            .scratch
            .join(format!("{}-{copy}", std::process::id()))
    }

    /// Decodes and runs one task in the copy's scratch folder, then files its log under
    /// `logs/<output prefix>.log` in the destination bucket.
    async fn attempt(
        &self,
        copy: u32,
        message: &Received,
    ) -> (String, String, Result<Done, Failure>) {
        let resolved = Task::from_body(&message.body)
            .map_err(|e| e.to_string())
            .and_then(|task| {
                let (pairs, prefix) = task.resolve().map_err(|e| e.to_string())?;
                Ok((task, pairs, prefix))
            });
        let (task, pairs, prefix) = match resolved {
            Ok(parts) => parts,
            Err(detail) => {
                let failure = Failure {
                    status: Status::InputProblem,
                    detail,
                    exit_code: None,
                };
                return (String::new(), String::new(), Err(failure));
            }
        };
        let group = join_pairs(&pairs);
        let result = self.attempt_in(copy, &task, &group, &pairs, &prefix).await;
        (group, prefix, result)
    }

    async fn attempt_in(
        &self,
        copy: u32,
        task: &Task,
        group: &str,
        pairs: &[(String, String)],
        prefix: &str,
    ) -> Result<Done, Failure> {
        let started = SystemTime::now();
        let scratch = &self.scratch(copy);
        let scratch_error = |e: std::io::Error| Failure {
            status: Status::InputProblem,
            detail: format!("scratch folder {}: {e}", scratch.display()),
            exit_code: None,
        };
        std::fs::create_dir_all(scratch).map_err(scratch_error)?;
        let log_path = scratch.join("task.log");
        let mut log = File::create(&log_path).map_err(scratch_error)?;
        let mut attempt = Attempt {
            config: self.config,
            store: self.store,
            scratch,
            log: &mut log,
            load_data: &self.load_data,
        };
        let result = attempt.run(task, group, pairs, prefix).await;
        if let Err(failure) = &result {
            use std::io::Write;
            let _ = writeln!(log, "dcp-worker: {:?}: {}", failure.status, failure.detail);
        }
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
        let log_key = format!("logs/{prefix}.log");
        if let Err(e) = self
            .store
            .put(&self.config.destination_bucket, &log_key, &log_path)
            .await
        {
            eprintln!("dcp-worker: cannot file the log of {group}: {e}");
        }
        result
    }
}
