//! What a worker is asked to do about its tasks. SIGTERM and SIGINT (which ECS sends when
//! it stops a task, e.g. while draining a container instance) and a Spot interruption
//! notice hand the held tasks back at once; an EC2 rebalance recommendation only stops the
//! worker taking new ones (EC2 User Guide: "Spot Instance interruption notices" and "EC2
//! instance rebalance recommendations").

/// The worker's stop state. It only moves forward: `Run` → `Drain` → `HandBack`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Take tasks and run them.
    #[default]
    Run,
    /// Take no new task; run the held ones to the end and publish them. The instance is at
    /// elevated risk of a Spot interruption, and the tasks it holds are usually done before
    /// one comes (a notice gives two minutes; most tasks take less).
    Drain,
    /// Hand the held tasks back to the queue at once and stop.
    HandBack,
}

impl Stop {
    /// Moves `state` forward to `next`; a request for an earlier state changes nothing.
    /// Returns whether it changed (for [`tokio::sync::watch::Sender::send_if_modified`]).
    pub fn advance(state: &mut Stop, next: Stop) -> bool {
        let changed = next > *state;
        if changed {
            *state = next;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_only_moves_forward() {
        let mut state = Stop::Run;
        assert!(Stop::advance(&mut state, Stop::Drain));
        assert!(!Stop::advance(&mut state, Stop::Run));
        assert_eq!(state, Stop::Drain);
        assert!(Stop::advance(&mut state, Stop::HandBack));
        assert!(!Stop::advance(&mut state, Stop::Drain));
        assert_eq!(state, Stop::HandBack);
    }
}
