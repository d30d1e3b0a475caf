//! dcp-watch: watch a dcp run drain, then stop its fleet and write its report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use dcp_cli::parse_seconds;
use dcp_common::backend::ConfiguredQueue;
use dcp_common::{Backend, Config, Queue, config, exit};
use dcp_watch::embedded::batch::BatchWatch;
use dcp_watch::embedded::{EmbeddedWatch, Tick};
use indicatif::{ProgressBar, ProgressStyle};

/// Watch a dcp run drain; then stop its fleet and write its report.
///
/// Embedded: every tick prints one JSON line: {"visible", "in_flight", "dead", "done",
/// "failed_attempts", "workers_alive", "elapsed_seconds"} ("done" counts each task once;
/// "elapsed_seconds" runs from the fleet's start). On a terminal, stderr also shows a
/// progress bar. When nothing is visible or in flight, dcp-watch stops the embedded fleet,
/// writes the run report to AWS_BUCKET/runs/APP_NAME/report.json (and its page,
/// report.html, beside it), prints
/// {"drained": true, "report": …} and exits. Running it again after that, or without a
/// fleet, does no harm.
///
/// AWS: stateless, for cron (`--once`). Each look prints {"visible", "in_flight", "dead",
/// "fleets", "instances", "elapsed_seconds", "requests"}: it lowers the fleets' target when
/// nothing waits and fewer tasks are in flight than instances run, and deletes the alarms
/// of instances that are gone. Once the queue has drained (and a fleet was started) it
/// writes the report to s3://AWS_BUCKET/runs/APP_NAME/report.json (with the run's machines
/// and cost; its page report.html beside it), tears the run down
/// (`dcp-fleet teardown`, logs exported to AWS_BUCKET/exportedlogs/) and prints
/// {"drained": true, "report", …, "teardown"}. Two looks at once, or one after the end,
/// do no harm.
///
/// --batch NAME: watches only the tasks pushed with `dcp-queue push --batch NAME`. When
/// each is done or dead it prints the batch's summary {"batch", "finished": true,
/// "counts", "by_status", "dead_letters", "elapsed_seconds"} and exits (0, or 3 with dead
/// tasks), leaving the fleet running for other batches. Any number of batch watches may
/// run at once on one queue, from any shell. Embedded: each look prints {"batch",
/// "visible", "in_flight", "dead", "done", "failed_attempts", "workers_alive",
/// "elapsed_seconds"}. AWS: the
/// task queue is never read (receiving would raise receive counts); each look compares the
/// tasks the pushes recorded in s3://AWS_BUCKET/runs/APP_NAME/batches/NAME.json with the
/// batch's outcome lines and dead letters since each task's latest push, and prints {"batch", "pushed", "done", "dead",
/// "waiting", "failed_attempts", "elapsed_seconds"}.
///
/// Settings come from --config FILE, stdin, $DCP_CONFIG, or ./dcp.toml.
///
/// Exit codes: 0 drained clean (with --once: also not drained yet); 1 failure (queue, files,
/// AWS calls, a batch with no task anywhere, or on AWS no record of its push); 2 invalid
/// settings or usage; 3 drained with tasks in the dead-letter queue (see `dcp-queue dead`, `dcp-queue redrive`).
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Settings file (TOML, or JSON as printed by dcp-config); `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Take one look, act on it, and exit (for cron).
    #[arg(long)]
    once: bool,
    /// AWS: after the fleet has run 15 minutes, lower its target to one machine.
    #[arg(long)]
    cheapest: bool,
    /// Watch only this batch (`dcp-queue push --batch NAME`) until its tasks are done or
    /// dead; the fleet keeps running.
    #[arg(long, value_name = "NAME", conflicts_with = "cheapest", value_parser = batch_name)]
    batch: Option<String>,
    /// Seconds between looks.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = interval)]
    interval: Duration,
}

/// Seconds the workers have to exit after SIGTERM when the run has drained.
const STOP_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    if let Some(code) = dcp_cli::generate_if_asked(Cli::command) {
        return code;
    }
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(err) => exit::report(
            "dcp-watch",
            err.as_ref(),
            &[
                exit::kind_of::<dcp_watch::WatchError>,
                exit::kind_of::<dcp_fleet::FleetError>,
            ],
        ),
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let config = config::locate(cli.config.as_deref(), true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match config.backend {
            Backend::Embedded => {
                let queue = ConfiguredQueue::open(&config).await?;
                match &cli.batch {
                    Some(name) => watch_batch(&cli, &config, queue, name).await,
                    None => watch(&cli, &config, queue).await,
                }
            }
            Backend::Aws => match &cli.batch {
                Some(name) => watch_aws_batch(&cli, &config, name).await,
                None => watch_aws(&cli, &config).await,
            },
        }
    })
}

#[cfg(not(feature = "aws"))]
async fn watch_aws(_: &Cli, _: &Config) -> anyhow::Result<u8> {
    Err(dcp_common::backend::BackendError::NotBuilt.into())
}

#[cfg(not(feature = "aws"))]
async fn watch_aws_batch(_: &Cli, _: &Config, _: &str) -> anyhow::Result<u8> {
    Err(dcp_common::backend::BackendError::NotBuilt.into())
}

/// Watches one batch on AWS until each of its recorded tasks is done or dead.
#[cfg(feature = "aws")]
async fn watch_aws_batch(cli: &Cli, config: &Config, name: &str) -> anyhow::Result<u8> {
    use dcp_watch::aws::batch::{AwsBatchWatch, BatchLook};
    let queue = ConfiguredQueue::open(config).await?;
    let mut watch = AwsBatchWatch::connect(config, queue, name).await;
    loop {
        match watch.look().await? {
            BatchLook::Going(tick) => {
                print_line(&tick)?;
                if cli.once {
                    return Ok(0);
                }
            }
            BatchLook::Finished(summary) => {
                print_line(&summary)?;
                return Ok(if summary.dead_letters.is_empty() {
                    0
                } else {
                    exit::DEAD_LETTERS
                });
            }
        }
        tokio::time::sleep(cli.interval).await;
    }
}

/// Watches a run on AWS: one JSON line per look, until it has drained and been torn down.
#[cfg(feature = "aws")]
async fn watch_aws(cli: &Cli, config: &Config) -> anyhow::Result<u8> {
    use dcp_watch::aws::{AwsWatch, Look};
    let watch = AwsWatch::connect(config, cli.cheapest).await;
    loop {
        match watch.look().await? {
            Look::Going(tick) => {
                print_line(&tick)?;
                if cli.once {
                    return Ok(0);
                }
            }
            Look::Drained(drained) => {
                print_line(&drained)?;
                return Ok(if drained.dead == 0 {
                    0
                } else {
                    exit::DEAD_LETTERS
                });
            }
        }
        tokio::time::sleep(cli.interval).await;
    }
}

async fn watch(cli: &Cli, config: &Config, queue: impl Queue) -> anyhow::Result<u8> {
    let mut watch = EmbeddedWatch::new(config, queue)?;
    let bar = Bar::new(!cli.once && std::io::stderr().is_terminal())?;
    loop {
        let tick = watch.tick().await?;
        bar.print(&tick)?;
        if tick.drained() {
            bar.0.finish_and_clear();
            let (drained, report) = watch.finish(STOP_GRACE).await?;
            print_line(&drained)?;
            return Ok(if report.dead_letters.is_empty() {
                0
            } else {
                exit::DEAD_LETTERS
            });
        }
        if cli.once {
            return Ok(0);
        }
        tokio::time::sleep(cli.interval).await;
    }
}

/// Watches one batch until none of its tasks is visible or in flight.
async fn watch_batch(
    cli: &Cli,
    config: &Config,
    queue: impl Queue,
    name: &str,
) -> anyhow::Result<u8> {
    let mut watch = BatchWatch::new(config, queue, name)?;
    loop {
        let tick = watch.tick().await?;
        if tick.finished() {
            let summary = watch.finish().await?;
            print_line(&summary)?;
            return Ok(if summary.dead_letters.is_empty() {
                0
            } else {
                exit::DEAD_LETTERS
            });
        }
        print_line(&tick)?;
        if cli.once {
            return Ok(0);
        }
        tokio::time::sleep(cli.interval).await;
    }
}

/// The progress bar on stderr (hidden when stderr is not a terminal): tasks finished
/// (done or dead) out of all, with the ETA.
struct Bar(ProgressBar);

impl Bar {
    fn new(shown: bool) -> anyhow::Result<Bar> {
        let bar = if shown {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(ProgressStyle::with_template(
            "{wide_bar} {pos}/{len} tasks finished · {msg} · {elapsed} elapsed, {eta} left",
        )?);
        Ok(Bar(bar))
    }

    /// Prints the tick's line on stdout and moves the bar.
    fn print(&self, tick: &Tick) -> anyhow::Result<()> {
        self.0.suspend(|| print_line(tick))?;
        let finished = tick.done + tick.dead;
        let first = self.0.length() == Some(0);
        self.0.set_length(finished + tick.visible + tick.in_flight);
        self.0.set_position(finished);
        self.0.set_message(format!(
            "{} workers, {} failed attempts",
            tick.workers_alive, tick.failed_attempts
        ));
        if first {
            // The rate, and so the ETA, counts from the first look, not from zero.
            self.0.reset_eta();
        }
        Ok(())
    }
}

fn print_line(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A batch name as `dcp-queue push --batch` takes it.
fn batch_name(text: &str) -> Result<String, String> {
    dcp_common::queue::check_batch_name(text).map_err(|e| e.to_string())?;
    Ok(text.to_owned())
}

/// A positive number of seconds.
fn interval(text: &str) -> Result<Duration, String> {
    let seconds = parse_seconds(text)?;
    if seconds.is_zero() {
        return Err("the interval must be more than 0 seconds".into());
    }
    Ok(seconds)
}
