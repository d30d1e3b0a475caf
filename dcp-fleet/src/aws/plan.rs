//! What `scale`, `stop` and `teardown` ask of AWS, decided from what was found
//! ([`super::Found`]) before anything changes; `--dry-run` prints these requests.

use std::time::{SystemTime, UNIX_EPOCH};

use dcp_common::Config;
use serde::Serialize;

use super::Found;
use crate::FleetError;

/// One mutating AWS call, named and shaped as the API's request (PascalCase fields).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "Request", rename_all_fields = "PascalCase")]
pub enum Request {
    /// ECS: set the service's desired task count.
    UpdateService {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// Tasks wanted.
        desired_count: i32,
    },
    /// EC2: change a fleet's target capacity; a lower target terminates no instance (the
    /// idle alarm reaps machines that run out of work).
    ModifySpotFleetRequest {
        /// The fleet.
        spot_fleet_request_id: String,
        /// Instances wanted.
        target_capacity: i32,
        /// Always `noTermination`.
        excess_capacity_termination_policy: String,
    },
    /// EC2: cancel fleets and terminate their instances.
    CancelSpotFleetRequests {
        /// The fleets.
        spot_fleet_request_ids: Vec<String>,
        /// Always true.
        terminate_instances: bool,
    },
    /// CloudWatch: delete instance alarms (up to 100 per request).
    DeleteAlarms {
        /// The alarms.
        alarm_names: Vec<String>,
    },
    /// ECS: delete the service (its desired count is 0 by then).
    DeleteService {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// Delete even with tasks still draining.
        force: bool,
    },
    /// ECS: deregister a task definition revision.
    DeregisterTaskDefinition {
        /// `family:revision`.
        task_definition: String,
    },
    /// SQS: delete a queue.
    DeleteQueue {
        /// Its URL.
        queue_url: String,
    },
    /// ECS: delete the cluster.
    DeleteCluster {
        /// The cluster.
        cluster: String,
    },
    /// CloudWatch Logs: export a log group to S3 (and wait for the export to finish).
    CreateExportTask {
        /// The group.
        log_group_name: String,
        /// From (unix milliseconds).
        from: i64,
        /// To (unix milliseconds).
        to: i64,
        /// The bucket.
        destination: String,
        /// The key prefix.
        destination_prefix: String,
    },
    /// CloudWatch: delete the run's dashboard.
    DeleteDashboards {
        /// The dashboards.
        dashboard_names: Vec<String>,
    },
    /// CloudWatch Logs: delete a log group (only once its export has finished).
    DeleteLogGroup {
        /// The group.
        log_group_name: String,
    },
}

/// The requests of a command, and what it leaves in place on purpose.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// The requests, in order.
    pub requests: Vec<Request>,
    /// Resources kept, each with the reason.
    pub kept: Vec<String>,
}

/// DeleteAlarms takes at most this many names.
const ALARMS_PER_REQUEST: usize = 100;

fn delete_alarms<'a>(names: impl Iterator<Item = &'a str>) -> Vec<Request> {
    let names: Vec<String> = names.map(str::to_owned).collect();
    names
        .chunks(ALARMS_PER_REQUEST)
        .map(|chunk| Request::DeleteAlarms {
            alarm_names: chunk.to_vec(),
        })
        .collect()
}

fn set_target(fleet_id: &str, target: i32) -> Request {
    Request::ModifySpotFleetRequest {
        spot_fleet_request_id: fleet_id.to_owned(),
        target_capacity: target,
        excess_capacity_termination_policy: "noTermination".into(),
    }
}

fn update_service(config: &Config, desired: i32) -> Request {
    Request::UpdateService {
        cluster: config.ecs_cluster.clone(),
        service: config.ecs_service_name.clone(),
        desired_count: desired,
    }
}

/// `scale N`: every open fleet's target to `machines`, the service to
/// `machines × TASKS_PER_MACHINE` tasks.
pub fn scale(config: &Config, found: &Found, machines: u32) -> Result<Plan, FleetError> {
    let open: Vec<_> = found.fleets.iter().filter(|f| f.is_open()).collect();
    if open.is_empty() {
        return Err(FleetError::NotStarted {
            app_name: config.app_name.clone(),
        });
    }
    let mut requests: Vec<Request> = open
        .iter()
        .map(|f| set_target(&f.id, machines as i32))
        .collect();
    if found.service.is_some() {
        requests.push(update_service(
            config,
            (machines * config.tasks_per_machine) as i32,
        ));
    }
    Ok(Plan {
        requests,
        kept: Vec::new(),
    })
}

/// Lowers every open fleet whose target is above `target` to it (the monitor's
/// scale-down: busy machines keep running).
pub fn shrink(found: &Found, target: i32) -> Vec<Request> {
    found
        .fleets
        .iter()
        .filter(|f| f.is_open() && f.target_capacity > target)
        .map(|f| set_target(&f.id, target))
        .collect()
}

/// Deletes the alarms of the instances in `gone`.
pub fn stale_alarms(found: &Found, gone: &[String]) -> Vec<Request> {
    delete_alarms(
        found
            .alarms
            .iter()
            .filter(|a| gone.contains(&a.instance))
            .map(|a| a.name.as_str()),
    )
}

/// `stop`: the service to 0 tasks, the fleets cancelled with their instances terminated,
/// the instance alarms deleted.
pub fn stop(config: &Config, found: &Found) -> Plan {
    let mut requests = Vec::new();
    if found.service.is_some_and(|s| s.desired > 0) {
        requests.push(update_service(config, 0));
    }
    if !found.fleets.is_empty() {
        requests.push(Request::CancelSpotFleetRequests {
            spot_fleet_request_ids: found.fleets.iter().map(|f| f.id.clone()).collect(),
            terminate_instances: true,
        });
    }
    requests.extend(delete_alarms(found.alarms.iter().map(|a| a.name.as_str())));
    Plan {
        requests,
        kept: Vec::new(),
    }
}

/// `teardown`: [`stop`], then the service, the task definitions, the queues (the
/// dead-letter queue only when it holds no letters and no other queue's redrive policy
/// names it: DCP's settings share `user_DeadMessages` between runs), the cluster when it is not "default" and serves
/// nothing else, the dashboard with CLEAN_DASHBOARD, and, unless `keep_logs`, each log group exported to
/// AWS_BUCKET/exportedlogs/<group>/ and then deleted.
pub fn teardown(config: &Config, found: &Found, keep_logs: bool, now: SystemTime) -> Plan {
    let mut plan = stop(config, found);
    let requests = &mut plan.requests;
    if found.service.is_some() {
        requests.push(Request::DeleteService {
            cluster: config.ecs_cluster.clone(),
            service: config.ecs_service_name.clone(),
            force: true,
        });
    }
    requests.extend(
        found
            .task_definitions
            .iter()
            .map(|t| Request::DeregisterTaskDefinition {
                task_definition: t.clone(),
            }),
    );
    if let Some(queue) = &found.queue {
        requests.push(Request::DeleteQueue {
            queue_url: queue.url.clone(),
        });
    }
    match &found.dead_letter_queue {
        Some(dead) if !dead.other_sources.is_empty() => plan.kept.push(format!(
            "dead-letter queue {}: the redrive policy of {} names it",
            config.sqs_dead_letter_queue,
            dead.other_sources.join(", ")
        )),
        Some(dead) if dead.letters > 0 => plan.kept.push(format!(
            "dead-letter queue {}: holds {} task(s); see `dcp-queue dead`, then `dcp-queue delete`",
            config.sqs_dead_letter_queue, dead.letters
        )),
        Some(dead) => requests.push(Request::DeleteQueue {
            queue_url: dead.url.clone(),
        }),
        None => {}
    }
    if found.cluster {
        if config.ecs_cluster == "default" {
            plan.kept.push("cluster default: never deleted".into());
        } else if found.other_services > 0 {
            plan.kept.push(format!(
                "cluster {}: serves {} other service(s)",
                config.ecs_cluster, found.other_services
            ));
        } else {
            requests.push(Request::DeleteCluster {
                cluster: config.ecs_cluster.clone(),
            });
        }
    }
    if found.dashboard {
        if config.clean_dashboard {
            requests.push(Request::DeleteDashboards {
                dashboard_names: vec![config.app_name.clone()],
            });
        } else {
            plan.kept.push(format!(
                "dashboard {}: CLEAN_DASHBOARD is false",
                config.app_name
            ));
        }
    }
    if keep_logs {
        plan.kept.extend(
            found
                .log_groups
                .iter()
                .map(|g| format!("log group {g}: --keep-logs")),
        );
        return plan;
    }
    let to = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for group in &found.log_groups {
        requests.push(Request::CreateExportTask {
            log_group_name: group.clone(),
            from: 0,
            to,
            destination: config.aws_bucket.clone(),
            destination_prefix: format!("exportedlogs/{group}"),
        });
        requests.push(Request::DeleteLogGroup {
            log_group_name: group.clone(),
        });
    }
    plan
}

#[cfg(test)]
mod tests;
