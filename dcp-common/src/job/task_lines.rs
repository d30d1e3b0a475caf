//! Tasks from JSON Lines of DCP message bodies, one task per line: what
//! `dcp-queue push --dry-run` prints, and what a failed push on SQS writes of the tasks it
//! did not send.

use crate::task::TaskError;
use crate::{JobError, JobErrors, Metadata, PlannedTask, Task, TaskSet};
use serde_json::{Map, Value};

/// The keys of a DCP message body, in its order; `output_structure` may be left out.
const BODY_KEYS: [&str; 6] = [
    "Metadata",
    "pipeline",
    "output",
    "input",
    "data_file",
    "output_structure",
];

/// Reads one DCP message body per line (blank lines are skipped) and returns every task,
/// validated as a job's are; all problems are reported with their line and field, and
/// nothing is returned unless every line is valid.
pub fn read_task_lines(text: &str, origin: &str) -> Result<TaskSet, JobErrors> {
    let mut tasks = TaskSet::default();
    let mut errors = JobErrors::default();
    let mut lines = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let number = index + 1;
        let result = task_of(line).and_then(|planned| {
            tasks
                .add(number, planned)
                .map_err(|m| ("Metadata".to_owned(), m))
        });
        if let Err((field, message)) = result {
            errors.push(JobError {
                origin: origin.to_owned(),
                line: number,
                field,
                message,
            });
        }
    }
    if lines == 0 {
        errors.push(JobError {
            origin: origin.to_owned(),
            line: 1,
            field: "task".to_owned(),
            message: "no tasks: expected one DCP message body per line".to_owned(),
        });
    }
    if errors.total > 0 {
        Err(errors)
    } else {
        Ok(tasks)
    }
}

/// One line's task, checked; on error, the field at fault and what is wrong with it.
fn task_of(line: &str) -> Result<PlannedTask, (String, String)> {
    let mut body: Map<String, Value> = serde_json::from_str(line)
        .map_err(|e| ("task".to_owned(), format!("not a JSON object: {e}")))?;
    if let Some(unknown) = body.keys().find(|k| !BODY_KEYS.contains(&k.as_str())) {
        return Err((
            unknown.clone(),
            format!("unknown key (expected {})", BODY_KEYS.join(", ")),
        ));
    }
    let metadata = body
        .remove("Metadata")
        .ok_or_else(|| missing("Metadata"))
        .and_then(|v| {
            serde_json::from_value::<Metadata>(v).map_err(|_| {
                (
                    "Metadata".to_owned(),
                    "must be a string or an object".into(),
                )
            })
        })?;
    let mut text = |key: &str, required: bool| match body.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err((key.to_owned(), "must be a string".to_owned())),
        None if required => Err(missing(key)),
        None => Ok(String::new()),
    };
    let task = Task {
        metadata,
        pipeline: text("pipeline", true)?,
        output: text("output", true)?,
        input: text("input", true)?,
        data_file: text("data_file", true)?,
        output_structure: text("output_structure", false)?,
    };
    let (pairs, prefix) = task.resolve().map_err(|e| match e {
        TaskError::Location { field, source } => (field.to_owned(), source.to_string()),
        TaskError::Metadata(e) => ("Metadata".to_owned(), e.to_string()),
        TaskError::Body(m) => ("task".to_owned(), m),
        e @ TaskError::BatchPipeline { .. } => ("pipeline".to_owned(), e.to_string()),
    })?;
    Ok(PlannedTask {
        task,
        pairs,
        prefix,
    })
}

fn missing(key: &str) -> (String, String) {
    (key.to_owned(), "missing".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"Metadata": "Metadata_Position=2", "pipeline": "w/ExampleFly.cppipe", "output": "out", "input": "w/", "data_file": "w/load_data.csv", "output_structure": "Metadata_Position"}"#;

    fn refused(text: &str) -> Vec<String> {
        let errors = read_task_lines(text, "unsent.jsonl").unwrap_err();
        errors.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn bodies_come_back_byte_for_byte() {
        let text = format!("{BODY}\n\n{}\n", BODY.replace("=2", "=76"));
        let tasks = read_task_lines(&text, "unsent.jsonl").unwrap();
        assert_eq!(tasks.bodies(), [BODY.to_owned(), BODY.replace("=2", "=76")]);
    }

    #[test]
    fn each_bad_line_is_named_with_its_field() {
        let text = [
            BODY,
            "not json",
            &BODY.replace("\"input\"", "\"inptu\""),
            &BODY.replace(r#""pipeline": "w/ExampleFly.cppipe", "#, ""),
            &BODY.replace("\"out\"", "3"),
            &BODY.replace("=2", "=../2"),
            BODY,
        ]
        .join("\n");
        let errors = refused(&text);
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert!(errors[0].starts_with("unsent.jsonl:2: task: not a JSON object"));
        assert!(errors[1].starts_with("unsent.jsonl:3: inptu: unknown key"));
        assert_eq!(errors[2], "unsent.jsonl:4: pipeline: missing");
        assert_eq!(errors[3], "unsent.jsonl:5: output: must be a string");
        assert!(errors[4].starts_with("unsent.jsonl:6: Metadata: the value `../2`"));
        assert_eq!(
            errors[5],
            "unsent.jsonl:7: Metadata: duplicate of the group at line 1: same metadata, same \
             output prefix `out/2`"
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert_eq!(
            refused("\n"),
            ["unsent.jsonl:1: task: no tasks: expected one DCP message body per line"]
        );
    }
}
