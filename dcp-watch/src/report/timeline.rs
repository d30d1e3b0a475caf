//! The run's timeline: every attempt, on the worker and copy that ran it, from its start
//! for its seconds ([`Outcome::started`], [`Outcome::copy`], [`Outcome::worker`]).

use dcp_common::outcome::{Outcome, Status};
use serde::Serialize;

/// One attempt on the run's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Span {
    /// The worker that ran it ([`Outcome::worker`]).
    pub worker: Option<String>,
    /// The copy of the worker loop ([`Outcome::copy`]).
    pub copy: Option<u32>,
    /// When it started (unix seconds); `None` for lines of workers that did not write it.
    pub started: Option<f64>,
    /// Its wall time (seconds).
    pub seconds: f64,
    /// How it ended.
    pub status: Status,
    /// The task's group, as `Key=Value,…`.
    pub group: String,
    /// Which receive of the message it was.
    pub receive_count: u32,
    /// The task's batch, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

impl From<&Outcome> for Span {
    fn from(o: &Outcome) -> Span {
        Span {
            worker: o.worker.clone(),
            copy: o.copy,
            started: o.started,
            seconds: o.seconds,
            status: o.status,
            group: o.group.clone(),
            receive_count: o.receive_count,
            batch: o.batch.clone(),
        }
    }
}

/// Every attempt as a [`Span`], by worker (`2` before `10`), copy and start.
pub fn timeline(outcomes: &[Outcome]) -> Vec<Span> {
    let mut spans: Vec<Span> = outcomes.iter().map(Span::from).collect();
    spans.sort_by(|a, b| {
        let worker = |s: &Span| {
            let name = s.worker.clone().unwrap_or_default();
            (name.parse::<u64>().unwrap_or(u64::MAX), name)
        };
        (worker(a), a.copy).cmp(&(worker(b), b.copy)).then(
            a.started
                .unwrap_or(0.0)
                .total_cmp(&b.started.unwrap_or(0.0)),
        )
    });
    spans
}
