use base64::Engine;

use super::*;

fn spec(subnet: &str) -> Value {
    json!({
        "ImageId": "ami-1",
        "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"},
        "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3", "VolumeSize": 8}},
            {"DeviceName": "/dev/xvdcz", "Ebs": {"DeleteOnTermination": true, "VolumeType": "gp3"}}
        ],
        "SubnetId": subnet,
        "SecurityGroups": [{"GroupId": "sg-1"}]
    })
}

fn file(specs: Vec<Value>) -> Value {
    json!({"IamFleetRole": "arn:aws:iam::1:role/r", "AllocationStrategy": "lowestPrice",
           "LaunchSpecifications": specs, "Type": "maintain"})
}

fn config() -> Config {
    let text = "BACKEND = 'aws'\nAPP_NAME = 'Screen'\nAWS_BUCKET = 'b'\nECS_CLUSTER = 'dcp'\nCLUSTER_MACHINES = 4\n\
                MACHINE_TYPE = ['m5.xlarge', 'c5.xlarge']\nEBS_VOL_SIZE = 40\nTASKS_PER_MACHINE = 2\n\
                ON_DEMAND_BASE = 1\nASSIGN_IP = 'False'\nSSH_KEY_NAME = 'lab.pem'\n";
    Config::parse(text, "dcp.toml", std::path::Path::new("/")).unwrap()
}

#[test]
fn every_subnet_and_machine_type_is_kept() {
    let requests = start(
        &file(vec![spec("subnet-a"), spec("subnet-b")]),
        &config(),
        &[],
    )
    .unwrap();
    let Request::CreateAutoScalingGroup {
        instance_types,
        vpc_zone_identifier,
        on_demand_base_capacity,
        spot_allocation_strategy,
        desired_capacity,
        ..
    } = &requests[1]
    else {
        panic!("{requests:?}");
    };
    assert_eq!(vpc_zone_identifier, "subnet-a,subnet-b");
    assert_eq!(instance_types, &["m5.xlarge", "c5.xlarge"]);
    assert_eq!(*on_demand_base_capacity, 1);
    assert_eq!(spot_allocation_strategy, "price-capacity-optimized");
    assert_eq!(*desired_capacity, 4);
}

#[test]
fn assign_ip_false_makes_an_interface_without_a_public_address() {
    let data = launch_template_data(&file(vec![spec("subnet-a")]), &config()).unwrap();
    assert_eq!(
        data["NetworkInterfaces"],
        json!([{"DeviceIndex": 0, "DeleteOnTermination": true, "Groups": ["sg-1"],
                "AssociatePublicIpAddress": false}])
    );
    assert!(data.get("SecurityGroupIds").is_none(), "the groups moved");
    assert_eq!(data["BlockDeviceMappings"][1]["Ebs"]["VolumeSize"], 40);
    assert_eq!(data["KeyName"], "lab");
    let script = base64::engine::general_purpose::STANDARD
        .decode(data["UserData"].as_str().unwrap())
        .unwrap();
    let script = String::from_utf8(script).unwrap();
    assert!(script.contains("dm.basesize=18G"), "{script}");
    assert!(script.contains("'ECS_CLUSTER=dcp'"), "{script}");
    let mut public = config();
    public.assign_ip = true;
    let data = launch_template_data(&file(vec![spec("subnet-a")]), &public).unwrap();
    assert_eq!(data["SecurityGroupIds"], json!(["sg-1"]));
    assert!(data.get("NetworkInterfaces").is_none());
}

#[test]
fn specifications_that_differ_in_more_than_their_subnet_are_refused() {
    let mut other = spec("subnet-b");
    other["ImageId"] = json!("ami-2");
    let err = start(&file(vec![spec("subnet-a"), other]), &config(), &[]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("LaunchSpecifications[1].ImageId"), "{text}");
    assert!(text.contains("spot-fleet"), "{text}");
    let mut nowhere = spec("x");
    nowhere.as_object_mut().unwrap().remove("SubnetId");
    let err = start(&file(vec![spec("subnet-a"), nowhere]), &config(), &[]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("LaunchSpecifications[1]"), "{text}");
    assert!(
        text.contains("in every specification, or in none"),
        "{text}"
    );
}

#[test]
fn specifications_without_subnets_launch_in_the_default_vpc() {
    let mut anywhere = spec("x");
    anywhere.as_object_mut().unwrap().remove("SubnetId");
    let mut zoned = anywhere.clone();
    zoned["Placement"] = json!({"AvailabilityZone": "us-east-1b"});
    let region = ["us-east-1a".to_owned(), "us-east-1b".to_owned()];
    for (specs, zones) in [
        (vec![anywhere.clone()], region.to_vec()),
        (vec![zoned.clone(), zoned], vec!["us-east-1b".to_owned()]),
    ] {
        let requests = start(&file(specs), &config(), &region).unwrap();
        let Request::CreateAutoScalingGroup {
            vpc_zone_identifier,
            availability_zones,
            ..
        } = &requests[1]
        else {
            panic!("{requests:?}");
        };
        assert_eq!(vpc_zone_identifier, "");
        assert_eq!(availability_zones, &zones);
    }
}

#[test]
fn the_template_data_maps_onto_the_sdk() {
    let data = launch_template_data(&file(vec![spec("subnet-a")]), &config()).unwrap();
    let sdk = sdk::launch_template_data(&data).unwrap();
    assert_eq!(sdk.image_id(), Some("ami-1"));
    assert_eq!(
        sdk.network_interfaces()[0].associate_public_ip_address(),
        Some(false)
    );
}
