//! dcp-queue: create the task queue of a run, push a job into it, and inspect, redrive,
//! purge or delete it.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use dcp_common::backend::ConfiguredQueue;
use dcp_common::job::task_lines::read_task_lines;
use dcp_common::queue::{BATCH_NAME_RULE, SettingApplied, batch_name_from, check_batch_name};
use dcp_common::text::InputFileError;
use dcp_common::{Config, JobErrors, Queue, QueueSpec, SendError, TaskSet, config, exit};
use dcp_queue::csv_groups::read_groups;
use dcp_queue::layout::Layout;
use dcp_queue::report::{CreateReport, DeadLine, PushReport, StatusReport};
use dcp_queue::unsent::write_unsent;
use indicatif::{ProgressBar, ProgressStyle};

/// Create, fill and inspect the task queue of a dcp run.
///
/// Settings come from --config FILE, stdin (for every command but push, which reads a job),
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
    /// Validate a whole job, then send one task per group.
    ///
    /// Input is a DCP job file (FILE or stdin); a CSV with one group per row whose
    /// Metadata_* columns are the group's metadata, with --job giving the job fields
    /// (columns named like a job field override it for their row); or JSON Lines of DCP
    /// message bodies, one task per line, as --dry-run prints them. Job fields may name
    /// metadata: "load_data_csv/{Metadata_Plate}/load_data.csv".
    ///
    /// The embedded queue takes the whole job or nothing of it, even if the push is killed.
    /// On SQS, a push stops at its first failure: it reports (exit 1) how many tasks SQS
    /// acknowledged and writes the others to ./QUEUE-unsent-UNIXTIME.jsonl (in the temp
    /// directory if the current one is not writable); pushing that file finishes the job
    /// without duplicates.
    Push(PushArgs),
    /// The commands that work on the queue as it is.
    #[command(flatten)]
    OnQueue(QueueCommand),
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Create the queue and its dead-letter queue (idempotent).
    Create,
    /// Print the counts of visible, in-flight and dead tasks, and per batch.
    ///
    /// A dead-letter queue shared with other queues (DCP's `user_DeadMessages`) holds
    /// their letters too; status, dead, redrive and purge see only this queue's.
    /// "batches" counts each batch's tasks; on SQS only its dead letters ("dead"), as SQS
    /// cannot count a queue's messages by attribute without receiving them.
    Status,
    /// Print this queue's dead letters as JSON Lines.
    Dead {
        /// Only the dead letters of this batch.
        #[arg(long, value_name = "NAME", value_parser = batch_name)]
        batch: Option<String>,
    },
    /// Move this queue's dead letters back into it with a fresh receive count.
    Redrive {
        /// Only the dead letters of this batch.
        #[arg(long, value_name = "NAME", value_parser = batch_name)]
        batch: Option<String>,
    },
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
    /// Job file (.json), CSV of groups (.csv) or message bodies (.jsonl); stdin when absent.
    file: Option<PathBuf>,
    /// Input format; by default from the file's extension (.csv, .jsonl, else JSON), or CSV
    /// when --job is given.
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
    /// Label every task with this batch (`dcp-watch --batch NAME` waits for it); by default
    /// the name of the job file, or of the CSV of groups (`jobs/illum_P1.json`: illum_P1),
    /// and no batch for stdin; a file name that is not a batch name as it is is refused.
    /// Beside the message body (an SQS message attribute), which
    /// stays DCP's.
    #[arg(long, value_name = "NAME", value_parser = batch_name)]
    batch: Option<String>,
    /// Validate and print the message bodies as JSON Lines instead of sending them.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    /// A DCP job file.
    Json,
    /// One group per row.
    Csv,
    /// One DCP message body per line.
    Jsonl,
}
/// Pushes at least this large show a progress bar on a terminal.
const PROGRESS_FROM: usize = 50_000;

fn main() -> ExitCode {
    if let Some(code) = dcp_cli::generate_if_asked(Cli::command) {
        return code;
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(
            "dcp-queue",
            err.as_ref(),
            &[exit::kind_of::<dcp_queue::layout::LayoutError>],
        ),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // A push reads a job, not settings, even when given a file: a stdin that happens to be
    // piped (a `while read` loop, cron, CI) must not be taken for settings.
    let stdin_free = !matches!(cli.command, Command::Push(_));
    let config = config::locate(cli.config.as_deref(), stdin_free)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Push(args) => {
                // The whole job is read and checked before the queue (on the embedded
                // backend, its file) is opened: a refused job or a dry run changes nothing.
                let planned = plan(&args)?;
                let mut out = std::io::stdout().lock();
                if args.dry_run {
                    for body in planned.tasks.bodies() {
                        writeln!(out, "{body}")?;
                    }
                    return Ok(());
                }
                let queue = ConfiguredQueue::open(&config).await?;
                let applied = dcp_queue::notes::apply_settings(&queue)?;
                push(planned, &config, &queue, &applied, &mut out).await
            }
            Command::OnQueue(command) => {
                let queue = ConfiguredQueue::open(&config).await?;
                execute(command, &config, &queue).await
            }
        }
    })
}

async fn execute(command: QueueCommand, config: &Config, queue: &impl Queue) -> anyhow::Result<()> {
    let spec = QueueSpec::from_config(config);
    let mut out = std::io::stdout().lock();
    match command {
        QueueCommand::Create => {
            let created = queue.create().await?;
            print_json(
                &mut out,
                &CreateReport {
                    spec: &spec,
                    created,
                },
            )?;
        }
        QueueCommand::Status => {
            let counts = queue.counts().await?;
            let batches = queue.batch_counts().await?;
            print_json(
                &mut out,
                &StatusReport {
                    queue: &spec.name,
                    dead_letter_queue: &spec.dead_letter_queue,
                    counts,
                    batches,
                },
            )?;
        }
        QueueCommand::Dead { batch } => {
            if let Some(batch) = &batch {
                dcp_queue::notes::held(queue, config.backend, batch).await?;
            }
            for dead in queue.dead_letters().await? {
                if batch.is_none() || dead.batch == batch {
                    serde_json::to_writer(&mut out, &DeadLine::from(dead))?;
                    writeln!(out)?;
                }
            }
        }
        QueueCommand::Redrive { batch } => {
            let held = match &batch {
                Some(batch) => dcp_queue::notes::held(queue, config.backend, batch).await?,
                None => true,
            };
            let redriven = queue.redrive(batch.as_deref()).await?;
            let mut report = serde_json::json!({ "queue": spec.name, "redriven": redriven });
            if let Some(batch) = batch {
                report["batch"] = batch.into();
            }
            if !held {
                report["batch_in_queue"] = false.into();
            }
            print_json(&mut out, &report)?;
        }
        QueueCommand::Purge { dead_letters } => {
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
        QueueCommand::Delete => {
            print_json(&mut out, &queue.delete_queues().await?)?;
        }
    }
    Ok(())
}

/// Validates the whole job, then sends it (or, with --dry-run, prints its message bodies)
/// and prints the report. When SQS fails part-way, the report still goes to stdout, and the
/// tasks not sent go to a file the error names.
/// Sends a planned job and prints what was sent.
async fn push(
    planned: Planned,
    config: &Config,
    queue: &impl Queue,
    settings_applied: &[SettingApplied],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let spec = &QueueSpec::from_config(config);
    let bodies = planned.tasks.bodies();
    let batch = planned.batch.as_deref();
    let mut report = PushReport {
        queue: &spec.name,
        source: &planned.source,
        batch,
        sent: bodies.len(),
        settings_applied,
        unsent: None,
        unsent_file: None,
    };
    let recorded = record(config, batch, bodies).await?;
    let failure = match send(queue, bodies, batch).await {
        Ok(ids) => {
            print_json(out, &report)?;
            return note_sent(recorded, &ids).await;
        }
        Err(failure) => failure,
    };
    if failure.sent() == 0 {
        return Err(failure.into());
    }
    let unsent = failure.unsent.len();
    let path = match write_unsent(&spec.name, bodies, &failure.unsent) {
        Ok(path) => path,
        Err(e) => {
            return Err(anyhow::Error::new(failure).context(format!(
                "the {unsent} tasks not sent could not be written down ({e}); \
                 `dcp-queue push --dry-run` prints every task of the job"
            )));
        }
    };
    report.sent = failure.sent();
    report.unsent = Some(unsent);
    report.unsent_file = Some(&path);
    print_json(out, &report)?;
    let keep_batch = batch.map_or(String::new(), |b| format!(" --batch {b}"));
    Err(anyhow::Error::new(failure).context(format!(
        "the {unsent} tasks not sent are in {0}; finish the job with `dcp-queue push {0}{keep_batch}`",
        path.display()
    )))
}

/// A job read and checked: its tasks, where they came from, and their batch.
struct Planned {
    tasks: TaskSet,
    source: String,
    batch: Option<String>,
}

/// Reads and validates the whole job before anything is sent.
fn plan(args: &PushArgs) -> anyhow::Result<Planned> {
    let source = args
        .file
        .as_ref()
        .map_or("<stdin>".to_owned(), |f| f.display().to_string());
    let text = match &args.file {
        Some(path) => read(path)?,
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            text(bytes, &source)?
        }
    };
    let extension = args.file.as_deref().and_then(Path::extension);
    let format = args.format.unwrap_or(match extension {
        Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
        Some(e) if e.eq_ignore_ascii_case("jsonl") => Format::Jsonl,
        Some(_) => Format::Json,
        None if args.job.is_some() => Format::Csv,
        None => Format::Json,
    });
    let layout = Layout::new(
        args.plate_format,
        args.wells.as_deref(),
        args.sites.as_deref(),
    )
    .unwrap_or_else(|e| usage_error(ErrorKind::ValueValidation, e));
    if format != Format::Csv && (args.job.is_some() || layout.expands()) {
        usage_error(
            ErrorKind::ArgumentConflict,
            "--job, --plate-format, --wells and --sites apply to CSV input only",
        );
    }
    let tasks = match format {
        Format::Json => dcp_common::parse_job(&text, &source)?,
        Format::Jsonl => read_task_lines(&text, &source)?,
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
    let batch = match (&args.batch, args.file.as_deref()) {
        (Some(batch), _) => Some(batch.clone()),
        (None, Some(file)) => Some(derived_batch_name(file)),
        (None, None) => None,
    };
    Ok(Planned {
        tasks,
        source,
        batch,
    })
}

/// The batch name of a pushed file: its stem unchanged ([`batch_name_from`]); a stem that
/// is not a batch name is refused (exit 2) rather than rewritten into one that another
/// file's stem may already give.
fn derived_batch_name(file: &Path) -> String {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    stem.as_deref()
        .and_then(batch_name_from)
        .unwrap_or_else(|| {
            usage_error(
                ErrorKind::ValueValidation,
                format!(
                    "{}: its name `{}` cannot name the batch ({BATCH_NAME_RULE}); pass --batch NAME",
                    file.display(),
                    stem.unwrap_or_default()
                ),
            )
        })
}

/// A batch name as --batch takes it ([`check_batch_name`]).
fn batch_name(text: &str) -> Result<String, String> {
    check_batch_name(text).map_err(|e| e.to_string())?;
    Ok(text.to_owned())
}

/// On AWS, writes down the batch's tasks before they are sent, for `dcp-watch --batch`
/// ([`dcp_queue::record`]): a record that cannot be written stops the push before anything
/// is sent. Tasks a failed send leaves out stay recorded: pushing the file of unsent tasks
/// with the same batch sends them.
#[cfg(feature = "aws")]
async fn record(
    config: &Config,
    batch: Option<&str>,
    bodies: &[String],
) -> anyhow::Result<Option<dcp_queue::record::RecordedPush>> {
    let Some(batch) = batch else {
        return Ok(None);
    };
    dcp_queue::record::pushed(config, batch, bodies)
        .await
        .with_context(|| format!("batch `{batch}`: its record was not written; nothing was sent"))
}

/// Notes in the batch's record the message ids a whole push was sent with, so that
/// `dcp-watch --batch` tells its messages from those of the batch's earlier pushes.
#[cfg(feature = "aws")]
async fn note_sent(
    recorded: Option<dcp_queue::record::RecordedPush>,
    ids: &[String],
) -> anyhow::Result<()> {
    let Some(recorded) = recorded else {
        return Ok(());
    };
    recorded.sent(ids).await.context(
        "every task was sent, but the batch's record lacks their message ids: \
         `dcp-watch --batch` counts this push's attempts by the time they started",
    )
}

#[cfg(not(feature = "aws"))]
async fn record(_: &Config, _: Option<&str>, _: &[String]) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(not(feature = "aws"))]
async fn note_sent(_: (), _: &[String]) -> anyhow::Result<()> {
    Ok(())
}

/// Sends every body, with a progress bar on a terminal for large pushes.
async fn send(
    queue: &impl Queue,
    bodies: &[String],
    batch: Option<&str>,
) -> Result<Vec<String>, SendError> {
    let bar = if bodies.len() >= PROGRESS_FROM && std::io::stderr().is_terminal() {
        ProgressBar::new(bodies.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tasks sent, {eta} left")
            .expect("the template is valid"),
    );
    let sent = queue
        .send_with_progress(bodies, batch, &|n| bar.set_position(n as u64))
        .await;
    bar.finish_and_clear();
    sent
}

/// Refuses the arguments the way clap does: usage on stderr, exit code 2.
fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> ! {
    Cli::command().error(kind, message).exit()
}

fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|source| InputFileError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    text(bytes, &path.display().to_string())
}

/// Input bytes as text; bytes that are not UTF-8 are bad input, located by line.
fn text(bytes: Vec<u8>, origin: &str) -> anyhow::Result<String> {
    dcp_common::text::decode(bytes)
        .map_err(|e| JobErrors::one(origin, e.line, "file", e.to_string()).into())
}

fn print_json(out: &mut impl Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
