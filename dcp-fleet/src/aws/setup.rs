//! `dcp-fleet setup` on AWS (reference §4): the queues (as `dcp-queue create`), the ECS
//! cluster, the log groups, the task definition of the worker container and the ECS service
//! (desired count 0), as one [`Plan`] of requests — printed by `--dry-run`, sent by
//! [`super::AwsFleet::apply`] like every other command's. The settings reach the containers
//! as `DCP_SETTINGS`; credentials never do: containers get theirs from the task role
//! (TASK_ROLE_ARN) or the instance profile.

use dcp_common::Config;
use dcp_common::aws::AwsError;
use dcp_common::config::SETTINGS_ENV;
use serde::Serialize;

use super::plan::{Plan, Request};
use crate::FleetError;

/// Days CloudWatch keeps the run's logs, as DCP sets it.
pub const LOG_RETENTION_DAYS: i32 = 60;

/// The worker container of the task definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// Its name (APP_NAME).
    pub name: String,
    /// DOCKERHUB_TAG.
    pub image: String,
    /// CPU_SHARES.
    pub cpu: i32,
    /// MEMORY, in MB.
    pub memory: i32,
    /// Environment variables: the resolved settings, nothing else.
    pub environment: Vec<(String, String)>,
    /// The awslogs options: group, region, stream prefix.
    pub log_options: Vec<(String, String)>,
}

/// The requests of `setup`: the queues, the cluster, each log group and its retention, the
/// worker's task definition, and the service (made with desired count 0, or moved to the
/// new task definition when it exists).
pub fn plan(config: &Config) -> Result<Plan, FleetError> {
    let settings = serde_json::to_string(config).expect("settings are JSON");
    let mut requests = vec![
        Request::CreateQueues {
            queue_name: config.sqs_queue_name.clone(),
            dead_letter_queue_name: config.sqs_dead_letter_queue.clone(),
            visibility_timeout: config.sqs_message_visibility,
            max_receive_count: config.job_retries,
        },
        Request::CreateCluster {
            cluster_name: config.ecs_cluster.clone(),
        },
    ];
    for group in config.log_groups() {
        requests.push(Request::CreateLogGroup {
            log_group_name: group.clone(),
        });
        requests.push(Request::PutRetentionPolicy {
            log_group_name: group.clone(),
            retention_in_days: LOG_RETENTION_DAYS,
        });
    }
    requests.push(Request::RegisterTaskDefinition {
        family: config.ecs_task_family.clone(),
        container: Container {
            name: config.app_name.clone(),
            image: config.dockerhub_tag.clone(),
            cpu: ecs_integer("CPU_SHARES", config.cpu_shares())?,
            memory: ecs_integer("MEMORY", config.memory)?,
            environment: vec![(SETTINGS_ENV.to_owned(), settings)],
            log_options: vec![
                ("awslogs-group".into(), config.per_instance_log_group()),
                ("awslogs-region".into(), config.aws_region.clone()),
                ("awslogs-stream-prefix".into(), config.app_name.clone()),
            ],
        },
        task_role_arn: config.task_role_arn.clone(),
    });
    requests.push(Request::CreateService {
        cluster: config.ecs_cluster.clone(),
        service_name: config.ecs_service_name.clone(),
        task_definition: config.ecs_task_family.clone(),
        desired_count: 0,
    });
    Ok(Plan {
        requests,
        kept: Vec::new(),
    })
}

/// A setting as the 32-bit integer ECS takes; settings are range-checked when read, so a
/// value that does not fit is refused here rather than wrapped.
fn ecs_integer(key: &str, value: u32) -> Result<i32, FleetError> {
    i32::try_from(value).map_err(|_| {
        let why = format!("{key} = {value} does not fit the 32-bit integer ECS takes");
        AwsError::new("RegisterTaskDefinition", key, why).into()
    })
}
