//! Whether the images a job's groups load exist: every one up to [`IMAGE_SAMPLE`], else an
//! evenly spread sample of that many, looked up without downloading ([`Store::size`]).

use std::collections::BTreeMap;

use dcp_common::Store;
use dcp_common::loaddata::Object;
use futures::StreamExt;

use crate::check::{Finding, Findings, first_few};

/// How many images are looked up at most (one HEAD request each on S3).
pub const IMAGE_SAMPLE: usize = 1000;

/// Requests in flight at once while images are looked up.
const LOOKUPS_AT_ONCE: usize = 32;

/// Looks up the images (all, or an evenly spread sample of [`IMAGE_SAMPLE`]), one finding
/// per data file.
pub async fn look_up(
    store: &impl Store,
    images: &[(&str, Object)],
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    if images.is_empty() {
        return Ok(());
    }
    let every = images.len().div_ceil(IMAGE_SAMPLE);
    let sample: Vec<&(&str, Object)> = images.iter().step_by(every).collect();
    let sizes: Vec<_> = futures::stream::iter(
        sample
            .iter()
            .map(|(_, object)| async move { store.size(&object.bucket, &object.key).await }),
    )
    .buffered(LOOKUPS_AT_ONCE)
    .collect()
    .await;
    // Data file → (images looked up, images in all, what is missing).
    let mut per_file: BTreeMap<&str, (usize, usize, Vec<String>)> = BTreeMap::new();
    for (data_file, _) in images {
        per_file.entry(data_file).or_default().1 += 1;
    }
    for (&&(data_file, ref object), size) in sample.iter().zip(sizes) {
        let entry = per_file.entry(data_file).or_default();
        entry.0 += 1;
        match size {
            Ok(Some(_)) => {}
            Ok(None) => entry.2.push(format!("{}/{}", object.bucket, object.key)),
            Err(e) => entry.2.push(e.to_string()),
        }
    }
    for (data_file, (checked, total, missing)) in per_file {
        let scope = if checked == total {
            format!("all {total} images its groups load")
        } else {
            format!("a sample of {checked} of the {total} images its groups load (every {every}th)")
        };
        let finding = if missing.is_empty() {
            Finding::ok("images", data_file, format!("{scope} exist"))
        } else {
            Finding::problem(
                "images",
                data_file,
                format!(
                    "of {scope}, {} are missing: {}",
                    missing.len(),
                    first_few(&missing, 3)
                ),
                "upload the missing images, or correct the PathName/FileName (or URL) \
                 columns of the load-data file that name them",
            )
        };
        out.add(finding)?;
    }
    Ok(())
}
