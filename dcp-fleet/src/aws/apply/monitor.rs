//! Sending the monitor's requests: its task definition and its schedule.

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
};
use aws_sdk_scheduler::types::{
    AssignPublicIp, AwsVpcConfiguration, EcsParameters, FlexibleTimeWindow, FlexibleTimeWindowMode,
    LaunchType, NetworkConfiguration, Target,
};
use dcp_common::aws::{AwsError, Settled, codes, failed, settle};

use super::super::AwsFleet;
use super::super::plan::Request;
use crate::FleetError;

impl AwsFleet {
    /// Sends a request of the monitor.
    pub(super) async fn send_monitor(&self, request: &Request) -> Result<Settled, FleetError> {
        match request {
            Request::RegisterMonitorTaskDefinition { .. } => self.register_monitor(request).await,
            Request::CreateSchedule { .. } => self.create_schedule(request).await,
            Request::DeleteSchedule { name } => {
                let sent = self.scheduler.delete_schedule().name(name).send().await;
                Ok(settle("DeleteSchedule", name, sent, codes::SCHEDULE_GONE)?)
            }
            other => unreachable!("not a monitor request: {other:?}"),
        }
    }

    async fn register_monitor(&self, request: &Request) -> Result<Settled, FleetError> {
        let Request::RegisterMonitorTaskDefinition {
            family,
            image,
            entry_point,
            command,
            environment,
            cpu,
            memory,
            task_role_arn,
            log_group,
            region,
        } = request
        else {
            unreachable!("called with the monitor's task definition");
        };
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", log_group)
            .options("awslogs-region", region)
            .options("awslogs-stream-prefix", "monitor")
            .build()
            .map_err(|e| {
                let why = dcp_common::aws::error_chain(&e);
                AwsError::new("RegisterTaskDefinition", family, why)
            })?;
        let mut container = ContainerDefinition::builder()
            .name("monitor")
            .image(image)
            .essential(true)
            .set_entry_point(Some(entry_point.clone()))
            .set_command(Some(command.clone()))
            .log_configuration(logs);
        for (name, value) in environment {
            container =
                container.environment(KeyValuePair::builder().name(name).value(value).build());
        }
        self.ecs
            .register_task_definition()
            .family(family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu(cpu)
            .memory(memory)
            .task_role_arn(task_role_arn)
            .execution_role_arn(task_role_arn)
            .container_definitions(container.build())
            .send()
            .await
            .map_err(failed("RegisterTaskDefinition", family))?;
        Ok(Settled::Done)
    }

    async fn create_schedule(&self, request: &Request) -> Result<Settled, FleetError> {
        let Request::CreateSchedule {
            name,
            schedule_expression,
            cluster,
            task_definition,
            role_arn,
            subnets,
            security_groups,
            assign_public_ip,
        } = request
        else {
            unreachable!("called with the schedule");
        };
        let described = self
            .ecs
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(failed("DescribeClusters", cluster))?;
        let cluster_arn = described
            .clusters()
            .first()
            .and_then(|c| c.cluster_arn())
            .ok_or_else(|| AwsError::new("DescribeClusters", cluster, "no such cluster"))?
            .to_owned();
        let definition = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(failed("DescribeTaskDefinition", task_definition))?;
        let definition_arn = definition
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .ok_or_else(|| AwsError::new("DescribeTaskDefinition", task_definition, "no ARN"))?
            .to_owned();
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets.clone()))
            .set_security_groups(Some(security_groups.clone()))
            .assign_public_ip(if *assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| AwsError::new("CreateSchedule", name, e.to_string()))?;
        let ecs = EcsParameters::builder()
            .task_definition_arn(definition_arn)
            .launch_type(LaunchType::Fargate)
            .task_count(1)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            )
            .build()
            .map_err(|e| AwsError::new("CreateSchedule", name, e.to_string()))?;
        let target = Target::builder()
            .arn(cluster_arn)
            .role_arn(role_arn)
            .ecs_parameters(ecs)
            .build()
            .map_err(|e| AwsError::new("CreateSchedule", name, e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| AwsError::new("CreateSchedule", name, e.to_string()))?;
        self.scheduler
            .create_schedule()
            .name(name)
            .schedule_expression(schedule_expression)
            .target(target)
            .flexible_time_window(window)
            .send()
            .await
            .map_err(failed("CreateSchedule", name))?;
        Ok(Settled::Done)
    }
}
