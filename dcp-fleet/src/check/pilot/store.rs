//! The pilot's buckets: the run's own for reading, a local folder of its own for every
//! write, so a pilot never publishes into, nor deletes from, the run's results.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dcp_common::Store;
use dcp_common::store::{LocalStore, Object, Placement, StoreError};

/// The run's buckets as the pilot's attempt sees them: `fetch`, `size` and `local_dir`
/// read the run's buckets; `write` and `place`, whatever bucket they name, write into
/// the results folder; `list` and `read` of DESTINATION_BUCKET (publishing's view of the
/// output prefix) read the results folder. It counts the bytes the attempt fetched and
/// wrote, which a worker's disk must hold at once.
pub struct PilotStore<'a, S> {
    run: &'a S,
    destination: &'a str,
    results: String,
    fetched: AtomicU64,
    written: AtomicU64,
}

impl<'a, S: Store> PilotStore<'a, S> {
    /// The run's buckets `run`, whose DESTINATION_BUCKET is `destination`, writing into
    /// the local folder `results`.
    pub fn new(run: &'a S, destination: &'a str, results: &Path) -> Self {
        PilotStore {
            run,
            destination,
            results: results.to_string_lossy().into_owned(),
            fetched: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// Bytes of the files fetched (pipeline, data file, images) and written (results,
    /// records), in that order.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.fetched.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl<S: Store> Store for PilotStore<'_, S> {
    async fn fetch(
        &self,
        bucket: &str,
        keys: &[String],
        scratch: &Path,
    ) -> Result<Vec<PathBuf>, StoreError> {
        let paths = self.run.fetch(bucket, keys, scratch).await?;
        let bytes: u64 = paths.iter().map(|p| file_size(p)).sum();
        self.fetched.fetch_add(bytes, Ordering::Relaxed);
        Ok(paths)
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
        if bucket == self.destination {
            return LocalStore.list(&self.results, prefix).await;
        }
        self.run.list(bucket, prefix).await
    }

    async fn read(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if bucket == self.destination {
            return LocalStore.read(&self.results, key).await;
        }
        self.run.read(bucket, key).await
    }

    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        self.run.size(bucket, key).await
    }

    async fn write(&self, _bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        LocalStore.write(&self.results, key, bytes).await
    }

    async fn place(
        &self,
        _bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> Result<(), StoreError> {
        self.written.fetch_add(file_size(file), Ordering::Relaxed);
        LocalStore.place(&self.results, key, file, placement).await
    }

    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf> {
        self.run.local_dir(bucket, prefix)
    }
}
