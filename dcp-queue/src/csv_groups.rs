//! Groups from a CSV: one group per row, its `Metadata_*` columns the group's metadata,
//! columns named like job fields overriding the job for that row, and each row expanded by
//! a plate [`Layout`].

use dcp_common::job::JOB_FIELDS;
use dcp_common::metadata::join_pairs;
use dcp_common::{JobError, JobErrors, JobTemplate, Metadata, TaskSet};

use crate::layout::Layout;

enum Column {
    Metadata(String),
    Field(String),
    /// A column with no name, as Excel writes for a column once used: it must stay empty.
    Unnamed,
}

/// Reads a CSV of groups and returns every task, validated; all problems are reported with
/// their CSV line and column, and nothing is returned unless every row is valid.
pub fn read_groups(
    input: &[u8],
    origin: &str,
    template: &JobTemplate,
    layout: &Layout,
) -> Result<TaskSet, JobErrors> {
    let error = |line: u64, field: &str, message: String| JobError {
        origin: origin.to_owned(),
        line: line as usize,
        field: field.to_owned(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| JobErrors::one(origin, 1, "header", e.to_string()))?
        .clone();
    let mut errors = JobErrors::default();
    let mut columns = Vec::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        let taken = |key: &str| layout.expands() && layout_key(layout, key);
        if name.is_empty() {
            columns.push(Column::Unnamed);
        } else if headers.iter().take(i).any(|earlier| earlier == name) {
            errors.push(error(1, name, "column appears twice".into()));
        } else if name.starts_with("Metadata_") && !taken(name) {
            columns.push(Column::Metadata(name.to_owned()));
        } else if name.starts_with("Metadata_") {
            errors.push(error(
                1,
                name,
                "also given by --plate-format/--wells/--sites; drop one of them".into(),
            ));
        } else if JOB_FIELDS.contains(&name) {
            columns.push(Column::Field(name.to_owned()));
        } else {
            errors.push(error(
                1,
                name,
                format!(
                    "unknown column: expected Metadata_* or one of {}",
                    JOB_FIELDS.join(", ")
                ),
            ));
        }
    }
    let metadata = columns.iter().any(|c| matches!(c, Column::Metadata(_)));
    if errors.total == 0 && !metadata && !layout.expands() {
        errors.push(error(
            1,
            "header",
            "no Metadata_* column: each row needs its group's metadata".into(),
        ));
    }
    if errors.total > 0 {
        return Err(errors);
    }
    let combinations = layout.combinations();
    let mut tasks = TaskSet::default();
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(error(line, "row", e.to_string()));
                break;
            }
        }
        rows += 1;
        dcp_common::text::at_its_line(&mut record, input);
        let line = record.position().map_or(0, |p| p.line());
        if record.len() < columns.len() {
            let message = format!(
                "has {} cells, but the header has {}",
                record.len(),
                columns.len()
            );
            errors.push(error(line, "row", message));
            continue;
        }
        // Cells past the header, as Excel writes them, are as if under a column with no name.
        let unnamed = (columns.len()..record.len()).map(|_| &Column::Unnamed);
        let named_or_not = columns.iter().chain(unnamed).zip(record.iter());
        if let Some((n, (_, value))) = named_or_not
            .clone()
            .enumerate()
            .find(|(_, (c, v))| matches!(c, Column::Unnamed) && !v.is_empty())
        {
            let message =
                format!("`{value}` is under no column name; name the column or remove the value");
            errors.push(error(line, &format!("column {}", n + 1), message));
            continue;
        }
        let mut row_template = template.clone();
        let mut pairs = Vec::new();
        for (column, value) in named_or_not {
            match column {
                Column::Metadata(key) => pairs.push((key.clone(), value.to_owned())),
                Column::Field(field) if !value.is_empty() => {
                    row_template.set(field, value.to_owned());
                }
                Column::Field(_) | Column::Unnamed => {}
            }
        }
        if tasks.bodies().len() + combinations.len() > MAX_TASKS {
            let message = format!("the job would expand beyond {MAX_TASKS} tasks; split it");
            errors.push(error(line, "row", message));
            break;
        }
        for extra in &combinations {
            let mut group = pairs.clone();
            group.extend(extra.iter().cloned());
            let result = row_template
                .task(Metadata::Text(join_pairs(&group)))
                .and_then(|planned| {
                    tasks
                        .add(line as usize, planned)
                        .map_err(|m| ("Metadata".into(), m))
                });
            if let Err((field, message)) = result {
                errors.push(error(line, &field, message));
                break; // one report per row, not one per well and site
            }
        }
    }
    if rows == 0 && errors.total == 0 {
        errors.push(error(1, "row", "the CSV has no rows".into()));
    }
    if errors.total > 0 {
        Err(errors)
    } else {
        Ok(tasks)
    }
}

/// The most tasks one push may expand into; split larger jobs into batches.
pub const MAX_TASKS: usize = 10_000_000;

fn layout_key(layout: &Layout, key: &str) -> bool {
    (key == "Metadata_Well" && layout.wells.is_some())
        || (key == "Metadata_Site" && layout.sites.is_some())
}

#[cfg(test)]
mod tests;
