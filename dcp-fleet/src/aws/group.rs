//! The default capacity of a run (FLEET_API = "auto-scaling"): an EC2 Auto Scaling group
//! named APP_NAME with a mixed-instances policy over every MACHINE_TYPE, Spot with the
//! `price-capacity-optimized` allocation strategy (AWS's recommendation in "Allocation
//! strategies for Spot Instances") above an On-Demand base of ON_DEMAND_BASE machines, and
//! a launch template named APP_NAME made from DCP's fleet file.
//!
//! Every launch specification of the fleet file is kept: their subnets become the group's
//! subnets (DCP issue #115: one specification per subnet). An Auto Scaling group launches one
//! template in all its subnets, so specifications that differ in more than their subnet are
//! refused (exit 2, naming the field); FLEET_API = "spot-fleet" sends them as they are.
//! New instances are protected from scale-in, so lowering the group's desired capacity stops
//! no busy machine (as Spot Fleet's `noTermination`); idle machines leave through their
//! alarms, and `stop` deletes the group with its instances.

pub(crate) mod sdk;

use dcp_common::Config;
use serde_json::{Map, Value, json};

use super::plan::Request;
use super::spot;
use super::user_data::user_data;
use crate::FleetError;

/// The Spot allocation strategy of the group.
pub const SPOT_ALLOCATION_STRATEGY: &str = "price-capacity-optimized";

/// Fields of a launch specification that may differ between specifications: where the
/// machine goes, and what dcp sets itself.
const PER_SUBNET: &[&str] = &[
    "SubnetId",
    "Placement",
    "InstanceType",
    "UserData",
    "SpotPrice",
    "WeightedCapacity",
];

fn refuse(field: impl Into<String>, message: impl Into<String>) -> FleetError {
    FleetError::FleetFile {
        file: String::new(),
        line: None,
        field: field.into(),
        message: message.into(),
    }
}

/// A launch specification without what may differ per subnet (interfaces lose their
/// subnet too).
fn shared_part(spec: &Map<String, Value>) -> Map<String, Value> {
    let mut shared = spec.clone();
    for key in PER_SUBNET {
        shared.remove(*key);
    }
    for interface in shared
        .get_mut("NetworkInterfaces")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(interface) = interface.as_object_mut() {
            interface.remove("SubnetId");
        }
    }
    shared
}

/// The subnet of a launch specification: its SubnetId, else its first interface's.
fn subnet_of(spec: &Map<String, Value>) -> Option<&str> {
    spec.get("SubnetId").and_then(Value::as_str).or_else(|| {
        spec.get("NetworkInterfaces")?
            .get(0)?
            .get("SubnetId")?
            .as_str()
    })
}

/// Where the group launches: the fleet file's subnets, or, when its specifications name
/// none (a Spot Fleet then launches in the default VPC), Availability Zones of the default
/// VPC — the specifications' `Placement.AvailabilityZone`s, or every available zone of the
/// region when they name none (looked up by `start` before the plan, so `--dry-run` shows them).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Where {
    /// Subnet ids, in order, each once.
    pub subnets: Vec<String>,
    /// Availability Zones, in order, each once (only without subnets).
    pub zones: Vec<String>,
}

/// The launch specifications of a checked fleet file, their common part and where they
/// launch.
fn specifications(file: &Value) -> Result<(Map<String, Value>, Where), FleetError> {
    spot::check(file)?;
    let specs: Vec<&Map<String, Value>> = file["LaunchSpecifications"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let first = specs
        .first()
        .ok_or_else(|| refuse("LaunchSpecifications", "needs a launch specification"))?;
    let shared = shared_part(first);
    let mut place = Where::default();
    let without_subnet = subnet_of(first).is_none();
    for (i, spec) in specs.iter().enumerate() {
        let theirs = shared_part(spec);
        let keys = shared.keys().chain(theirs.keys());
        if let Some(key) = keys.into_iter().find(|k| shared.get(*k) != theirs.get(*k)) {
            return Err(refuse(
                format!("LaunchSpecifications[{i}].{key}"),
                "differs from LaunchSpecifications[0]: an Auto Scaling group launches one \
                 template in all its subnets, so specifications may differ only in their \
                 subnet; make them agree, or set FLEET_API = \"spot-fleet\"",
            ));
        }
        let subnet = subnet_of(spec);
        if subnet.is_none() != without_subnet {
            return Err(refuse(
                format!("LaunchSpecifications[{i}]"),
                "names a subnet where LaunchSpecifications[0] does not, or none where it \
                 does: name a subnet in every specification, or in none (the default VPC)",
            ));
        }
        match subnet {
            Some(subnet) => push_once(&mut place.subnets, subnet),
            None => {
                let zone = spec
                    .get("Placement")
                    .and_then(|p| p.get("AvailabilityZone"))
                    .and_then(Value::as_str);
                if let Some(zone) = zone {
                    push_once(&mut place.zones, zone);
                }
            }
        }
    }
    Ok((shared, place))
}

fn push_once(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|s| s == item) {
        list.push(item.to_owned());
    }
}

/// The launch template's data (EC2's RequestLaunchTemplateData, PascalCase) for a fleet
/// file: the shared part of its specifications, the second disk's VolumeSize = EBS_VOL_SIZE,
/// the user data, SSH_KEY_NAME as KeyName when the file has none, and with ASSIGN_IP false
/// one interface without a public address holding the security groups.
pub fn launch_template_data(file: &Value, config: &Config) -> Result<Value, FleetError> {
    let (spec, _) = specifications(file)?;
    let mut data = Map::new();
    for key in ["ImageId", "KeyName", "IamInstanceProfile", "EbsOptimized"] {
        if let Some(value) = spec.get(key) {
            data.insert(key.into(), value.clone());
        }
    }
    let key = config.ssh_key_name.trim_end_matches(".pem");
    if !data.contains_key("KeyName") && !key.is_empty() {
        data.insert("KeyName".into(), json!(key));
    }
    let mut disks = spec
        .get("BlockDeviceMappings")
        .cloned()
        .unwrap_or_else(|| json!([]));
    if let Some(ebs) = disks
        .get_mut(1)
        .and_then(|d| d.get_mut("Ebs"))
        .and_then(Value::as_object_mut)
    {
        ebs.insert("VolumeSize".into(), json!(config.ebs_vol_size));
    }
    if disks.as_array().is_some_and(|d| !d.is_empty()) {
        data.insert("BlockDeviceMappings".into(), disks);
    }
    let groups: Vec<Value> = spec
        .get("SecurityGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| g.get("GroupId").cloned().unwrap_or(Value::Null))
        .collect();
    let mut interfaces = spec.get("NetworkInterfaces").cloned();
    if interfaces.is_none() && !config.assign_ip {
        if groups.iter().any(Value::is_null) {
            return Err(refuse(
                "LaunchSpecifications[0].SecurityGroups",
                "ASSIGN_IP = False puts the groups on a network interface, which takes group \
                 ids (GroupId), not names",
            ));
        }
        interfaces =
            Some(json!([{"DeviceIndex": 0, "DeleteOnTermination": true, "Groups": groups}]));
    } else if interfaces.is_none() && !groups.is_empty() {
        if groups.iter().any(Value::is_null) {
            let names = spec["SecurityGroups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("GroupName").cloned())
                .collect();
            data.insert("SecurityGroups".into(), Value::Array(names));
        } else {
            data.insert("SecurityGroupIds".into(), Value::Array(groups));
        }
    }
    if let Some(mut interfaces) = interfaces {
        for interface in interfaces.as_array_mut().into_iter().flatten() {
            if let Some(interface) = interface.as_object_mut()
                && !config.assign_ip
            {
                interface.insert("AssociatePublicIpAddress".into(), json!(false));
            }
        }
        data.insert("NetworkInterfaces".into(), interfaces);
    }
    data.insert("UserData".into(), json!(user_data(config)?));
    data.insert(
        "TagSpecifications".into(),
        json!([{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": config.app_name}]}]),
    );
    Ok(Value::Object(data))
}

/// `start`'s requests for the group: its launch template, then the group of
/// CLUSTER_MACHINES machines in every subnet of the fleet file (or, without subnets, in the
/// default VPC: see [`Where`]; `region_zones`: the region's available zones, for
/// specifications that name neither subnet nor zone).
pub fn start(
    file: &Value,
    config: &Config,
    region_zones: &[String],
) -> Result<Vec<Request>, FleetError> {
    let (_, mut place) = specifications(file)?;
    if place.subnets.is_empty() && place.zones.is_empty() {
        place.zones = region_zones.to_vec();
    }
    let data = launch_template_data(file, config)?;
    let machines = config.cluster_machines as i32;
    Ok(vec![
        Request::CreateLaunchTemplate {
            launch_template_name: config.app_name.clone(),
            launch_template_data: data,
        },
        Request::CreateAutoScalingGroup {
            auto_scaling_group_name: config.app_name.clone(),
            launch_template_name: config.app_name.clone(),
            instance_types: config.machine_type.clone(),
            vpc_zone_identifier: place.subnets.join(","),
            availability_zones: place.zones,
            min_size: 0,
            max_size: machines,
            desired_capacity: machines,
            on_demand_base_capacity: config.on_demand_base as i32,
            on_demand_percentage_above_base_capacity: 0,
            spot_allocation_strategy: SPOT_ALLOCATION_STRATEGY.into(),
            spot_max_price: config.machine_price.to_string(),
            new_instances_protected_from_scale_in: true,
            tag_name: config.app_name.clone(),
        },
    ])
}

#[cfg(test)]
mod tests;
