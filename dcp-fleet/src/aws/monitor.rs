//! The monitor that runs in AWS (AUTO_MONITOR): an EventBridge Scheduler schedule
//! `APP_NAME` + `Monitor` that runs `dcp-watch --once` every minute as an ECS task on
//! Fargate (the worker image, DOCKERHUB_TAG), in the fleet file's subnets and security
//! groups, as MONITOR_ROLE_ARN. DCP's own auto-monitor is a Lambda fed by queue alarms; a
//! schedule of the same stateless look needs no machine of the user's. `start` makes it,
//! `teardown` removes it last (the monitor's own teardown included), `stop` keeps it.

use dcp_common::Config;
use dcp_common::config::SETTINGS_ENV;
use serde_json::{Map, Value};

use super::plan::Request;
use crate::FleetError;

/// How often the monitor looks, as DCP's monitor does.
pub const SCHEDULE_EXPRESSION: &str = "rate(1 minute)";

/// The schedule's name and the monitor task definition's family: APP_NAME + "Monitor".
pub fn name(config: &Config) -> String {
    format!("{}Monitor", config.app_name)
}

/// Whether `start` schedules the monitor: AUTO_MONITOR with MONITOR_ROLE_ARN set (without
/// it, the settings' notice says so).
pub fn wanted(config: &Config) -> bool {
    config.auto_monitor && !config.monitor_role_arn.is_empty()
}

/// The subnets of every launch specification (each once) and the security group ids of the
/// first, where the monitor's task runs.
fn network(file: &Value) -> (Vec<String>, Vec<String>) {
    let specs: Vec<&Map<String, Value>> = file["LaunchSpecifications"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let mut subnets: Vec<String> = Vec::new();
    for spec in &specs {
        let interface = spec.get("NetworkInterfaces").and_then(|n| n.get(0));
        let subnet = spec
            .get("SubnetId")
            .or_else(|| interface?.get("SubnetId"))
            .and_then(Value::as_str);
        if let Some(subnet) = subnet
            && !subnets.iter().any(|s| s == subnet)
        {
            subnets.push(subnet.to_owned());
        }
    }
    let first = specs.first();
    let by_id = first
        .and_then(|s| s.get("SecurityGroups"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.get("GroupId")?.as_str());
    let on_interface = first
        .and_then(|s| {
            s.get("NetworkInterfaces")?
                .get(0)?
                .get("Groups")?
                .as_array()
        })
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let groups = by_id.chain(on_interface).map(str::to_owned).collect();
    (subnets, groups)
}

/// `start`'s requests for the monitor: its Fargate task definition and its schedule.
pub fn start(config: &Config, file: &Value) -> Result<Vec<Request>, FleetError> {
    let (subnets, security_groups) = network(file);
    if subnets.is_empty() {
        return Err(FleetError::FleetFile {
            file: String::new(),
            line: None,
            field: "LaunchSpecifications[0]".into(),
            message: "names no subnet: AUTO_MONITOR runs the monitor on Fargate in the fleet \
                      file's subnets"
                .into(),
        });
    }
    let settings = serde_json::to_string(config).expect("settings are JSON");
    Ok(vec![
        Request::RegisterMonitorTaskDefinition {
            family: name(config),
            image: config.dockerhub_tag.clone(),
            entry_point: vec!["dcp-watch".into()],
            command: vec!["--once".into()],
            environment: vec![(SETTINGS_ENV.to_owned(), settings)],
            cpu: "256".into(),
            memory: "512".into(),
            task_role_arn: config.monitor_role_arn.clone(),
            log_group: config.log_group_name.clone(),
            region: config.aws_region.clone(),
        },
        Request::CreateSchedule {
            name: name(config),
            schedule_expression: SCHEDULE_EXPRESSION.into(),
            cluster: config.ecs_cluster.clone(),
            task_definition: name(config),
            role_arn: config.monitor_role_arn.clone(),
            subnets,
            security_groups,
            assign_public_ip: config.assign_ip,
        },
    ])
}
