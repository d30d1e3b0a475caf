//! The launch template's data, as printed by `--dry-run` (EC2's RequestLaunchTemplateData
//! in JSON), turned into the SDK's type; fields outside the mapping are refused by path.

use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
    VolumeType,
};
use serde_json::Value;

use crate::FleetError;
use crate::aws::spot::sdk::{invalid, object};

/// The SDK's launch template data for `data`.
pub fn launch_template_data(data: &Value) -> Result<RequestLaunchTemplateData, FleetError> {
    let known = [
        "ImageId",
        "KeyName",
        "IamInstanceProfile",
        "EbsOptimized",
        "BlockDeviceMappings",
        "NetworkInterfaces",
        "SecurityGroupIds",
        "SecurityGroups",
        "UserData",
        "TagSpecifications",
    ];
    let d = object(data, "LaunchTemplateData".into(), &known)?;
    let mut out = RequestLaunchTemplateData::builder()
        .set_image_id(d.text("ImageId")?)
        .set_key_name(d.text("KeyName")?)
        .set_ebs_optimized(d.boolean("EbsOptimized")?)
        .set_user_data(d.text("UserData")?);
    if let Some(p) = d.child("IamInstanceProfile", &["Arn", "Name"])? {
        out = out.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .set_arn(p.text("Arn")?)
                .set_name(p.text("Name")?)
                .build(),
        );
    }
    for (device, path) in d.list("BlockDeviceMappings")? {
        let m = object(
            device,
            path,
            &["DeviceName", "Ebs", "NoDevice", "VirtualName"],
        )?;
        let mut mapping = LaunchTemplateBlockDeviceMappingRequest::builder()
            .set_device_name(m.text("DeviceName")?)
            .set_no_device(m.text("NoDevice")?)
            .set_virtual_name(m.text("VirtualName")?);
        let known = [
            "DeleteOnTermination",
            "VolumeType",
            "VolumeSize",
            "SnapshotId",
            "Encrypted",
            "Iops",
            "Throughput",
        ];
        if let Some(e) = m.child("Ebs", &known)? {
            mapping = mapping.ebs(
                LaunchTemplateEbsBlockDeviceRequest::builder()
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
        out = out.block_device_mappings(mapping.build());
    }
    for (interface, path) in d.list("NetworkInterfaces")? {
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
        out = out.network_interfaces(
            LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .set_device_index(n.int("DeviceIndex")?)
                .set_delete_on_termination(n.boolean("DeleteOnTermination")?)
                .set_associate_public_ip_address(n.boolean("AssociatePublicIpAddress")?)
                .set_groups(Some(groups))
                .build(),
        );
    }
    for key in ["SecurityGroupIds", "SecurityGroups"] {
        let mut names = Vec::new();
        for (group, path) in d.list(key)? {
            let group = group
                .as_str()
                .ok_or_else(|| invalid(&path, "must be a security group"))?;
            names.push(group.to_owned());
        }
        out = match key {
            "SecurityGroupIds" if !names.is_empty() => out.set_security_group_ids(Some(names)),
            "SecurityGroups" if !names.is_empty() => out.set_security_groups(Some(names)),
            _ => out,
        };
    }
    for (tags, path) in d.list("TagSpecifications")? {
        let t = object(tags, path, &["ResourceType", "Tags"])?;
        let mut spec = LaunchTemplateTagSpecificationRequest::builder().set_resource_type(
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
        out = out.tag_specifications(spec.build());
    }
    Ok(out.build())
}
