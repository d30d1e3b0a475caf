//! CloudWatch Logs: a stream per task attempt holding its log, and one stream per worker
//! process holding its outcome lines, in LOG_GROUP_NAME.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;

/// Bytes CloudWatch adds to each event's message when it sizes a batch.
const EVENT_OVERHEAD: usize = 26;
/// The largest batch put_log_events takes, in bytes (messages plus overhead).
const MAX_BATCH_BYTES: usize = 1_048_576;
/// The most events put_log_events takes at once.
const MAX_BATCH_EVENTS: usize = 10_000;
/// The largest message of one event, in bytes; longer lines are split.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 - EVENT_OVERHEAD;

/// A CloudWatch Logs call failed.
#[derive(Debug, thiserror::Error)]
#[error("CloudWatch Logs {call} {group}/{stream}: {message}")]
pub struct LogsError {
    call: &'static str,
    group: String,
    stream: String,
    message: String,
}

/// One log event: milliseconds since the epoch and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The text, at most [`MAX_MESSAGE_BYTES`] long and never empty.
    pub message: String,
}

/// Milliseconds since the Unix epoch.
pub fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `name` with the characters CloudWatch forbids in stream names (`:` and `*`) replaced.
pub fn stream_name(name: &str) -> String {
    name.replace([':', '*'], "_")
}

/// The stream of one task attempt: `<output prefix>/<start, unix ms>-<copy index>`.
pub fn attempt_stream(prefix: &str, started: SystemTime, copy: u32) -> String {
    stream_name(&format!("{prefix}/{}-{copy}", millis(started)))
}

/// The events of a log's text, all at `timestamp`: one per non-empty line, lines longer
/// than an event can hold split at character boundaries.
pub fn line_events(text: &str, timestamp: i64) -> Vec<Event> {
    let mut events = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim_end_matches('\r');
        while !rest.is_empty() {
            let mut cut = rest.len().min(MAX_MESSAGE_BYTES);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            events.push(Event {
                timestamp,
                message: rest[..cut].to_owned(),
            });
            rest = &rest[cut..];
        }
    }
    events
}

/// Splits events, in order, into batches put_log_events accepts (at most 10,000 events
/// and 1 MiB each); timestamps are made non-decreasing, as CloudWatch requires.
pub fn batches(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut batches: Vec<Vec<Event>> = Vec::new();
    let (mut bytes, mut latest) = (0, i64::MIN);
    for mut event in events {
        event.timestamp = event.timestamp.max(latest);
        latest = event.timestamp;
        let size = event.message.len() + EVENT_OVERHEAD;
        match batches.last_mut() {
            Some(batch) if batch.len() < MAX_BATCH_EVENTS && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                batch.push(event);
            }
            _ => {
                bytes = size;
                batches.push(vec![event]);
            }
        }
    }
    batches
}

/// Writes streams of one log group.
#[derive(Clone, Debug)]
pub struct LogGroup {
    client: Client,
    group: String,
}

impl LogGroup {
    /// The log group `group` through `client`.
    pub fn new(client: Client, group: String) -> Self {
        LogGroup { client, group }
    }

    fn error(
        &self,
        call: &'static str,
        stream: &str,
        error: impl dcp_common::aws::ProvideErrorMetadata + std::error::Error,
    ) -> LogsError {
        LogsError {
            call,
            group: self.group.clone(),
            stream: stream.to_owned(),
            message: dcp_common::aws::error_line(&error),
        }
    }

    /// Creates the log group; one that exists already is kept.
    pub async fn create(&self) -> Result<(), LogsError> {
        match self
            .client
            .create_log_group()
            .log_group_name(&self.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match aws_sdk_cloudwatchlogs::Error::from(e) {
                aws_sdk_cloudwatchlogs::Error::ResourceAlreadyExistsException(_) => Ok(()),
                other => Err(self.error("CreateLogGroup", "", other)),
            },
        }
    }

    /// Creates the stream `stream`; one that exists already is kept.
    pub async fn create_stream(&self, stream: &str) -> Result<(), LogsError> {
        match self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(stream)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match aws_sdk_cloudwatchlogs::Error::from(e) {
                aws_sdk_cloudwatchlogs::Error::ResourceAlreadyExistsException(_) => Ok(()),
                other => Err(self.error("CreateLogStream", stream, other)),
            },
        }
    }

    /// Appends `events`, in order, to the existing stream `stream`.
    pub async fn put(&self, stream: &str, events: Vec<Event>) -> Result<(), LogsError> {
        for batch in batches(events) {
            let events = batch
                .into_iter()
                .map(|e| {
                    InputLogEvent::builder()
                        .timestamp(e.timestamp)
                        .message(e.message)
                        .build()
                        .expect("timestamp and message are set")
                })
                .collect();
            self.client
                .put_log_events()
                .log_group_name(&self.group)
                .log_stream_name(stream)
                .set_log_events(Some(events))
                .send()
                .await
                .map_err(|e| self.error("PutLogEvents", stream, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stream_names_carry_prefix_start_and_copy_without_forbidden_characters() {
        let started = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            attempt_stream("out/P1:A01*2", started, 3),
            "out/P1_A01_2/1700000000123-3"
        );
    }

    #[test]
    fn lines_become_events_and_long_lines_are_split() {
        let long = "é".repeat(MAX_MESSAGE_BYTES); // two bytes a character
        let text = format!("first\r\n\nsecond\n{long}\n");
        let events = line_events(&text, 7);
        let messages: Vec<usize> = events.iter().map(|e| e.message.len()).collect();
        assert_eq!(events[0].message, "first");
        assert_eq!(events[1].message, "second");
        assert_eq!(messages[2..], [MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES]);
        assert!(events.iter().all(|e| e.timestamp == 7));
    }

    #[test]
    fn batches_respect_the_count_and_byte_limits_and_keep_time_order() {
        let event = |timestamp, len| Event {
            timestamp,
            message: "x".repeat(len),
        };
        let many: Vec<Event> = (0..10_001).map(|i| event(i, 1)).collect();
        let sizes: Vec<usize> = batches(many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10_000, 1]);

        let big = MAX_MESSAGE_BYTES;
        let split = batches(vec![event(5, big); 5]);
        let sizes: Vec<usize> = split.iter().map(Vec::len).collect();
        assert_eq!(sizes, [4, 1]);
        assert!(split.iter().all(|b| {
            b.iter()
                .map(|e| e.message.len() + EVENT_OVERHEAD)
                .sum::<usize>()
                <= MAX_BATCH_BYTES
        }));

        let ordered = batches(vec![event(5, 1), event(3, 1), event(9, 1)]);
        let times: Vec<i64> = ordered[0].iter().map(|e| e.timestamp).collect();
        assert_eq!(times, [5, 5, 9]);
    }
}
