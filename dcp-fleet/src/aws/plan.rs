//! What `scale`, `stop` and `teardown` ask of AWS, decided from what was found
//! ([`super::Found`]) before anything changes; `--dry-run` prints these requests.

use std::time::{SystemTime, UNIX_EPOCH};

use dcp_common::{Config, FleetApi};
use serde::Serialize;
use serde_json::Value;

pub use super::request::Request;
use super::{Found, Group, dashboard, group, monitor, spot};
use crate::FleetError;

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

/// Sets the group's size to `machines`, keeping its maximum at least that.
fn resize(group: &Group, desired: i32, max: i32) -> Request {
    Request::UpdateAutoScalingGroup {
        auto_scaling_group_name: group.name.clone(),
        min_size: 0,
        max_size: max,
        desired_capacity: desired,
    }
}

/// `scale N`: the group and every open fleet to `machines`, the service to
/// `machines × TASKS_PER_MACHINE` tasks.
pub fn scale(config: &Config, found: &Found, machines: u32) -> Result<Plan, FleetError> {
    let open: Vec<_> = found.fleets.iter().filter(|f| f.is_open()).collect();
    if open.is_empty() && found.groups.is_empty() {
        return Err(FleetError::NotStarted {
            app_name: config.app_name.clone(),
        });
    }
    let machines = machines as i32;
    let mut requests: Vec<Request> = found
        .groups
        .iter()
        .map(|g| resize(g, machines, machines))
        .collect();
    requests.extend(open.iter().map(|f| set_target(&f.id, machines)));
    if found.service.is_some() {
        requests.push(update_service(
            config,
            machines * config.tasks_per_machine as i32,
        ));
    }
    Ok(Plan {
        requests,
        kept: Vec::new(),
    })
}

/// Lowers the group and every open fleet whose target is above `target` to it (the
/// monitor's scale-down: busy machines keep running, protected from scale-in or under
/// `noTermination`).
pub fn shrink(found: &Found, target: i32) -> Vec<Request> {
    let groups = found
        .groups
        .iter()
        .filter(|g| g.desired_capacity > target)
        .map(|g| resize(g, target, g.max_size));
    let fleets = found
        .fleets
        .iter()
        .filter(|f| f.is_open() && f.target_capacity > target)
        .map(|f| set_target(&f.id, target));
    groups.chain(fleets).collect()
}

/// `start FLEET.json`: the capacity FLEET_API names for DCP's fleet file (refused while
/// the run has some), the dashboard with CREATE_DASHBOARD, and the service's desired count
/// (CLUSTER_MACHINES × TASKS_PER_MACHINE). A launch template left by an interrupted start is
/// replaced. `region_zones`: the region's available Availability Zones, where an Auto
/// Scaling group launches when the fleet file names neither subnet nor zone.
pub fn start(
    config: &Config,
    found: &Found,
    fleet_file: &Value,
    region_zones: &[String],
    now: SystemTime,
) -> Result<Plan, FleetError> {
    if found.has_capacity() {
        return Err(FleetError::AlreadyStarted {
            app_name: config.app_name.clone(),
        });
    }
    let mut requests = Vec::new();
    let capacity =
        match config.fleet_api {
            FleetApi::AutoScaling => {
                requests.extend(found.launch_templates.iter().map(|_| {
                    Request::DeleteLaunchTemplate {
                        launch_template_name: config.app_name.clone(),
                    }
                }));
                requests.extend(group::start(fleet_file, config, region_zones)?);
                dashboard::Capacity::Group(&config.app_name)
            }
            FleetApi::SpotFleet => {
                requests.push(Request::RequestSpotFleet {
                    spot_fleet_request_config: spot::fleet_request(fleet_file, config, now)?,
                });
                dashboard::Capacity::SpotFleet(dashboard::NEW_FLEET)
            }
        };
    if config.create_dashboard {
        requests.push(Request::PutDashboard {
            dashboard_name: config.app_name.clone(),
            dashboard_body: dashboard::body(config, capacity),
        });
    }
    requests.push(update_service(
        config,
        (config.cluster_machines * config.tasks_per_machine) as i32,
    ));
    if monitor::wanted(config) && !found.schedule {
        requests.extend(monitor::start(config, fleet_file)?);
    }
    Ok(Plan {
        requests,
        kept: Vec::new(),
    })
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

/// `stop`: the service to 0 tasks, the group deleted with its instances and its launch
/// template, the fleets cancelled with their instances terminated, the instance alarms
/// deleted.
pub fn stop(config: &Config, found: &Found) -> Plan {
    let mut requests = Vec::new();
    if found.service.is_some_and(|s| s.desired > 0) {
        requests.push(update_service(config, 0));
    }
    requests.extend(
        found
            .groups
            .iter()
            .map(|g| Request::DeleteAutoScalingGroup {
                auto_scaling_group_name: g.name.clone(),
                force_delete: true,
            }),
    );
    requests.extend(
        found
            .launch_templates
            .iter()
            .map(|_| Request::DeleteLaunchTemplate {
                launch_template_name: config.app_name.clone(),
            }),
    );
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
    } else {
        export_logs(config, found, now, &mut plan.requests);
    }
    if found.schedule {
        plan.requests.push(Request::DeleteSchedule {
            name: monitor::name(config),
        });
    }
    plan
}

/// Each log group exported to AWS_BUCKET/exportedlogs/<group>/, then deleted.
fn export_logs(config: &Config, found: &Found, now: SystemTime, requests: &mut Vec<Request>) {
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
}

#[cfg(test)]
mod tests;
