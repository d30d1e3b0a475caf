//! Sending `setup`'s requests: the queues, the cluster, the log groups, the worker's task
//! definition and the service. A resource that exists is kept (`found`), as DCP's run.py
//! setup keeps it; the service is moved to the new task definition.

use std::time::Duration;

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, LogConfiguration, LogDriver};
use dcp_common::aws::{AwsError, Settled, codes, failed, settle};
use dcp_common::queue::SqsQueue;
use dcp_common::{Queue, QueueSpec};

use super::super::AwsFleet;
use super::super::plan::Request;
use crate::FleetError;

/// `done`, or `found` when the resource was there already.
fn made(settled: Settled) -> &'static str {
    match settled {
        Settled::Done => "done",
        Settled::Gone => "found",
    }
}

impl AwsFleet {
    /// Sends a request of `setup`; `registered` is the `family:revision` a
    /// RegisterTaskDefinition before it made. Returns the result and its note.
    pub(super) async fn send_setup(
        &self,
        request: &Request,
        registered: Option<&str>,
    ) -> Result<(&'static str, Option<String>), FleetError> {
        match request {
            Request::CreateQueues {
                queue_name,
                dead_letter_queue_name,
                visibility_timeout,
                max_receive_count,
            } => {
                let spec = QueueSpec {
                    name: queue_name.clone(),
                    dead_letter_queue: dead_letter_queue_name.clone(),
                    visibility_timeout: Duration::from_secs(*visibility_timeout),
                    max_receives: *max_receive_count,
                };
                let created = SqsQueue::new(self.sqs.clone(), spec).create().await?;
                let state = |new: bool| if new { "made" } else { "found" };
                let note = format!(
                    "queue {}, its attributes set; dead-letter queue {}",
                    state(created.queue),
                    state(created.dead_letter_queue)
                );
                Ok(("done", Some(note)))
            }
            Request::CreateCluster { cluster_name } => {
                self.ecs
                    .create_cluster()
                    .cluster_name(cluster_name)
                    .send()
                    .await
                    .map_err(failed("CreateCluster", cluster_name))?;
                Ok(("done", None))
            }
            Request::CreateLogGroup { log_group_name } => {
                let sent = self
                    .logs
                    .create_log_group()
                    .log_group_name(log_group_name)
                    .send()
                    .await;
                let settled = settle("CreateLogGroup", log_group_name, sent, codes::LOGS_EXISTS)?;
                Ok((made(settled), None))
            }
            Request::PutRetentionPolicy {
                log_group_name,
                retention_in_days,
            } => {
                self.logs
                    .put_retention_policy()
                    .log_group_name(log_group_name)
                    .retention_in_days(*retention_in_days)
                    .send()
                    .await
                    .map_err(failed("PutRetentionPolicy", log_group_name))?;
                Ok(("done", None))
            }
            Request::RegisterTaskDefinition { .. } => {
                let registered = self.register_worker(request).await?;
                Ok(("done", Some(registered)))
            }
            Request::CreateService {
                cluster,
                service_name,
                task_definition,
                desired_count,
            } => {
                let task_definition = registered.unwrap_or(task_definition);
                let service = format!("{cluster}/{service_name}");
                let existing = self
                    .ecs
                    .describe_services()
                    .cluster(cluster)
                    .services(service_name)
                    .send()
                    .await
                    .map_err(failed("DescribeServices", &service))?;
                let active = existing
                    .services()
                    .iter()
                    .any(|s| s.status() == Some("ACTIVE"));
                if active {
                    self.ecs
                        .update_service()
                        .cluster(cluster)
                        .service(service_name)
                        .task_definition(task_definition)
                        .send()
                        .await
                        .map_err(failed("UpdateService", &service))?;
                    let note = format!("the service existed: moved to {task_definition}");
                    return Ok(("found", Some(note)));
                }
                self.ecs
                    .create_service()
                    .cluster(cluster)
                    .service_name(service_name)
                    .task_definition(task_definition)
                    .desired_count(*desired_count)
                    .send()
                    .await
                    .map_err(failed("CreateService", &service))?;
                Ok(("done", Some(format!("made with {task_definition}"))))
            }
            other => unreachable!("not a setup request: {other:?}"),
        }
    }

    /// Registers the worker's task definition; returns its `family:revision`.
    async fn register_worker(&self, request: &Request) -> Result<String, FleetError> {
        let Request::RegisterTaskDefinition {
            family,
            container: c,
            task_role_arn,
        } = request
        else {
            unreachable!("called with the worker's task definition");
        };
        let mut logs = LogConfiguration::builder().log_driver(LogDriver::Awslogs);
        for (name, value) in &c.log_options {
            logs = logs.options(name, value);
        }
        let logs = logs.build().map_err(|e| {
            let why = dcp_common::aws::error_chain(&e);
            AwsError::new("RegisterTaskDefinition", family, why)
        })?;
        let mut container = ContainerDefinition::builder()
            .name(&c.name)
            .image(&c.image)
            .cpu(c.cpu)
            .memory(c.memory)
            .essential(true)
            .log_configuration(logs);
        for (name, value) in &c.environment {
            container =
                container.environment(KeyValuePair::builder().name(name).value(value).build());
        }
        let mut register = self
            .ecs
            .register_task_definition()
            .family(family)
            .container_definitions(container.build());
        if !task_role_arn.is_empty() {
            register = register.task_role_arn(task_role_arn);
        }
        let registered = register
            .send()
            .await
            .map_err(failed("RegisterTaskDefinition", family))?
            .task_definition;
        let revision = registered.map_or(0, |t| t.revision);
        Ok(format!("{family}:{revision}"))
    }
}
