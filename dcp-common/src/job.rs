//! DCP job files (reference §2) and the validated set of tasks a push sends.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry};
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::metadata::Metadata;
use crate::task::{Task, TaskError};

pub mod task_lines;

/// The job-level fields of a DCP job file, which every group shares.
///
/// A field may name the group's metadata in braces, e.g.
/// `"data_file": "load_data_csv/Batch1/{Metadata_Plate}/load_data.csv"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct JobTemplate {
    /// Pipeline or batch file, a key in WORKSPACE_BUCKET.
    pub pipeline: String,
    /// Load-data CSV or file list, a key in WORKSPACE_BUCKET.
    pub data_file: String,
    /// Input folder, a key in SOURCE_BUCKET.
    pub input: String,
    /// Output folder, a key in DESTINATION_BUCKET.
    pub output: String,
    /// How metadata names each group's output folder (reference §3).
    #[serde(default)]
    pub output_structure: String,
}

/// The job fields, by the names job files and CSV columns use.
pub const JOB_FIELDS: [&str; 5] = [
    "pipeline",
    "data_file",
    "input",
    "output",
    "output_structure",
];

/// One problem in a job, located by file, line and field.
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    /// The file (or `<stdin>`) the job came from.
    pub origin: String,
    /// 1-based line of the group, row or key at fault.
    pub line: usize,
    /// The field at fault (`Metadata`, `pipeline`, a CSV column, …).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.origin, self.line, self.field, self.message
        )
    }
}

/// Every problem found in a job (up to [`JobErrors::LIMIT`] are kept); nothing of it was sent.
#[derive(Debug, Clone, Default, PartialEq, thiserror::Error)]
pub struct JobErrors {
    /// The problems kept, in input order.
    pub errors: Vec<JobError>,
    /// How many problems were found in all.
    pub total: usize,
}

impl JobErrors {
    /// How many problems are kept for the report.
    pub const LIMIT: usize = 20;

    /// A report of a single problem.
    pub fn one(origin: &str, line: usize, field: &str, message: impl Into<String>) -> Self {
        let mut errors = JobErrors::default();
        errors.push(JobError {
            origin: origin.to_owned(),
            line,
            field: field.to_owned(),
            message: message.into(),
        });
        errors
    }

    /// Records one more problem.
    pub fn push(&mut self, error: JobError) {
        self.total += 1;
        if self.errors.len() < Self::LIMIT {
            self.errors.push(error);
        }
    }
}

impl fmt::Display for JobErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the job was refused, nothing was sent:")?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        if self.total > self.errors.len() {
            write!(f, "\n  … and {} more", self.total - self.errors.len())?;
        }
        Ok(())
    }
}

impl JobTemplate {
    /// Sets a job field by its name; `false` when `field` is not one of [`JOB_FIELDS`].
    pub fn set(&mut self, field: &str, value: String) -> bool {
        let slot = match field {
            "pipeline" => &mut self.pipeline,
            "data_file" => &mut self.data_file,
            "input" => &mut self.input,
            "output" => &mut self.output,
            "output_structure" => &mut self.output_structure,
            _ => return false,
        };
        *slot = value;
        true
    }

    /// The task of one group, its `{Metadata_…}` placeholders filled and every field checked.
    /// On error, returns the field at fault and what is wrong with it.
    pub fn task(&self, metadata: Metadata) -> Result<PlannedTask, (String, String)> {
        let fields = [&self.pipeline, &self.data_file, &self.input, &self.output];
        if let Some(i) = fields.iter().position(|f| f.is_empty()) {
            return Err((
                JOB_FIELDS[i].to_owned(),
                "missing: give it in the job file or as a CSV column".into(),
            ));
        }
        let pairs = metadata
            .pairs()
            .map_err(|e| ("Metadata".to_owned(), e.to_string()))?;
        let fill = |field: &str, text: &str| {
            fill_placeholders(text, &pairs).map_err(|m| (field.to_owned(), m))
        };
        let task = Task {
            metadata,
            pipeline: fill("pipeline", &self.pipeline)?,
            output: fill("output", &self.output)?,
            input: fill("input", &self.input)?,
            data_file: fill("data_file", &self.data_file)?,
            output_structure: self.output_structure.clone(),
        };
        let prefix = task.locate(&pairs).map_err(|e| match e {
            TaskError::Location { field, source } => (field.to_owned(), source.to_string()),
            e @ TaskError::BatchPipeline { .. } => ("pipeline".to_owned(), e.to_string()),
            other => ("Metadata".to_owned(), other.to_string()),
        })?;
        Ok(PlannedTask {
            task,
            pairs,
            prefix,
        })
    }
}

fn fill_placeholders(text: &str, pairs: &[(String, String)]) -> Result<String, String> {
    if !text.contains(['{', '}']) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .filter(|_| rest.as_bytes()[open] == b'{');
        let Some(close) = close.map(|c| open + c) else {
            return Err(format!("unbalanced braces in `{text}`"));
        };
        let key = &rest[open + 1..close];
        match pairs.iter().find(|(k, _)| k == key) {
            Some((_, value)) => out.push_str(value),
            None => return Err(format!("`{{{key}}}` names metadata this group lacks")),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A checked task with its group's key/value pairs and its output prefix.
#[derive(Debug)]
pub struct PlannedTask {
    /// The task.
    pub task: Task,
    /// Its group's key/value pairs, in the job's order.
    pub pairs: Vec<(String, String)>,
    /// Its output prefix.
    pub prefix: String,
}

/// The validated tasks of a push, as queue message bodies, refusing a group that repeats
/// another. Groups may share an output prefix, or write into one another's, as DCP allows
/// (publishing merges); the same group twice in one output prefix is one task sent twice.
#[derive(Debug, Default)]
pub struct TaskSet {
    bodies: Vec<String>,
    /// The line of each group, by a hash of its sorted pairs and output prefix.
    groups: HashMap<u64, usize>,
}

impl TaskSet {
    /// Adds a task found at `line`; a duplicate's message names the earlier line.
    pub fn add(&mut self, line: usize, planned: PlannedTask) -> Result<(), String> {
        let PlannedTask {
            task,
            mut pairs,
            prefix,
        } = planned;
        pairs.sort_unstable();
        let mut h = DefaultHasher::new();
        (pairs, &prefix).hash(&mut h);
        match self.groups.entry(h.finish()) {
            Entry::Occupied(seen) => Err(format!(
                "duplicate of the group at line {}: same metadata, same output prefix `{prefix}`",
                seen.get()
            )),
            Entry::Vacant(slot) => {
                slot.insert(line);
                self.bodies.push(task.to_body());
                Ok(())
            }
        }
    }

    /// The message bodies, in input order.
    pub fn bodies(&self) -> &[String] {
        &self.bodies
    }

    /// Takes the message bodies, in input order.
    pub fn into_bodies(self) -> Vec<String> {
        self.bodies
    }
}

/// Reads a DCP job file: validates every group (all problems reported at once, with
/// their lines) and returns the tasks only if all are valid.
pub fn parse_job(text: &str, origin: &str) -> Result<TaskSet, JobErrors> {
    let lines = LineIndex::new(text);
    let (template, groups) = read_top(text, origin, &lines, true)?;
    let err = |line, field: &str, message: &str| JobErrors::one(origin, line, field, message);
    let groups = groups.ok_or_else(|| err(1, "groups", "missing"))?;
    if groups.is_empty() {
        return Err(err(1, "groups", "is empty"));
    }
    let mut tasks = TaskSet::default();
    let mut errors = JobErrors::default();
    for raw in groups {
        let line = lines.line_of(text, raw.get());
        let result = group_metadata(raw.get())
            .map_err(|m| ("Metadata".to_owned(), m))
            .and_then(|metadata| template.task(metadata))
            .and_then(|planned| {
                tasks
                    .add(line, planned)
                    .map_err(|m| ("Metadata".to_owned(), m))
            });
        if let Err((field, message)) = result {
            errors.push(JobError {
                origin: origin.to_owned(),
                line,
                field,
                message,
            });
        }
    }
    if errors.total > 0 {
        Err(errors)
    } else {
        Ok(tasks)
    }
}

/// Reads the job-level fields of a job file used as a template for the groups of a CSV.
/// Fields may be left out when CSV columns give them; `groups` is refused, since the CSV
/// rows are the groups.
pub fn parse_template(text: &str, origin: &str) -> Result<JobTemplate, JobErrors> {
    let lines = LineIndex::new(text);
    match read_top(text, origin, &lines, false)? {
        (template, None) => Ok(template),
        (_, Some(_)) => Err(JobErrors::one(
            origin,
            1,
            "groups",
            "not allowed in a template: the CSV rows are the groups",
        )),
    }
}

/// The job fields and the raw groups of a job file; with `require_fields`, each of the
/// four path fields must be present.
fn read_top<'a>(
    text: &'a str,
    origin: &str,
    lines: &LineIndex,
    require_fields: bool,
) -> Result<(JobTemplate, Option<Vec<&'a RawValue>>), JobErrors> {
    let top =
        parse_top(text).map_err(|e| JobErrors::one(origin, e.line(), "job", e.to_string()))?;
    let mut template = JobTemplate::default();
    let mut groups = None;
    let mut errors = JobErrors::default();
    let mut missing: Vec<&str> = if require_fields {
        JOB_FIELDS[..4].to_vec()
    } else {
        Vec::new()
    };
    for (key, raw) in top {
        let line = lines.line_of(text, raw.get());
        let wrong = |m: String| JobError {
            origin: origin.to_owned(),
            line,
            field: key.clone(),
            message: m,
        };
        if key.starts_with('_') {
            continue;
        } else if key == "groups" {
            match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                Ok(list) => groups = Some(list),
                Err(e) => errors.push(wrong(format!("must be a list of groups: {e}"))),
            }
        } else if JOB_FIELDS.contains(&key.as_str()) {
            missing.retain(|m| *m != key);
            match serde_json::from_str::<String>(raw.get()) {
                Ok(value) => {
                    template.set(&key, value);
                }
                Err(_) => errors.push(wrong("must be a string".into())),
            }
        } else {
            errors.push(wrong(format!(
                "unknown key (expected one of {}, groups, or _comments)",
                JOB_FIELDS.join(", ")
            )));
        }
    }
    for field in missing {
        errors.push(JobError {
            origin: origin.to_owned(),
            line: 1,
            field: field.to_owned(),
            message: "missing".into(),
        });
    }
    if errors.total > 0 {
        Err(errors)
    } else {
        Ok((template, groups))
    }
}

fn parse_top(text: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    let map: indexed::Top<'_> = serde_json::from_str(text)?;
    Ok(map.0)
}

/// A group is `{"Metadata": "…" | {…}}`, or (as `cellprofiler --print-groups` writes it) the
/// metadata object itself, as DCP's submitJob accepts.
fn group_metadata(raw: &str) -> Result<Metadata, String> {
    let mut group: Map<String, Value> =
        serde_json::from_str(raw).map_err(|_| "a group must be an object".to_owned())?;
    group.retain(|k, _| !k.starts_with('_'));
    match group.remove("Metadata") {
        Some(value) if group.is_empty() => {
            serde_json::from_value(value).map_err(|_| "must be a string or an object".to_owned())
        }
        Some(_) => Err(format!(
            "unexpected keys beside Metadata: {}",
            group.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        None => Ok(Metadata::Fields(group)),
    }
}

mod indexed {
    //! The top level of a job file as ordered (key, raw value) pairs, so values keep their
    //! place in the text and errors can name lines.
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;
    use std::fmt;

    pub struct Top<'a>(pub Vec<(String, &'a RawValue)>);

    impl<'de: 'a, 'a> Deserialize<'de> for Top<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Top<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a job object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                        pairs.push(entry);
                    }
                    Ok(Top(pairs))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// Finds the line of a slice of the job text.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    fn line_of(&self, text: &str, part: &str) -> usize {
        let offset = part.as_ptr() as usize - text.as_ptr() as usize;
        self.starts.partition_point(|&s| s <= offset)
    }
}

#[cfg(test)]
mod tests;
