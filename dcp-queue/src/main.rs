//! dcp-queue: create the task queue of a run, push a job into it, and inspect, redrive,
//! purge or delete it.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use dcp_common::backend::ConfiguredQueue;
use dcp_common::{Config, Queue, QueueSpec, TaskSet, config, exit};
use dcp_queue::csv_groups::read_groups;
use dcp_queue::layout::Layout;
use dcp_queue::report::{CreateReport, DeadLine, PushReport, StatusReport};
use indicatif::{ProgressBar, ProgressStyle};

/// Create, fill and inspect the task queue of a dcp run.
///
/// Settings come from --config FILE, stdin (for commands that take no other input),
/// $DCP_CONFIG, or ./dcp.toml, so `dcp-config | dcp-queue create` works.
///
/// Exit codes: 0 success, 1 failure (queue or I/O), 2 invalid settings, job or usage —
/// nothing was sent.
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
    /// Create the queue and its dead-letter queue (idempotent).
    Create,
    /// Validate a whole job, then send one task per group.
    ///
    /// Input is a DCP job file (FILE or stdin), or a CSV with one group per row whose
    /// Metadata_* columns are the group's metadata, with --job giving the job fields
    /// (columns named like a job field override it for their row). Job fields may name
    /// metadata: "load_data_csv/{Metadata_Plate}/load_data.csv".
    Push(PushArgs),
    /// Print the counts of visible, in-flight and dead tasks.
    ///
    /// A dead-letter queue shared with other queues (DCP's `user_DeadMessages`) holds
    /// their letters too; status, dead, redrive and purge see only this queue's.
    Status,
    /// Print this queue's dead letters as JSON Lines.
    Dead,
    /// Move this queue's dead letters back into it with a fresh receive count.
    Redrive,
    /// Delete every task of the queue (or, with --dead-letters, this queue's dead letters).
    Purge {
        /// Purge this queue's dead letters instead.
        #[arg(long)]
        dead_letters: bool,
    },
    /// Delete the queue with its tasks and dead letters, and the dead-letter queue unless
    /// another queue's redrive policy names it or it holds their letters.
    Delete,
}

#[derive(clap::Args)]
struct PushArgs {
    /// Job file or CSV; stdin when absent.
    file: Option<PathBuf>,
    /// Input format; by default from the file's extension, or CSV when --job is given.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Job file giving pipeline, data_file, input, output, output_structure to CSV rows.
    #[arg(long, value_name = "FILE")]
    job: Option<PathBuf>,
    /// Expand each CSV row (a plate) into every well of a 96- or 384-well plate.
    #[arg(long, value_name = "96|384", conflicts_with = "wells")]
    plate_format: Option<u32>,
    /// Expand each CSV row into these wells, e.g. A01,B03.
    #[arg(long, value_name = "LIST")]
    wells: Option<String>,
    /// Expand each CSV row (and well) into these sites, e.g. 1-9 or 1,3,5.
    #[arg(long, value_name = "LIST")]
    sites: Option<String>,
    /// Validate and print the message bodies as JSON Lines instead of sending them.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Json,
    Csv,
}

/// Tasks sent per call; also the step of the progress bar.
const CHUNK: usize = 10_000;
/// Pushes at least this large show a progress bar on a terminal.
const PROGRESS_FROM: usize = 50_000;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report("dcp-queue", err.as_ref()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let stdin_free = !matches!(cli.command, Command::Push(ref p) if p.file.is_none());
    let config = config::locate(cli.config.as_deref(), stdin_free)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let queue = ConfiguredQueue::open(&config).await?;
        execute(cli.command, &config, &queue).await
    })
}

async fn execute(command: Command, config: &Config, queue: &impl Queue) -> anyhow::Result<()> {
    let spec = QueueSpec::from_config(config);
    let mut out = std::io::stdout().lock();
    match command {
        Command::Create => {
            let created = queue.create().await?;
            print_json(
                &mut out,
                &CreateReport {
                    spec: &spec,
                    created,
                },
            )?;
        }
        Command::Push(args) => {
            let (tasks, source) = plan(&args)?;
            if args.dry_run {
                for body in tasks.bodies() {
                    writeln!(out, "{body}")?;
                }
                return Ok(());
            }
            let sent = send(queue, tasks.bodies()).await?;
            print_json(
                &mut out,
                &PushReport {
                    queue: &spec.name,
                    source: &source,
                    sent,
                },
            )?;
        }
        Command::Status => {
            let counts = queue.counts().await?;
            print_json(
                &mut out,
                &StatusReport {
                    queue: &spec.name,
                    dead_letter_queue: &spec.dead_letter_queue,
                    counts,
                },
            )?;
        }
        Command::Dead => {
            for dead in queue.dead_letters().await? {
                serde_json::to_writer(&mut out, &DeadLine::from(dead))?;
                writeln!(out)?;
            }
        }
        Command::Redrive => {
            let redriven = queue.redrive().await?;
            print_json(
                &mut out,
                &serde_json::json!({ "queue": spec.name, "redriven": redriven }),
            )?;
        }
        Command::Purge { dead_letters } => {
            let purged = queue.purge(dead_letters).await?;
            let name = if dead_letters {
                &spec.dead_letter_queue
            } else {
                &spec.name
            };
            print_json(
                &mut out,
                &serde_json::json!({ "queue": name, "purged": purged }),
            )?;
        }
        Command::Delete => {
            print_json(&mut out, &queue.delete_queues().await?)?;
        }
    }
    Ok(())
}

/// Reads and validates the whole job before anything is sent.
fn plan(args: &PushArgs) -> anyhow::Result<(TaskSet, String)> {
    let source = args
        .file
        .as_ref()
        .map_or("<stdin>".to_owned(), |f| f.display().to_string());
    let text = match &args.file {
        Some(path) => read(path)?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin")?;
            text
        }
    };
    let by_extension = args
        .file
        .as_deref()
        .and_then(Path::extension)
        .map(|e| e.eq_ignore_ascii_case("csv"));
    let format = args.format.unwrap_or(match by_extension {
        Some(true) => Format::Csv,
        Some(false) => Format::Json,
        None if args.job.is_some() => Format::Csv,
        None => Format::Json,
    });
    let layout = Layout::new(
        args.plate_format,
        args.wells.as_deref(),
        args.sites.as_deref(),
    )
    .unwrap_or_else(|e| usage_error(ErrorKind::ValueValidation, e));
    let tasks = match format {
        Format::Json => {
            if args.job.is_some() || layout.expands() {
                usage_error(
                    ErrorKind::ArgumentConflict,
                    "--job, --plate-format, --wells and --sites apply to CSV input only",
                );
            }
            dcp_common::parse_job(&text, &source)?
        }
        Format::Csv => {
            let template = match &args.job {
                Some(path) => {
                    dcp_common::parse_template(&read(path)?, &path.display().to_string())?
                }
                None => dcp_common::JobTemplate::default(),
            };
            read_groups(text.as_bytes(), &source, &template, &layout)?
        }
    };
    Ok((tasks, source))
}

async fn send(queue: &impl Queue, bodies: &[String]) -> anyhow::Result<usize> {
    let bar = if bodies.len() >= PROGRESS_FROM && std::io::stderr().is_terminal() {
        ProgressBar::new(bodies.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tasks sent, {eta} left",
    )?);
    let mut sent = 0;
    for chunk in bodies.chunks(CHUNK) {
        queue.send(chunk).await.with_context(|| {
            format!(
                "{sent} of {} tasks were sent before this failure",
                bodies.len()
            )
        })?;
        sent += chunk.len();
        bar.set_position(sent as u64);
    }
    bar.finish_and_clear();
    Ok(sent)
}

/// Refuses the arguments the way clap does: usage on stderr, exit code 2.
fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> ! {
    Cli::command().error(kind, message).exit()
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
