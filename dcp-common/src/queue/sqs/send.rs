//! Sending on SQS: batches of [`BATCH_ENTRIES`], [`CONCURRENT_BATCHES`] at once,
//! counting exactly what SQS acknowledged.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use futures::stream::{FuturesUnordered, StreamExt};

use super::{SqsQueue, service};
use crate::queue::{BATCH_ATTRIBUTE, QueueError, SOURCE_ATTRIBUTE, SendError};

/// The most entries SQS takes in one SendMessageBatch call.
const BATCH_ENTRIES: usize = 10;
/// SendMessageBatch calls in flight at once during a push.
const CONCURRENT_BATCHES: usize = 16;

impl SqsQueue {
    /// Sends in batches of ten, many batches at once; fails as [`Self::send_batches`].
    pub(super) async fn send_to(
        &self,
        url: &str,
        bodies: &[String],
        batch: Option<&str>,
    ) -> Result<(), QueueError> {
        self.send_batches(url, bodies, batch, &|_| {})
            .await
            .map(drop)
            .map_err(|e| e.source)
    }

    /// Sends in batches of [`BATCH_ENTRIES`], [`CONCURRENT_BATCHES`] at once, each message
    /// with the [`BATCH_ATTRIBUTE`] `batch` when given, calling
    /// `progress` with the count acknowledged so far; returns the message ids SQS gave, in
    /// the order of `bodies`. After the first failure no batch is started; those under way
    /// finish and count.
    pub(super) async fn send_batches(
        &self,
        url: &str,
        bodies: &[String],
        batch: Option<&str>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<String>, SendError> {
        let label = batch.map(|name| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(name)
                .build()
                .expect("the data type is set")
        });
        let mut batches = bodies.chunks(BATCH_ENTRIES).enumerate();
        let mut pending = FuturesUnordered::new();
        let (mut sent, mut unsent, mut failure) = (0, Vec::new(), None);
        let mut ids = vec![String::new(); bodies.len()];
        loop {
            while failure.is_none() && pending.len() < CONCURRENT_BATCHES {
                let Some((i, chunk)) = batches.next() else {
                    break;
                };
                pending.push(self.send_batch(url, i * BATCH_ENTRIES, chunk, label.as_ref()));
            }
            let Some(batch) = pending.next().await else {
                break;
            };
            sent += batch.acknowledged;
            progress(sent);
            unsent.extend(batch.unsent);
            for (position, id) in batch.ids {
                ids[position] = id;
            }
            if let Some(error) = batch.error {
                failure.get_or_insert(error);
            }
        }
        let Some(source) = failure else {
            return Ok(ids);
        };
        unsent.extend(
            batches.flat_map(|(i, chunk)| i * BATCH_ENTRIES..i * BATCH_ENTRIES + chunk.len()),
        );
        unsent.sort_unstable();
        Err(SendError {
            total: bodies.len(),
            unsent,
            source,
        })
    }

    /// One SendMessageBatch call of the bodies at positions `first..` of a send. Only the
    /// entries SQS lists as successful are acknowledged; a call that fails acknowledges none.
    async fn send_batch(
        &self,
        url: &str,
        first: usize,
        chunk: &[String],
        label: Option<&MessageAttributeValue>,
    ) -> Batch {
        let mut request = self.client.send_message_batch().queue_url(url);
        for (i, body) in chunk.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .message_attributes(SOURCE_ATTRIBUTE, self.source_attribute.clone());
            if let Some(label) = label {
                entry = entry.message_attributes(BATCH_ATTRIBUTE, label.clone());
            }
            let entry = entry.build().expect("id and body are set");
            request = request.entries(entry);
        }
        let positions = first..first + chunk.len();
        let sent = match request.send().await {
            Ok(sent) => sent,
            Err(e) => {
                return Batch {
                    acknowledged: 0,
                    ids: Vec::new(),
                    unsent: positions.collect(),
                    error: Some(service("SendMessageBatch", url)(e)),
                };
            }
        };
        let mut acknowledged = vec![false; chunk.len()];
        let mut ids = Vec::new();
        for entry in &sent.successful {
            if let Some((i, slot)) = entry
                .id
                .parse()
                .ok()
                .and_then(|i: usize| Some((i, acknowledged.get_mut(i)?)))
            {
                *slot = true;
                ids.push((first + i, entry.message_id.clone()));
            }
        }
        let unsent: Vec<usize> = positions.filter(|p| !acknowledged[p - first]).collect();
        let error = (!unsent.is_empty()).then(|| QueueError::Service {
            operation: "SendMessageBatch",
            queue: super::name_of(url).to_owned(),
            message: match sent.failed.first() {
                Some(failed) => format!(
                    "{} of {} messages failed: {}: {}",
                    sent.failed.len(),
                    chunk.len(),
                    failed.code,
                    failed.message.as_deref().unwrap_or("no message")
                ),
                None => format!(
                    "{} of {} messages were not acknowledged",
                    unsent.len(),
                    chunk.len()
                ),
            },
        });
        Batch {
            acknowledged: chunk.len() - unsent.len(),
            ids,
            unsent,
            error,
        }
    }
}

/// What SQS acknowledged of one SendMessageBatch call.
struct Batch {
    /// How many of its messages SQS acknowledged.
    acknowledged: usize,
    /// Their positions in the whole send, with the message ids SQS gave them.
    ids: Vec<(usize, String)>,
    /// The positions, in the whole send, of the messages it did not.
    unsent: Vec<usize>,
    /// Why not, when some were not.
    error: Option<QueueError>,
}
