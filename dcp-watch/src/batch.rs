//! What `dcp-watch --batch NAME` prints last, on both backends: the batch's part of the
//! run report.

use std::collections::BTreeMap;

use dcp_common::file::unix_seconds;
use serde::Serialize;

use crate::report::{Counts, DeadReport, Report};

/// The last line of `dcp-watch --batch`: the batch's part of the run report.
#[derive(Clone, Debug, Serialize)]
pub struct BatchSummary {
    /// The batch's name.
    pub batch: String,
    /// Always true.
    pub finished: bool,
    /// Totals over the batch's outcome lines and dead letters.
    pub counts: Counts,
    /// Tasks per final status.
    pub by_status: BTreeMap<String, u64>,
    /// The batch's dead letters with their last failure.
    pub dead_letters: Vec<DeadReport>,
    /// Seconds since the watch started.
    pub elapsed_seconds: u64,
}

impl BatchSummary {
    /// The summary of batch `name` from the report of its outcome lines and dead letters,
    /// watched since `since` (unix seconds).
    pub fn new(name: &str, report: Report, since: u64) -> BatchSummary {
        BatchSummary {
            batch: name.to_owned(),
            finished: true,
            counts: report.counts,
            by_status: report.by_status,
            dead_letters: report.dead_letters,
            elapsed_seconds: unix_seconds().saturating_sub(since),
        }
    }
}
