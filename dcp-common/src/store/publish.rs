//! Publishing a task's outputs by merging them into its output prefix, and the task's
//! completion record.

use std::collections::HashSet;
use std::path::Path;

use super::{Object, Placement, Record, Store, StoreError};
use crate::prefix::group_file_name;

/// The folder, under an output prefix, holding the completion record of each task that
/// published there.
pub const RECORDS: &str = ".dcp-done";

/// Marks the temporary names a local publish gives a file before renaming it into place.
pub(super) const PARTIAL: &str = ".dcp-partial-";

/// The key of the completion record of the task of `group` under `prefix`:
/// `<prefix>/.dcp-done/<group file name>.json` (see [`group_file_name`]).
pub fn record_key(prefix: &str, group: &str) -> String {
    format!(
        "{}/{RECORDS}/{}.json",
        prefix.trim_end_matches('/'),
        group_file_name(group)
    )
}

/// Whether a key (relative to a listed prefix) is dcp's own bookkeeping (a completion
/// record, or a file being placed) rather than a result.
pub fn is_dcp_key(key: &str) -> bool {
    key.split('/')
        .any(|part| part == RECORDS || part.contains(PARTIAL))
}

/// The completion record of the task of `group` under `prefix`, if there is one; a record
/// that cannot be read as one is a [`StoreError::Service`] error naming it.
pub async fn record<S: Store>(
    store: &S,
    bucket: &str,
    prefix: &str,
    group: &str,
) -> Result<Option<Record>, StoreError> {
    let key = record_key(prefix, group);
    let Some(bytes) = store.read(bucket, &key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Service {
            operation: "reading the completion record",
            bucket: bucket.to_owned(),
            key,
            message: format!("not a dcp completion record: {e}"),
        })
}

/// Publishes the files under the local folder `dir` into the folder `prefix` as the
/// outputs of the task of `group`, and returns them (keys relative to `prefix`, sizes).
///
/// Files already in the prefix stay. A file of the same name is replaced only when the
/// task's earlier record claims it (a re-run, or a retry after a failed publish);
/// otherwise nothing is written and the call fails with [`StoreError::Occupied`]. Steps: a
/// record with `complete: false` claiming the files, each file placed whole, then the
/// record with `complete: true`.
pub async fn publish<S: Store>(
    store: &S,
    bucket: &str,
    prefix: &str,
    group: &str,
    dir: &Path,
) -> Result<Vec<Object>, StoreError> {
    let claimed: HashSet<String> = record(store, bucket, prefix, group)
        .await?
        .map(|r| r.objects.into_iter().map(|o| o.key).collect())
        .unwrap_or_default();
    let files = super::local_files(dir)?;
    let existing: HashSet<String> = store
        .list(bucket, prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    let folder = prefix.trim_end_matches('/');
    let taken: Vec<String> = files
        .iter()
        .filter(|(key, _, _)| existing.contains(key) && !claimed.contains(key))
        .map(|(key, _, _)| format!("{folder}/{key}"))
        .collect();
    if !taken.is_empty() {
        return Err(StoreError::Occupied {
            bucket: bucket.to_owned(),
            keys: taken,
        });
    }
    let objects: Vec<Object> = files
        .iter()
        .map(|(key, _, size)| Object {
            key: key.clone(),
            size: *size,
        })
        .collect();
    let write_record = |complete: bool, objects: Vec<Object>| {
        let record = Record {
            group: group.to_owned(),
            complete,
            objects,
        };
        let bytes = serde_json::to_vec_pretty(&record).expect("a record serialises");
        async move { store.write(bucket, &record_key(prefix, group), bytes).await }
    };
    write_record(false, objects.clone()).await?;
    for (key, path, _) in &files {
        let placement = if claimed.contains(key) {
            Placement::Replace
        } else {
            Placement::New
        };
        let placed = store
            .place(bucket, &format!("{folder}/{key}"), path, placement)
            .await;
        if let Err(e) = placed {
            if matches!(e, StoreError::Occupied { .. }) {
                // Another task took the name meanwhile: this task must not claim it.
                let ours = objects.iter().filter(|o| o.key != *key).cloned().collect();
                let _ = write_record(false, ours).await;
            }
            return Err(e);
        }
    }
    write_record(true, objects.clone()).await?;
    Ok(objects)
}
