//! How the run report tells tasks apart: a task is a group in its output prefix in its batch.

use dcp_common::outcome::Outcome;

use super::DeadReport;

/// A task is its group in its output prefix (tasks may share a prefix) in its batch: the
/// same group pushed in two batches is two tasks, each counted in its own batch. An attempt
/// whose body had none (an unreadable task) is its message; those sort last.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TaskKey {
    Group {
        batch: Option<String>,
        output: String,
        group: String,
    },
    Message(String),
}

pub(super) fn task_key(outcome: &Outcome) -> TaskKey {
    if outcome.output.is_empty() {
        TaskKey::Message(outcome.message_id.clone())
    } else {
        TaskKey::Group {
            batch: outcome.batch.clone(),
            output: outcome.output.clone(),
            group: outcome.group.clone(),
        }
    }
}

/// The key of the task a dead letter holds, as [`task_key`].
pub(super) fn letter_key(letter: &DeadReport) -> TaskKey {
    match (&letter.output, &letter.group) {
        (Some(output), Some(group)) => TaskKey::Group {
            batch: letter.batch.clone(),
            output: output.clone(),
            group: group.clone(),
        },
        _ => TaskKey::Message(letter.id.clone()),
    }
}
