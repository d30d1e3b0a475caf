//! `--dry-run` of every mutating `dcp-fleet` command on AWS — setup, start, scale, stop and
//! teardown — against a real local moto server: one shape for all five
//! (`{"dry_run": true, "requests": [{"Request": NAME, …, "result": "planned"}], "kept": […]}`),
//! and nothing changed, read back independently through the SDK before and after each.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;
use serde_json::Value;

fn fleet(moto: &Moto, dir: &Path, args: &[&str]) -> Value {
    let out: Output = moto.tool("dcp-fleet", dir).args(args).output().unwrap();
    serde_json::from_str(&stdout_ok(out)).unwrap()
}

/// Checks the shape every dry run shares; returns the requests' names in order.
fn dry_run_shape(report: &Value) -> Vec<String> {
    let top = report.as_object().unwrap();
    let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["dry_run", "kept", "requests"], "{report}");
    assert_eq!(report["dry_run"], true, "{report}");
    assert!(report["kept"].is_array(), "{report}");
    let requests = report["requests"].as_array().unwrap();
    assert!(!requests.is_empty(), "{report}");
    requests
        .iter()
        .map(|r| {
            assert_eq!(r["result"], "planned", "{r}");
            assert!(r.get("note").is_none(), "{r}");
            let name = r["Request"].as_str().unwrap();
            assert!(
                name.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{r}"
            );
            name.to_owned()
        })
        .collect()
}

/// Everything a run may have on AWS, read through the SDK.
struct World {
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    sqs: aws_sdk_sqs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl World {
    async fn snapshot(&self) -> Vec<String> {
        let mut all = Vec::new();
        let clusters = self.ecs.list_clusters().send().await.unwrap();
        for arn in clusters.cluster_arns() {
            all.push(format!("cluster {arn}"));
            let services = self.ecs.list_services().cluster(arn).send().await.unwrap();
            for service in services.service_arns() {
                let described = self
                    .ecs
                    .describe_services()
                    .cluster(arn)
                    .services(service)
                    .send()
                    .await
                    .unwrap();
                for s in described.services() {
                    all.push(format!(
                        "service {service} {:?} desired {} of {:?}",
                        s.status(),
                        s.desired_count(),
                        s.task_definition()
                    ));
                }
            }
        }
        let definitions = self.ecs.list_task_definitions().send().await.unwrap();
        all.extend(
            definitions
                .task_definition_arns()
                .iter()
                .map(|d| format!("task definition {d}")),
        );
        let queues = self.sqs.list_queues().send().await.unwrap();
        for url in queues.queue_urls() {
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let mut kept: Vec<String> = attributes
                .attributes()
                .into_iter()
                .flatten()
                .filter(|(k, _)| {
                    !k.as_str().starts_with("ApproximateNumberOfMessages")
                        && k.as_str() != "LastModifiedTimestamp"
                })
                .map(|(k, v)| format!("{}={v}", k.as_str()))
                .collect();
            kept.sort();
            all.push(format!("queue {url} {kept:?}"));
        }
        let groups = self.logs.describe_log_groups().send().await.unwrap();
        all.extend(groups.log_groups().iter().map(|g| {
            format!(
                "log group {:?} {:?}",
                g.log_group_name(),
                g.retention_in_days()
            )
        }));
        let templates = self.ec2.describe_launch_templates().send().await.unwrap();
        all.extend(templates.launch_templates().iter().map(|t| {
            format!(
                "launch template {:?} v{:?}",
                t.launch_template_name(),
                t.latest_version_number()
            )
        }));
        let asgs = self
            .autoscaling
            .describe_auto_scaling_groups()
            .send()
            .await
            .unwrap();
        all.extend(asgs.auto_scaling_groups().iter().map(|g| {
            format!(
                "group {:?} {:?}..{:?} desired {:?}",
                g.auto_scaling_group_name(),
                g.min_size(),
                g.max_size(),
                g.desired_capacity()
            )
        }));
        let dashboards = self.cloudwatch.list_dashboards().send().await.unwrap();
        all.extend(
            dashboards
                .dashboard_entries()
                .iter()
                .map(|d| format!("dashboard {:?}", d.dashboard_name())),
        );
        all.sort();
        all
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dry_run_has_one_shape_and_changes_nothing() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let world = World {
        ec2: aws_sdk_ec2::Client::new(&shared),
        ecs: aws_sdk_ecs::Client::new(&shared),
        sqs: aws_sdk_sqs::Client::new(&shared),
        logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
        autoscaling: aws_sdk_autoscaling::Client::new(&shared),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&shared),
    };
    let image = moto.image_id().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Dry\"\nAWS_BUCKET = \"dry-logs\"\nECS_CLUSTER = \"dcp-dry\"\n\
         CLUSTER_MACHINES = 2\n",
    )
    .unwrap();
    // No subnet: the group launches in the region's zones, which the dry run lists.
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "LaunchSpecifications": [{
            "ImageId": image,
            "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"VolumeType": "gp3", "VolumeSize": 8}},
                {"DeviceName": "/dev/xvdcz", "Ebs": {"VolumeType": "gp3", "VolumeSize": 22}}
            ]
        }],
        "Type": "maintain"
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();

    let empty = world.snapshot().await;
    let setup = fleet(&moto, d, &["setup", "--dry-run"]);
    assert_eq!(
        dry_run_shape(&setup),
        [
            "CreateQueues",
            "CreateCluster",
            "CreateLogGroup",
            "PutRetentionPolicy",
            "CreateLogGroup",
            "PutRetentionPolicy",
            "RegisterTaskDefinition",
            "CreateService"
        ]
    );
    assert_eq!(
        world.snapshot().await,
        empty,
        "setup --dry-run changed nothing"
    );

    fleet(&moto, d, &["setup"]);
    let set_up = world.snapshot().await;
    assert_ne!(set_up, empty);
    let start = fleet(&moto, d, &["start", "fleet.json", "--dry-run"]);
    assert_eq!(
        dry_run_shape(&start),
        [
            "CreateLaunchTemplate",
            "CreateAutoScalingGroup",
            "PutDashboard",
            "UpdateService"
        ]
    );
    let zones: Vec<String> = world
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .unwrap()
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_owned))
        .collect();
    assert!(!zones.is_empty());
    assert_eq!(
        start["requests"][1]["AvailabilityZones"],
        serde_json::json!(zones),
        "{start}"
    );
    assert_eq!(
        world.snapshot().await,
        set_up,
        "start --dry-run changed nothing"
    );

    fleet(&moto, d, &["start", "fleet.json"]);
    let started = world.snapshot().await;
    assert_ne!(started, set_up);
    let scale = fleet(&moto, d, &["scale", "1", "--dry-run"]);
    assert_eq!(
        dry_run_shape(&scale),
        ["UpdateAutoScalingGroup", "UpdateService"]
    );
    let stop = fleet(&moto, d, &["stop", "--dry-run"]);
    assert_eq!(
        dry_run_shape(&stop)[..3],
        [
            "UpdateService",
            "DeleteAutoScalingGroup",
            "DeleteLaunchTemplate"
        ]
    );
    let teardown = fleet(&moto, d, &["teardown", "--dry-run", "--force"]);
    let names = dry_run_shape(&teardown);
    for name in [
        "DeleteService",
        "DeregisterTaskDefinition",
        "DeleteQueue",
        "DeleteCluster",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}: {teardown}");
    }
    assert_eq!(
        world.snapshot().await,
        started,
        "scale, stop and teardown --dry-run changed nothing"
    );
}
