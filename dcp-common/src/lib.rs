//! Shared types of dcp, the Rust rewrite of Distributed-CellProfiler (DCP).
//!
//! Every dcp tool reads the same settings ([`Config`]), turns DCP job files into the same
//! tasks ([`Task`], whose queue message body is byte-for-byte what DCP sends), computes the
//! same output prefixes ([`prefix`]) and talks to the task queue through one seam
//! ([`Queue`]) and the buckets through another ([`Store`]), whichever backend is configured.

#[cfg(feature = "aws")]
pub mod aws;
pub mod backend;
pub mod cellprofiler;
pub mod config;
pub mod exit;
pub mod file;
pub mod job;
pub mod loaddata;
pub mod metadata;
pub mod outcome;
pub mod pipeline_load;
pub mod prefix;
mod pyjson;
pub mod queue;
pub mod store;
pub mod task;
pub mod text;

pub use config::{Backend, Config, ConfigError, FleetApi};
pub use job::{JobError, JobErrors, JobTemplate, PlannedTask, TaskSet, parse_job, parse_template};
pub use metadata::{Metadata, MetadataError};

pub use queue::{EmbeddedQueue, Queue, QueueError, QueueSpec, SendError};
pub use store::{LocalStore, Store, StoreError};
pub use task::Task;
