//! dcp-worker: pulls tasks from the run's queue and runs CellProfiler on each group.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use dcp_common::{Backend, config, exit};
use dcp_worker::WorkerOptions;

/// Pull tasks from the queue and run CellProfiler on them.
///
/// Prints one JSON line per task attempt: group, output, status (success, skipped-done,
/// input-problem, download-problem, cellprofiler-failed, output-problem), seconds, outputs,
/// exit_code. Exits when the queue has nothing visible or in flight, unless --wait. On
/// SIGTERM or SIGINT it hands its tasks back to the queue at once and exits.
///
/// Exit codes: 0 success, 1 failure (queue or I/O), 2 invalid settings or usage.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Settings file (TOML, or JSON as printed by dcp-config); `-` reads stdin.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// CellProfiler copies run side by side (default DOCKER_CORES).
    #[arg(long, value_name = "N")]
    cores: Option<u32>,
    /// Seconds between the starts of the copies (default SECONDS_TO_START).
    #[arg(long, value_name = "SECONDS")]
    stagger: Option<u64>,
    /// Keep polling when the queue is empty.
    #[arg(long)]
    wait: bool,
    /// Seconds a failed task stays hidden before a retry (default: the smaller of 10 and
    /// SQS_MESSAGE_VISIBILITY).
    #[arg(long, value_name = "SECONDS")]
    retry_delay: Option<u64>,
    /// Folder for the attempts' scratch space (default: the run folder's scratch/ on the
    /// embedded backend, else the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
}

fn main() -> ExitCode {
    if let Some(code) = dcp_cli::generate_if_asked(Cli::command) {
        return code;
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(
            "dcp-worker",
            err.as_ref(),
            &[exit::kind_of::<dcp_worker::RunError>],
        ),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config::locate(cli.config.as_deref(), true)?;
    let options = WorkerOptions {
        copies: cli.cores.unwrap_or(config.docker_cores),
        stagger: Duration::from_secs(cli.stagger.unwrap_or(config.seconds_to_start)),
        wait: cli.wait,
        retry_delay: Duration::from_secs(
            cli.retry_delay
                .unwrap_or(config.sqs_message_visibility.min(10)),
        ),
        scratch: match (cli.scratch, config.backend) {
            (Some(dir), _) => dir,
            // The run folder's scratch/ resolves inside AWS_BUCKET (no link out).
            (None, Backend::Embedded) => dcp_common::store::path_in_bucket(
                &config.aws_bucket,
                &format!("runs/{}/scratch", config.app_name),
            )?,
            (None, Backend::Aws) => std::env::temp_dir().join("dcp-worker"),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let emit = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    runtime.block_on(dcp_worker::run(&config, options, &emit))?;
    Ok(())
}
