//! What `dcp-fleet check` is given: a fleet file and job files, told apart by their
//! contents (a job has `groups`, or is JSON Lines of message bodies; a fleet file has
//! EC2's `LaunchSpecifications` or `IamFleetRole`), or, without a job, the tasks already in
//! the embedded queue.

use std::path::{Path, PathBuf};

use dcp_common::job::task_lines::read_task_lines;
use dcp_common::{Backend, Config, EmbeddedQueue, JobErrors, Task, TaskSet};
use serde_json::Value;

use super::{Finding, Findings, first_few};

/// The checked inputs: the fleet file, when one was named and is valid, and the tasks of
/// the jobs (or of the queue).
#[derive(Default)]
pub struct Inputs {
    /// The fleet file's path and request.
    pub fleet_file: Option<(PathBuf, Value)>,
    /// Every task of the jobs, in order.
    pub tasks: Vec<Task>,
}

/// Reads `paths`, reporting each as a `job` or `fleet-file` finding, a file named twice or
/// one neither as an `input` problem; when no file but a fleet file was named, takes the
/// tasks of the embedded queue (read-only).
pub fn read(config: &Config, paths: &[PathBuf], out: &mut Findings) -> std::io::Result<Inputs> {
    let mut inputs = Inputs::default();
    // Files named that are not fleet files: the queue is read only when there are none.
    let mut jobs = 0;
    let mut seen = Vec::new();
    let mut fleet_files = 0;
    for path in paths {
        let subject = path.display().to_string();
        let same = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if seen.contains(&same) {
            jobs += 1;
            out.add(Finding::problem(
                "input",
                subject,
                "named twice: its groups would be counted twice",
                "name each job file once",
            ))?;
            continue;
        }
        seen.push(same);
        let text = match dcp_common::text::read(path) {
            Ok(text) => text,
            Err(e) => {
                jobs += 1;
                out.add(Finding::problem(
                    "input",
                    subject,
                    e.to_string(),
                    "name a readable job file or fleet file",
                ))?;
                continue;
            }
        };
        match kind(path, &text) {
            Kind::Fleet if fleet_files > 0 => {
                fleet_files += 1;
                out.add(Finding::problem(
                    "fleet-file",
                    subject,
                    "a second fleet file: a run starts from one (`dcp-fleet start FLEET.json`)",
                    "name the one fleet file the run starts with",
                ))?;
            }
            Kind::Fleet => {
                fleet_files += 1;
                let finding = match crate::fleet_file::read(path) {
                    Ok(read) => {
                        inputs.fleet_file = Some((path.clone(), read.value));
                        Finding::ok("fleet-file", subject, "a valid Spot Fleet request")
                    }
                    Err(e) => Finding::problem(
                        "fleet-file",
                        subject,
                        e.to_string(),
                        "correct the fleet file at the line and field named",
                    ),
                };
                out.add(finding)?;
            }
            Kind::Job(lines) => {
                jobs += 1;
                let parsed = if lines {
                    read_task_lines(&text, &subject)
                } else {
                    dcp_common::parse_job(&text, &subject)
                };
                match parsed.and_then(|set| tasks_of(set, &subject)) {
                    Ok(tasks) => {
                        out.add(Finding::ok(
                            "job",
                            subject,
                            format!(
                                "{} groups, each with its output prefix inside its bucket",
                                tasks.len()
                            ),
                        ))?;
                        inputs.tasks.extend(tasks);
                    }
                    Err(errors) => out.add(job_problem(&subject, &errors))?,
                }
            }
            Kind::Neither => {
                jobs += 1;
                out.add(Finding::problem(
                    "input",
                    subject,
                    "neither a DCP job file (no `groups`) nor a fleet file (no \
                     `LaunchSpecifications`)",
                    "name the run's fleet file and its job files",
                ))?
            }
        }
    }
    if jobs == 0 {
        queued(config, &mut inputs, out)?;
    }
    Ok(inputs)
}

/// What a file is.
enum Kind {
    /// A job: JSON Lines of message bodies (`true`), or a job file.
    Job(bool),
    Fleet,
    Neither,
}

fn kind(path: &Path, text: &str) -> Kind {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
    {
        return Kind::Job(true);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(top)) if top.contains_key("groups") => Kind::Job(false),
        Ok(Value::Object(top))
            if top.contains_key("LaunchSpecifications") || top.contains_key("IamFleetRole") =>
        {
            Kind::Fleet
        }
        // A job that is not JSON is refused with its line by the job reader.
        Err(_) if !text.contains("LaunchSpecifications") => Kind::Job(false),
        _ => Kind::Neither,
    }
}

/// The tasks of a validated set (each body was checked as it was added).
fn tasks_of(set: TaskSet, origin: &str) -> Result<Vec<Task>, JobErrors> {
    set.bodies()
        .iter()
        .map(|body| {
            Task::from_body(body).map_err(|e| JobErrors::one(origin, 1, "task", e.to_string()))
        })
        .collect()
}

fn job_problem(subject: &str, errors: &JobErrors) -> Finding {
    // A job-wide field (`output`, `pipeline`) is refused once per group: say it once,
    // with the groups' lines.
    let mut each: Vec<(&dcp_common::JobError, Vec<usize>)> = Vec::new();
    for error in &errors.errors {
        let same = |(seen, _): &&mut (&dcp_common::JobError, Vec<usize>)| {
            (&seen.origin, &seen.field, &seen.message)
                == (&error.origin, &error.field, &error.message)
        };
        match each.iter_mut().find(|e| same(e)) {
            Some((_, lines)) => lines.push(error.line),
            None => each.push((error, vec![error.line])),
        }
    }
    let each: Vec<String> = each
        .into_iter()
        .map(|(error, lines)| {
            let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
            format!(
                "{}:{}: {}: {}",
                error.origin,
                lines.join(","),
                error.field,
                error.message
            )
        })
        .collect();
    let mut detail = first_few(&each, 5);
    if errors.total > errors.errors.len() {
        detail.push_str(&format!(" ({} problems in all)", errors.total));
    }
    Finding::problem(
        "job",
        subject,
        detail,
        "correct the job at the lines and fields named (dcp-queue push refuses it as it is)",
    )
}

/// The tasks waiting in the embedded queue, read without receiving them. SQS cannot be
/// read without receiving, which counts towards JOB_RETRIES, so on AWS the jobs must be
/// named.
fn queued(config: &Config, inputs: &mut Inputs, out: &mut Findings) -> std::io::Result<()> {
    let queue = &config.sqs_queue_name;
    if config.backend == Backend::Aws {
        return out.add(Finding::skipped(
            "job",
            queue,
            "no job named, and SQS cannot show queued tasks without receiving them (which \
             counts towards JOB_RETRIES): name the job files to check their groups and images",
        ));
    }
    let bodies = match EmbeddedQueue::peek_bodies(&config.queue_file, queue) {
        Ok(Some(bodies)) if !bodies.is_empty() => bodies,
        Ok(_) => {
            return out.add(Finding::skipped(
                "job",
                queue,
                "no job named and no task queued: name the job files to check their groups \
                 and images",
            ));
        }
        Err(e) => {
            return out.add(Finding::problem(
                "queue",
                queue,
                e.to_string(),
                "check QUEUE_FILE, or name the job files instead",
            ));
        }
    };
    let mut bad = Vec::new();
    for body in &bodies {
        match Task::from_body(body).and_then(|t| t.resolve().map(|_| t)) {
            Ok(task) => inputs.tasks.push(task),
            Err(e) => bad.push(e.to_string()),
        }
    }
    let finding = if bad.is_empty() {
        Finding::ok("job", queue, format!("{} queued tasks", bodies.len()))
    } else {
        Finding::problem(
            "job",
            queue,
            format!(
                "{} of {} queued tasks cannot run: {}",
                bad.len(),
                bodies.len(),
                first_few(&bad, 3)
            ),
            "purge the queue (dcp-queue purge) and push the corrected job",
        )
    };
    out.add(finding)
}
