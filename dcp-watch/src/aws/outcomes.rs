//! The workers' outcome lines on AWS: every worker process writes them as events of one
//! log stream `outcomes/…` of LOG_GROUP_NAME ([`OUTCOME_STREAM_PREFIX`]).

use aws_sdk_cloudwatchlogs::Client;
use dcp_common::aws::{ProvideErrorMetadata, codes, failed};
use dcp_common::outcome::{OUTCOME_STREAM_PREFIX, Outcome};

use crate::WatchError;
use crate::outcomes::Batch;

/// Every outcome line in the outcome streams of `group`; `None` when the group is gone
/// (another look is tearing the run down and has written the report).
pub async fn read_all(logs: &Client, group: &str) -> Result<Option<Batch>, WatchError> {
    let mut batch = Batch::default();
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
    for stream in streams {
        let worker = stream
            .strip_prefix(OUTCOME_STREAM_PREFIX)
            .unwrap_or(&stream);
        let mut token: Option<String> = None;
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
                        worker: Some(worker.to_owned()),
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
    }
    Ok(Some(batch))
}
