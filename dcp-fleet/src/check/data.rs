//! The job and its data, on either backend: the pipeline and data file of every task exist
//! in WORKSPACE_BUCKET, every group selects rows of its load-data CSV as CellProfiler's `-g`
//! will ([`LoadData::select`], the worker's own selection) or image sets of its batch file
//! ([`batch`], the worker's own reading), and the images those rows name
//! exist in the run's buckets ([`Buckets::locate`], the worker's own mapping): every one
//! up to [`IMAGE_SAMPLE`] images, else an evenly spread sample of that many.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use dcp_common::loaddata::{Buckets, LoadData, Object, file_list_objects};
use dcp_common::metadata::join_pairs;
use dcp_common::{Config, Store, Task};

use super::{Finding, Findings, first_few};

mod batch;
mod images;

pub use images::IMAGE_SAMPLE;

/// The tasks' files, fetched: the local path of each pipeline and data file that exists.
#[derive(Default)]
pub struct Fetched {
    /// Pipeline key → local path.
    pub pipelines: BTreeMap<String, PathBuf>,
    /// Data file key → local path.
    pub data_files: BTreeMap<String, PathBuf>,
}

/// Checks the tasks' data (see the module's documentation), fetching pipelines and data
/// files into `scratch`; returns what it fetched, for the pipeline checks.
pub async fn check(
    config: &Config,
    store: &impl Store,
    tasks: &[Task],
    scratch: &Path,
    out: &mut Findings<'_>,
) -> std::io::Result<Fetched> {
    let mut fetched = Fetched::default();
    let workspace = &config.workspace_bucket;
    let mut by_data_file: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for task in tasks {
        by_data_file.entry(&task.data_file).or_default().push(task);
    }
    let pipelines: BTreeMap<&str, ()> = tasks.iter().map(|t| (t.pipeline.as_str(), ())).collect();
    for pipeline in pipelines.keys() {
        if let Some(path) = fetch(store, "pipeline", workspace, pipeline, scratch, out).await? {
            fetched.pipelines.insert(pipeline.to_string(), path);
        }
    }
    let buckets = Buckets::of(config);
    let mut images: Vec<(&str, Object)> = Vec::new();
    for (data_file, tasks) in &by_data_file {
        let path = match fetched.pipelines.get(*data_file) {
            Some(path) => Some(path.clone()),
            None => fetch(store, "data-file", workspace, data_file, scratch, out).await?,
        };
        let Some(path) = path else { continue };
        fetched
            .data_files
            .insert(data_file.to_string(), path.clone());
        let found = if is_batch_file(&path) {
            batch::groups(config, data_file, &path, tasks, scratch, out).await?
        } else {
            groups(data_file, &path, tasks, &buckets, out)?
        };
        for object in found {
            images.push((data_file, object));
        }
    }
    images::look_up(store, &images, out).await?;
    Ok(fetched)
}

/// Fetches `key` of `bucket`, reporting a missing or empty file as a problem.
async fn fetch(
    store: &impl Store,
    check: &'static str,
    bucket: &str,
    key: &str,
    scratch: &Path,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<PathBuf>> {
    let field = if check == "pipeline" {
        "pipeline"
    } else {
        "data_file"
    };
    let missing = |detail: String| {
        Finding::problem(
            check,
            key,
            detail,
            format!(
                "upload it to WORKSPACE_BUCKET `{bucket}` at `{key}`, or correct the job's \
                 `{field}`"
            ),
        )
    };
    match store.size(bucket, key).await {
        Ok(Some(0)) => {
            out.add(missing(format!("is empty in WORKSPACE_BUCKET `{bucket}`")))?;
            return Ok(None);
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            out.add(missing(format!("is not in WORKSPACE_BUCKET `{bucket}`")))?;
            return Ok(None);
        }
        Err(e) => {
            out.add(Finding::problem(
                check,
                key,
                e.to_string(),
                "make WORKSPACE_BUCKET readable to this account",
            ))?;
            return Ok(None);
        }
    }
    let folder = scratch.join(format!("{check}-{}", scratch_name(key)));
    std::fs::create_dir_all(&folder)?;
    match store.fetch(bucket, &[key.to_owned()], &folder).await {
        Ok(mut paths) if paths.len() == 1 => {
            let path = paths.remove(0);
            out.add(Finding::ok(
                check,
                key,
                format!("in WORKSPACE_BUCKET `{bucket}`"),
            ))?;
            Ok(Some(path))
        }
        Ok(_) => unreachable!("one key fetched gives one path"),
        Err(e) => {
            out.add(Finding::problem(
                check,
                key,
                e.to_string(),
                "make WORKSPACE_BUCKET readable to this account",
            ))?;
            Ok(None)
        }
    }
}

/// Whether the file is a CreateBatchFiles batch file (`.h5`), as the worker decides.
fn is_batch_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("h5"))
}

/// A folder name for a key: its characters other than letters and digits as `_`.
fn scratch_name(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Checks that each task's group selects rows of `data_file` (at `path`) and returns the
/// images the groups load, each once.
fn groups(
    data_file: &str,
    path: &Path,
    tasks: &[&Task],
    buckets: &Buckets<'_>,
    out: &mut Findings<'_>,
) -> std::io::Result<Vec<Object>> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let unusable = |detail: String| {
        Finding::problem(
            "groups",
            data_file,
            detail,
            "correct the load-data file at the line named",
        )
    };
    match extension.as_deref() {
        Some("csv") => {}
        Some("txt") => {
            let text = String::from_utf8_lossy(&std::fs::read(path)?).into_owned();
            return match file_list_objects(&text, buckets) {
                Ok(objects) => {
                    out.add(Finding::skipped(
                        "groups",
                        data_file,
                        "a file list has no rows to select: every task runs the whole list, \
                         grouped by the pipeline's Metadata and Groups modules",
                    ))?;
                    Ok(objects)
                }
                Err(e) => {
                    out.add(unusable(e.to_string()))?;
                    Ok(Vec::new())
                }
            };
        }
        _ => {
            out.add(Finding::problem(
                "data-file",
                data_file,
                "is not a .csv load-data file, a .txt file list or a .h5 batch file",
                "give the job a data_file ending in .csv, .txt or .h5, as the worker requires",
            ))?;
            return Ok(Vec::new());
        }
    }
    let data = match LoadData::parse(&std::fs::read(path)?) {
        Ok(data) => data,
        Err(e) => {
            out.add(unusable(e.to_string()))?;
            return Ok(Vec::new());
        }
    };
    let mut objects = Vec::new();
    let mut seen = HashSet::new();
    let (mut unmatched, mut refused) = (Vec::new(), Vec::new());
    let mut rows = 0;
    for task in tasks {
        let pairs = match task.metadata.pairs() {
            Ok(pairs) => pairs,
            Err(e) => {
                let written = serde_json::to_string(&task.metadata).unwrap_or_default();
                unmatched.push(format!("{written}: {e}"));
                continue;
            }
        };
        let group = join_pairs(&pairs);
        let selected = match data.select(&pairs) {
            Ok(selected) => selected,
            Err(e) => {
                unmatched.push(format!("{group}: {e}"));
                continue;
            }
        };
        rows += selected.len();
        match selected.objects(buckets) {
            Ok(found) => objects.extend(found.into_iter().filter(|o| seen.insert(o.clone()))),
            Err(e) => refused.push(format!("{group}: {e}")),
        }
    }
    let finding = if unmatched.is_empty() {
        Finding::ok(
            "groups",
            data_file,
            format!(
                "each of {} groups selects rows ({rows} of the file's {} rows in all)",
                tasks.len(),
                data.len()
            ),
        )
    } else {
        Finding::problem(
            "groups",
            data_file,
            format!(
                "{} of {} groups select no row: {}",
                unmatched.len(),
                tasks.len(),
                first_few(&unmatched, 3)
            ),
            "correct those groups' Metadata in the job, or give the job the load-data file \
             that has their rows",
        )
    };
    out.add(finding)?;
    if !refused.is_empty() {
        out.add(Finding::problem(
            "image-paths",
            data_file,
            format!(
                "{} groups name files the run may not read: {}",
                refused.len(),
                first_few(&refused, 3)
            ),
            format!(
                "point the rows' PathName/FileName at paths under MOUNT_ROOT `{}` (or URLs at \
                 s3:// URLs of the run's buckets)",
                buckets.mount_root
            ),
        ))?;
    }
    Ok(objects)
}
