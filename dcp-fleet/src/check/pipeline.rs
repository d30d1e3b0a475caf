//! CellProfiler's view of each pipeline, asked of CELLPROFILER's own Python
//! ([`dcp_common::pipeline_load`]): what it loses on load (a lost module writing files means
//! no task can make its outputs, as the worker's load check refuses it), and whether the
//! pipeline's images match the columns of its load-data file (each module's `test_valid`
//! with LoadData reading the file), and whether every module writes into the Default Output
//! Folder ([`output`]). Without CellProfiler's Python these are skipped.

use std::collections::BTreeMap;
use std::path::Path;

use dcp_common::pipeline_load::{self, CheckError};
use dcp_common::{Config, Task};

use super::data::Fetched;
use super::{Finding, Findings, first_few};

mod output;

/// Checks each fetched pipeline, and its columns against the first of its tasks' data
/// files (a pipeline's plates usually share their columns; each load takes seconds).
pub async fn check(
    config: &Config,
    tasks: &[Task],
    fetched: &Fetched,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let plugins = dcp_common::cellprofiler::configured_plugins(config);
    let plugins = plugins.as_deref();
    let mut first_data_file: BTreeMap<&str, &str> = BTreeMap::new();
    for task in tasks {
        first_data_file
            .entry(&task.pipeline)
            .or_insert(&task.data_file);
    }
    for (key, path) in &fetched.pipelines {
        let loaded = pipeline_load::check(&config.cellprofiler, path, plugins).await;
        let usable = loaded.is_ok();
        if let Ok(load) = &loaded {
            out.add(output::finding(key, load, tasks, fetched))?;
        }
        out.add(load_finding(config, key, loaded))?;
        let data_file = first_data_file
            .get(key.as_str())
            .and_then(|d| Some((*d, fetched.data_files.get(*d)?)));
        match data_file {
            Some((data_key, data_path)) if usable && is_csv(data_path) => {
                let found =
                    pipeline_load::validate(&config.cellprofiler, path, data_path, plugins).await;
                out.add(columns_finding(key, data_key, found))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Why CellProfiler could not be asked, as a skipped finding's detail.
fn not_asked(config: &Config, error: &CheckError) -> String {
    format!(
        "CellProfiler could not be asked ({error}); set CELLPROFILER (now `{}`) to the \
         workers' CellProfiler to have it checked",
        config.cellprofiler
    )
}

fn load_finding(
    config: &Config,
    key: &str,
    loaded: Result<pipeline_load::PipelineLoad, CheckError>,
) -> Finding {
    const CHECK: &str = "pipeline-load";
    let load = match loaded {
        Ok(load) => load,
        Err(CheckError::Unloadable(e)) => {
            return Finding::problem(
                CHECK,
                key,
                format!("CellProfiler cannot load the pipeline: {e}"),
                "open the pipeline in the CellProfiler version the workers run and save it again",
            );
        }
        Err(e) => return Finding::skipped(CHECK, key, not_asked(config, &e)),
    };
    let writers = load.lost_file_writers();
    match load.findings() {
        None => Finding::ok(
            CHECK,
            key,
            format!("CellProfiler keeps all {} modules", load.modules.len()),
        ),
        Some(findings) if writers.is_empty() => Finding::ok(CHECK, key, findings),
        Some(findings) => {
            let names: Vec<String> = writers.iter().map(|m| m.label()).collect();
            Finding::problem(
                CHECK,
                key,
                findings,
                format!(
                    "replace {} with modules this CellProfiler has (or install the plugin \
                     that provides them): without them no task makes its outputs",
                    names.join(", ")
                ),
            )
        }
    }
}

fn columns_finding(
    key: &str,
    data_key: &str,
    found: Result<Vec<pipeline_load::Invalid>, CheckError>,
) -> Finding {
    const CHECK: &str = "loaddata-columns";
    let subject = format!("{key} with {data_key}");
    match found {
        Ok(invalid) if invalid.is_empty() => Finding::ok(
            CHECK,
            subject,
            "every module finds the images and settings it names",
        ),
        Ok(invalid) => {
            let each: Vec<String> = invalid
                .iter()
                .map(|m| format!("{} #{}: {}", m.name, m.number, m.message))
                .collect();
            Finding::problem(
                CHECK,
                subject,
                format!(
                    "CellProfiler finds {} modules invalid with this load-data file: {}",
                    invalid.len(),
                    first_few(&each, 3)
                ),
                "name the load-data file's FileName_/PathName_ (or URL_) columns after the \
                 images the pipeline uses, or change the pipeline's image names to the file's",
            )
        }
        Err(e) => Finding::skipped(
            CHECK,
            subject,
            format!("CellProfiler could not be asked: {e}"),
        ),
    }
}
