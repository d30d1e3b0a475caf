//! The AWS resources of a run, found from the settings alone (reference §4–§7): the Spot
//! Fleet requests tagged with APP_NAME and their instances, the instance alarms, the ECS
//! service, task definitions and cluster, the queues and the log groups. Nothing is kept
//! on disk between commands, so `scale`, `stop`, `teardown` and `dcp-watch --once` work
//! from any machine, and again after one another.
//!
//! [`AwsFleet::discover`] reads; [`plan`] (and [`setup`] for `setup`) turns the settings
//! and what was found into [`plan::Request`]s; [`AwsFleet::carry_out`] prints them
//! (`--dry-run`) or has [`AwsFleet::apply`] send them — one shape and one path for setup,
//! start, scale, stop and teardown. AWS plumbing shared with the other tools (clients, errors, codes, retries) is in
//! [`dcp_common::aws`].

mod apply;
pub mod dashboard;
mod discover;
pub mod group;
pub mod monitor;
pub mod plan;
pub mod request;
pub mod setup;
pub mod spot;
mod start;
pub mod user_data;

use std::time::SystemTime;

use dcp_common::queue::{DeadLetterQueueState, QueueState, SqsQueue};
use dcp_common::{Config, QueueSpec};
use serde::Serialize;

pub use apply::{Applied, ApplyOptions};
use plan::Plan;

use crate::FleetError;

/// The AWS fleet of a run: clients for every service it uses.
pub struct AwsFleet {
    config: Config,
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    scheduler: aws_sdk_scheduler::Client,
    sqs: aws_sdk_sqs::Client,
    queue: SqsQueue,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsFleet {
    /// Clients for the run the settings describe (standard credential chain, the
    /// settings' region, `AWS_ENDPOINT_URL` honoured).
    pub async fn connect(config: &Config) -> AwsFleet {
        let shared = dcp_common::aws::sdk_config(config).await;
        AwsFleet {
            config: config.clone(),
            ec2: aws_sdk_ec2::Client::new(&shared),
            ecs: aws_sdk_ecs::Client::new(&shared),
            autoscaling: aws_sdk_autoscaling::Client::new(&shared),
            scheduler: aws_sdk_scheduler::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            queue: SqsQueue::new(
                aws_sdk_sqs::Client::new(&shared),
                QueueSpec::from_config(config),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&shared),
        }
    }

    /// The settings of the run.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The run's queues.
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }

    /// Sends a plan's requests, or with `dry_run` only lists them (result `planned`).
    pub async fn carry_out(
        &self,
        plan: Plan,
        dry_run: bool,
        options: ApplyOptions,
    ) -> Result<Done, FleetError> {
        let requests = if dry_run {
            plan.requests
                .into_iter()
                .map(|request| Applied {
                    request,
                    result: "planned",
                    note: None,
                })
                .collect()
        } else {
            self.apply(plan.requests, options).await?
        };
        Ok(Done {
            dry_run,
            requests,
            kept: plan.kept,
        })
    }

    /// `teardown`: everything of the run that `found` lists removed
    /// ([`plan::teardown`]). Refused while the queue still holds tasks, unless `force`.
    pub async fn teardown(
        &self,
        found: &Found,
        keep_logs: bool,
        force: bool,
        dry_run: bool,
        options: ApplyOptions,
    ) -> Result<Done, FleetError> {
        let queued = found.queue.as_ref().map_or(0, |q| q.visible + q.in_flight);
        if queued > 0 && !force {
            return Err(FleetError::NotDrained {
                queue: self.config.sqs_queue_name.clone(),
                tasks: queued,
            });
        }
        let plan = plan::teardown(&self.config, found, keep_logs, SystemTime::now());
        self.carry_out(plan, dry_run, options).await
    }
}

/// What a mutating command did, or with `--dry-run` would do.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Done {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The requests, each with its result.
    pub requests: Vec<Applied>,
    /// Resources kept on purpose, each with the reason.
    pub kept: Vec<String>,
}

/// What a run has on AWS right now.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Found {
    /// The Auto Scaling group APP_NAME tagged `Name = APP_NAME`, unless being deleted.
    pub groups: Vec<Group>,
    /// The launch template APP_NAME, when it exists (its id).
    pub launch_templates: Vec<String>,
    /// Spot Fleet requests tagged `Name = APP_NAME` that are not cancelled.
    pub fleets: Vec<SpotFleet>,
    /// Instance alarms (`APP_NAME_i-…`).
    pub alarms: Vec<Alarm>,
    /// The ECS service, when it exists and is not deleted.
    pub service: Option<Service>,
    /// Active revisions of the task definition family, `family:revision`.
    pub task_definitions: Vec<String>,
    /// Whether the ECS cluster exists (and is active).
    pub cluster: bool,
    /// Services of the cluster other than the run's.
    pub other_services: u32,
    /// The task queue's URL, when it exists.
    pub queue: Option<QueueState>,
    /// The dead-letter queue, when it exists: its letters, the run's own, and the other
    /// queues that name it.
    pub dead_letter_queue: Option<DeadLetterQueueState>,
    /// The run's log groups that exist.
    pub log_groups: Vec<String>,
    /// Whether the run's dashboard (APP_NAME) exists.
    pub dashboard: bool,
    /// Whether the monitor's schedule (APP_NAME + "Monitor", AUTO_MONITOR) exists.
    pub schedule: bool,
}

/// A Spot Fleet request of the run.
#[derive(Clone, Debug, Serialize)]
pub struct SpotFleet {
    /// Its id.
    pub id: String,
    /// Its state (`active`, `modifying`, `submitted`, `cancelled_running`, …).
    pub state: String,
    /// The capacity asked for.
    pub target_capacity: i32,
    /// The capacity running.
    pub fulfilled_capacity: f64,
    /// When it was requested (unix seconds).
    pub created: Option<i64>,
    /// Its instances that are running.
    pub instances: Vec<String>,
}

impl SpotFleet {
    /// Whether the fleet still takes orders (not being cancelled).
    pub fn is_open(&self) -> bool {
        matches!(self.state.as_str(), "submitted" | "active" | "modifying")
    }
}

/// The Auto Scaling group of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// Its name (APP_NAME).
    pub name: String,
    /// Machines wanted.
    pub desired_capacity: i32,
    /// Machines at least.
    pub min_size: i32,
    /// Machines at most.
    pub max_size: i32,
    /// When it was made (unix seconds).
    pub created: Option<i64>,
    /// Its instances.
    pub instances: Vec<String>,
}

/// An instance alarm and the instance it watches.
#[derive(Clone, Debug, Serialize)]
pub struct Alarm {
    /// The alarm's name.
    pub name: String,
    /// The instance id in its name.
    pub instance: String,
}

/// The ECS service's counts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Service {
    /// Tasks wanted.
    pub desired: i32,
    /// Tasks running.
    pub running: i32,
}

impl Found {
    /// Instances of the run's group and fleets.
    pub fn instances(&self) -> impl Iterator<Item = &str> {
        let groups = self.groups.iter().flat_map(|g| &g.instances);
        let fleets = self.fleets.iter().flat_map(|f| &f.instances);
        groups.chain(fleets).map(String::as_str)
    }

    /// Whether capacity was requested: a group or a Spot Fleet.
    pub fn has_capacity(&self) -> bool {
        !self.groups.is_empty() || !self.fleets.is_empty()
    }

    /// When the first group or fleet was made (unix seconds).
    pub fn started(&self) -> Option<i64> {
        let groups = self.groups.iter().filter_map(|g| g.created);
        groups
            .chain(self.fleets.iter().filter_map(|f| f.created))
            .min()
    }
}
