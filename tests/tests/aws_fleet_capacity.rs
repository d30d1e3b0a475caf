//! The default capacity (FLEET_API = "auto-scaling") against a real local moto server, read
//! back through the SDK: `setup` makes the queues; `start` with a two-subnet fleet file
//! makes one launch template (ASSIGN_IP false: an interface without a public address; the
//! disk and the user data with the containers' disk share) and an Auto Scaling group over
//! both subnets and every MACHINE_TYPE, Spot `price-capacity-optimized` above an On-Demand
//! base; `scale`, the monitor's scale-down and `stop` resize and remove it; a teardown
//! leaves nothing.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use base64::Engine;
use dcp_tests::moto::{Moto, network, queue_url};
use dcp_tests::stdout_ok;
use serde_json::Value;

fn tool(moto: &Moto, name: &str, dir: &Path, args: &[&str]) -> Output {
    moto.tool(name, dir).args(args).output().unwrap()
}

fn json(output: Output) -> Value {
    serde_json::from_str(&stdout_ok(output)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auto_scaling_group_keeps_every_subnet_and_goes_with_stop_and_teardown() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    let ecs = aws_sdk_ecs::Client::new(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let autoscaling = aws_sdk_autoscaling::Client::new(&shared);
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("cap-logs").send().await.unwrap();
    let image = moto.image_id().await;
    let (subnet_a, subnet_b, group) = network(&ec2).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Cap\"\nAWS_BUCKET = \"cap-logs\"\nECS_CLUSTER = \"dcp-cap\"\n\
         CLUSTER_MACHINES = 3\nTASKS_PER_MACHINE = 2\nEBS_VOL_SIZE = 40\nON_DEMAND_BASE = 1\n\
         MACHINE_TYPE = [\"m5.xlarge\", \"c5.xlarge\"]\nASSIGN_IP = \"False\"\n",
    )
    .unwrap();
    let spec = |subnet: &str| {
        serde_json::json!({
            "ImageId": image,
            "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 8}},
                {"DeviceName": "/dev/xvdcz", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 22}}
            ],
            "SubnetId": subnet,
            "SecurityGroups": [{"GroupId": group}]
        })
    };
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [spec(&subnet_a), spec(&subnet_b)],
        "Type": "maintain"
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();

    stdout_ok(tool(&moto, "dcp-fleet", d, &["setup"]));
    let queue = queue_url(&sqs, "CapQueue").await;

    let dry = json(tool(
        &moto,
        "dcp-fleet",
        d,
        &["start", "fleet.json", "--dry-run"],
    ));
    let names: Vec<&str> = dry["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Request"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CreateLaunchTemplate",
            "CreateAutoScalingGroup",
            "PutDashboard",
            "UpdateService"
        ]
    );
    let none = autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    assert!(
        none.auto_scaling_groups().is_empty(),
        "a dry run makes nothing"
    );

    // A refusal found while building the requests names the fleet file, its line and field.
    let mut mixed = fleet_file.clone();
    mixed["LaunchSpecifications"][1]["EbsOptimized"] = true.into();
    let mixed = serde_json::to_string_pretty(&mixed).unwrap();
    std::fs::write(d.join("mixed.json"), &mixed).unwrap();
    let refused = tool(&moto, "dcp-fleet", d, &["start", "mixed.json"]);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let line = 1 + mixed[..mixed.find("EbsOptimized").unwrap()]
        .matches('\n')
        .count();
    assert!(
        String::from_utf8_lossy(&refused.stderr).starts_with(&format!(
            "dcp-fleet: error: mixed.json:{line}: LaunchSpecifications[1].EbsOptimized: differs"
        )),
        "{refused:?}"
    );

    // A start whose group cannot be made (a subnet EC2 does not know) removes the launch
    // template it had made, and says so.
    let mut lost = fleet_file.clone();
    for spec in lost["LaunchSpecifications"].as_array_mut().unwrap() {
        spec["SubnetId"] = "subnet-0000deadbeef".into();
    }
    std::fs::write(d.join("lost.json"), lost.to_string()).unwrap();
    let failed = tool(&moto, "dcp-fleet", d, &["start", "lost.json"]);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("CreateAutoScalingGroup")
            && stderr.contains("what start had made was removed (DeleteLaunchTemplate)"),
        "{stderr}"
    );
    let templates = ec2.describe_launch_templates().send().await.unwrap();
    assert!(
        templates.launch_templates().is_empty(),
        "no launch template left: {templates:?}"
    );

    let started = json(tool(&moto, "dcp-fleet", d, &["start", "fleet.json"]));
    assert_eq!(started["fleet_api"], "auto-scaling", "{started}");
    assert_eq!(started["fleet_id"], "Cap");

    // The launch template, read back.
    let versions = ec2
        .describe_launch_template_versions()
        .launch_template_name("Cap")
        .versions("$Latest")
        .send()
        .await
        .unwrap();
    let data = versions.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(data.image_id(), Some(image.as_str()));
    let interface = &data.network_interfaces()[0];
    assert_eq!(interface.associate_public_ip_address(), Some(false));
    assert_eq!(interface.groups(), std::slice::from_ref(&group));
    let disk = data.block_device_mappings()[1].ebs().unwrap();
    assert_eq!(disk.volume_size(), Some(40));
    let script = base64::engine::general_purpose::STANDARD
        .decode(data.user_data().unwrap())
        .unwrap();
    let script = String::from_utf8(script).unwrap();
    assert!(script.contains("--storage-opt dm.basesize=18G"), "{script}");
    assert!(
        script.contains("printf '%s\\n' 'ECS_CLUSTER=dcp-cap' >> /etc/ecs/ecs.config"),
        "{script}"
    );

    // The group, read back.
    let group_of = || async {
        let described = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("Cap")
            .send()
            .await
            .unwrap();
        described.auto_scaling_groups().first().cloned()
    };
    let asg = group_of().await.expect("the group");
    let mut subnets: Vec<&str> = asg.vpc_zone_identifier().unwrap().split(',').collect();
    subnets.sort();
    let mut both = [subnet_a.as_str(), subnet_b.as_str()];
    both.sort();
    assert_eq!(subnets, both, "both subnets of the fleet file");
    let policy = asg.mixed_instances_policy().unwrap();
    let types: Vec<&str> = policy
        .launch_template()
        .unwrap()
        .overrides()
        .iter()
        .filter_map(|o| o.instance_type())
        .collect();
    assert_eq!(types, ["m5.xlarge", "c5.xlarge"]);
    let distribution = policy.instances_distribution().unwrap();
    assert_eq!(
        distribution.spot_allocation_strategy(),
        Some("price-capacity-optimized")
    );
    assert_eq!(distribution.on_demand_base_capacity(), Some(1));
    assert_eq!(asg.desired_capacity(), Some(3));
    assert_eq!(asg.new_instances_protected_from_scale_in(), Some(true));
    let service = ecs
        .describe_services()
        .cluster("dcp-cap")
        .services("CapService")
        .send()
        .await
        .unwrap();
    assert_eq!(service.services()[0].desired_count(), 6);

    let again = tool(&moto, "dcp-fleet", d, &["start", "fleet.json"]);
    assert_eq!(again.status.code(), Some(1), "a second start is refused");

    let status = json(tool(&moto, "dcp-fleet", d, &["status"]));
    assert_eq!(status["groups"][0]["name"], "Cap", "{status}");

    let scaled = json(tool(&moto, "dcp-fleet", d, &["scale", "2"]));
    assert_eq!(scaled["requests"][0]["Request"], "UpdateAutoScalingGroup");
    assert_eq!(group_of().await.unwrap().desired_capacity(), Some(2));

    // One task in flight, none waiting: the monitor lowers the group to one machine.
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    sqs.receive_message()
        .queue_url(&queue)
        .visibility_timeout(600)
        .send()
        .await
        .unwrap();
    let look = json(tool(&moto, "dcp-watch", d, &["--once"]));
    let lowered = look["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Request"] == "UpdateAutoScalingGroup")
        .unwrap_or_else(|| panic!("no scale-down in {look}"));
    assert_eq!(lowered["DesiredCapacity"], 1);
    assert_eq!(group_of().await.unwrap().desired_capacity(), Some(1));

    let stopped = json(tool(&moto, "dcp-fleet", d, &["stop"]));
    for request in stopped["requests"].as_array().unwrap() {
        assert_eq!(request["result"], "done", "{request}");
    }
    assert!(group_of().await.is_none(), "stop deletes the group");
    let templates = ec2.describe_launch_templates().send().await.unwrap();
    assert!(templates.launch_templates().is_empty(), "and its template");
    let twice = json(tool(&moto, "dcp-fleet", d, &["stop"]));
    assert_eq!(twice["requests"], serde_json::json!([]), "{twice}");

    let torn = json(tool(&moto, "dcp-fleet", d, &["teardown", "--force"]));
    for request in torn["requests"].as_array().unwrap() {
        assert_eq!(request["result"], "done", "{request}");
    }
    let after = json(tool(&moto, "dcp-fleet", d, &["status"]));
    for key in [
        "groups",
        "launch_templates",
        "fleets",
        "task_definitions",
        "log_groups",
    ] {
        assert_eq!(after[key], serde_json::json!([]), "{key}: {after}");
    }
    assert_eq!(after["cluster"], false, "{after}");
    assert_eq!(after["queue"], Value::Null, "{after}");
}
