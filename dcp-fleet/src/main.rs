//! dcp-fleet: start, inspect, scale and stop the embedded fleet of workers of a dcp run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use dcp_cli::parse_seconds;
use dcp_common::{Backend, Config, config, exit};
use dcp_fleet::{EmbeddedFleet, FleetError, fleet_file};

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
/// not be launched, I/O, AWS); 2 invalid settings, fleet file or usage (BACKEND = "aws" in a
/// build without it included).
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
    /// The preflight: read-only checks of the run before anything is started, one JSON
    /// line each ({"check", "subject", "status": "ok"|"problem"|"skipped", "detail",
    /// "fix"}). Both backends: each job's pipeline and data file exist, every group selects
    /// rows of its load-data CSV (or image sets of its batch file), the images those rows
    /// name exist (all, or a sample of 1,000), and CellProfiler (CELLPROFILER) loads the
    /// pipeline whole and finds the images it names among the file's columns. Without a job, the embedded queue's tasks
    /// are checked. Exit 0 when nothing is a problem, 2 otherwise; nothing is changed.
    ///
    /// With --pilot, one group then runs here as a worker runs it (real CellProfiler,
    /// cold), publishing into a new folder of its own (never DESTINATION_BUCKET), and its
    /// wall time, peak memory and disk give the run's wall time, instance-hours and Spot
    /// cost (AWS: the current Spot price of MACHINE_TYPE) and whether MEMORY and the disk
    /// share (EBS_VOL_SIZE / TASKS_PER_MACHINE - 2 GB) hold DOCKER_CORES copies.
    Check {
        /// The fleet file and the job files (.json, or .jsonl of message bodies), in any
        /// order: a file with `groups` is a job, one with `LaunchSpecifications` a fleet file.
        #[arg(value_name = "FLEET.json|JOB")]
        inputs: Vec<PathBuf>,
        /// Run one group of the job here and estimate the run from it.
        #[arg(long)]
        pilot: bool,
        /// The pilot's group, as `Key=Value,…` (e.g. `Metadata_Plate=P1,Metadata_Well=A01`);
        /// the job's first by default.
        #[arg(long, requires = "pilot", value_name = "GROUP")]
        group: Option<String>,
    },
    /// AWS: make the queues (as `dcp-queue create`), the ECS cluster (if missing), the worker
    /// task definition (settings in DCP_SETTINGS, never credentials: containers use
    /// TASK_ROLE_ARN), the ECS service with desired count 0, and the log groups (60 days).
    /// Nothing to do on the embedded backend.
    Setup {
        #[command(flatten)]
        dry_run: DryRun,
    },
    /// Launch the fleet. Embedded: write config.json and start LOCAL_WORKERS workers with
    /// --wait; refused (exit 1) while live workers are recorded: use `scale` or `stop`.
    /// AWS: make the machines FLEET_API names (an Auto Scaling group APP_NAME and its launch
    /// template, or a Spot Fleet), the dashboard, and set the service's desired count;
    /// refused (exit 1) while the run has machines.
    Start {
        /// AWS: the DCP fleet file (an EC2 RequestSpotFleet config); DCP's overrides are
        /// applied (capacity, price, instance types, disk, user data, public IP; Spot Fleet:
        /// validity). Auto Scaling: its launch specifications may differ only in subnet.
        /// Checked before anything changes on either backend (exit 2 naming line and field).
        fleet_file: Option<PathBuf>,
        #[command(flatten)]
        dry_run: DryRun,
        /// AWS: seconds to wait for the fleet's instances, reading its history for errors.
        #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
        wait: Duration,
    },
    /// Embedded: every recorded worker and whether it is alive. AWS: the run's group or
    /// fleets and instances, service, alarms, queues and log groups.
    Status,
    /// Embedded: launch or stop workers until N are alive (the newest stop first).
    /// AWS: set the group's (or every fleet's) capacity to N machines (lowering it
    /// terminates no busy machine) and the service to N × TASKS_PER_MACHINE tasks.
    /// N above LOCAL_WORKERS (embedded) or CLUSTER_MACHINES (AWS) is warned about (stderr,
    /// "warning" in the JSON); above 1,024 workers or 100,000 machines it is refused (exit 2).
    Scale {
        /// Workers (embedded) or machines (AWS) wanted.
        workers: u32,
        #[command(flatten)]
        grace: Grace,
        #[command(flatten)]
        dry_run: DryRun,
    },
    /// Embedded: stop every worker (idempotent). AWS: service to 0 tasks, the group and its
    /// launch template deleted or the fleets cancelled, their instances terminated, instance
    /// alarms deleted; queues and logs are kept.
    Stop {
        #[command(flatten)]
        grace: Grace,
        #[command(flatten)]
        dry_run: DryRun,
    },
    /// AWS: `stop`, then delete the service, task definitions, queue (the dead-letter queue
    /// only when empty), the cluster (unless "default" or serving others), and export each
    /// log group to AWS_BUCKET/exportedlogs/ before deleting it. Safe to repeat.
    /// Embedded: the same as `stop`.
    Teardown {
        #[command(flatten)]
        grace: Grace,
        #[command(flatten)]
        dry_run: DryRun,
        /// Keep the log groups (no export, no deletion).
        #[arg(long)]
        keep_logs: bool,
        /// Tear down even though the queue still holds tasks.
        #[arg(long)]
        force: bool,
        /// Seconds to wait for each log export before keeping its group.
        #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = parse_seconds)]
        export_wait: Duration,
    },
}

#[derive(clap::Args)]
struct Grace {
    /// Embedded: seconds a worker has to exit after SIGTERM before it is killed.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    grace: Duration,
}

#[derive(clap::Args)]
struct DryRun {
    /// AWS: print the requests as JSON and change nothing.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    if let Some(code) = dcp_cli::generate_if_asked(Cli::command) {
        return code;
    }
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => exit::report("dcp-fleet", err.as_ref(), &[exit::kind_of::<FleetError>]),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config::locate(cli.config.as_deref(), true)?;
    if let Command::Check {
        inputs,
        pilot,
        group,
    } = &cli.command
    {
        let pilot = pilot.then(|| dcp_fleet::check::PilotRequest {
            group: group.clone(),
        });
        return check(&config, inputs, pilot.as_ref());
    }
    // A fleet file is read and checked whole before anything changes, on either backend.
    let fleet_file = match &cli.command {
        Command::Start {
            fleet_file: Some(path),
            ..
        } => Some(fleet_file::read(path)?),
        Command::Start { .. } if config.backend == Backend::Aws => {
            Cli::command()
                .error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "start on AWS needs the fleet file: dcp-fleet start FLEET.json",
                )
                .exit();
        }
        _ => None,
    };
    // N of `scale N` is checked before anything changes: refused above the most the
    // settings may hold, a warning above what they plan for.
    let warning = match &cli.command {
        Command::Scale { workers, .. } => dcp_fleet::scale::check(&config, *workers)?,
        _ => None,
    };
    let mut report = match config.backend {
        Backend::Embedded => embedded(&config, cli.command)?,
        Backend::Aws => aws(&config, cli.command, fleet_file)?,
    };
    if let Some(warning) = warning {
        report["warning"] = warning.into();
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// `dcp-fleet check`: prints the findings; exit 2 when one is a problem.
fn check(
    config: &Config,
    inputs: &[PathBuf],
    pilot: Option<&dcp_fleet::check::PilotRequest>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();
    let mut findings = dcp_fleet::check::Findings::new(&mut stdout);
    let stopped = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        // Stopping drops the checks: their helpers and CellProfiler are killed (process
        // groups), their temporary folders removed.
        tokio::select! {
            done = dcp_fleet::check::run(config, inputs, pilot, &mut findings) => done.map(|()| None),
            _ = terminate.recv() => Ok(Some("SIGTERM")),
            _ = interrupt.recv() => Ok(Some("SIGINT")),
        }
    })?;
    if let Some(signal) = stopped {
        anyhow::bail!(
            "stopped by {signal}: the checks were cut short and the pilot's group, if running, was ended"
        );
    }
    Ok(match findings.problems() {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(exit::Kind::BadInput.code()),
    })
}

/// A command on the embedded fleet.
fn embedded(config: &Config, command: Command) -> anyhow::Result<serde_json::Value> {
    let fleet = EmbeddedFleet::new(config)?;
    Ok(match command {
        Command::Setup { .. } => serde_json::json!({
            "backend": "embedded",
            "setup": "nothing to set up: the embedded fleet needs no resources",
        }),
        Command::Start { .. } => serde_json::to_value(fleet.start(config)?)?,
        Command::Status => serde_json::to_value(fleet.status()?)?,
        Command::Scale { workers, grace, .. } => {
            serde_json::to_value(fleet.scale(config, workers as usize, grace.grace)?)?
        }
        Command::Stop { grace, .. } | Command::Teardown { grace, .. } => {
            serde_json::to_value(fleet.stop(grace.grace)?)?
        }
        Command::Check { .. } => unreachable!("run() handles check"),
    })
}

#[cfg(not(feature = "aws"))]
fn aws(
    _: &Config,
    _: Command,
    _: Option<fleet_file::FleetFile>,
) -> anyhow::Result<serde_json::Value> {
    Err(dcp_common::backend::BackendError::NotBuilt.into())
}

/// A command on the run's AWS resources.
#[cfg(feature = "aws")]
fn aws(
    config: &Config,
    command: Command,
    fleet_file: Option<fleet_file::FleetFile>,
) -> anyhow::Result<serde_json::Value> {
    use dcp_fleet::aws::{ApplyOptions, AwsFleet, plan};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let quick = ApplyOptions {
        export_wait: Duration::ZERO,
    };
    runtime.block_on(async {
        let fleet = AwsFleet::connect(config).await;
        Ok(match command {
            Command::Setup { dry_run } => {
                serde_json::to_value(fleet.setup(dry_run.dry_run).await?)?
            }
            Command::Start { dry_run, wait, .. } => {
                let file = fleet_file.expect("run() reads the fleet file of an AWS start");
                let started = fleet.start(&file.value, dry_run.dry_run, wait).await;
                started.map_err(|e| file.locate(e))?
            }
            Command::Status => serde_json::to_value(fleet.discover().await?)?,
            Command::Check { .. } => unreachable!("run() handles check"),
            Command::Scale {
                workers, dry_run, ..
            } => {
                let plan = plan::scale(config, &fleet.discover().await?, workers)?;
                serde_json::to_value(fleet.carry_out(plan, dry_run.dry_run, quick).await?)?
            }
            Command::Stop { dry_run, .. } => {
                let plan = plan::stop(config, &fleet.discover().await?);
                serde_json::to_value(fleet.carry_out(plan, dry_run.dry_run, quick).await?)?
            }
            Command::Teardown {
                dry_run,
                keep_logs,
                force,
                export_wait,
                ..
            } => {
                let options = ApplyOptions { export_wait };
                let found = fleet.discover().await?;
                let done = fleet
                    .teardown(&found, keep_logs, force, dry_run.dry_run, options)
                    .await?;
                serde_json::to_value(done)?
            }
        })
    })
}
