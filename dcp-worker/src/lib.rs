//! dcp-worker's library: pull a task, run CellProfiler on its group, publish the results,
//! and tell the queue — DCP's cp-worker.py (reference §6), with its known faults fixed.

pub mod attempt;
pub mod batch;
pub mod cellprofiler;
#[cfg(feature = "aws")]
pub mod cloud;
pub mod in_flight;
pub mod load_check;
pub mod outcome_record;
pub mod plugins;
pub mod session;
pub mod stop;
pub mod warm;
pub mod worker;

pub use session::{RunError, run};
pub use stop::Stop;
pub use worker::{AttemptLog, Worker, WorkerOptions};
