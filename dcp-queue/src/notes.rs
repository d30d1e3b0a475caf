//! What dcp-queue says on stderr beside its JSON: a batch the queue holds nothing of
//! (`dead`/`redrive --batch`), and the settings the embedded queue takes at a push.

use dcp_common::backend::ConfiguredQueue;
use dcp_common::queue::SettingApplied;
use dcp_common::{Backend, Queue, QueueError};

/// Whether the queue may hold tasks of `batch`: false when its per-batch counts (`status`)
/// do not list it, which stderr then says (done, never pushed, or misspelt). Not an error:
/// a finished batch has no task left either. SQS counts only dead letters by batch, so
/// there a batch without them is only said to have none, and taken to be held.
pub async fn held(queue: &impl Queue, backend: Backend, batch: &str) -> Result<bool, QueueError> {
    if queue.batch_counts().await?.contains_key(batch) {
        return Ok(true);
    }
    match backend {
        Backend::Embedded => {
            eprintln!(
                "dcp-queue: note: batch `{batch}`: none of its tasks is in the queue's counts \
                 (done, never pushed, or a misspelt name; `dcp-queue status` lists the batches \
                 there)"
            );
            Ok(false)
        }
        Backend::Aws => {
            eprintln!(
                "dcp-queue: note: batch `{batch}`: the dead-letter queue holds none of its \
                 tasks (SQS counts only dead letters by batch, so a misspelt name looks the same)"
            );
            Ok(true)
        }
    }
}

/// The embedded queue takes the settings' JOB_RETRIES and SQS_MESSAGE_VISIBILITY before a
/// push ([`dcp_common::EmbeddedQueue::apply_settings`]); each change is said on stderr. An SQS queue
/// keeps its attributes until `dcp-queue create` or `dcp-fleet setup` sets them.
pub fn apply_settings(queue: &ConfiguredQueue) -> Result<Vec<SettingApplied>, QueueError> {
    #[cfg_attr(not(feature = "aws"), allow(irrefutable_let_patterns))]
    let ConfiguredQueue::Embedded(queue) = queue else {
        return Ok(Vec::new());
    };
    let applied = queue.apply_settings()?;
    for a in &applied {
        eprintln!(
            "dcp-queue: note: {}: the queue {} now has {} (it had {}), as the settings say",
            a.setting,
            queue.spec().name,
            a.now,
            a.was
        );
    }
    Ok(applied)
}
