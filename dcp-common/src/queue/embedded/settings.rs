//! The settings of an embedded task queue kept in step with the run's settings.
//!
//! SQS keeps a queue's visibility timeout and redrive policy as they were made until
//! someone sets them again (`dcp-queue create`, `dcp-fleet setup`); a user who edits
//! JOB_RETRIES or SQS_MESSAGE_VISIBILITY between two pushes expects the new value to hold.
//! The embedded queue, dcp's own, takes the settings at every push and says what changed.

use rusqlite::TransactionBehavior;
use serde::Serialize;

use super::{EmbeddedQueue, QueueError};

/// A queue attribute that differed from the settings and now follows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingApplied {
    /// The setting: `JOB_RETRIES` (the max receive count) or `SQS_MESSAGE_VISIBILITY`
    /// (seconds).
    pub setting: &'static str,
    /// The queue's value until now.
    pub was: i64,
    /// The settings' value, the queue's from now on.
    pub now: i64,
}

impl EmbeddedQueue {
    /// Sets the task queue's max receive count and visibility timeout to the spec's, and
    /// returns those that differed (none: nothing written). Tasks already received keep
    /// the visibility they were given. Errors with [`QueueError::Missing`] when the queue
    /// was never created.
    pub fn apply_settings(&self) -> Result<Vec<SettingApplied>, QueueError> {
        let spec = self.spec.clone();
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (visibility_ms, _, max_receives) = self.attributes(&tx)?;
            let wanted_ms = spec.visibility_timeout.as_millis() as i64;
            let wanted_receives = i64::from(spec.max_receives);
            let mut applied = Vec::new();
            if max_receives != wanted_receives {
                applied.push(SettingApplied {
                    setting: "JOB_RETRIES",
                    was: max_receives,
                    now: wanted_receives,
                });
            }
            if visibility_ms != wanted_ms {
                applied.push(SettingApplied {
                    setting: "SQS_MESSAGE_VISIBILITY",
                    was: visibility_ms / 1000,
                    now: wanted_ms / 1000,
                });
            }
            if !applied.is_empty() {
                tx.execute(
                    "UPDATE queues SET visibility_ms = ?2, max_receives = ?3 WHERE name = ?1",
                    rusqlite::params![spec.name, wanted_ms, wanted_receives],
                )?;
                tx.commit()?;
            }
            Ok(applied)
        })
    }
}
