//! A batch-file job (`Batch_data.h5`, written by CreateBatchFiles, as both pipeline and
//! data file): its groups read as the worker reads them, with CellProfiler's own Python
//! ([`GroupImages::read_groups`], one process for all the groups).

use std::path::Path;

use dcp_common::loaddata::Object;
use dcp_common::metadata::join_pairs;
use dcp_common::{Config, Task};
use dcp_worker::batch::{BatchError, GroupImages};

use crate::check::{Finding, Findings, first_few};

/// Checks that the batch file (the job's `data_file`, fetched to `path`) is one and that
/// each task's group selects image sets of it whose images lie in the run's buckets;
/// returns those images, each once, for the image check.
pub async fn groups(
    config: &Config,
    data_file: &str,
    path: &Path,
    tasks: &[&Task],
    scratch: &Path,
    out: &mut Findings<'_>,
) -> std::io::Result<Vec<Object>> {
    let mut named = Vec::new();
    let mut pairs_of = Vec::new();
    for task in tasks {
        match task.metadata.pairs() {
            Ok(pairs) => {
                named.push(join_pairs(&pairs));
                pairs_of.push(pairs);
            }
            // The job check has reported it.
            Err(_) => continue,
        }
    }
    let helper_dir = scratch.join("batch-helper");
    std::fs::create_dir_all(&helper_dir)?;
    let replies = match GroupImages::read_groups(config, &helper_dir, path, &pairs_of).await {
        Ok(replies) => replies,
        Err(e @ BatchError::Refused { .. }) => {
            out.add(Finding::problem(
                "data-file",
                data_file,
                e.to_string(),
                "give the job the Batch_data.h5 that CreateBatchFiles wrote in batch mode, \
                 as both its pipeline and its data_file",
            ))?;
            return Ok(Vec::new());
        }
        Err(e) => {
            out.add(Finding::skipped(
                "groups",
                data_file,
                format!("the batch file could not be read: {e}"),
            ))?;
            return Ok(Vec::new());
        }
    };
    let mut objects = Vec::new();
    let mut refused = Vec::new();
    let mut images = 0;
    for (group, reply) in named.iter().zip(replies) {
        match reply {
            Ok(found) => {
                let found = found.objects();
                images += found.len();
                objects.extend(found);
            }
            Err(e) => refused.push(format!("{group}: {}", reason(&e))),
        }
    }
    objects.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
    objects.dedup();
    let finding = if refused.is_empty() {
        Finding::ok(
            "groups",
            data_file,
            format!(
                "each of {} groups selects image sets of the batch file ({images} images in all)",
                named.len()
            ),
        )
    } else {
        Finding::problem(
            "groups",
            data_file,
            format!(
                "{} of {} groups cannot run: {}",
                refused.len(),
                named.len(),
                first_few(&refused, 3)
            ),
            "correct those groups' Metadata in the job to the batch file's groups, or make \
             the batch file again (CreateBatchFiles) grouping by the job's keys with paths \
             mapped to MOUNT_ROOT",
        )
    };
    out.add(finding)?;
    Ok(objects)
}

/// A group's refusal without the batch file's path, which the finding names already.
fn reason(error: &BatchError) -> String {
    match error {
        BatchError::Refused { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
