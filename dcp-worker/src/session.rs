//! One run of the worker as the `dcp-worker` command runs it: the configured queue and
//! store, SIGTERM and SIGINT handing tasks back, the outcome lines recorded in the run
//! folder on the embedded backend ([`crate::outcome_record`]), and on AWS the CloudWatch
//! and EC2 side ([`crate::cloud`]).

use dcp_common::backend::{BackendError, ConfiguredQueue, ConfiguredStore};
use dcp_common::outcome::Outcome;
use dcp_common::{Config, QueueError};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::outcome_record::{OutcomeRecord, RecordError};
use crate::{Stop, Worker, WorkerOptions};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The signal handlers could not be installed.
    #[error("cannot watch for signals: {0}")]
    Signals(#[source] std::io::Error),
    /// The queue or the store cannot be opened.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The plugins could not be prepared (before any task was received).
    #[error("cannot prepare the plugins: {0}")]
    Plugins(#[from] crate::plugins::PluginError),
    /// The run folder's record of outcome lines could not be opened (before any task was
    /// received).
    #[error("cannot record outcome lines: {0}")]
    OutcomeRecord(#[from] RecordError),
}

/// The kind of the backend's or the queue's error, or of a run folder leading outside
/// AWS_BUCKET (bad input); signals, plugin preparation or the record's I/O failing is a
/// failure.
impl dcp_common::exit::Classify for RunError {
    fn kind(&self) -> dcp_common::exit::Kind {
        match self {
            RunError::Signals(_) | RunError::Plugins(_) => dcp_common::exit::Kind::Failure,
            RunError::OutcomeRecord(RecordError::Outside(e)) => e.kind(),
            RunError::OutcomeRecord(RecordError::Io { .. }) => dcp_common::exit::Kind::Failure,
            RunError::Backend(e) => e.kind(),
            RunError::Queue(e) => e.kind(),
        }
    }
}

/// Prepares the plugins ([`crate::plugins::prepare`]), then runs the worker with `config`
/// until the queue is done (or a signal, or a spot interruption notice, stops it); `emit`
/// receives each attempt's outcome as one JSON line. After a rebalance recommendation
/// ([`Stop::Drain`]) the worker finishes its tasks and then stays up, taking none, until
/// it is stopped: exiting would let ECS start a new worker on the same instance.
pub async fn run(
    config: &Config,
    options: WorkerOptions,
    emit: &(dyn Fn(&str) + Sync),
) -> Result<(), RunError> {
    let prepared = config.clone();
    tokio::task::spawn_blocking(move || crate::plugins::prepare(&prepared))
        .await
        .expect("preparing the plugins does not panic")?;
    // `stop` lives to the end: the worker takes a closed channel for a shutdown.
    let (stop, shutdown) = watch::channel(Stop::Run);
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let on_signal = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        on_signal.send_replace(Stop::HandBack);
    });
    let queue = ConfiguredQueue::open(config).await?;
    let store = ConfiguredStore::open(config).await?;
    let record = OutcomeRecord::open(config)?;
    #[cfg(feature = "aws")]
    let cloud = match config.backend {
        dcp_common::Backend::Aws => {
            Some(crate::cloud::Cloud::start(config, options.scratch.clone(), stop.clone()).await)
        }
        dcp_common::Backend::Embedded => None,
    };
    let emit_outcome = |outcome: &Outcome| {
        let line = serde_json::to_string(outcome).expect("an outcome serialises");
        #[cfg(feature = "aws")]
        if let Some(cloud) = &cloud {
            cloud.outcome(&line);
        }
        if let Some(record) = &record {
            record.append(&line);
        }
        emit(&line);
    };
    let worker = Worker::new(config, &queue, &store, options, shutdown);
    #[cfg(feature = "aws")]
    let worker = match &cloud {
        Some(cloud) => worker.with_attempt_logs(cloud.attempt_logs()),
        None => worker,
    };
    let result = worker.run(&emit_outcome).await;
    drop(worker);
    if result.is_ok() && *stop.borrow() == Stop::Drain {
        eprintln!(
            "dcp-worker: drained after the rebalance recommendation; taking no tasks until \
             stopped"
        );
        let _ = stop.subscribe().wait_for(|&s| s == Stop::HandBack).await;
    }
    #[cfg(feature = "aws")]
    if let Some(cloud) = cloud {
        cloud.finish().await;
    }
    Ok(result?)
}
