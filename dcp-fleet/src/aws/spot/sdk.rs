//! The fleet request, as JSON in DCP's fleet file format, turned into the SDK's types.
//! Keys the mapping does not know, values of the wrong type and numbers out of EC2's range
//! are refused by their field (`LaunchSpecifications[0].BlockDeviceMappings[1].Ebs`) rather
//! than dropped or wrapped.

use aws_sdk_ec2::types::{
    AllocationStrategy, BlockDeviceMapping, EbsBlockDevice, ExcessCapacityTerminationPolicy,
    FleetType, GroupIdentifier, IamInstanceProfileSpecification,
    InstanceNetworkInterfaceSpecification, InstanceType, ResourceType,
    SpotFleetLaunchSpecification, SpotFleetRequestConfigData, SpotPlacement, Tag, TagSpecification,
    VolumeType,
};
use serde_json::{Map, Value};

use crate::FleetError;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> FleetError {
    FleetError::FleetFile {
        file: String::new(),
        line: None,
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A JSON object of the request and its field path.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// The object `value` at `path`, refusing keys outside `known`.
pub(crate) fn object<'a>(
    value: &'a Value,
    path: String,
    known: &[&str],
) -> Result<Obj<'a>, FleetError> {
    let map = value
        .as_object()
        .ok_or_else(|| invalid(&path, "must be a JSON object"))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(invalid(
            &format!("{path}.{unknown}"),
            "is not a field dcp knows here",
        ));
    }
    Ok(Obj { map, path })
}

impl<'a> Obj<'a> {
    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// A string (a number is taken as its text).
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, FleetError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(invalid(&self.field(key), "must be a string")),
        }
    }

    /// A whole number within EC2's 32-bit range.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i32>, FleetError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        &self.field(key),
                        format!("must be a whole number from {} to {}", i32::MIN, i32::MAX),
                    )
                }),
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>, FleetError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| invalid(&self.field(key), "must be a number")),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, FleetError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| invalid(&self.field(key), "must be true or false")),
        }
    }

    /// The items of a list, each with its path.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<(&'a Value, String)>, FleetError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{}[{i}]", self.field(key))))
                .collect()),
            Some(_) => Err(invalid(&self.field(key), "must be a list")),
        }
    }

    /// The object at `key`, refusing keys outside `known`.
    pub(crate) fn child(&self, key: &str, known: &[&str]) -> Result<Option<Obj<'a>>, FleetError> {
        self.map
            .get(key)
            .map(|v| object(v, self.field(key), known))
            .transpose()
    }

    fn time(&self, key: &str) -> Result<Option<aws_smithy_types::DateTime>, FleetError> {
        self.text(key)?
            .map(|t| {
                aws_smithy_types::DateTime::from_str(
                    &t,
                    aws_smithy_types::date_time::Format::DateTime,
                )
                .map_err(|e| invalid(&self.field(key), e.to_string()))
            })
            .transpose()
    }
}

/// The request's config data; refuses a request without launch specifications.
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
    let r = object(request, String::new(), &known)?;
    let mut data = SpotFleetRequestConfigData::builder()
        .set_iam_fleet_role(r.text("IamFleetRole")?)
        .set_allocation_strategy(
            r.text("AllocationStrategy")?
                .map(|s| AllocationStrategy::from(s.as_str())),
        )
        .set_target_capacity(r.int("TargetCapacity")?)
        .set_spot_price(r.text("SpotPrice")?)
        .set_valid_from(r.time("ValidFrom")?)
        .set_valid_until(r.time("ValidUntil")?)
        .set_terminate_instances_with_expiration(r.boolean("TerminateInstancesWithExpiration")?)
        .set_replace_unhealthy_instances(r.boolean("ReplaceUnhealthyInstances")?)
        .set_type(r.text("Type")?.map(|s| FleetType::from(s.as_str())))
        .set_excess_capacity_termination_policy(
            r.text("ExcessCapacityTerminationPolicy")?
                .map(|s| ExcessCapacityTerminationPolicy::from(s.as_str())),
        );
    let specs = r.list("LaunchSpecifications")?;
    if specs.is_empty() {
        return Err(invalid(
            "LaunchSpecifications",
            "needs at least one launch specification",
        ));
    }
    for (spec, path) in specs {
        data = data.launch_specifications(launch_specification(spec, path)?);
    }
    for (tags, path) in r.list("TagSpecifications")? {
        let t = object(tags, path, &["ResourceType", "Tags"])?;
        let mut spec = TagSpecification::builder().set_resource_type(
            t.text("ResourceType")?
                .map(|s| ResourceType::from(s.as_str())),
        );
        for (tag, path) in t.list("Tags")? {
            let tag = object(tag, path, &["Key", "Value"])?;
            spec = spec.tags(
                Tag::builder()
                    .set_key(tag.text("Key")?)
                    .set_value(tag.text("Value")?)
                    .build(),
            );
        }
        data = data.tag_specifications(spec.build());
    }
    Ok(data.build())
}

fn launch_specification(
    value: &Value,
    path: String,
) -> Result<SpotFleetLaunchSpecification, FleetError> {
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
    let s = object(value, path, &known)?;
    let mut spec = SpotFleetLaunchSpecification::builder()
        .set_image_id(s.text("ImageId")?)
        .set_key_name(s.text("KeyName")?)
        .set_instance_type(
            s.text("InstanceType")?
                .map(|t| InstanceType::from(t.as_str())),
        )
        .set_user_data(s.text("UserData")?)
        .set_subnet_id(s.text("SubnetId")?)
        .set_spot_price(s.text("SpotPrice")?)
        .set_ebs_optimized(s.boolean("EbsOptimized")?)
        .set_weighted_capacity(s.number("WeightedCapacity")?);
    if let Some(p) = s.child("IamInstanceProfile", &["Arn", "Name"])? {
        spec = spec.iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .set_arn(p.text("Arn")?)
                .set_name(p.text("Name")?)
                .build(),
        );
    }
    if let Some(p) = s.child("Placement", &["AvailabilityZone"])? {
        spec = spec.placement(
            SpotPlacement::builder()
                .set_availability_zone(p.text("AvailabilityZone")?)
                .build(),
        );
    }
    for (group, path) in s.list("SecurityGroups")? {
        let g = object(group, path, &["GroupId", "GroupName"])?;
        spec = spec.security_groups(
            GroupIdentifier::builder()
                .set_group_id(g.text("GroupId")?)
                .set_group_name(g.text("GroupName")?)
                .build(),
        );
    }
    for (device, path) in s.list("BlockDeviceMappings")? {
        let known = ["DeviceName", "Ebs", "NoDevice", "VirtualName"];
        let d = object(device, path, &known)?;
        let mut mapping = BlockDeviceMapping::builder()
            .set_device_name(d.text("DeviceName")?)
            .set_no_device(d.text("NoDevice")?)
            .set_virtual_name(d.text("VirtualName")?);
        let known = [
            "DeleteOnTermination",
            "VolumeType",
            "VolumeSize",
            "SnapshotId",
            "Encrypted",
            "Iops",
            "Throughput",
        ];
        if let Some(e) = d.child("Ebs", &known)? {
            mapping = mapping.ebs(
                EbsBlockDevice::builder()
                    .set_delete_on_termination(e.boolean("DeleteOnTermination")?)
                    .set_volume_type(e.text("VolumeType")?.map(|t| VolumeType::from(t.as_str())))
                    .set_volume_size(e.int("VolumeSize")?)
                    .set_snapshot_id(e.text("SnapshotId")?)
                    .set_encrypted(e.boolean("Encrypted")?)
                    .set_iops(e.int("Iops")?)
                    .set_throughput(e.int("Throughput")?)
                    .build(),
            );
        }
        spec = spec.block_device_mappings(mapping.build());
    }
    for (interface, path) in s.list("NetworkInterfaces")? {
        let known = [
            "DeviceIndex",
            "SubnetId",
            "DeleteOnTermination",
            "AssociatePublicIpAddress",
            "Groups",
        ];
        let n = object(interface, path, &known)?;
        let mut groups = Vec::new();
        for (group, path) in n.list("Groups")? {
            let group = group
                .as_str()
                .ok_or_else(|| invalid(&path, "must be a security group id"))?;
            groups.push(group.to_owned());
        }
        spec = spec.network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .set_device_index(n.int("DeviceIndex")?)
                .set_subnet_id(n.text("SubnetId")?)
                .set_delete_on_termination(n.boolean("DeleteOnTermination")?)
                .set_associate_public_ip_address(n.boolean("AssociatePublicIpAddress")?)
                .set_groups(Some(groups))
                .build(),
        );
    }
    Ok(spec.build())
}
