//! `dcp-fleet setup` on AWS (reference §4): the ECS cluster, the task definition of the
//! worker container, the ECS service (desired count 0) and the log groups. The settings
//! reach the containers as `DCP_SETTINGS`; credentials never do: containers get theirs from
//! the task role (TASK_ROLE_ARN) or the instance profile.

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_ecs::Client as Ecs;
use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver};
use dcp_common::Config;
use dcp_common::aws::{AwsError, codes, failed, settle};
use dcp_common::config::SETTINGS_ENV;
use serde::Serialize;

use crate::FleetError;

/// Days CloudWatch keeps the run's logs, as DCP sets it.
const LOG_RETENTION_DAYS: i32 = 60;

/// Everything setup asks of AWS, printed as it is by `--dry-run`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupPlan {
    /// The ECS cluster (made if missing).
    pub cluster: String,
    /// Log groups, with their retention.
    pub log_groups: Vec<String>,
    /// Days the log groups keep their logs.
    pub retention_in_days: i32,
    /// The task definition family.
    pub family: String,
    /// The worker container.
    pub container: Container,
    /// The role the containers run as; empty: the instance profile's.
    pub task_role_arn: String,
    /// The ECS service, created with desired count 0.
    pub service: String,
}

/// The worker container of the task definition.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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

/// What setup made or found.
#[derive(Debug, Serialize)]
pub struct SetupReport {
    /// The requests, as planned.
    pub plan: SetupPlan,
    /// The registered task definition, `family:revision`.
    pub task_definition: String,
    /// Whether the service was made now (false: found, and moved to the new task definition).
    pub service_created: bool,
}

/// The plan for a run's settings.
pub fn plan(config: &Config) -> Result<SetupPlan, FleetError> {
    let settings = serde_json::to_string(config).expect("settings are JSON");
    let per_instance = config.per_instance_log_group();
    Ok(SetupPlan {
        cluster: config.ecs_cluster.clone(),
        log_groups: config.log_groups().to_vec(),
        retention_in_days: LOG_RETENTION_DAYS,
        family: config.ecs_task_family.clone(),
        container: Container {
            name: config.app_name.clone(),
            image: config.dockerhub_tag.clone(),
            cpu: ecs_integer("CPU_SHARES", config.cpu_shares)?,
            memory: ecs_integer("MEMORY", config.memory)?,
            environment: vec![(SETTINGS_ENV.to_owned(), settings)],
            log_options: vec![
                ("awslogs-group".into(), per_instance),
                ("awslogs-region".into(), config.aws_region.clone()),
                ("awslogs-stream-prefix".into(), config.app_name.clone()),
            ],
        },
        task_role_arn: config.task_role_arn.clone(),
        service: config.ecs_service_name.clone(),
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

/// Carries out a plan.
pub async fn apply(plan: SetupPlan, ecs: &Ecs, logs: &Logs) -> Result<SetupReport, FleetError> {
    ecs.create_cluster()
        .cluster_name(&plan.cluster)
        .send()
        .await
        .map_err(failed("CreateCluster", &plan.cluster))?;
    for group in &plan.log_groups {
        let sent = logs.create_log_group().log_group_name(group).send().await;
        settle("CreateLogGroup", group, sent, codes::LOGS_EXISTS)?;
        logs.put_retention_policy()
            .log_group_name(group)
            .retention_in_days(plan.retention_in_days)
            .send()
            .await
            .map_err(failed("PutRetentionPolicy", group))?;
    }
    let c = &plan.container;
    let mut log_configuration = LogConfiguration::builder().log_driver(LogDriver::Awslogs);
    for (name, value) in &c.log_options {
        log_configuration = log_configuration.options(name, value);
    }
    let mut container = ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(c.cpu)
        .memory(c.memory)
        .essential(true)
        .log_configuration(log_configuration.build().map_err(|e| {
            let why = dcp_common::aws::error_chain(&e);
            AwsError::new("RegisterTaskDefinition", &plan.family, why)
        })?);
    for (name, value) in &c.environment {
        container = container.environment(KeyValuePair::builder().name(name).value(value).build());
    }
    let mut register = ecs
        .register_task_definition()
        .family(&plan.family)
        .container_definitions(container.build());
    if !plan.task_role_arn.is_empty() {
        register = register.task_role_arn(&plan.task_role_arn);
    }
    let registered = register
        .send()
        .await
        .map_err(failed("RegisterTaskDefinition", &plan.family))?
        .task_definition;
    let revision = registered.map_or(0, |t| t.revision);
    let task_definition = format!("{}:{revision}", plan.family);
    let service = format!("{}/{}", plan.cluster, plan.service);
    let existing = ecs
        .describe_services()
        .cluster(&plan.cluster)
        .services(&plan.service)
        .send()
        .await
        .map_err(failed("DescribeServices", &service))?;
    let active = existing
        .services()
        .iter()
        .any(|s| s.status() == Some("ACTIVE"));
    if active {
        ecs.update_service()
            .cluster(&plan.cluster)
            .service(&plan.service)
            .task_definition(&task_definition)
            .send()
            .await
            .map_err(failed("UpdateService", &service))?;
    } else {
        ecs.create_service()
            .cluster(&plan.cluster)
            .service_name(&plan.service)
            .task_definition(&task_definition)
            .desired_count(0)
            .send()
            .await
            .map_err(failed("CreateService", &service))?;
    }
    Ok(SetupReport {
        plan,
        task_definition,
        service_created: !active,
    })
}
