//! Buckets as local directories: the bucket name is the directory's path.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Object, Store, StoreError};
use crate::prefix::check_relative;

/// Buckets that are directories on this machine.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalStore;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The path of `key` in the directory `bucket`, refusing keys that would leave it.
fn path_of(bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
    check_relative(key).map_err(|_| StoreError::BadKey {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })?;
    Ok(Path::new(bucket).join(key.trim_end_matches('/')))
}

/// A name no other process or attempt uses at the same time.
fn unique(stem: &str, what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(".{stem}.dcp-{what}-{}-{nanos}", std::process::id())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), StoreError> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(|e| StoreError::Io {
            path: from.to_owned(),
            source: e.into(),
        })?;
        let target = to.join(
            entry
                .path()
                .strip_prefix(from)
                .expect("walkdir stays under its root"),
        );
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).map_err(io(&target))?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(io(&target))?;
        }
    }
    Ok(())
}

fn list_files(root: &Path) -> Result<Vec<Object>, StoreError> {
    Ok(super::local_files(root)?
        .into_iter()
        .map(|(key, _, size)| Object { key, size })
        .collect())
}

impl Store for LocalStore {
    async fn fetch(
        &self,
        bucket: &str,
        keys: &[String],
        _scratch: &Path,
    ) -> Result<Vec<PathBuf>, StoreError> {
        keys.iter()
            .map(|key| {
                let path = path_of(bucket, key)?;
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(StoreError::Missing {
                        bucket: bucket.to_owned(),
                        key: key.clone(),
                    })
                }
            })
            .collect()
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
        list_files(&path_of(bucket, prefix)?)
    }

    /// Everything under the prefix: a local result is put in place whole, by a rename.
    async fn finished(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Option<Vec<Object>>, StoreError> {
        self.list(bucket, prefix).await.map(Some)
    }

    async fn publish(
        &self,
        bucket: &str,
        prefix: &str,
        dir: &Path,
    ) -> Result<Vec<String>, StoreError> {
        let target = path_of(bucket, prefix)?;
        let parent = target
            .parent()
            .expect("a key has a parent folder")
            .to_owned();
        let name = target
            .file_name()
            .expect("a key has a name")
            .to_string_lossy()
            .into_owned();
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let staging = parent.join(unique(&name, "staging"));
        // A rename is enough when the scratch folder is on the same file system.
        if std::fs::rename(dir, &staging).is_err() {
            copy_tree(dir, &staging)?;
        }
        let published = list_files(&staging)?.into_iter().map(|o| o.key).collect();
        loop {
            match std::fs::rename(&staging, &target) {
                Ok(()) => return Ok(published),
                Err(_) if target.exists() => {
                    // Replace an earlier result: move it aside, put the new one in place.
                    let old = parent.join(unique(&name, "old"));
                    match std::fs::rename(&target, &old) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(StoreError::Io {
                                path: target,
                                source: e,
                            });
                        }
                    }
                    let placed = std::fs::rename(&staging, &target);
                    let _ = std::fs::remove_dir_all(&old);
                    match placed {
                        Ok(()) => return Ok(published),
                        Err(_) if target.exists() => continue,
                        Err(e) => {
                            return Err(StoreError::Io {
                                path: target,
                                source: e,
                            });
                        }
                    }
                }
                Err(e) => {
                    return Err(StoreError::Io {
                        path: target,
                        source: e,
                    });
                }
            }
        }
    }

    async fn put(&self, bucket: &str, key: &str, file: &Path) -> Result<(), StoreError> {
        let target = path_of(bucket, key)?;
        let parent = target.parent().expect("a key has a parent folder");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        if std::fs::rename(file, &target).is_ok() {
            return Ok(());
        }
        let name = target
            .file_name()
            .expect("a key has a name")
            .to_string_lossy();
        let staging = parent.join(unique(&name, "staging"));
        std::fs::copy(file, &staging).map_err(io(&staging))?;
        std::fs::rename(&staging, &target).map_err(io(&target))
    }

    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf> {
        path_of(bucket, prefix).ok()
    }
}

#[cfg(test)]
mod tests;
