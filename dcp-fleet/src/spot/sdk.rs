//! The fleet request, as JSON in DCP's fleet file format, turned into the SDK's types.
//! Keys the mapping does not know are refused by name rather than dropped.

use aws_sdk_ec2::types::{
    AllocationStrategy, BlockDeviceMapping, EbsBlockDevice, ExcessCapacityTerminationPolicy,
    FleetType, GroupIdentifier, IamInstanceProfileSpecification,
    InstanceNetworkInterfaceSpecification, InstanceType, ResourceType,
    SpotFleetLaunchSpecification, SpotFleetRequestConfigData, SpotPlacement, Tag, TagSpecification,
    VolumeType,
};
use serde_json::{Map, Value};

use crate::FleetError;

fn invalid(message: impl Into<String>) -> FleetError {
    FleetError::FleetFile(message.into())
}

/// The object at `key`, refusing keys outside `known`.
fn object<'a>(
    value: &'a Value,
    what: &str,
    known: &[&str],
) -> Result<&'a Map<String, Value>, FleetError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(format!("{what} must be an object")))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(invalid(format!("{what}: `{unknown}` is not supported")));
    }
    Ok(map)
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(|v| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_number().map(|n| n.to_string()))
    })
}

fn list<'a>(map: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    map.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn time(
    map: &Map<String, Value>,
    key: &str,
) -> Result<Option<aws_smithy_types::DateTime>, FleetError> {
    text(map, key)
        .map(|t| {
            aws_smithy_types::DateTime::from_str(&t, aws_smithy_types::date_time::Format::DateTime)
                .map_err(|e| invalid(format!("{key}: {e}")))
        })
        .transpose()
}

/// The request's config data.
pub fn config_data(request: &Value) -> Result<SpotFleetRequestConfigData, FleetError> {
    let known = [
        "IamFleetRole",
        "AllocationStrategy",
        "TargetCapacity",
        "SpotPrice",
        "ValidFrom",
        "ValidUntil",
        "TerminateInstancesWithExpiration",
        "Type",
        "ExcessCapacityTerminationPolicy",
        "LaunchSpecifications",
        "TagSpecifications",
        "ReplaceUnhealthyInstances",
        "InstanceInterruptionBehavior",
    ];
    let r = object(request, "the fleet request", &known)?;
    let mut data = SpotFleetRequestConfigData::builder()
        .set_iam_fleet_role(text(r, "IamFleetRole"))
        .set_allocation_strategy(
            text(r, "AllocationStrategy").map(|s| AllocationStrategy::from(s.as_str())),
        )
        .set_target_capacity(
            r.get("TargetCapacity")
                .and_then(Value::as_i64)
                .map(|n| n as i32),
        )
        .set_spot_price(text(r, "SpotPrice"))
        .set_valid_from(time(r, "ValidFrom")?)
        .set_valid_until(time(r, "ValidUntil")?)
        .set_terminate_instances_with_expiration(
            r.get("TerminateInstancesWithExpiration")
                .and_then(Value::as_bool),
        )
        .set_replace_unhealthy_instances(
            r.get("ReplaceUnhealthyInstances").and_then(Value::as_bool),
        )
        .set_type(text(r, "Type").map(|s| FleetType::from(s.as_str())))
        .set_excess_capacity_termination_policy(
            text(r, "ExcessCapacityTerminationPolicy")
                .map(|s| ExcessCapacityTerminationPolicy::from(s.as_str())),
        );
    for spec in list(r, "LaunchSpecifications") {
        data = data.launch_specifications(launch_specification(spec)?);
    }
    for tags in list(r, "TagSpecifications") {
        let t = object(tags, "TagSpecifications", &["ResourceType", "Tags"])?;
        let mut spec = TagSpecification::builder()
            .set_resource_type(text(t, "ResourceType").map(|s| ResourceType::from(s.as_str())));
        for tag in list(t, "Tags") {
            let tag = object(tag, "Tags", &["Key", "Value"])?;
            spec = spec.tags(
                Tag::builder()
                    .set_key(text(tag, "Key"))
                    .set_value(text(tag, "Value"))
                    .build(),
            );
        }
        data = data.tag_specifications(spec.build());
    }
    Ok(data.build())
}

fn launch_specification(value: &Value) -> Result<SpotFleetLaunchSpecification, FleetError> {
    let known = [
        "ImageId",
        "KeyName",
        "InstanceType",
        "UserData",
        "IamInstanceProfile",
        "BlockDeviceMappings",
        "NetworkInterfaces",
        "SecurityGroups",
        "SubnetId",
        "Placement",
        "EbsOptimized",
        "WeightedCapacity",
        "SpotPrice",
    ];
    let s = object(value, "LaunchSpecifications", &known)?;
    let mut spec = SpotFleetLaunchSpecification::builder()
        .set_image_id(text(s, "ImageId"))
        .set_key_name(text(s, "KeyName"))
        .set_instance_type(text(s, "InstanceType").map(|t| InstanceType::from(t.as_str())))
        .set_user_data(text(s, "UserData"))
        .set_subnet_id(text(s, "SubnetId"))
        .set_spot_price(text(s, "SpotPrice"))
        .set_ebs_optimized(s.get("EbsOptimized").and_then(Value::as_bool))
        .set_weighted_capacity(s.get("WeightedCapacity").and_then(Value::as_f64));
    if let Some(profile) = s.get("IamInstanceProfile") {
        let p = object(profile, "IamInstanceProfile", &["Arn", "Name"])?;
        spec = spec.iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .set_arn(text(p, "Arn"))
                .set_name(text(p, "Name"))
                .build(),
        );
    }
    if let Some(placement) = s.get("Placement") {
        let p = object(placement, "Placement", &["AvailabilityZone"])?;
        spec = spec.placement(
            SpotPlacement::builder()
                .set_availability_zone(text(p, "AvailabilityZone"))
                .build(),
        );
    }
    for group in list(s, "SecurityGroups") {
        let g = object(group, "SecurityGroups", &["GroupId", "GroupName"])?;
        spec = spec.security_groups(
            GroupIdentifier::builder()
                .set_group_id(text(g, "GroupId"))
                .set_group_name(text(g, "GroupName"))
                .build(),
        );
    }
    for device in list(s, "BlockDeviceMappings") {
        let d = object(
            device,
            "BlockDeviceMappings",
            &["DeviceName", "Ebs", "NoDevice", "VirtualName"],
        )?;
        let mut mapping = BlockDeviceMapping::builder()
            .set_device_name(text(d, "DeviceName"))
            .set_no_device(text(d, "NoDevice"))
            .set_virtual_name(text(d, "VirtualName"));
        if let Some(ebs) = d.get("Ebs") {
            let known = [
                "DeleteOnTermination",
                "VolumeType",
                "VolumeSize",
                "SnapshotId",
                "Encrypted",
                "Iops",
                "Throughput",
            ];
            let e = object(ebs, "Ebs", &known)?;
            let int = |k: &str| e.get(k).and_then(Value::as_i64).map(|n| n as i32);
            mapping = mapping.ebs(
                EbsBlockDevice::builder()
                    .set_delete_on_termination(
                        e.get("DeleteOnTermination").and_then(Value::as_bool),
                    )
                    .set_volume_type(text(e, "VolumeType").map(|t| VolumeType::from(t.as_str())))
                    .set_volume_size(int("VolumeSize"))
                    .set_snapshot_id(text(e, "SnapshotId"))
                    .set_encrypted(e.get("Encrypted").and_then(Value::as_bool))
                    .set_iops(int("Iops"))
                    .set_throughput(int("Throughput"))
                    .build(),
            );
        }
        spec = spec.block_device_mappings(mapping.build());
    }
    for interface in list(s, "NetworkInterfaces") {
        let known = [
            "DeviceIndex",
            "SubnetId",
            "DeleteOnTermination",
            "AssociatePublicIpAddress",
            "Groups",
        ];
        let n = object(interface, "NetworkInterfaces", &known)?;
        let groups = list(n, "Groups")
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect();
        spec = spec.network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .set_device_index(
                    n.get("DeviceIndex")
                        .and_then(Value::as_i64)
                        .map(|i| i as i32),
                )
                .set_subnet_id(text(n, "SubnetId"))
                .set_delete_on_termination(n.get("DeleteOnTermination").and_then(Value::as_bool))
                .set_associate_public_ip_address(
                    n.get("AssociatePublicIpAddress").and_then(Value::as_bool),
                )
                .set_groups(Some(groups))
                .build(),
        );
    }
    Ok(spec.build())
}
