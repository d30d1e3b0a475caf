//! Buckets as local directories: the bucket name is the directory's path. A file is
//! written under a partial name beside its target, then renamed into place, so a reader
//! never sees half of it; a failed write removes the partial file. Symbolic links are
//! followed only while they stay inside their bucket ([`links`]).

mod links;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::publish::PARTIAL;
use super::{Object, Placement, Store, StoreError};
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

/// The path of `key` in the directory `bucket`, refusing keys that would leave it, by
/// their text or through a symbolic link ([`StoreError::LinkOutside`]).
pub fn path_in_bucket(bucket: &str, key: &str) -> Result<PathBuf, StoreError> {
    check_relative(key).map_err(|_| StoreError::BadKey {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })?;
    links::check_key(bucket, key)?;
    Ok(Path::new(bucket).join(key.trim_end_matches('/')))
}

/// A name in `dir` for `target` that no other process or attempt uses at the same time;
/// [`is_dcp_key`](super::is_dcp_key) knows it for a file being placed.
fn partial_name(target: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{PARTIAL}{}-{nanos}", std::process::id()))
}

/// Removes the partial files in the folder of `target` that processes now gone left (a
/// worker killed while it placed a file there): the next file placed in the folder, such as
/// a retry of the killed task, clears them. Partial files of live processes are theirs.
fn clear_stale_partials(target: &Path) {
    let Some(Ok(entries)) = target.parent().map(std::fs::read_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let pid = file
            .to_str()
            .and_then(|f| f.split_once(PARTIAL))
            .and_then(|(_, rest)| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() && !process_lives(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` of this machine runs (a zombie does not). Without `/proc`, every
/// process is taken to run, so no partial file is removed.
fn process_lives(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
    })
}

/// A file being placed, removed when dropped unless it was renamed into place.
struct Partial(Option<PathBuf>);

impl Partial {
    fn path(&self) -> &Path {
        self.0
            .as_deref()
            .expect("a partial file is in use until placed")
    }

    fn placed(mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Puts a copy of `file` (or `file` itself, moved) beside `target` under a partial name.
fn stage(file: &Path, target: &Path) -> Result<Partial, StoreError> {
    let parent = target.parent().expect("a key has a parent folder");
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    clear_stale_partials(target);
    let partial = Partial(Some(partial_name(target)));
    // A rename is enough when the scratch folder is on the same file system.
    if std::fs::rename(file, partial.path()).is_err() {
        std::fs::copy(file, partial.path()).map_err(io(partial.path()))?;
    }
    Ok(partial)
}

/// The files under `root`, the folder of `prefix` in `bucket`, following the links that
/// stay inside the bucket and refusing the others.
fn list_files(bucket: &str, prefix: &str, root: &Path) -> Result<Vec<Object>, StoreError> {
    let resolved = links::bucket_root(bucket);
    let follow = |link: &Path| {
        let Some(resolved) = &resolved else {
            return Ok(false);
        };
        let below = link.strip_prefix(root).unwrap_or(link).to_string_lossy();
        let key = format!("{}/{below}", prefix.trim_end_matches('/'));
        links::check_link(bucket, &key, link, resolved).map(|()| true)
    };
    Ok(super::local_files_following(root, &follow)?
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
                let path = path_in_bucket(bucket, key)?;
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
        list_files(bucket, prefix, &path_in_bucket(bucket, prefix)?)
    }

    async fn read(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = path_in_bucket(bucket, key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        let path = path_in_bucket(bucket, key)?;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let target = path_in_bucket(bucket, key)?;
        let parent = target.parent().expect("a key has a parent folder");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        clear_stale_partials(&target);
        let partial = Partial(Some(partial_name(&target)));
        std::fs::write(partial.path(), bytes).map_err(io(partial.path()))?;
        std::fs::rename(partial.path(), &target).map_err(io(&target))?;
        partial.placed();
        Ok(())
    }

    /// Renames the staged file into place, which replaces atomically; for
    /// [`Placement::New`] it is hard-linked instead, which fails if the name exists.
    async fn place(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> Result<(), StoreError> {
        let target = path_in_bucket(bucket, key)?;
        let partial = stage(file, &target)?;
        let occupied = |partial: Partial| {
            // Give the caller its file back, as it was.
            if std::fs::rename(partial.path(), file).is_ok() {
                partial.placed();
            }
            StoreError::Occupied {
                bucket: bucket.to_owned(),
                keys: vec![key.to_owned()],
            }
        };
        if placement == Placement::New {
            match std::fs::hard_link(partial.path(), &target) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(occupied(partial));
                }
                // A file system without hard links: check, then rename.
                Err(_) if target.exists() => return Err(occupied(partial)),
                Err(_) => {}
            }
        }
        std::fs::rename(partial.path(), &target).map_err(io(&target))?;
        partial.placed();
        Ok(())
    }

    /// `None` also when a symbolic link on the way, or in the folder, leads outside the
    /// bucket: the folder is then not given to CellProfiler.
    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf> {
        let dir = path_in_bucket(bucket, prefix).ok()?;
        list_files(bucket, prefix, &dir).ok()?;
        Some(dir)
    }
}

#[cfg(test)]
mod tests;
