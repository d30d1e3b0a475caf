//! The workers' outcome lines as both backends read them: from the run folder's
//! `workers/*.jsonl` ([`crate::embedded::outcomes`]) or from the `outcomes/…` log streams
//! ([`crate::aws`]).

use dcp_common::outcome::Outcome;

/// What one look found.
#[derive(Debug, Default)]
pub struct Batch {
    /// The outcomes, file by file (files in worker order), each file's in line order.
    pub outcomes: Vec<Outcome>,
    /// Lines that were not outcomes.
    pub unreadable: usize,
}
