//! The machines of a run on AWS and the Spot prices charged for them, for the report's
//! cost ([`crate::report::cost`]): EC2 DescribeInstances for each machine's type, zone,
//! lifecycle and hours, DescribeSpotPriceHistory for the prices over those hours.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Instance, InstanceStateName};
use dcp_common::Config;
use dcp_common::aws::failed;
use dcp_common::aws::spot_price_history::{SpotPriceQuery, spot_price_history};

use crate::WatchError;
use crate::report::cost::{Machine, SpotPrice};

/// The machines: the instances `ids` (the run's fleets' and group's, at the end) and those
/// tagged Name = APP_NAME + "Worker" (as DCP's workers tag theirs) that EC2 still
/// describes; those that ended, up to their end, the others up to `now` (unix seconds).
pub async fn machines(
    ec2: &aws_sdk_ec2::Client,
    config: &Config,
    ids: &[&str],
    now: f64,
) -> Result<Vec<Machine>, WatchError> {
    let mut found = BTreeMap::new();
    let tagged = Filter::builder()
        .name("tag:Name")
        .values(config.instance_name_tag())
        .build();
    let mut queries = vec![vec![tagged]];
    if !ids.is_empty() {
        let listed = Filter::builder()
            .name("instance-id")
            .set_values(Some(ids.iter().map(|i| i.to_string()).collect()))
            .build();
        queries.push(vec![listed]);
    }
    for filters in queries {
        let mut pages = ec2
            .describe_instances()
            .set_filters(Some(filters))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed("DescribeInstances", config.instance_name_tag()))?;
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                if let Some(machine) = machine(instance, now) {
                    found.insert(machine.id.clone(), machine);
                }
            }
        }
    }
    Ok(found.into_values().collect())
}

/// A machine from EC2's description; `None` for one never launched.
fn machine(instance: &Instance, now: f64) -> Option<Machine> {
    let launched = instance.launch_time()?.as_secs_f64();
    let state = instance.state().and_then(|s| s.name());
    let ended = match state {
        Some(InstanceStateName::Terminated | InstanceStateName::Stopped) => instance
            .state_transition_reason()
            .and_then(transition_time)
            .unwrap_or(now),
        _ => now,
    };
    Some(Machine {
        id: instance.instance_id()?.to_owned(),
        instance_type: instance.instance_type()?.as_str().to_owned(),
        zone: instance
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_owned(),
        spot: instance
            .instance_lifecycle()
            .is_some_and(|l| l.as_str() == "spot"),
        launched,
        ended: ended.max(launched),
        hours: 0.0,
        dollars: None,
    })
}

/// The time in a state transition reason, `User initiated (2026-11-30 13:05:42 GMT)`.
fn transition_time(reason: &str) -> Option<f64> {
    let inside = reason.split_once('(')?.1.split_once(" GMT)")?.0;
    let iso = format!("{}Z", inside.replacen(' ', "T", 1));
    let time =
        aws_smithy_types::DateTime::from_str(&iso, aws_smithy_types::date_time::Format::DateTime);
    time.ok().map(|t| t.as_secs_f64())
}

/// The Spot price history of each type and zone of `machines` over their hours (Linux/UNIX).
pub async fn spot_prices(
    ec2: &aws_sdk_ec2::Client,
    machines: &[Machine],
) -> Result<BTreeMap<(String, String), Vec<SpotPrice>>, WatchError> {
    let mut spans = BTreeMap::<(String, String), (f64, f64)>::new();
    for m in machines.iter().filter(|m| m.spot) {
        let span = spans
            .entry((m.instance_type.clone(), m.zone.clone()))
            .or_insert((m.launched, m.ended));
        *span = (span.0.min(m.launched), span.1.max(m.ended));
    }
    let mut history = BTreeMap::new();
    for ((kind, zone), (from, to)) in spans {
        let types = [kind.clone()];
        let query = SpotPriceQuery {
            types: &types,
            zone: Some(&zone),
            from,
            to: Some(to),
            max_pages: None,
        };
        let prices = spot_price_history(ec2, &query)
            .await?
            .into_iter()
            .map(|record| SpotPrice {
                at: record.at,
                dollars_per_hour: record.dollars_per_hour,
            })
            .collect();
        history.insert((kind, zone), prices);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_transition_reason_gives_the_end() {
        assert_eq!(
            transition_time("User initiated (2026-11-30 13:05:42 GMT)"),
            Some(1_796_043_942.0)
        );
        assert_eq!(transition_time("Service initiated"), None);
    }
}
