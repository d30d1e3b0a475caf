//! The bucket seam: reading a task's inputs, listing a prefix, publishing outputs.
//!
//! A reader must never take a partial result for a finished one. A local folder is
//! published by renaming it into place, which is atomic, so whatever is there is whole.
//! S3 has no atomic rename of many objects: there, publishing deletes the prefix's old
//! manifest, uploads every object, and writes a new manifest (`<prefix>/.dcp-done.json`,
//! listing keys and sizes) last; [`Store::finished`] counts only what a manifest names.

mod local;
#[cfg(feature = "aws")]
mod s3;

use std::future::Future;
use std::path::{Path, PathBuf};

pub use local::LocalStore;
#[cfg(feature = "aws")]
pub use s3::{MANIFEST, MULTIPART_THRESHOLD, PART_SIZE, S3Store, upload_acl};

/// An object and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The key, relative to the listed prefix.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// Why a bucket operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{bucket}: no object `{key}`")]
    Missing {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// A key would leave its bucket.
    #[error("{bucket}: `{key}` is not a key inside the bucket")]
    BadKey {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The storage service (S3) refused or failed a call.
    #[error("{bucket}/{key}: {message}")]
    Service {
        /// The bucket.
        bucket: String,
        /// The key or prefix.
        key: String,
        /// The service's error, with its context.
        message: String,
    },
    /// The store's settings cannot be used.
    #[error("{0}")]
    Settings(String),
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A set of buckets. Implemented by [`LocalStore`] (directories) and by the AWS backend (S3).
pub trait Store: Send + Sync {
    /// Makes objects readable as local files and returns their paths, in order: the files
    /// themselves when the bucket is local, otherwise downloads into `scratch`.
    fn fetch(
        &self,
        bucket: &str,
        keys: &[String],
        scratch: &Path,
    ) -> impl Future<Output = Result<Vec<PathBuf>, StoreError>> + Send;

    /// Every object under the folder `prefix`, with sizes, however many there are.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<Object>, StoreError>> + Send;

    /// The finished result under the folder `prefix`: its objects, or `None` when no whole
    /// result is there. Locally that is every object (publishing is atomic); on S3 it is
    /// the objects the prefix's manifest names, present with the sizes it gives, and
    /// `None` without a manifest (nothing published yet, or a publish under way or cut
    /// short).
    fn finished(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Option<Vec<Object>>, StoreError>> + Send;

    /// Publishes the files under local `dir` as the folder `prefix`, replacing what was
    /// there, so that a reader sees either the old or the whole new result, never a part
    /// (see the module's documentation for how, on S3). Returns the published keys
    /// relative to `prefix`.
    fn publish(
        &self,
        bucket: &str,
        prefix: &str,
        dir: &Path,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Writes the local file `file` as the object `key`, replacing it whole; `file` may be
    /// moved there rather than copied.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The local folder holding the folder `prefix` of `bucket`, when the bucket is local
    /// (CellProfiler's `-i` then points there); `None` when objects must be fetched.
    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf>;
}

/// The files under a local folder, in name order, as (key relative to the folder, path,
/// size); a missing folder holds none.
fn local_files(root: &Path) -> Result<Vec<(String, PathBuf, u64)>, StoreError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let io = |e: walkdir::Error, path: &Path| StoreError::Io {
            path: path.to_owned(),
            source: e.into(),
        };
        let entry = match entry {
            Ok(entry) => entry,
            Err(e)
                if e.io_error()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                break;
            }
            Err(e) => return Err(io(e, root)),
        };
        if entry.file_type().is_file() {
            let size = entry.metadata().map_err(|e| io(e, entry.path()))?.len();
            let relative = entry
                .path()
                .strip_prefix(root)
                .expect("walkdir stays under its root");
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((key, entry.path().to_owned(), size));
        }
    }
    Ok(files)
}
