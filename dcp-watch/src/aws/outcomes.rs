//! The workers' outcome lines on AWS: every worker process writes them as events of one
//! log stream `outcomes/…` of LOG_GROUP_NAME ([`OUTCOME_STREAM_PREFIX`]).

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;
use dcp_common::aws::{ProvideErrorMetadata, codes, failed};
use dcp_common::outcome::{OUTCOME_STREAM_PREFIX, Outcome};

use crate::WatchError;
use crate::outcomes::Batch;

/// Every outcome line in the outcome streams of `group`; `None` when the group is gone
/// (another look is tearing the run down and has written the report).
pub async fn read_all(logs: &Client, group: &str) -> Result<Option<Batch>, WatchError> {
    OutcomeStreams::default().read_new(logs, group).await
}

/// The outcome streams of a log group read forward: each read returns the lines written
/// since the one before, from each stream's forward token (CloudWatch Logs GetLogEvents:
/// "use the nextForwardToken to get the next set of events", the same token again when no
/// event followed).
#[derive(Debug, Default)]
pub struct OutcomeStreams {
    /// Stream name → the forward token after its last event read.
    tokens: HashMap<String, String>,
}

impl OutcomeStreams {
    /// The outcome lines written since the last read (all of them at the first); `None`
    /// when the group is gone.
    pub async fn read_new(
        &mut self,
        logs: &Client,
        group: &str,
    ) -> Result<Option<Batch>, WatchError> {
        let Some(streams) = streams(logs, group).await? else {
            return Ok(None);
        };
        let mut batch = Batch::default();
        for stream in streams {
            let worker = stream
                .strip_prefix(OUTCOME_STREAM_PREFIX)
                .unwrap_or(&stream)
                .to_owned();
            let mut token = self.tokens.get(&stream).cloned();
            loop {
                let page = logs
                    .get_log_events()
                    .log_group_name(group)
                    .log_stream_name(&stream)
                    .start_from_head(true)
                    .set_next_token(token.clone())
                    .send()
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(e) if e.code().is_some_and(|c| codes::LOGS_GONE.contains(&c)) => {
                        return Ok(None);
                    }
                    Err(e) => {
                        return Err(failed("GetLogEvents", format!("{group}/{stream}"))(e).into());
                    }
                };
                for event in page.events() {
                    match serde_json::from_str::<Outcome>(event.message().unwrap_or_default()) {
                        Ok(outcome) => batch.outcomes.push(Outcome {
                            worker: Some(worker.clone()),
                            ..outcome
                        }),
                        Err(_) => batch.unreadable += 1,
                    }
                }
                // The last page is the one whose forward token comes back unchanged.
                if page.events().is_empty() || page.next_forward_token == token {
                    break;
                }
                token = page.next_forward_token;
            }
            if let Some(token) = token {
                self.tokens.insert(stream, token);
            }
        }
        Ok(Some(batch))
    }
}

/// The names of the outcome streams of `group`; `None` when the group is gone.
async fn streams(logs: &Client, group: &str) -> Result<Option<Vec<String>>, WatchError> {
    let mut streams = Vec::new();
    let mut pages = logs
        .describe_log_streams()
        .log_group_name(group)
        .log_stream_name_prefix(OUTCOME_STREAM_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if e.code().is_some_and(|c| codes::LOGS_GONE.contains(&c)) => return Ok(None),
            Err(e) => return Err(failed("DescribeLogStreams", group)(e).into()),
        };
        streams.extend(
            page.log_streams()
                .iter()
                .filter_map(|s| s.log_stream_name().map(str::to_owned)),
        );
    }
    Ok(Some(streams))
}
