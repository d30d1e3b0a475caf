use base64::Engine;

use super::*;

fn fleet_file() -> Value {
    json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "AllocationStrategy": "lowestPrice",
        "TerminateInstancesWithExpiration": true,
        "LaunchSpecifications": [{
            "ImageId": "ami-0ce03502c5bb5e188",
            "KeyName": "your_key_file_name",
            "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"},
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 8}},
                {"DeviceName": "/dev/xvdcz", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3"}}
            ],
            "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": "subnet-1", "DeleteOnTermination": true,
                                   "AssociatePublicIpAddress": true, "Groups": ["sg-1"]}]
        }],
        "Type": "maintain"
    })
}

fn config() -> Config {
    let text = "BACKEND = 'aws'\nAPP_NAME = 'Screen'\nAWS_BUCKET = 'b'\nECS_CLUSTER = 'dcp'\nCLUSTER_MACHINES = 4\n\
                MACHINE_TYPE = ['m5.xlarge', 'c5.xlarge']\nMACHINE_PRICE = 0.13\nEBS_VOL_SIZE = 40\nASSIGN_IP = 'False'\n";
    Config::parse(text, "dcp.toml", std::path::Path::new("/")).unwrap()
}

#[test]
fn dcps_overrides_are_applied() {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let request = fleet_request(&fleet_file(), &config(), now).unwrap();
    assert_eq!(request["TargetCapacity"], 4);
    assert_eq!(request["SpotPrice"], "0.13");
    assert_eq!(request["ValidFrom"], "2026-11-18T11:06:40Z");
    assert_eq!(request["ValidUntil"], "2027-11-18T11:06:40Z");
    assert_eq!(request["IamFleetRole"], fleet_file()["IamFleetRole"]);
    let specs = request["LaunchSpecifications"].as_array().unwrap();
    let types: Vec<&str> = specs
        .iter()
        .map(|s| s["InstanceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["m5.xlarge", "c5.xlarge"]);
    for spec in specs {
        assert_eq!(
            spec["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"], 8,
            "the root volume is kept"
        );
        assert_eq!(spec["BlockDeviceMappings"][1]["Ebs"]["VolumeSize"], 40);
        assert_eq!(
            spec["NetworkInterfaces"][0]["AssociatePublicIpAddress"],
            false
        );
        let script = base64::engine::general_purpose::STANDARD
            .decode(spec["UserData"].as_str().unwrap())
            .unwrap();
        assert!(
            String::from_utf8(script)
                .unwrap()
                .contains("printf '%s\\n' 'ECS_CLUSTER=dcp' >> /etc/ecs/ecs.config")
        );
    }
    assert_eq!(
        request["TagSpecifications"][0]["Tags"][0]["Value"],
        "Screen"
    );
}

#[test]
fn ssh_key_name_fills_a_missing_key_name_and_never_replaces_one() {
    let now = SystemTime::now();
    let mut config = config();
    config.ssh_key_name = "lab-key.pem".into();
    let mut file = fleet_file();
    file["LaunchSpecifications"][0]
        .as_object_mut()
        .unwrap()
        .remove("KeyName");
    let request = fleet_request(&file, &config, now).unwrap();
    for spec in request["LaunchSpecifications"].as_array().unwrap() {
        assert_eq!(spec["KeyName"], "lab-key");
    }
    let request = fleet_request(&fleet_file(), &config, now).unwrap();
    assert_eq!(
        request["LaunchSpecifications"][1]["KeyName"],
        "your_key_file_name"
    );
    config.ssh_key_name.clear();
    let request = fleet_request(&file, &config, now).unwrap();
    assert!(request["LaunchSpecifications"][0].get("KeyName").is_none());
}

#[test]
fn a_fleet_file_without_launch_specifications_is_refused() {
    let err =
        fleet_request(&json!({"IamFleetRole": "x"}), &config(), SystemTime::now()).unwrap_err();
    assert!(err.to_string().contains("LaunchSpecifications"), "{err}");
}
