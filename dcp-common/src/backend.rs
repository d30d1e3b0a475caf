//! The queue and the store of the configured backend, chosen once from the settings, so
//! the tools run the same code on either backend.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::queue::{BatchCounts, Counts, Created, DeadLetter, Deleted, Received, SendError};
use crate::store::{Object, Placement};
use crate::{
    Backend, Config, EmbeddedQueue, LocalStore, Queue, QueueError, QueueSpec, Store, StoreError,
};

/// Why the configured backend cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The settings ask for the AWS backend, which this build leaves out.
    #[error("BACKEND = \"aws\": this build has no AWS backend (cargo feature `aws`)")]
    NotBuilt,
    /// The queue cannot be opened.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The store cannot be set up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The task queue of the configured backend.
pub enum ConfiguredQueue {
    /// The SQLite queue file.
    Embedded(EmbeddedQueue),
    /// SQS.
    #[cfg(feature = "aws")]
    Sqs(crate::queue::SqsQueue),
}

/// The buckets of the configured backend.
pub enum ConfiguredStore {
    /// Local directories.
    Local(LocalStore),
    /// S3.
    #[cfg(feature = "aws")]
    S3(crate::store::S3Store),
}

impl ConfiguredQueue {
    /// Opens the queue the settings describe.
    pub async fn open(config: &Config) -> Result<Self, BackendError> {
        let spec = QueueSpec::from_config(config);
        match config.backend {
            Backend::Embedded => Ok(ConfiguredQueue::Embedded(EmbeddedQueue::open(
                &config.queue_file,
                spec,
            )?)),
            #[cfg(feature = "aws")]
            Backend::Aws => Ok(ConfiguredQueue::Sqs(crate::queue::SqsQueue::new(
                crate::aws::sqs_client(config).await,
                spec,
            ))),
            #[cfg(not(feature = "aws"))]
            Backend::Aws => Err(BackendError::NotBuilt),
        }
    }
}

impl ConfiguredStore {
    /// The buckets the settings describe.
    pub async fn open(config: &Config) -> Result<Self, BackendError> {
        match config.backend {
            Backend::Embedded => Ok(ConfiguredStore::Local(LocalStore)),
            #[cfg(feature = "aws")]
            Backend::Aws => {
                let client = crate::aws::s3_client(config).await;
                Ok(ConfiguredStore::S3(crate::store::S3Store::new(
                    client,
                    config.upload_flags.clone(),
                )))
            }
            #[cfg(not(feature = "aws"))]
            Backend::Aws => Err(BackendError::NotBuilt),
        }
    }
}

/// Runs `$call` with `$inner` bound to whichever queue `$value` holds.
macro_rules! on_queue {
    ($value:expr, $inner:ident => $call:expr) => {
        match $value {
            ConfiguredQueue::Embedded($inner) => $call,
            #[cfg(feature = "aws")]
            ConfiguredQueue::Sqs($inner) => $call,
        }
    };
}

/// Runs `$call` with `$inner` bound to whichever store `$value` holds.
macro_rules! on_store {
    ($value:expr, $inner:ident => $call:expr) => {
        match $value {
            ConfiguredStore::Local($inner) => $call,
            #[cfg(feature = "aws")]
            ConfiguredStore::S3($inner) => $call,
        }
    };
}

impl Queue for ConfiguredQueue {
    async fn create(&self) -> Result<Created, QueueError> {
        on_queue!(self, q => q.create().await)
    }
    async fn send_with_progress(
        &self,
        bodies: &[String],
        batch: Option<&str>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<String>, SendError> {
        on_queue!(self, q => q.send_with_progress(bodies, batch, progress).await)
    }
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        on_queue!(self, q => q.receive(max, wait).await)
    }
    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        on_queue!(self, q => q.change_visibility(receipt, timeout).await)
    }
    async fn delete_message(&self, receipt: &str) -> Result<(), QueueError> {
        on_queue!(self, q => q.delete_message(receipt).await)
    }
    async fn counts(&self) -> Result<Counts, QueueError> {
        on_queue!(self, q => q.counts().await)
    }
    async fn drained(&self) -> Result<bool, QueueError> {
        on_queue!(self, q => q.drained().await)
    }
    async fn purge(&self, dead_letters: bool) -> Result<u64, QueueError> {
        on_queue!(self, q => q.purge(dead_letters).await)
    }
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        on_queue!(self, q => q.dead_letters().await)
    }
    async fn batch_counts(&self) -> Result<BTreeMap<String, BatchCounts>, QueueError> {
        on_queue!(self, q => q.batch_counts().await)
    }
    async fn redrive(&self, batch: Option<&str>) -> Result<u64, QueueError> {
        on_queue!(self, q => q.redrive(batch).await)
    }
    async fn delete_queues(&self) -> Result<Deleted, QueueError> {
        on_queue!(self, q => q.delete_queues().await)
    }
}

impl Store for ConfiguredStore {
    async fn fetch(
        &self,
        bucket: &str,
        keys: &[String],
        scratch: &Path,
    ) -> Result<Vec<PathBuf>, StoreError> {
        on_store!(self, s => s.fetch(bucket, keys, scratch).await)
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Object>, StoreError> {
        on_store!(self, s => s.list(bucket, prefix).await)
    }
    async fn read(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_store!(self, s => s.read(bucket, key).await)
    }
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, StoreError> {
        on_store!(self, s => s.size(bucket, key).await)
    }
    async fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        on_store!(self, s => s.write(bucket, key, bytes).await)
    }
    async fn place(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        placement: Placement,
    ) -> Result<(), StoreError> {
        on_store!(self, s => s.place(bucket, key, file, placement).await)
    }
    fn local_dir(&self, bucket: &str, prefix: &str) -> Option<PathBuf> {
        on_store!(self, s => s.local_dir(bucket, prefix))
    }
}
