//! AUTO_MONITOR against a real local moto server, read back through the SDK: `start` makes
//! the monitor's Fargate task definition and an EventBridge Scheduler schedule that runs it
//! every minute in the fleet file's subnets; `stop` keeps it; `teardown` removes it last,
//! and a second teardown finds nothing.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::{Moto, network};
use dcp_tests::stdout_ok;
use serde_json::Value;

fn fleet(moto: &Moto, dir: &Path, args: &[&str]) -> Value {
    let output: Output = moto.tool("dcp-fleet", dir).args(args).output().unwrap();
    serde_json::from_str(&stdout_ok(output)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_schedules_the_monitor_and_teardown_removes_it_last() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    let ecs = aws_sdk_ecs::Client::new(&shared);
    let scheduler = aws_sdk_scheduler::Client::new(&shared);
    let image = moto.image_id().await;
    let (subnet_a, subnet_b, group) = network(&ec2).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Mon\"\nAWS_BUCKET = \"mon-logs\"\nECS_CLUSTER = \"dcp-mon\"\n\
         CLUSTER_MACHINES = 1\nAUTO_MONITOR = \"True\"\nCREATE_DASHBOARD = \"False\"\n\
         DOCKERHUB_TAG = \"example/dcp:1\"\n\
         MONITOR_ROLE_ARN = \"arn:aws:iam::123456789012:role/dcp-monitor\"\n",
    )
    .unwrap();
    let spec = |subnet: &str| serde_json::json!({"ImageId": image, "SubnetId": subnet, "SecurityGroups": [{"GroupId": group}]});
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "LaunchSpecifications": [spec(&subnet_a), spec(&subnet_b)],
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();
    fleet(&moto, d, &["setup"]);

    let dry = fleet(&moto, d, &["start", "fleet.json", "--dry-run"]);
    let last = dry["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["Request"], "CreateSchedule", "{dry}");
    assert_eq!(last["ScheduleExpression"], "rate(1 minute)");
    assert!(
        scheduler
            .get_schedule()
            .name("MonMonitor")
            .send()
            .await
            .is_err()
    );

    fleet(&moto, d, &["start", "fleet.json"]);
    let schedule = scheduler
        .get_schedule()
        .name("MonMonitor")
        .send()
        .await
        .unwrap();
    assert_eq!(schedule.schedule_expression(), Some("rate(1 minute)"));
    let target = schedule.target().unwrap();
    assert!(target.arn().ends_with("cluster/dcp-mon"), "{target:?}");
    assert_eq!(
        target.role_arn(),
        "arn:aws:iam::123456789012:role/dcp-monitor"
    );
    let parameters = target.ecs_parameters().unwrap();
    assert_eq!(
        parameters.launch_type().map(|l| l.as_str()),
        Some("FARGATE")
    );
    assert!(
        parameters.task_definition_arn().contains("MonMonitor"),
        "{parameters:?}"
    );
    let vpc = parameters
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), [subnet_a.clone(), subnet_b.clone()]);
    let definition = ecs
        .describe_task_definition()
        .task_definition("MonMonitor")
        .send()
        .await
        .unwrap();
    let definition = definition.task_definition().unwrap();
    let compatibilities: Vec<&str> = definition
        .requires_compatibilities()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(compatibilities, ["FARGATE"]);
    let container = &definition.container_definitions()[0];
    assert_eq!(container.image(), Some("example/dcp:1"));
    assert_eq!(container.entry_point(), ["dcp-watch"]);
    assert_eq!(container.command(), ["--once"]);
    assert_eq!(
        definition.task_role_arn(),
        Some("arn:aws:iam::123456789012:role/dcp-monitor")
    );

    fleet(&moto, d, &["stop"]);
    let status = fleet(&moto, d, &["status"]);
    assert_eq!(status["schedule"], true, "stop keeps the monitor: {status}");

    let torn = fleet(&moto, d, &["teardown", "--keep-logs", "--force"]);
    let last = torn["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["Request"], "DeleteSchedule", "{torn}");
    assert_eq!(last["result"], "done", "{torn}");
    assert!(
        scheduler
            .get_schedule()
            .name("MonMonitor")
            .send()
            .await
            .is_err(),
        "the schedule is gone"
    );
    let after = fleet(&moto, d, &["status"]);
    assert_eq!(after["schedule"], false, "{after}");
    assert_eq!(after["task_definitions"], serde_json::json!([]), "{after}");
}
