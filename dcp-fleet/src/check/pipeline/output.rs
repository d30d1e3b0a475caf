//! `pipeline-output`: whether every module that runs writes into the Default Output Folder
//! ([`dcp_common::pipeline_load::output_folder`]), as written and, for an output
//! sub-folder with metadata tags, as CellProfiler fills it from each group's load-data rows
//! (the worker's own judgement, [`tagged`]). One writing elsewhere writes into a bucket, or
//! where no task publishes; the worker refuses it, and so does the pilot.

use std::collections::BTreeMap;

use dcp_common::Task;
use dcp_common::loaddata::LoadData;
use dcp_common::pipeline_load::PipelineLoad;
use dcp_common::pipeline_load::output_folder::{OUTSIDE_FIX, TAGGED_FIX, Tagged, tagged};

use super::super::data::Fetched;
use super::super::{Finding, first_few};

const CHECK: &str = "pipeline-output";

/// How many findings of tagged sub-folders a problem names.
const SHOWN: usize = 3;

/// The `pipeline-output` finding of the pipeline `key`, loaded as `load`, run by `tasks`
/// with the data files of `fetched`.
pub fn finding(key: &str, load: &PipelineLoad, tasks: &[Task], fetched: &Fetched) -> Finding {
    if let Some(outside) = load.outside_findings() {
        return Finding::problem(CHECK, key, outside, OUTSIDE_FIX);
    }
    let tagged = load.tagged_outputs();
    let found = if tagged.is_empty() {
        Vec::new()
    } else {
        tagged_findings(key, &tagged, tasks, fetched)
    };
    match found.as_slice() {
        [] if tagged.is_empty() => Finding::ok(
            CHECK,
            key,
            "every module writes into the Default Output Folder",
        ),
        [] => Finding::ok(
            CHECK,
            key,
            "every module writes into the Default Output Folder, its metadata tags filled \
             from each group's load-data rows",
        ),
        _ => Finding::problem(CHECK, key, first_few(&found, SHOWN), TAGGED_FIX),
    }
}

/// What [`tagged`] finds for the group of each task of the pipeline `key`, each once. A
/// data file not fetched, or a group selecting no rows, is the data checks' finding.
fn tagged_findings(key: &str, tagged: &[Tagged], tasks: &[Task], fetched: &Fetched) -> Vec<String> {
    let mut parsed: BTreeMap<&str, Option<LoadData>> = BTreeMap::new();
    let mut found: Vec<String> = Vec::new();
    for task in tasks.iter().filter(|t| t.pipeline == key) {
        let Some(path) = fetched.data_files.get(&task.data_file) else {
            continue;
        };
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let finding = match extension.as_deref() {
            Some("csv") => {
                let data = parsed.entry(&task.data_file).or_insert_with(|| {
                    let text = std::fs::read(path).ok()?;
                    LoadData::parse(&text).ok()
                });
                let rows = task
                    .resolve()
                    .ok()
                    .zip(data.as_ref())
                    .and_then(|((pairs, _), data)| data.select(&pairs).ok());
                rows.and_then(|rows| tagged::group_findings(tagged, &task.data_file, &rows))
            }
            _ => tagged::unreadable_findings(tagged, &task.data_file),
        };
        if let Some(finding) = finding
            && !found.contains(&finding)
        {
            found.push(finding);
        }
    }
    found
}
