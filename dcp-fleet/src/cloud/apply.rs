//! Sending a plan's requests ([`Cloud::apply`]). Every request is safe to send twice:
//! a resource already gone counts as done, so a second teardown — or two monitors at
//! once — does no harm.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::error::SdkError;
use serde::Serialize;

use super::Cloud;
use super::discover::failed;
use super::plan::Request;
use crate::FleetError;

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
    /// `done`, `gone` (nothing to do: already deleted or cancelled) or `kept` (see `note`).
    pub result: &'static str,
    /// Why a resource was kept.
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

/// A call's result: done, or gone when the error's code is one of `gone`.
fn settle<T, E>(
    call: &'static str,
    resource: impl std::fmt::Display,
    sent: Result<T, SdkError<E>>,
    gone: &[&str],
) -> Result<&'static str, FleetError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match sent {
        Ok(_) => Ok("done"),
        Err(e) if e.code().is_some_and(|c| gone.contains(&c)) => Ok("gone"),
        Err(e) => Err(failed(call, resource)(e)),
    }
}

impl Cloud {
    /// Sends `requests` in order. A log group is deleted only after its export finished
    /// within `options.export_wait`; otherwise it is kept, with the reason.
    pub async fn apply(
        &self,
        requests: Vec<Request>,
        options: ApplyOptions,
    ) -> Result<Vec<Applied>, FleetError> {
        let mut unexported = HashSet::new();
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
                            settle(
                                "DeleteCluster",
                                cluster,
                                sent,
                                &["ClusterNotFoundException"],
                            )?,
                            None,
                        ),
                    }
                }
                other => (self.send(other).await?, None),
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
    async fn send(&self, request: &Request) -> Result<&'static str, FleetError> {
        const SERVICE_GONE: &[&str] = &[
            "ServiceNotFoundException",
            "ServiceNotActiveException",
            "ClusterNotFoundException",
        ];
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
                settle(
                    "UpdateService",
                    format!("{cluster}/{service}"),
                    sent,
                    SERVICE_GONE,
                )
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
                settle(
                    "ModifySpotFleetRequest",
                    spot_fleet_request_id,
                    sent,
                    &["InvalidSpotFleetRequestId.NotFound"],
                )
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
                    Ok(sent) if sent.successful_fleet_requests().is_empty() => Ok("gone"),
                    Ok(_) => Ok("done"),
                    // Some endpoints fail on a fleet cancelled meanwhile (by another
                    // teardown) instead of listing it as unsuccessful: look again.
                    Err(e) => {
                        let open = self.fleets().await?;
                        if open.iter().any(|f| spot_fleet_request_ids.contains(&f.id)) {
                            Err(failed(
                                "CancelSpotFleetRequests",
                                spot_fleet_request_ids.join(","),
                            )(e))
                        } else {
                            Ok("gone")
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
                settle(
                    "DeleteAlarms",
                    alarm_names.join(","),
                    sent,
                    &["ResourceNotFound"],
                )
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
                settle(
                    "DeleteService",
                    format!("{cluster}/{service}"),
                    sent,
                    SERVICE_GONE,
                )
            }
            Request::DeregisterTaskDefinition { task_definition } => {
                let sent = self
                    .ecs
                    .deregister_task_definition()
                    .task_definition(task_definition)
                    .send()
                    .await;
                settle(
                    "DeregisterTaskDefinition",
                    task_definition,
                    sent,
                    &["ClientException"],
                )
            }
            Request::DeleteQueue { queue_url } => {
                let sent = self.sqs.delete_queue().queue_url(queue_url).send().await;
                settle(
                    "DeleteQueue",
                    queue_url,
                    sent,
                    &[
                        "AWS.SimpleQueueService.NonExistentQueue",
                        "QueueDoesNotExist",
                    ],
                )
            }
            Request::DeleteDashboards { dashboard_names } => {
                let sent = self
                    .cloudwatch
                    .delete_dashboards()
                    .set_dashboard_names(Some(dashboard_names.clone()))
                    .send()
                    .await;
                settle(
                    "DeleteDashboards",
                    dashboard_names.join(","),
                    sent,
                    &["ResourceNotFound"],
                )
            }
            Request::DeleteLogGroup { log_group_name } => {
                let sent = self
                    .logs
                    .delete_log_group()
                    .log_group_name(log_group_name)
                    .send()
                    .await;
                settle(
                    "DeleteLogGroup",
                    log_group_name,
                    sent,
                    &["ResourceNotFoundException"],
                )
            }
            Request::CreateExportTask { .. } | Request::DeleteCluster { .. } => {
                unreachable!("sent by apply with their follow-up")
            }
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
                Err(e) if e.code() == Some("ResourceNotFoundException") => {
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
                    )(e));
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
