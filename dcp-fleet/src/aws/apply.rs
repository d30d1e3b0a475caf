//! Sending a plan's requests ([`AwsFleet::apply`]). Every request is safe to send twice:
//! a resource already gone counts as done, so a second teardown — or two monitors at
//! once — does no harm.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dcp_common::aws::{ProvideErrorMetadata, Settled, codes, failed, settle};
use serde::Serialize;

use super::AwsFleet;
use super::plan::Request;
use crate::FleetError;

mod capacity;
mod monitor;
mod setup;

/// How requests are sent.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    /// How long to wait for a log export before keeping the log group.
    pub export_wait: Duration,
}

/// A request sent, and what came of it.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    /// The request.
    #[serde(flatten)]
    pub request: Request,
    /// `done`, `found` (a resource to make was there already: kept, or moved as the note
    /// says), `gone` (nothing to do: already deleted or cancelled) or `kept` (see `note`).
    pub result: &'static str,
    /// Why a resource was kept, the id of the Spot Fleet a RequestSpotFleet made, or what a
    /// setup request made or found (`family:revision` of a RegisterTaskDefinition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a log export ended.
enum Export {
    /// Its objects are in the bucket.
    Finished,
    /// The log group no longer exists.
    GroupGone,
    /// It failed or is still running, as said.
    Unfinished(String),
}

/// How often an export's state is read.
const EXPORT_POLL: Duration = Duration::from_secs(2);

impl AwsFleet {
    /// Sends `requests` in order. A log group is deleted only after its export finished
    /// within `options.export_wait`; otherwise it is kept, with the reason.
    pub async fn apply(
        &self,
        requests: Vec<Request>,
        options: ApplyOptions,
    ) -> Result<Vec<Applied>, FleetError> {
        let mut unexported = HashSet::new();
        let mut new_fleet: Option<String> = None;
        let mut registered: Option<String> = None;
        let mut applied = Vec::with_capacity(requests.len());
        for request in requests {
            let (result, note) = match &request {
                Request::CreateExportTask { log_group_name, .. } => {
                    match self.export(&request, options.export_wait).await? {
                        Export::Finished => ("done", None),
                        Export::GroupGone => ("gone", None),
                        Export::Unfinished(why) => {
                            unexported.insert(log_group_name.clone());
                            ("kept", Some(why))
                        }
                    }
                }
                Request::DeleteLogGroup { log_group_name }
                    if unexported.contains(log_group_name) =>
                {
                    ("kept", Some("its export did not finish".to_owned()))
                }
                Request::DeleteCluster { cluster } => {
                    let sent = self.ecs.delete_cluster().cluster(cluster).send().await;
                    match sent {
                        Err(e) if e.code().is_some_and(|c| c.starts_with("ClusterContains")) => (
                            "kept",
                            Some(format!(
                                "{}; run teardown again once its instances have left",
                                e.message().unwrap_or("not empty yet")
                            )),
                        ),
                        sent => (
                            settle("DeleteCluster", cluster, sent, codes::ECS_CLUSTER_GONE)?
                                .as_str(),
                            None,
                        ),
                    }
                }
                Request::CreateLaunchTemplate { .. }
                | Request::CreateAutoScalingGroup { .. }
                | Request::UpdateAutoScalingGroup { .. }
                | Request::DeleteAutoScalingGroup { .. }
                | Request::DeleteLaunchTemplate { .. }
                | Request::RequestSpotFleet { .. }
                | Request::PutDashboard { .. } => {
                    let (settled, made) =
                        self.send_capacity(&request, new_fleet.as_deref()).await?;
                    if made.is_some() {
                        new_fleet.clone_from(&made);
                    }
                    (settled.as_str(), made)
                }
                Request::CreateQueues { .. }
                | Request::CreateCluster { .. }
                | Request::CreateLogGroup { .. }
                | Request::PutRetentionPolicy { .. }
                | Request::RegisterTaskDefinition { .. }
                | Request::CreateService { .. } => {
                    let (result, note) = self.send_setup(&request, registered.as_deref()).await?;
                    if matches!(request, Request::RegisterTaskDefinition { .. }) {
                        registered.clone_from(&note);
                    }
                    (result, note)
                }
                Request::RegisterMonitorTaskDefinition { .. }
                | Request::CreateSchedule { .. }
                | Request::DeleteSchedule { .. } => {
                    (self.send_monitor(&request).await?.as_str(), None)
                }
                other => (self.send(other).await?.as_str(), None),
            };
            applied.push(Applied {
                request,
                result,
                note,
            });
        }
        Ok(applied)
    }

    /// Sends one request that needs no follow-up.
    async fn send(&self, request: &Request) -> Result<Settled, FleetError> {
        const SERVICE_GONE: &[&str] = codes::ECS_SERVICE_GONE;
        match request {
            Request::UpdateService {
                cluster,
                service,
                desired_count,
            } => {
                let sent = self
                    .ecs
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .desired_count(*desired_count)
                    .send()
                    .await;
                Ok(settle(
                    "UpdateService",
                    format!("{cluster}/{service}"),
                    sent,
                    SERVICE_GONE,
                )?)
            }
            Request::ModifySpotFleetRequest {
                spot_fleet_request_id,
                target_capacity,
                excess_capacity_termination_policy,
            } => {
                let sent = self
                    .ec2
                    .modify_spot_fleet_request()
                    .spot_fleet_request_id(spot_fleet_request_id)
                    .target_capacity(*target_capacity)
                    .excess_capacity_termination_policy(
                        excess_capacity_termination_policy.as_str().into(),
                    )
                    .send()
                    .await;
                Ok(settle(
                    "ModifySpotFleetRequest",
                    spot_fleet_request_id,
                    sent,
                    codes::SPOT_FLEET_GONE,
                )?)
            }
            Request::CancelSpotFleetRequests {
                spot_fleet_request_ids,
                terminate_instances,
            } => {
                let sent = self
                    .ec2
                    .cancel_spot_fleet_requests()
                    .set_spot_fleet_request_ids(Some(spot_fleet_request_ids.clone()))
                    .terminate_instances(*terminate_instances)
                    .send()
                    .await;
                match sent {
                    Ok(sent) if sent.successful_fleet_requests().is_empty() => Ok(Settled::Gone),
                    Ok(_) => Ok(Settled::Done),
                    // Some endpoints fail on a fleet cancelled meanwhile (by another
                    // teardown) instead of listing it as unsuccessful: look again.
                    Err(e) => {
                        let open = self.fleets().await?;
                        if open.iter().any(|f| spot_fleet_request_ids.contains(&f.id)) {
                            Err(failed(
                                "CancelSpotFleetRequests",
                                spot_fleet_request_ids.join(","),
                            )(e)
                            .into())
                        } else {
                            Ok(Settled::Gone)
                        }
                    }
                }
            }
            Request::DeleteAlarms { alarm_names } => {
                let sent = self
                    .cloudwatch
                    .delete_alarms()
                    .set_alarm_names(Some(alarm_names.clone()))
                    .send()
                    .await;
                Ok(settle(
                    "DeleteAlarms",
                    alarm_names.join(","),
                    sent,
                    codes::CLOUDWATCH_GONE,
                )?)
            }
            Request::DeleteService {
                cluster,
                service,
                force,
            } => {
                let sent = self
                    .ecs
                    .delete_service()
                    .cluster(cluster)
                    .service(service)
                    .force(*force)
                    .send()
                    .await;
                Ok(settle(
                    "DeleteService",
                    format!("{cluster}/{service}"),
                    sent,
                    SERVICE_GONE,
                )?)
            }
            Request::DeregisterTaskDefinition { task_definition } => {
                let sent = self
                    .ecs
                    .deregister_task_definition()
                    .task_definition(task_definition)
                    .send()
                    .await;
                Ok(settle(
                    "DeregisterTaskDefinition",
                    task_definition,
                    sent,
                    codes::ECS_TASK_DEFINITION_GONE,
                )?)
            }
            Request::DeleteQueue { queue_url } => {
                let sent = self.sqs.delete_queue().queue_url(queue_url).send().await;
                Ok(settle(
                    "DeleteQueue",
                    queue_url,
                    sent,
                    codes::SQS_QUEUE_GONE,
                )?)
            }
            Request::DeleteDashboards { dashboard_names } => {
                let sent = self
                    .cloudwatch
                    .delete_dashboards()
                    .set_dashboard_names(Some(dashboard_names.clone()))
                    .send()
                    .await;
                Ok(settle(
                    "DeleteDashboards",
                    dashboard_names.join(","),
                    sent,
                    codes::CLOUDWATCH_GONE,
                )?)
            }
            Request::DeleteLogGroup { log_group_name } => {
                let sent = self
                    .logs
                    .delete_log_group()
                    .log_group_name(log_group_name)
                    .send()
                    .await;
                Ok(settle(
                    "DeleteLogGroup",
                    log_group_name,
                    sent,
                    codes::LOGS_GONE,
                )?)
            }
            other => unreachable!("sent by apply: {other:?}"),
        }
    }

    /// Exports a log group and waits for the export (CloudWatch runs one export per
    /// account at a time, so a busy slot is waited for too).
    async fn export(&self, request: &Request, wait: Duration) -> Result<Export, FleetError> {
        let Request::CreateExportTask {
            log_group_name,
            from,
            to,
            destination,
            destination_prefix,
        } = request
        else {
            unreachable!("called with an export");
        };
        let started = Instant::now();
        let task_id = loop {
            let sent = self
                .logs
                .create_export_task()
                .log_group_name(log_group_name)
                .from(*from)
                .to(*to)
                .destination(destination)
                .destination_prefix(destination_prefix)
                .send()
                .await;
            match sent {
                Ok(task) => break task.task_id.unwrap_or_default(),
                Err(e) if e.code().is_some_and(|c| codes::LOGS_GONE.contains(&c)) => {
                    return Ok(Export::GroupGone);
                }
                Err(e)
                    if e.code() == Some("LimitExceededException") && started.elapsed() < wait =>
                {
                    tokio::time::sleep(EXPORT_POLL).await;
                }
                Err(e) => {
                    return Err(failed(
                        "CreateExportTask",
                        format!("{log_group_name} to {destination}/{destination_prefix}"),
                    )(e)
                    .into());
                }
            }
        };
        loop {
            let described = self
                .logs
                .describe_export_tasks()
                .task_id(&task_id)
                .send()
                .await
                .map_err(failed("DescribeExportTasks", &task_id))?;
            let status = described
                .export_tasks()
                .first()
                .and_then(|t| t.status())
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_owned());
            match status.as_deref() {
                Some("COMPLETED") => return Ok(Export::Finished),
                Some(failed @ ("CANCELLED" | "FAILED")) => {
                    return Ok(Export::Unfinished(format!("export {task_id} {failed}")));
                }
                _ if started.elapsed() >= wait => {
                    return Ok(Export::Unfinished(format!(
                        "export {task_id} still running after {} s",
                        wait.as_secs()
                    )));
                }
                _ => tokio::time::sleep(EXPORT_POLL).await,
            }
        }
    }
}
