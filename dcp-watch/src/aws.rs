//! The monitor on AWS (reference §7), stateless: each look finds the run from its settings
//! and its resources' names and tags, acts, and forgets, so `dcp-watch --once` from cron
//! does one look per run, and two looks at once do no harm.
//!
//! A look counts the queues, lowers the fleets' target when nothing is waiting and fewer
//! tasks are in flight than instances run (`--cheapest`: to 1 machine after 15 minutes),
//! and deletes the alarms of instances that are gone. When the queue has drained and a
//! fleet was started, it writes the run report to AWS_BUCKET/runs/APP_NAME/report.json
//! and its page beside it, report.html (outcomes from the workers' log streams, dead
//! letters from the queue) and tears the run
//! down, exporting both log groups to AWS_BUCKET/exportedlogs/. A look that finds the
//! queue gone finishes whatever a teardown left.

pub mod batch;
mod cost;
mod outcomes;

use std::time::Duration;

use dcp_common::aws::failed;
use dcp_common::file::unix_seconds;

use dcp_common::{Config, Queue, QueueError};
use dcp_fleet::aws::{Applied, ApplyOptions, AwsFleet, Done, Found, plan};
use serde::Serialize;

use crate::WatchError;
use crate::report::{self, Report};

/// How long a fleet runs before `--cheapest` shrinks it to one machine.
const CHEAPEST_AFTER: Duration = Duration::from_secs(15 * 60);

/// How long a teardown waits for each log export.
const EXPORT_WAIT: Duration = Duration::from_secs(600);

/// One look at a run on AWS that found it still going.
#[derive(Clone, Debug, Serialize)]
pub struct AwsTick {
    /// Tasks waiting.
    pub visible: u64,
    /// Tasks received and not yet deleted.
    pub in_flight: u64,
    /// The run's tasks in the dead-letter queue (which other runs may share).
    pub dead: u64,
    /// The run's Auto Scaling groups and Spot Fleet requests.
    pub fleets: usize,
    /// Their running instances.
    pub instances: usize,
    /// Seconds since the first fleet was requested (0 without a fleet).
    pub elapsed_seconds: u64,
    /// What the look changed: fleets lowered, alarms deleted.
    pub requests: Vec<Applied>,
}

/// The last look at a run: drained, reported and torn down.
#[derive(Clone, Debug, Serialize)]
pub struct AwsDrained {
    /// Always true.
    pub drained: bool,
    /// Where the report was written (`s3://…`); `None` when an earlier look wrote it.
    pub report: Option<String>,
    /// Tasks with an outcome.
    pub tasks: u64,
    /// Tasks done.
    pub done: u64,
    /// The run's tasks in the dead-letter queue.
    pub dead: u64,
    /// Attempts that failed.
    pub failed_attempts: u64,
    /// Seconds from the first fleet's request to now.
    pub elapsed_seconds: u64,
    /// The teardown.
    pub teardown: Done,
}

/// What a look found.
#[derive(Clone, Debug)]
pub enum Look {
    /// The run goes on (or no fleet has been started yet).
    Going(AwsTick),
    /// The run has ended.
    Drained(AwsDrained),
}

/// Watches one run on AWS.
pub struct AwsWatch {
    fleet: AwsFleet,
    logs: aws_sdk_cloudwatchlogs::Client,
    s3: aws_sdk_s3::Client,
    ec2: aws_sdk_ec2::Client,
    cheapest: bool,
}

/// The monitor's scale-down (reference §7): with `cheapest`, one machine once the fleets
/// have run 15 minutes; otherwise, when nothing waits and fewer tasks are in flight than
/// instances run, as many machines as tasks in flight.
fn scale_down(
    found: &Found,
    visible: u64,
    in_flight: u64,
    elapsed: u64,
    cheapest: bool,
) -> Vec<plan::Request> {
    let instances = found.instances().count() as u64;
    if cheapest && elapsed >= CHEAPEST_AFTER.as_secs() {
        plan::shrink(found, 1)
    } else if visible == 0 && in_flight < instances {
        plan::shrink(found, in_flight as i32)
    } else {
        Vec::new()
    }
}

impl AwsWatch {
    /// Clients for the run the settings describe; `cheapest` shrinks the fleets to one
    /// machine once they have run 15 minutes.
    pub async fn connect(config: &Config, cheapest: bool) -> AwsWatch {
        let shared = dcp_common::aws::sdk_config(config).await;
        AwsWatch {
            fleet: AwsFleet::connect(config).await,
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            ec2: aws_sdk_ec2::Client::new(&shared),
            s3: dcp_common::aws::s3_client(config).await,
            cheapest,
        }
    }

    /// Takes one look and acts on it.
    pub async fn look(&self) -> Result<Look, WatchError> {
        let found = self.fleet.discover().await?;
        let started = found.started();
        let elapsed = started.map_or(0, |s| unix_seconds().saturating_sub(s as u64));
        let dead = found.dead_letter_queue.as_ref().map_or(0, |q| q.dead);
        let Some(queue) = &found.queue else {
            if !self.reported().await? {
                return Err(WatchError::NothingToWatch {
                    queue: self.fleet.config().sqs_queue_name.clone(),
                });
            }
            return Ok(Look::Drained(
                self.finish(&found, None, dead, elapsed).await?,
            ));
        };
        let (visible, in_flight) = (queue.visible, queue.in_flight);
        if visible + in_flight == 0 && found.has_capacity() {
            let report = self.report(&found, started).await?;
            return Ok(Look::Drained(
                self.finish(&found, report, dead, elapsed).await?,
            ));
        }
        let requests = self.tend(&found, visible, in_flight, elapsed).await?;
        Ok(Look::Going(AwsTick {
            visible,
            in_flight,
            dead,
            fleets: found.fleets.len() + found.groups.len(),
            instances: found.instances().count(),
            elapsed_seconds: elapsed,
            requests,
        }))
    }

    /// Lowers fleets with more machines than work, and deletes the alarms of instances
    /// that are gone.
    async fn tend(
        &self,
        found: &Found,
        visible: u64,
        in_flight: u64,
        elapsed: u64,
    ) -> Result<Vec<Applied>, WatchError> {
        let mut requests = scale_down(found, visible, in_flight, elapsed, self.cheapest);
        let watched: Vec<&str> = found.alarms.iter().map(|a| a.instance.as_str()).collect();
        let gone = self.fleet.gone_instances(&watched).await?;
        requests.extend(plan::stale_alarms(found, &gone));
        let options = ApplyOptions {
            export_wait: Duration::ZERO,
        };
        Ok(self.fleet.apply(requests, options).await?)
    }

    /// Where the run report's `file` (`report.json`, `report.html`) goes in AWS_BUCKET.
    fn report_key(&self, file: &str) -> String {
        format!("runs/{}/{file}", self.fleet.config().app_name)
    }

    /// Whether the run report was written: the run ended, and a look that finds the queue
    /// gone finishes its teardown.
    async fn reported(&self) -> Result<bool, WatchError> {
        let bucket = &self.fleet.config().aws_bucket;
        let key = self.report_key("report.json");
        match self.s3.head_object().bucket(bucket).key(&key).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(failed("HeadObject", format!("{bucket}/{key}"))(e).into()),
        }
    }

    /// The run report: every outcome line of the workers' log streams, the dead letters,
    /// and the cost of the machines `found` and of the requests. `None` when the log group
    /// or a queue is gone: another look got there first, wrote the report and is tearing
    /// the run down.
    async fn report(
        &self,
        found: &Found,
        started: Option<i64>,
    ) -> Result<Option<Report>, WatchError> {
        let config = self.fleet.config();
        let Some(batch) = outcomes::read_all(&self.logs, &config.log_group_name).await? else {
            return Ok(None);
        };
        let dead = match self.fleet.queue().dead_letters().await {
            Ok(dead) => dead,
            // Deleted since the look began: by another look's teardown.
            Err(QueueError::Missing(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let started = started.map(|s| s as u64);
        let now = unix_seconds();
        let mut report = Report::build(config, started, now, &batch, &dead);
        let ids: Vec<&str> = found.instances().collect();
        let machines = cost::machines(&self.ec2, config, &ids, now as f64).await?;
        let prices = cost::spot_prices(&self.ec2, &machines).await?;
        let attempts: Vec<(f64, usize, bool)> = batch
            .outcomes
            .iter()
            .map(|o| (o.seconds, o.outputs.len(), o.log.is_some()))
            .collect();
        let requests =
            report::cost::requests(&report.counts, &attempts, config.sqs_message_visibility);
        report.cost = Some(report::cost::estimate(
            machines,
            &prices,
            config.ebs_vol_size,
            requests,
        ));
        Ok(Some(report))
    }

    /// Writes `body` to AWS_BUCKET/`key`.
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), WatchError> {
        let bucket = &self.fleet.config().aws_bucket;
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(failed("PutObject", format!("{bucket}/{key}")))?;
        Ok(())
    }

    /// Writes the report (when there is one) and tears down what the look found.
    async fn finish(
        &self,
        found: &Found,
        report: Option<Report>,
        dead: u64,
        elapsed: u64,
    ) -> Result<AwsDrained, WatchError> {
        let config = self.fleet.config();
        let mut drained = AwsDrained {
            drained: true,
            report: None,
            tasks: 0,
            done: 0,
            dead,
            failed_attempts: 0,
            elapsed_seconds: elapsed,
            teardown: Done::default(),
        };
        if let Some(report) = report {
            // The page first: the JSON is what marks the run reported.
            let page = crate::report::html::render(&report).into_bytes();
            let html = self.report_key("report.html");
            self.put(&html, "text/html; charset=utf-8", page).await?;
            let key = self.report_key("report.json");
            let body = serde_json::to_vec_pretty(&report).expect("a run report is JSON");
            self.put(&key, "application/json", body).await?;
            drained.report = Some(format!("s3://{}/{key}", config.aws_bucket));
            drained.tasks = report.counts.tasks;
            drained.done = report.counts.done;
            drained.dead = report.counts.dead;
            drained.failed_attempts = report.counts.failed_attempts;
        }
        let options = ApplyOptions {
            export_wait: EXPORT_WAIT,
        };
        drained.teardown = self
            .fleet
            .teardown(found, false, false, false, options)
            .await?;
        Ok(drained)
    }
}

#[cfg(test)]
mod tests {
    use dcp_fleet::aws::SpotFleet;

    use super::*;

    fn found(target: i32, instances: usize) -> Found {
        Found {
            fleets: vec![SpotFleet {
                id: "sfr-1".into(),
                state: "active".into(),
                target_capacity: target,
                fulfilled_capacity: instances as f64,
                created: Some(0),
                instances: (0..instances).map(|i| format!("i-{i}")).collect(),
            }],
            ..Found::default()
        }
    }

    fn targets(requests: &[plan::Request]) -> Vec<i32> {
        requests
            .iter()
            .map(|r| match r {
                plan::Request::ModifySpotFleetRequest {
                    target_capacity, ..
                } => *target_capacity,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn lowers_to_the_tasks_in_flight_only_when_nothing_waits() {
        assert_eq!(targets(&scale_down(&found(4, 4), 0, 2, 60, false)), [2]);
        assert!(scale_down(&found(4, 4), 1, 2, 60, false).is_empty());
        assert!(scale_down(&found(4, 4), 0, 4, 60, false).is_empty());
        assert!(
            scale_down(&found(2, 4), 0, 2, 60, false).is_empty(),
            "already lowered"
        );
    }

    #[test]
    fn cheapest_keeps_one_machine_after_15_minutes() {
        assert!(scale_down(&found(4, 4), 9, 4, 899, true).is_empty());
        assert_eq!(targets(&scale_down(&found(4, 4), 9, 4, 900, true)), [1]);
    }
}
