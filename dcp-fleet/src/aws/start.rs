//! `setup` and `start` on AWS through the run's clients ([`super::setup`], [`super::plan`]).

use std::time::{Duration, SystemTime};

use dcp_common::FleetApi;
use dcp_common::aws::failed;
use dcp_common::file::unix_seconds;
use serde::Serialize;
use serde_json::Value;

use super::{ApplyOptions, AwsFleet, Done, Found, plan, setup};
use crate::FleetError;

/// What `start` did: the run record DCP keeps in its monitor file, and the requests.
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    /// FLEET_API: `auto-scaling` or `spot-fleet`.
    pub fleet_api: dcp_common::FleetApi,
    /// The Auto Scaling group's name, or the Spot Fleet request's id.
    pub fleet_id: String,
    /// APP_NAME.
    pub app: String,
    /// ECS_CLUSTER.
    pub cluster: String,
    /// SQS_QUEUE_NAME.
    pub queue: String,
    /// AWS_BUCKET.
    pub bucket: String,
    /// LOG_GROUP_NAME.
    pub log_group: String,
    /// The service's desired count.
    pub desired_tasks: u32,
    /// Instances running when `--wait` ended.
    pub instances_running: usize,
    /// When it started (unix seconds).
    pub started: u64,
    /// The requests and their results.
    pub requests: Done,
}

impl AwsFleet {
    /// `setup`: the plan of [`setup::plan`] (the queues, as `dcp-queue create`, then the
    /// ECS cluster, log groups, task definition and service) carried out, or with `dry_run`
    /// printed.
    pub async fn setup(&self, dry_run: bool) -> Result<Done, FleetError> {
        let plan = setup::plan(&self.config)?;
        let options = ApplyOptions {
            export_wait: Duration::ZERO,
        };
        self.carry_out(plan, dry_run, options).await
    }

    /// `start FLEET.json`: the plan of [`plan::start`] carried out (or, with `dry_run`,
    /// printed), then up to `wait` for the instances.
    pub async fn start(
        &self,
        fleet_file: &Value,
        dry_run: bool,
        wait: Duration,
    ) -> Result<Value, FleetError> {
        let config = &self.config;
        let found = self.discover().await?;
        let zones = match config.fleet_api {
            FleetApi::AutoScaling => self.region_zones().await?,
            FleetApi::SpotFleet => Vec::new(),
        };
        let plan = plan::start(config, &found, fleet_file, &zones, SystemTime::now())?;
        let options = ApplyOptions {
            export_wait: Duration::ZERO,
        };
        let done = match self.carry_out(plan, dry_run, options).await {
            Ok(done) => done,
            Err(failed) => return Err(self.undo_start(&found, failed).await),
        };
        if dry_run {
            return Ok(serde_json::to_value(done).expect("a plan is JSON"));
        }
        let target = config.cluster_machines as usize;
        let (fleet_id, running) = match self.new_fleet_id(&done) {
            Some(id) => {
                let running = super::spot::wait_for_capacity(&self.ec2, &id, target, wait).await?;
                (id, running)
            }
            None => {
                let running = self.wait_for_group(target, wait).await?;
                (config.app_name.clone(), running)
            }
        };
        let started = Started {
            fleet_api: config.fleet_api,
            fleet_id,
            app: config.app_name.clone(),
            cluster: config.ecs_cluster.clone(),
            queue: config.sqs_queue_name.clone(),
            bucket: config.aws_bucket.clone(),
            log_group: config.log_group_name.clone(),
            desired_tasks: config.cluster_machines * config.tasks_per_machine,
            instances_running: running,
            started: unix_seconds(),
            requests: done,
        };
        Ok(serde_json::to_value(started).expect("a start report is JSON"))
    }

    /// After a request of `start` failed: removes what the run has now that it had not
    /// before (`before`): the capacity and launch template as `stop` would (start is refused
    /// while the run has capacity, so these are this start's), and a dashboard or monitor
    /// schedule made now. Returns the failure, saying what was removed, or, when removing
    /// failed too, that `dcp-fleet stop` finishes it.
    async fn undo_start(&self, before: &Found, failed: FleetError) -> FleetError {
        let undo = async {
            let now = self.discover().await?;
            let mut undo = plan::stop(&self.config, &now);
            if now.dashboard && !before.dashboard {
                undo.requests.push(plan::Request::DeleteDashboards {
                    dashboard_names: vec![self.config.app_name.clone()],
                });
            }
            if now.schedule && !before.schedule {
                undo.requests.push(plan::Request::DeleteSchedule {
                    name: super::monitor::name(&self.config),
                });
            }
            let options = ApplyOptions {
                export_wait: Duration::ZERO,
            };
            self.apply(undo.requests, options).await
        };
        let undone = match undo.await {
            Ok(applied) => Ok(applied
                .iter()
                .filter(|a| a.result == "done")
                .map(|a| a.request.name())
                .collect()),
            Err(e) => Err(e.to_string()),
        };
        FleetError::StartUndone {
            failed: Box::new(failed),
            undone,
        }
    }

    /// The names of the region's available Availability Zones (where a group launches
    /// whose fleet file names neither subnet nor zone).
    async fn region_zones(&self) -> Result<Vec<String>, FleetError> {
        let zones = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(failed("DescribeAvailabilityZones", "the region"))?;
        Ok(zones
            .availability_zones()
            .iter()
            .filter(|z| z.state() == Some(&aws_sdk_ec2::types::AvailabilityZoneState::Available))
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect())
    }

    /// The id of the Spot Fleet the requests made, from its result's note.
    fn new_fleet_id(&self, done: &Done) -> Option<String> {
        done.requests
            .iter()
            .find(|a| matches!(a.request, plan::Request::RequestSpotFleet { .. }))
            .and_then(|a| a.note.clone())
    }

    /// Waits up to `limit` for the group to hold `target` instances; returns how many it
    /// holds.
    async fn wait_for_group(&self, target: usize, limit: Duration) -> Result<usize, FleetError> {
        let since = std::time::Instant::now();
        loop {
            let running = self.groups().await?.iter().map(|g| g.instances.len()).sum();
            if running >= target || since.elapsed() >= limit {
                return Ok(running);
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
}
