//! The bucket seam: reading a task's inputs, listing a prefix, publishing outputs.
//!
//! Publishing merges ([`publish()`]): a task's files appear in its output prefix one by
//! one, each whole (a local file is renamed into place, an S3 object is one PUT), next to
//! whatever is already there, so several tasks can share one folder, as DCP's z-projection
//! jobs do. A task never replaces a file it did not write: an existing file is replaced
//! only when the task's own completion record claims it. Each task records its completion
//! last ([`Record`], at [`record_key`]), naming the files it published and their sizes.

mod local;
mod publish;
#[cfg(feature = "aws")]
mod s3;

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use local::{LocalStore, path_in_bucket};
pub use publish::{RECORDS, is_dcp_key, publish, record, record_key};
#[cfg(feature = "aws")]
pub use s3::{MULTIPART_THRESHOLD, PART_SIZE, S3Store};

/// An object and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// The key, relative to the listed prefix.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// What one task published under its output prefix, stored as JSON at [`record_key`].
/// Written before the task's files with `complete: false` (claiming the files it is about
/// to write, so a retry may replace them) and again, last, with `complete: true`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The task's group, as `Key=Value,…`.
    pub group: String,
    /// Whether every object below was published.
    pub complete: bool,
    /// The task's files, relative to the output prefix, with their sizes in bytes.
    pub objects: Vec<Object>,
}

/// Whether [`Store::place`] may replace an existing object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Replace whatever is there.
    Replace,
    /// Fail with [`StoreError::Occupied`] when the key exists.
    New,
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
    /// Publishing would replace files this task did not write.
    #[error(
        "{bucket}: {} already there and not written by this task (dcp never replaces \
         another task's file; remove {} or choose another output)",
        quote_list(keys), if keys.len() == 1 { "it" } else { "them" }
    )]
    Occupied {
        /// The bucket.
        bucket: String,
        /// The keys, in the bucket.
        keys: Vec<String>,
    },
    /// The storage service (S3) refused or failed a call.
    #[error("{operation} {bucket}/{key}: {message}")]
    Service {
        /// The API call (`GetObject`, `PutObject`, …), or what dcp was doing.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key or prefix.
        key: String,
        /// The service's error, with its context.
        message: String,
    },
    /// A symbolic link in a local bucket resolves outside it (or nowhere).
    #[error(
        "{bucket}: `{key}` is refused: the symbolic link {} points outside the bucket, to {}",
        link.display(), target.display()
    )]
    LinkOutside {
        /// The bucket.
        bucket: String,
        /// The key whose path meets the link.
        key: String,
        /// The link, in the bucket.
        link: PathBuf,
        /// Where it resolves (or, when it resolves nowhere, what it names).
        target: PathBuf,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// `a`, `a` and `b`, or `a`, `b` and 3 more.
fn quote_list(keys: &[String]) -> String {
    let shown: Vec<String> = keys.iter().take(2).map(|k| format!("`{k}`")).collect();
    match keys.len() {
        0 | 1 => shown.join(""),
        2 => shown.join(" and "),
        n => format!("{} and {} more", shown.join(", "), n - 2),
    }
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

    /// The bytes of a small object (a completion record), or `None` when it is missing.
    fn read(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// The size in bytes of an object, or `None` when it is missing; nothing is downloaded
    /// (S3 HeadObject). `dcp-fleet check` asks it of the images a job names.
    fn size(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Writes a small object (a completion record) whole, replacing it.
    fn write(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes the local file `file` as the object `key`, whole: a reader sees the old
    /// object or the new one, never a part. With [`Placement::New`], an existing object is
    /// kept and the call fails with [`StoreError::Occupied`]. `file` may be moved there
    /// rather than copied; a failed call leaves nothing behind in the bucket.
    fn place(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The local folder holding the folder `prefix` of `bucket`, when the bucket is local
    /// (CellProfiler's `-i` then points there); `None` when objects must be fetched.
    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf>;
}

/// The files under a local folder, in name order, as (key relative to the folder, path,
/// size); a missing folder holds none. A file or folder gone by the time it is read (one
/// renamed into place or removed by a task publishing beside this one) is not listed.
/// Symbolic links are not followed (nor listed).
fn local_files(root: &Path) -> Result<Vec<(String, PathBuf, u64)>, StoreError> {
    local_files_following(root, &|_| Ok(false))
}

/// [`local_files`], where `follow` decides for each symbolic link whether it is followed
/// (as the file or folder it points to) or left out, or refuses it.
fn local_files_following(
    root: &Path,
    follow: &dyn Fn(&Path) -> Result<bool, StoreError>,
) -> Result<Vec<(String, PathBuf, u64)>, StoreError> {
    let mut files = Vec::new();
    let gone = |e: &walkdir::Error| {
        e.io_error()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    };
    let io = |e: walkdir::Error, path: &Path| StoreError::Io {
        path: path.to_owned(),
        source: e.into(),
    };
    let mut walk = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .follow_links(true)
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(io(e, root)),
        };
        if entry.path_is_symlink() && entry.depth() > 0 && !follow(entry.path())? {
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_file() {
            let size = match entry.metadata() {
                Ok(metadata) => metadata.len(),
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(io(e, entry.path())),
            };
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
