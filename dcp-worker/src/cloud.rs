//! The worker's AWS side, next to SQS and S3: each attempt's log and every outcome line in
//! CloudWatch Logs, and on EC2 the instance's Name tag, its idle alarm, a line of machine
//! figures every 30 s and a watch of the instance metadata: a rebalance recommendation
//! stops the worker taking tasks, a spot interruption notice hands them back as SIGTERM
//! does ([`crate::Stop`]). None of it stops the work when it fails: it warns on stderr.

pub mod instance;
pub mod interruption;
pub mod logs;
pub mod stats;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use dcp_common::Config;
use dcp_common::outcome::OUTCOME_STREAM_PREFIX;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::Stop;
use crate::worker::AttemptLog;
use logs::{Event, LogGroup};

/// How long the end of a run waits for the last log events to reach CloudWatch.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// The background tasks of the worker's AWS side.
pub struct Cloud {
    outcomes: mpsc::UnboundedSender<Event>,
    attempt_logs: mpsc::UnboundedSender<AttemptLog>,
    writers: Vec<JoinHandle<()>>,
    instance: JoinHandle<()>,
    set_up: oneshot::Receiver<()>,
}

impl Cloud {
    /// Starts the log writers and, in the background, looks for the EC2 instance (skipping
    /// the instance's part off EC2). The instance's notices advance `stop`. `scratch` is
    /// the folder whose disk the machine figures report.
    pub async fn start(config: &Config, scratch: PathBuf, stop: watch::Sender<Stop>) -> Cloud {
        let shared = dcp_common::aws::sdk_config(config).await;
        let group = LogGroup::new(
            aws_sdk_cloudwatchlogs::Client::new(&shared),
            config.log_group_name.clone(),
        );
        let (identity, found) = oneshot::channel();
        let (done, set_up) = oneshot::channel();
        let instance = tokio::spawn(on_instance(
            shared,
            config.clone(),
            scratch,
            stop,
            (identity, done),
        ));
        let (outcomes, outcome_events) = mpsc::unbounded_channel();
        let (attempt_logs, attempts) = mpsc::unbounded_channel();
        let writers = vec![
            tokio::spawn(write_outcomes(group.clone(), found, outcome_events)),
            tokio::spawn(write_attempt_logs(group, attempts)),
        ];
        Cloud {
            outcomes,
            attempt_logs,
            writers,
            instance,
            set_up,
        }
    }

    /// Sends an outcome line, as printed, to this process's outcome stream.
    pub fn outcome(&self, line: &str) {
        let _ = self.outcomes.send(Event {
            timestamp: logs::millis(SystemTime::now()),
            message: line.to_owned(),
        });
    }

    /// Where the worker sends its attempts' logs, each to a stream of its own.
    pub fn attempt_logs(&self) -> mpsc::UnboundedSender<AttemptLog> {
        self.attempt_logs.clone()
    }

    /// Sends what is still queued (once every sender from [`Cloud::attempt_logs`] is
    /// dropped), lets the instance's tag and alarm be put, and stops the instance's watch.
    pub async fn finish(self) {
        let Cloud {
            outcomes,
            attempt_logs,
            writers,
            instance,
            set_up,
        } = self;
        drop((outcomes, attempt_logs));
        for writer in writers {
            if tokio::time::timeout(FLUSH_TIMEOUT, writer).await.is_err() {
                eprintln!("dcp-worker: warning: CloudWatch Logs did not take the last events");
            }
        }
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, set_up).await;
        instance.abort();
    }
}

/// On EC2: tags the instance, puts its idle alarm and logs the machine's figures (then
/// says it is set up), and goes on logging them until a spot interruption notice, which
/// sets `stop` to [`Stop::HandBack`]; a rebalance recommendation before it sets
/// [`Stop::Drain`]. Sends the instance id (`None` off EC2) first.
async fn on_instance(
    shared: aws_config::SdkConfig,
    config: Config,
    scratch: PathBuf,
    stop: watch::Sender<Stop>,
    (identity, set_up): (oneshot::Sender<Option<String>>, oneshot::Sender<()>),
) {
    let imds = instance::imds_client();
    let id = instance::instance_id(&imds).await;
    let _ = identity.send(id.clone());
    let Some(id) = id else {
        return;
    };
    eprintln!("dcp-worker: on EC2 instance {id}");
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    if let Err(e) = instance::tag(&ec2, &config, &id).await {
        eprintln!("dcp-worker: warning: {e}");
    }
    let region = shared
        .region()
        .map_or_else(|| config.aws_region.clone(), ToString::to_string);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&shared);
    if let Err(e) = instance::put_idle_alarm(&cloudwatch, &config, &region, &id).await {
        eprintln!("dcp-worker: warning: {e}");
    }
    let mut sampler = stats::Sampler::default();
    eprintln!("{}", sampler.line(&scratch));
    let _ = set_up.send(());
    let figures = async {
        let start = tokio::time::Instant::now() + stats::PERIOD;
        let mut tick = tokio::time::interval_at(start, stats::PERIOD);
        loop {
            tick.tick().await;
            eprintln!("{}", sampler.line(&scratch));
        }
    };
    let rebalance = async {
        let notice = interruption::wait_for_notice(&imds, interruption::REBALANCE_PATH).await;
        eprintln!("dcp-worker: rebalance recommendation {notice}: taking no new tasks");
        stop.send_if_modified(|state| Stop::advance(state, Stop::Drain));
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = figures => {}
        () = rebalance => {}
        notice = interruption::wait_for_notice(&imds, interruption::INTERRUPTION_PATH) => {
            eprintln!("dcp-worker: spot interruption notice {notice}: handing tasks back");
            stop.send_if_modified(|state| Stop::advance(state, Stop::HandBack));
        }
    }
}

/// Writes outcome lines to `outcomes/<instance id or host name>-<pid>`, created with the
/// first line.
async fn write_outcomes(
    group: LogGroup,
    identity: oneshot::Receiver<Option<String>>,
    mut lines: mpsc::UnboundedReceiver<Event>,
) {
    let Some(first) = lines.recv().await else {
        return;
    };
    let who = match identity.await {
        Ok(Some(id)) => id,
        _ => crate::outcome_record::host_name(),
    };
    let stream = logs::stream_name(&format!(
        "{OUTCOME_STREAM_PREFIX}{who}-{}",
        std::process::id()
    ));
    let mut ready = false;
    let mut pending = vec![first];
    loop {
        while let Ok(event) = lines.try_recv() {
            pending.push(event);
        }
        if !ready {
            match prepare(&group, &stream).await {
                Ok(()) => ready = true,
                Err(e) => eprintln!("dcp-worker: warning: {e}"),
            }
        }
        let batch = std::mem::take(&mut pending);
        if ready && let Err(e) = group.put(&stream, batch).await {
            eprintln!("dcp-worker: warning: outcome lines not sent: {e}");
        }
        match lines.recv().await {
            Some(event) => pending.push(event),
            None => break,
        }
    }
}

/// Writes each attempt's log to a stream of its own.
async fn write_attempt_logs(group: LogGroup, mut attempts: mpsc::UnboundedReceiver<AttemptLog>) {
    let mut group_ready = false;
    while let Some(log) = attempts.recv().await {
        let stream = logs::attempt_stream(&log.prefix, log.started, log.copy);
        let events = logs::line_events(&log.text, logs::millis(log.ended));
        let sent = async {
            if !group_ready {
                group.create().await?;
                group_ready = true;
            }
            group.create_stream(&stream).await?;
            group.put(&stream, events).await
        };
        if let Err(e) = sent.await {
            eprintln!("dcp-worker: warning: task log not sent: {e}");
        }
    }
}

/// Creates the log group and the stream `stream`, keeping those that exist.
async fn prepare(group: &LogGroup, stream: &str) -> Result<(), logs::LogsError> {
    group.create().await?;
    group.create_stream(stream).await
}
