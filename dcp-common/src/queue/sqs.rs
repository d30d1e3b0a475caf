//! The queue on Amazon SQS (or any SQS-compatible endpoint, as `AWS_ENDPOINT_URL` names):
//! a dead-letter queue and a task queue with DCP's attributes and redrive policy.

mod letters;
mod send;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use tokio::sync::OnceCell;

use super::{
    BATCH_ATTRIBUTE, BatchCounts, Counts, Created, DeadLetter, Deleted, Queue, QueueError,
    QueueSpec, Received, SOURCE_ATTRIBUTE, SendError,
};

/// How long SQS keeps a message: 14 days, as DCP sets it.
const RETENTION_SECONDS: u32 = 14 * 24 * 3600;
/// How long listing or redriving hides the dead letters it has seen.
const SCAN_VISIBILITY: i32 = 60;
/// The attributes that count a queue's messages: visible, and in flight.
const BOTH_COUNTS: [QueueAttributeName; 2] = [
    QueueAttributeName::ApproximateNumberOfMessages,
    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
];

/// A task queue and its dead-letter queue on SQS.
pub struct SqsQueue {
    client: Client,
    spec: QueueSpec,
    urls: OnceCell<(String, String)>,
    /// [`SOURCE_ATTRIBUTE`] with the task queue's name, sent with every task.
    source_attribute: MessageAttributeValue,
}

/// A failed call on the queue at `url` (or named `url`), as [`QueueError::Service`].
fn service<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    url: &str,
) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E>) -> QueueError
where
    aws_sdk_sqs::Error: From<aws_sdk_sqs::error::SdkError<E>>,
{
    let queue = name_of(url).to_owned();
    move |e| classify(operation, &queue, aws_sdk_sqs::Error::from(e))
}

/// A queue as SQS has it now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QueueState {
    /// Its URL.
    pub url: String,
    /// Messages waiting.
    pub visible: u64,
    /// Messages received and not deleted.
    pub in_flight: u64,
}

/// A dead-letter queue as SQS has it now.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetterQueueState {
    /// Its URL.
    pub url: String,
    /// Letters it holds, of every source queue (approximate).
    pub letters: u64,
    /// The task queue's own letters: approximate (all `letters`) while no other queue
    /// names the dead-letter queue, counted by reading the letters otherwise.
    pub dead: u64,
    /// The other queues whose redrive policy names it (ListDeadLetterSourceQueues).
    pub other_sources: Vec<String>,
}

fn received(m: Message) -> Received {
    Received {
        batch: m
            .message_attributes
            .as_ref()
            .and_then(|a| a.get(BATCH_ATTRIBUTE))
            .and_then(|v| v.string_value())
            .map(str::to_owned),
        receive_count: m
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        id: m.message_id.unwrap_or_default(),
        receipt: m.receipt_handle.unwrap_or_default(),
        body: m.body.unwrap_or_default(),
    }
}

/// A queue's name: the last path segment of its URL.
fn name_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn classify(operation: &'static str, queue: &str, error: aws_sdk_sqs::Error) -> QueueError {
    QueueError::Service {
        operation,
        queue: name_of(queue).to_owned(),
        message: crate::aws::error_line(&error),
    }
}

fn is_stale(error: &aws_sdk_sqs::Error) -> bool {
    matches!(
        error,
        aws_sdk_sqs::Error::ReceiptHandleIsInvalid(_) | aws_sdk_sqs::Error::MessageNotInflight(_)
    )
}

impl SqsQueue {
    /// A handle on the queues of `spec` through `client` (made by [`crate::aws::sqs_client`]).
    pub fn new(client: Client, spec: QueueSpec) -> Self {
        let source_attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&spec.name)
            .build()
            .expect("the data type is set");
        SqsQueue {
            client,
            spec,
            urls: OnceCell::new(),
            source_attribute,
        }
    }

    async fn url_of(&self, name: &str) -> Result<Option<String>, QueueError> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(found) => Ok(found.queue_url),
            Err(e) => match aws_sdk_sqs::Error::from(e) {
                aws_sdk_sqs::Error::QueueDoesNotExist(_) => Ok(None),
                other => Err(classify("GetQueueUrl", name, other)),
            },
        }
    }

    /// The URLs of the task queue and the dead-letter queue.
    async fn urls(&self) -> Result<&(String, String), QueueError> {
        self.urls
            .get_or_try_init(|| async {
                let main = self.url_of(&self.spec.name).await?;
                let dead = self.url_of(&self.spec.dead_letter_queue).await?;
                match (main, dead) {
                    (Some(main), Some(dead)) => Ok((main, dead)),
                    (None, _) => Err(QueueError::Missing(self.spec.name.clone())),
                    (_, None) => Err(QueueError::Missing(self.spec.dead_letter_queue.clone())),
                }
            })
            .await
    }

    async fn attribute(
        &self,
        url: &str,
        names: &[QueueAttributeName],
    ) -> Result<Vec<u64>, QueueError> {
        let mut request = self.client.get_queue_attributes().queue_url(url);
        for name in names {
            request = request.attribute_names(name.clone());
        }
        let found = match request.send().await.map_err(aws_sdk_sqs::Error::from) {
            Ok(found) => found,
            Err(aws_sdk_sqs::Error::QueueDoesNotExist(_)) => {
                return Err(QueueError::Missing(url.to_owned()));
            }
            Err(e) => return Err(classify("GetQueueAttributes", url, e)),
        };
        let attributes = found.attributes.unwrap_or_default();
        Ok(names
            .iter()
            .map(|n| attributes.get(n).and_then(|v| v.parse().ok()).unwrap_or(0))
            .collect())
    }

    /// The task queue and the dead-letter queue as SQS has them now, each `None` when it
    /// does not exist (or was deleted while being read). Unlike the [`Queue`] methods, this
    /// neither needs both queues nor remembers their URLs.
    pub async fn found(
        &self,
    ) -> Result<(Option<QueueState>, Option<DeadLetterQueueState>), QueueError> {
        let main = self.state_of(&self.spec.name).await?;
        let Some(dead) = self.state_of(&self.spec.dead_letter_queue).await? else {
            return Ok((main, None));
        };
        let letters = dead.visible + dead.in_flight;
        let other_sources = match self.other_sources(&dead.url).await {
            Err(QueueError::Missing(_)) => return Ok((main, None)),
            found => found?,
        };
        let own = self.own_count(&dead.url, &other_sources, letters).await?;
        Ok((
            main,
            Some(DeadLetterQueueState {
                url: dead.url,
                letters,
                dead: own,
                other_sources,
            }),
        ))
    }

    async fn state_of(&self, name: &str) -> Result<Option<QueueState>, QueueError> {
        let Some(url) = self.url_of(name).await? else {
            return Ok(None);
        };
        match self.attribute(&url, &BOTH_COUNTS).await {
            Ok(counts) => Ok(Some(QueueState {
                url,
                visible: counts[0],
                in_flight: counts[1],
            })),
            Err(QueueError::Missing(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names of the queues other than this one whose redrive policy names the
    /// dead-letter queue at `dead` (ListDeadLetterSourceQueues).
    async fn other_sources(&self, dead: &str) -> Result<Vec<String>, QueueError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_dead_letter_source_queues()
            .queue_url(dead)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page.map_err(aws_sdk_sqs::Error::from) {
                Ok(page) => page,
                Err(aws_sdk_sqs::Error::QueueDoesNotExist(_)) => {
                    return Err(QueueError::Missing(dead.to_owned()));
                }
                Err(e) => return Err(classify("ListDeadLetterSourceQueues", dead, e)),
            };
            names.extend(
                page.queue_urls()
                    .iter()
                    .map(|url| name_of(url))
                    .filter(|name| *name != self.spec.name)
                    .map(str::to_owned),
            );
        }
        names.sort();
        Ok(names)
    }

    /// This queue's letters in the dead-letter queue at `dead`, which holds `letters`
    /// (approximate): all of them while `other_sources` is empty, else counted by reading
    /// the letters (each made visible again).
    async fn own_count(
        &self,
        dead: &str,
        other_sources: &[String],
        letters: u64,
    ) -> Result<u64, QueueError> {
        if other_sources.is_empty() {
            return Ok(letters);
        }
        let sorted = self.sort_letters(dead).await?;
        self.release(dead, &sorted.own).await?;
        self.release(dead, &sorted.others).await?;
        Ok(sorted.own.len() as u64)
    }

    /// Receives up to ten messages of `url`, hiding them for `visibility` seconds; with
    /// `sources`, with what names a dead letter's source queue.
    async fn receive_from(
        &self,
        url: &str,
        max: usize,
        wait: Duration,
        visibility: Option<i32>,
        sources: bool,
    ) -> Result<Vec<Message>, QueueError> {
        let mut request = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(BATCH_ATTRIBUTE);
        if let Some(seconds) = visibility {
            request = request.visibility_timeout(seconds);
        }
        if sources {
            request = request
                .message_system_attribute_names(
                    MessageSystemAttributeName::DeadLetterQueueSourceArn,
                )
                .message_attribute_names(SOURCE_ATTRIBUTE);
        }
        let received = request
            .send()
            .await
            .map_err(service("ReceiveMessage", url))?;
        Ok(received.messages.unwrap_or_default())
    }

    async fn delete_queue(&self, url: &str) -> Result<(), QueueError> {
        self.client
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(service("DeleteQueue", url))?;
        Ok(())
    }
}

impl Queue for SqsQueue {
    async fn create(&self) -> Result<Created, QueueError> {
        let spec = &self.spec;
        let existing_dead = self.url_of(&spec.dead_letter_queue).await?;
        let created_dead = existing_dead.is_none();
        let dead = match existing_dead {
            // Kept as it is: SQS refuses to create a queue again with other attributes.
            Some(url) => url,
            None => self
                .client
                .create_queue()
                .queue_name(&spec.dead_letter_queue)
                .attributes(
                    QueueAttributeName::MessageRetentionPeriod,
                    RETENTION_SECONDS.to_string(),
                )
                .send()
                .await
                .map_err(service("CreateQueue", &spec.dead_letter_queue))?
                .queue_url
                .unwrap_or_default(),
        };
        let arn = self
            .client
            .get_queue_attributes()
            .queue_url(&dead)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(service("GetQueueAttributes", &dead))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap_or_default();
        let redrive = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": spec.max_receives.to_string()});
        let attributes = [
            (
                QueueAttributeName::VisibilityTimeout,
                spec.visibility_timeout.as_secs().to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                RETENTION_SECONDS.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ];
        let created_main = match self.url_of(&spec.name).await? {
            Some(url) => {
                // An existing queue keeps its URL; its attributes follow the settings.
                let mut request = self.client.set_queue_attributes().queue_url(url);
                for (name, value) in attributes {
                    request = request.attributes(name, value);
                }
                request
                    .send()
                    .await
                    .map_err(service("SetQueueAttributes", &spec.name))?;
                false
            }
            None => {
                let mut request = self.client.create_queue().queue_name(&spec.name);
                for (name, value) in attributes {
                    request = request.attributes(name, value);
                }
                request
                    .send()
                    .await
                    .map_err(service("CreateQueue", &spec.name))?;
                true
            }
        };
        Ok(Created {
            queue: created_main,
            dead_letter_queue: created_dead,
        })
    }

    async fn send_with_progress(
        &self,
        bodies: &[String],
        batch: Option<&str>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<String>, SendError> {
        let (main, _) = self
            .urls()
            .await
            .map_err(|e| SendError::nothing_sent(bodies.len(), e))?;
        self.send_batches(main, bodies, batch, progress).await
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let (main, _) = self.urls().await?;
        let messages = self.receive_from(main, max, wait, None, false).await?;
        Ok(messages.into_iter().map(received).collect())
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let (main, _) = self.urls().await?;
        let changed = self
            .client
            .change_message_visibility()
            .queue_url(main)
            .receipt_handle(receipt)
            .visibility_timeout(timeout.as_secs().min(43_200) as i32)
            .send()
            .await;
        match changed.map_err(aws_sdk_sqs::Error::from) {
            Ok(_) => Ok(()),
            Err(e) if is_stale(&e) => Err(QueueError::StaleReceipt(receipt.to_owned())),
            Err(e) => Err(classify("ChangeMessageVisibility", main, e)),
        }
    }

    async fn delete_message(&self, receipt: &str) -> Result<(), QueueError> {
        let (main, _) = self.urls().await?;
        let deleted = self
            .client
            .delete_message()
            .queue_url(main)
            .receipt_handle(receipt)
            .send()
            .await;
        match deleted.map_err(aws_sdk_sqs::Error::from) {
            Ok(_) => Ok(()),
            Err(e) if is_stale(&e) => Err(QueueError::StaleReceipt(receipt.to_owned())),
            Err(e) => Err(classify("DeleteMessage", main, e)),
        }
    }

    async fn counts(&self) -> Result<Counts, QueueError> {
        let (main, dead) = self.urls().await?;
        let main = self.attribute(main, &BOTH_COUNTS).await?;
        let others = self.other_sources(dead).await?;
        let letters = self.attribute(dead, &BOTH_COUNTS).await?.iter().sum();
        Ok(Counts {
            visible: main[0],
            in_flight: main[1],
            dead: self.own_count(dead, &others, letters).await?,
        })
    }

    async fn drained(&self) -> Result<bool, QueueError> {
        let (main, _) = self.urls().await?;
        Ok(self
            .attribute(main, &BOTH_COUNTS)
            .await?
            .iter()
            .sum::<u64>()
            == 0)
    }

    async fn purge(&self, dead_letters: bool) -> Result<u64, QueueError> {
        let (main, dead) = self.urls().await?;
        if dead_letters {
            // Read, not PurgeQueue: the dead-letter queue may hold other queues' letters.
            let sorted = self.sort_letters(dead).await?;
            self.delete_taken(dead, &sorted.own).await?;
            self.release(dead, &sorted.others).await?;
            return Ok(sorted.own.len() as u64);
        }
        let held: u64 = self.attribute(main, &BOTH_COUNTS).await?.iter().sum();
        self.client
            .purge_queue()
            .queue_url(main)
            .send()
            .await
            .map_err(service("PurgeQueue", main))?;
        Ok(held)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let (_, dead) = self.urls().await?;
        let sorted = self.sort_letters(dead).await?;
        // Make them visible again: listing must not change the dead-letter queue.
        self.release(dead, &sorted.own).await?;
        self.release(dead, &sorted.others).await?;
        Ok(sorted
            .own
            .into_iter()
            // The receive count a dead letter carries includes this listing's receive.
            .map(|m| DeadLetter {
                id: m.id,
                receive_count: m.receive_count.saturating_sub(1),
                body: m.body,
                batch: m.batch,
            })
            .collect())
    }

    /// Dead letters only: the task queue's messages cannot be read without receiving them,
    /// which would raise their receive count toward the redrive policy's maximum.
    async fn batch_counts(&self) -> Result<BTreeMap<String, BatchCounts>, QueueError> {
        let (_, dead) = self.urls().await?;
        let sorted = self.sort_letters(dead).await?;
        self.release(dead, &sorted.own).await?;
        self.release(dead, &sorted.others).await?;
        let mut counts = BTreeMap::<String, BatchCounts>::new();
        for batch in sorted.own.into_iter().filter_map(|m| m.batch) {
            counts.entry(batch).or_default().dead += 1;
        }
        Ok(counts)
    }

    async fn redrive(&self, batch: Option<&str>) -> Result<u64, QueueError> {
        let (main, dead) = self.urls().await?;
        let sorted = self.sort_letters(dead).await?;
        let (chosen, kept): (Vec<Received>, Vec<Received>) = sorted
            .own
            .into_iter()
            .partition(|m| batch.is_none() || m.batch.as_deref() == batch);
        let mut by_batch = BTreeMap::<Option<&str>, Vec<String>>::new();
        for m in &chosen {
            by_batch
                .entry(m.batch.as_deref())
                .or_default()
                .push(m.body.clone());
        }
        for (batch, bodies) in by_batch {
            self.send_to(main, &bodies, batch).await?;
        }
        self.delete_taken(dead, &chosen).await?;
        self.release(dead, &kept).await?;
        self.release(dead, &sorted.others).await?;
        Ok(chosen.len() as u64)
    }

    async fn delete_queues(&self) -> Result<Deleted, QueueError> {
        let (main, dead) = self.urls().await?;
        let sorted = self.sort_letters(dead).await?;
        self.delete_taken(dead, &sorted.own).await?;
        self.release(dead, &sorted.others).await?;
        self.delete_queue(main).await?;
        let others = self.other_sources(dead).await?;
        let mut deleted = Deleted {
            deleted: vec![self.spec.name.clone()],
            kept: Vec::new(),
        };
        let name = &self.spec.dead_letter_queue;
        deleted.dead_letter_queue(name, &others, sorted.others.len() as u64);
        if deleted.kept.is_empty() {
            self.delete_queue(dead).await?;
        }
        Ok(deleted)
    }
}
