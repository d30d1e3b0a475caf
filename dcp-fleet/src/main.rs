//! dcp-fleet: start, inspect, scale and stop the local fleet of workers of a dcp run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dcp_common::{config, exit};
use dcp_fleet::{Fleet, parse_seconds};

/// Start, inspect, scale and stop the fleet of workers of a dcp run.
///
/// Embedded backend: the fleet is LOCAL_WORKERS background `dcp-worker` processes (one per
/// CPU core when 0), each in a session of its own, reading the settings dcp-fleet writes to
/// the run folder AWS_BUCKET/runs/APP_NAME: config.json (settings), fleet.json (the record:
/// pids, start times, files), workers/<n>.jsonl (worker n's outcome lines) and
/// workers/<n>.log (its log). The worker program is $DCP_WORKER when set, else dcp-worker
/// next to dcp-fleet, else dcp-worker in PATH.
///
/// Settings come from --config FILE, stdin, $DCP_CONFIG, or ./dcp.toml.
///
/// Exit codes: 0 success; 1 failure (a fleet is already running on `start`, a worker could
/// not be launched, I/O, BACKEND = "aws"); 2 invalid settings or usage.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Settings file (TOML, or JSON as printed by dcp-config); `-` reads stdin.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Launch the fleet: write config.json and start LOCAL_WORKERS workers with --wait.
    ///
    /// Refused (exit 1) while live workers are recorded: use `scale` or `stop`.
    Start,
    /// Print every recorded worker, whether it is alive, and how many are.
    Status,
    /// Launch or stop workers until N are alive; the newest are stopped first.
    Scale {
        /// Workers wanted.
        workers: usize,
        #[command(flatten)]
        grace: Grace,
    },
    /// Stop every worker and mark it stopped in fleet.json (idempotent).
    Stop {
        #[command(flatten)]
        grace: Grace,
    },
}

#[derive(clap::Args)]
struct Grace {
    /// Seconds a worker has to exit after SIGTERM before it is killed.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    grace: Duration,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report("dcp-fleet", err.as_ref()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config::locate(cli.config.as_deref(), true)?;
    let fleet = Fleet::new(&config)?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Start => serde_json::to_writer(&mut out, &fleet.start(&config)?)?,
        Command::Status => serde_json::to_writer(&mut out, &fleet.status()?)?,
        Command::Scale { workers, grace } => {
            serde_json::to_writer(&mut out, &fleet.scale(&config, workers, grace.grace)?)?
        }
        Command::Stop { grace } => serde_json::to_writer(&mut out, &fleet.stop(grace.grace)?)?,
    }
    writeln!(out)?;
    Ok(())
}
