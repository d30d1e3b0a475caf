//! `dcp-fleet start FLEET.json` against a real local moto server: `--dry-run` sends
//! nothing; the real start requests the Spot Fleet with DCP's overrides (read back through
//! the SDK) and sets the ECS service's desired count. moto answers fleet history with
//! HTTP 500, which the start tolerates.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

fn fleet(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    moto.tool("dcp-fleet", dir).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_requests_the_spot_fleet_with_dcps_overrides() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    let ecs = aws_sdk_ecs::Client::new(&shared);
    let image = moto.image_id().await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nFLEET_API = \"spot-fleet\"\nAPP_NAME = \"Spot\"\nAWS_BUCKET = \"logs\"\nECS_CLUSTER = \"dcp-spot\"\nCLUSTER_MACHINES = 2\n\
         SSH_KEY_NAME = \"lab-key.pem\"\n\
         TASKS_PER_MACHINE = 2\nMACHINE_TYPE = [\"m5.xlarge\", \"c5.xlarge\"]\nMACHINE_PRICE = 0.25\nEBS_VOL_SIZE = 35\n",
    )
    .unwrap();
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "AllocationStrategy": "lowestPrice",
        "TerminateInstancesWithExpiration": true,
        "LaunchSpecifications": [{
            "ImageId": image,
            "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 8}},
                {"DeviceName": "/dev/xvdcz", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 22}}
            ]
        }],
        "Type": "maintain"
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();
    stdout_ok(fleet(&moto, d, &["setup"]));

    let dry: serde_json::Value = serde_json::from_str(&stdout_ok(fleet(
        &moto,
        d,
        &["start", "fleet.json", "--dry-run"],
    )))
    .unwrap();
    let requests = dry["requests"].as_array().unwrap();
    let of = |name: &str| {
        requests
            .iter()
            .find(|r| r["Request"] == name)
            .unwrap_or_else(|| panic!("no {name} in {dry}"))
    };
    let request = &of("RequestSpotFleet")["SpotFleetRequestConfig"];
    assert_eq!(request["TargetCapacity"], 2);
    assert_eq!(of("UpdateService")["DesiredCount"], 4);
    assert!(requests.iter().all(|r| r["result"] == "planned"), "{dry}");
    // moto does not keep block device mappings, so the disk override is checked here.
    let spec = &request["LaunchSpecifications"][0];
    assert_eq!(spec["BlockDeviceMappings"][1]["Ebs"]["VolumeSize"], 35);
    let none = ec2.describe_spot_fleet_requests().send().await.unwrap();
    assert!(
        none.spot_fleet_request_configs().is_empty(),
        "a dry run requests nothing"
    );

    let run: serde_json::Value =
        serde_json::from_str(&stdout_ok(fleet(&moto, d, &["start", "fleet.json"]))).unwrap();
    let id = run["fleet_id"].as_str().unwrap();
    assert_eq!(
        (run["queue"].as_str(), run["desired_tasks"].as_u64()),
        (Some("SpotQueue"), Some(4))
    );

    let described = ec2
        .describe_spot_fleet_requests()
        .spot_fleet_request_ids(id)
        .send()
        .await
        .unwrap();
    let config = described.spot_fleet_request_configs()[0]
        .spot_fleet_request_config()
        .unwrap();
    assert_eq!(config.target_capacity(), Some(2));
    assert_eq!(config.spot_price(), Some("0.25"));
    let types: Vec<&str> = config
        .launch_specifications()
        .iter()
        .map(|s| s.instance_type().unwrap().as_str())
        .collect();
    assert_eq!(types, ["m5.xlarge", "c5.xlarge"]);
    // The fleet file names no key pair: SSH_KEY_NAME's, without '.pem', is every instance's.
    for spec in config.launch_specifications() {
        assert_eq!(spec.key_name(), Some("lab-key"));
    }
    let services = ecs
        .describe_services()
        .cluster("dcp-spot")
        .services("SpotService")
        .send()
        .await
        .unwrap();
    assert_eq!(services.services()[0].desired_count(), 4);
}
