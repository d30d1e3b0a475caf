//! dcp-fleet: start, inspect, scale and stop the local fleet of workers of a dcp run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dcp_common::{Backend, Config, config, exit};
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
    /// AWS: make the ECS cluster (if missing), the worker task definition (settings in
    /// DCP_SETTINGS, never credentials: containers use TASK_ROLE_ARN), the ECS service with
    /// desired count 0, and the log groups (60 days). Nothing to do on the embedded backend.
    Setup {
        /// Print the requests as JSON and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Launch the fleet: write config.json and start LOCAL_WORKERS workers with --wait.
    ///
    /// Refused (exit 1) while live workers are recorded: use `scale` or `stop`.
    Start {
        /// AWS: the DCP fleet file (an EC2 RequestSpotFleet config); DCP's overrides are
        /// applied (validity, capacity, price, instance types, disk, user data, public IP).
        fleet_file: Option<PathBuf>,
        /// AWS: print the requests as JSON and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// AWS: seconds to wait for the fleet's instances, reading its history for errors.
        #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
        wait: Duration,
    },
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
    let mut out = std::io::stdout().lock();
    if let Command::Setup { dry_run } = cli.command {
        serde_json::to_writer(&mut out, &setup(&config, dry_run)?)?;
        writeln!(out)?;
        return Ok(());
    }
    #[cfg(feature = "aws")]
    if let (
        Backend::Aws,
        Command::Start {
            fleet_file,
            dry_run,
            wait,
        },
    ) = (config.backend, &cli.command)
    {
        let file = fleet_file
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("start on AWS needs the fleet file"))?;
        serde_json::to_writer(&mut out, &aws_start(&config, file, *dry_run, *wait)?)?;
        writeln!(out)?;
        return Ok(());
    }
    let fleet = Fleet::new(&config)?;
    match cli.command {
        Command::Setup { .. } => unreachable!("handled above"),
        Command::Start { .. } => serde_json::to_writer(&mut out, &fleet.start(&config)?)?,
        Command::Status => serde_json::to_writer(&mut out, &fleet.status()?)?,
        Command::Scale { workers, grace } => {
            serde_json::to_writer(&mut out, &fleet.scale(&config, workers, grace.grace)?)?
        }
        Command::Stop { grace } => serde_json::to_writer(&mut out, &fleet.stop(grace.grace)?)?,
    }
    writeln!(out)?;
    Ok(())
}

/// `setup`: what it did (or, with `--dry-run`, would do) as JSON.
fn setup(config: &Config, dry_run: bool) -> anyhow::Result<serde_json::Value> {
    match config.backend {
        Backend::Embedded => Ok(serde_json::json!({
            "backend": "embedded",
            "setup": "nothing to set up: the local fleet needs no resources",
        })),
        #[cfg(feature = "aws")]
        Backend::Aws => {
            let plan = dcp_fleet::ecs::plan(config)?;
            if dry_run {
                return Ok(serde_json::json!({ "dry_run": true, "requests": plan }));
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let report = runtime.block_on(async {
                let shared = dcp_common::aws::sdk_config(config).await;
                let ecs = aws_sdk_ecs::Client::new(&shared);
                let logs = aws_sdk_cloudwatchlogs::Client::new(&shared);
                dcp_fleet::ecs::apply(plan, &ecs, &logs).await
            })?;
            Ok(serde_json::to_value(report)?)
        }
        #[cfg(not(feature = "aws"))]
        Backend::Aws => {
            let _ = dry_run;
            anyhow::bail!(
                "BACKEND = \"aws\": this dcp-fleet was built without the AWS backend (cargo feature `aws`)"
            )
        }
    }
}

/// `start` on AWS: the Spot Fleet request, the ECS service's desired count, and the run
/// record DCP keeps in its monitor file.
#[cfg(feature = "aws")]
fn aws_start(
    config: &Config,
    file: &std::path::Path,
    dry_run: bool,
    wait: Duration,
) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let fleet_file: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON fleet file", file.display()))?;
    let request =
        dcp_fleet::spot::fleet_request(&fleet_file, config, std::time::SystemTime::now())?;
    let tasks = config.cluster_machines * config.tasks_per_machine;
    if dry_run {
        return Ok(serde_json::json!({
            "dry_run": true,
            "requests": {
                "RequestSpotFleet": request,
                "UpdateService": {"cluster": config.ecs_cluster, "service": config.ecs_service_name, "desiredCount": tasks},
            },
        }));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shared = dcp_common::aws::sdk_config(config).await;
        let ec2 = aws_sdk_ec2::Client::new(&shared);
        let ecs = aws_sdk_ecs::Client::new(&shared);
        let fleet_id = dcp_fleet::spot::request(&ec2, &request).await?;
        ecs.update_service()
            .cluster(&config.ecs_cluster)
            .service(&config.ecs_service_name)
            .desired_count(tasks as i32)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("UpdateService: {}", aws_sdk_ecs::error::DisplayErrorContext(e)))?;
        let running =
            dcp_fleet::spot::wait_for_capacity(&ec2, &fleet_id, config.cluster_machines as usize, wait).await?;
        Ok(serde_json::json!({
            "fleet_id": fleet_id,
            "app": config.app_name,
            "cluster": config.ecs_cluster,
            "queue": config.sqs_queue_name,
            "bucket": config.aws_bucket,
            "log_group": config.log_group_name,
            "desired_tasks": tasks,
            "instances_running": running,
            "started": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
        }))
    })
}
