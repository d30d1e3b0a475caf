//! Reading a dead-letter queue on SQS, which cannot list a queue: its letters are
//! received (hidden for a while), sorted by source queue, then released or deleted.

use aws_sdk_sqs::types::Message;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use std::time::Duration;

use super::{SCAN_VISIBILITY, SqsQueue, received, service};
use crate::queue::{QueueError, Received, SOURCE_ATTRIBUTE, is_source};

/// A dead letter received while reading the dead-letter queue, with its source queue's
/// name when recorded (`DeadLetterQueueSourceArn`, else [`SOURCE_ATTRIBUTE`]).
pub(super) struct Letter {
    pub(super) message: Received,
    pub(super) source: Option<String>,
}

/// The letters of a dead-letter queue read and hidden: this queue's, and the others'.
pub(super) struct Sorted {
    pub(super) own: Vec<Received>,
    pub(super) others: Vec<Received>,
}

/// The name of a dead letter's source queue: the last field of the
/// `DeadLetterQueueSourceArn` SQS sets when it moves a message (moto sets none), else the
/// [`SOURCE_ATTRIBUTE`] dcp sent it with.
pub(super) fn source_of(m: &Message) -> Option<String> {
    let arn = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::DeadLetterQueueSourceArn))
        .and_then(|arn| arn.rsplit(':').next());
    let sent_to = || {
        m.message_attributes
            .as_ref()
            .and_then(|a| a.get(SOURCE_ATTRIBUTE))
            .and_then(|v| v.string_value())
    };
    arn.or_else(sent_to).map(str::to_owned)
}

impl SqsQueue {
    /// Every message of the dead-letter queue at `dead`, each hidden for a while (SQS
    /// cannot list a queue; receiving until nothing is left is how its messages are seen).
    pub(super) async fn take_dead_letters(&self, dead: &str) -> Result<Vec<Letter>, QueueError> {
        let mut taken = Vec::new();
        loop {
            let batch = self
                .receive_from(dead, 10, Duration::ZERO, Some(SCAN_VISIBILITY), true)
                .await?;
            if batch.is_empty() {
                return Ok(taken);
            }
            taken.extend(batch.into_iter().map(|m| Letter {
                source: source_of(&m),
                message: received(m),
            }));
        }
    }

    /// Every letter of the dead-letter queue at `dead`, hidden, sorted into this queue's
    /// and the others' by their source ([`is_source`]).
    pub(super) async fn sort_letters(&self, dead: &str) -> Result<Sorted, QueueError> {
        let alone = self.other_sources(dead).await?.is_empty();
        let (own, others): (Vec<Letter>, Vec<Letter>) = self
            .take_dead_letters(dead)
            .await?
            .into_iter()
            .partition(|l| is_source(&self.spec.name, l.source.as_deref(), alone));
        let messages = |letters: Vec<Letter>| letters.into_iter().map(|l| l.message).collect();
        Ok(Sorted {
            own: messages(own),
            others: messages(others),
        })
    }

    /// Makes taken letters visible again where they are.
    pub(super) async fn release(&self, dead: &str, letters: &[Received]) -> Result<(), QueueError> {
        for letter in letters {
            self.client
                .change_message_visibility()
                .queue_url(dead)
                .receipt_handle(&letter.receipt)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(service("ChangeMessageVisibility", dead))?;
        }
        Ok(())
    }

    /// Deletes taken letters.
    pub(super) async fn delete_taken(
        &self,
        dead: &str,
        letters: &[Received],
    ) -> Result<(), QueueError> {
        for letter in letters {
            self.client
                .delete_message()
                .queue_url(dead)
                .receipt_handle(&letter.receipt)
                .send()
                .await
                .map_err(service("DeleteMessage", dead))?;
        }
        Ok(())
    }
}
