//! The run's CloudWatch dashboard (CREATE_DASHBOARD), named APP_NAME: the queue's depth,
//! the fleet's capacity, the service's CPU and memory, and the failed attempts from the
//! workers' outcome lines.

use dcp_common::Config;
use serde_json::{Value, json};

/// A line chart of `metrics` over the last hours, one point a minute.
fn chart(title: &str, x: u32, y: u32, region: &str, metrics: Value) -> Value {
    json!({
        "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
        "properties": {
            "title": title, "region": region, "metrics": metrics,
            "view": "timeSeries", "stat": "Average", "period": 60,
        },
    })
}

/// Stands for the id of the Spot Fleet a start requests, in the dashboard it puts after
/// the request (the id is known only then).
pub const NEW_FLEET: &str = "<the new fleet's id>";

/// The capacity whose size the dashboard charts.
#[derive(Clone, Copy, Debug)]
pub enum Capacity<'a> {
    /// The Auto Scaling group of this name.
    Group(&'a str),
    /// The Spot Fleet of this id.
    SpotFleet(&'a str),
}

/// The dashboard's body for the run whose machines are `capacity`.
pub fn body(config: &Config, capacity: Capacity) -> Value {
    let region = config.aws_region.as_str();
    let queue = config.sqs_queue_name.as_str();
    let (cluster, service) = (
        config.ecs_cluster.as_str(),
        config.ecs_service_name.as_str(),
    );
    let failures = format!(
        "SOURCE '{}' | filter @logStream like /^outcomes/ and status != \"success\" \
         and status != \"skipped-done\" | stats count(*) as attempts by status, bin(5m)",
        config.log_group_name
    );
    json!({
        "widgets": [
            chart("Tasks in the queue", 0, 0, region, json!([
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue],
                ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue],
            ])),
            chart("Fleet capacity", 12, 0, region, capacity_metrics(capacity)),
            chart("Workers' CPU and memory (%)", 0, 6, region, json!([
                ["AWS/ECS", "CPUUtilization", "ClusterName", cluster, "ServiceName", service],
                ["AWS/ECS", "MemoryUtilization", "ClusterName", cluster, "ServiceName", service],
            ])),
            {
                "type": "log", "x": 12, "y": 6, "width": 12, "height": 6,
                "properties": {
                    "title": "Failed attempts", "region": region,
                    "query": failures, "view": "table",
                },
            },
        ],
    })
}

fn capacity_metrics(capacity: Capacity) -> Value {
    match capacity {
        Capacity::Group(name) => json!([
            [
                "AWS/AutoScaling",
                "GroupDesiredCapacity",
                "AutoScalingGroupName",
                name
            ],
            [
                "AWS/AutoScaling",
                "GroupInServiceInstances",
                "AutoScalingGroupName",
                name
            ],
        ]),
        Capacity::SpotFleet(id) => json!([
            ["AWS/EC2Spot", "TargetCapacity", "FleetRequestId", id],
            ["AWS/EC2Spot", "FulfilledCapacity", "FleetRequestId", id],
        ]),
    }
}
