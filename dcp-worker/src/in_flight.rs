//! The tasks a worker's copies hold, by message id.
//!
//! SQS delivers a message at least once: a standard queue may hand one message to two
//! receives ("at-least-once delivery", Amazon SQS Developer Guide), and a task whose
//! visibility lapses is received again. When a copy receives a task another copy of the
//! same worker is running, it leaves the task to that copy and gives it the newer receipt:
//! the task runs once, and its holder extends, deletes or hands it back with the newest
//! receipt, the one SQS requires ("you must provide the most recently received receipt
//! handle", DeleteMessage in the Amazon SQS API Reference).

use std::collections::HashMap;
use std::sync::Mutex;

use dcp_common::queue::Received;

/// Message id → the newest receipt of each task the copies hold.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashMap<String, String>>);

impl InFlight {
    /// Claims the task `message` carries for the copy that received it; `None` when
    /// another copy holds it already, whose receipt then becomes this newer one.
    pub fn claim(&self, message: &Received) -> Option<Claim<'_>> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(receipt) = held.get_mut(&message.id) {
            *receipt = message.receipt.clone();
            return None;
        }
        held.insert(message.id.clone(), message.receipt.clone());
        Some(Claim {
            held: self,
            id: message.id.clone(),
        })
    }
}

/// A copy's hold on one task, released when dropped.
#[derive(Debug)]
pub struct Claim<'a> {
    held: &'a InFlight,
    id: String,
}

impl Claim<'_> {
    /// The newest receipt of the task: the claiming receive's, or a later one's.
    pub fn receipt(&self) -> String {
        let held = self.held.0.lock().unwrap_or_else(|e| e.into_inner());
        held.get(&self.id).cloned().unwrap_or_default()
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut held = self.held.0.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(id: &str, receipt: &str) -> Received {
        Received {
            id: id.into(),
            receipt: receipt.into(),
            body: String::new(),
            receive_count: 1,
            batch: None,
        }
    }

    #[test]
    fn a_task_received_again_while_held_stays_with_its_holder_with_the_newer_receipt() {
        let in_flight = InFlight::default();
        let claim = in_flight.claim(&received("m1", "r1")).unwrap();
        assert_eq!(claim.receipt(), "r1");
        assert!(in_flight.claim(&received("m1", "r2")).is_none());
        assert_eq!(claim.receipt(), "r2");
        let other = in_flight.claim(&received("m2", "r3")).unwrap();
        assert_eq!(
            (claim.receipt(), other.receipt()),
            ("r2".into(), "r3".into())
        );
        drop(claim);
        let again = in_flight.claim(&received("m1", "r4")).unwrap();
        assert_eq!(
            again.receipt(),
            "r4",
            "a released task can be claimed again"
        );
    }
}
