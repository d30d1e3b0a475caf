//! `dcp-fleet start FLEET.json` on AWS (reference §5): DCP's fleet file with DCP's
//! overrides, as a Spot Fleet request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dcp_common::Config;
use dcp_common::aws::{AwsError, failed};
use serde_json::{Value, json};

use super::user_data::user_data;
use crate::FleetError;

/// How long a fleet request stays valid, as DCP sets it: one year.
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Checks a DCP fleet file's fields (keys, types, EC2's number ranges) before anything is
/// asked of AWS; the error names the field by its path.
pub fn check(file: &Value) -> Result<(), FleetError> {
    sdk::config_data(file).map(drop)
}

fn iso8601(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    aws_smithy_types::DateTime::from_secs(secs as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("whole seconds format")
}

/// The EC2 key pair SSH_KEY_NAME names. DCP's config.py names the key file (`NAME.pem`,
/// "expected to be in ~/.ssh") and its fleet file the key pair (`NAME`); DCP's documentation
/// asks for the same name in both (troubleshooting_runs.md).
fn key_pair(ssh_key_name: &str) -> Option<&str> {
    let name = ssh_key_name.strip_suffix(".pem").unwrap_or(ssh_key_name);
    (!name.is_empty()).then_some(name)
}

/// The Spot Fleet request for a DCP fleet file: ValidFrom/ValidUntil (now, a year on),
/// TargetCapacity = CLUSTER_MACHINES, SpotPrice = MACHINE_PRICE, one launch specification
/// per MACHINE_TYPE, the second block device's VolumeSize = EBS_VOL_SIZE, UserData joining
/// ECS_CLUSTER, no public address when ASSIGN_IP is false, and a tag naming the app.
/// SSH_KEY_NAME (without `.pem`) is the KeyName of a launch specification that has none;
/// a KeyName in the fleet file is kept, as DCP's run.py sends the fleet file's (a warning
/// says so when the two differ).
pub fn fleet_request(file: &Value, config: &Config, now: SystemTime) -> Result<Value, FleetError> {
    check(file)?;
    let (Some(mut request), Some(template)) = (
        file.as_object().cloned(),
        file["LaunchSpecifications"][0].as_object().cloned(),
    ) else {
        return Err(FleetError::FleetFile {
            file: String::new(),
            line: None,
            field: "LaunchSpecifications[0]".into(),
            message: "must be a JSON object".into(),
        });
    };
    let key = key_pair(&config.ssh_key_name);
    let theirs = template
        .get("KeyName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(key) = key
        && !theirs.is_empty()
        && theirs != key
    {
        eprintln!(
            "dcp-fleet: warning: SSH_KEY_NAME: the fleet file's KeyName '{theirs}' is used, \
             not '{key}' (as in DCP, the fleet file's key pair wins)"
        );
    }
    let mut specifications = Vec::new();
    for instance_type in &config.machine_type {
        let mut spec = template.clone();
        spec.insert("InstanceType".into(), json!(instance_type));
        spec.insert("UserData".into(), json!(user_data(config)?));
        if let Some(key) = key
            && theirs.is_empty()
        {
            spec.insert("KeyName".into(), json!(key));
        }
        if let Some(ebs) = spec
            .get_mut("BlockDeviceMappings")
            .and_then(Value::as_array_mut)
            .and_then(|devices| devices.get_mut(1))
            .and_then(|device| device.get_mut("Ebs"))
            .and_then(Value::as_object_mut)
        {
            ebs.insert("VolumeSize".into(), json!(config.ebs_vol_size));
        }
        if !config.assign_ip {
            for interface in spec
                .get_mut("NetworkInterfaces")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(interface) = interface.as_object_mut() {
                    interface.insert("AssociatePublicIpAddress".into(), json!(false));
                }
            }
        }
        specifications.push(Value::Object(spec));
    }
    request.insert("LaunchSpecifications".into(), Value::Array(specifications));
    request.insert("ValidFrom".into(), json!(iso8601(now)));
    request.insert("ValidUntil".into(), json!(iso8601(now + VALIDITY)));
    request.insert("TargetCapacity".into(), json!(config.cluster_machines));
    request.insert("SpotPrice".into(), json!(config.machine_price.to_string()));
    request.insert(
        "TagSpecifications".into(),
        json!([{"ResourceType": "spot-fleet-request", "Tags": [{"Key": "Name", "Value": config.app_name}]}]),
    );
    Ok(Value::Object(request))
}

#[cfg(test)]
mod tests;

/// Sends a fleet request built by [`fleet_request`] to EC2; returns the fleet's id.
pub async fn request(ec2: &aws_sdk_ec2::Client, request: &Value) -> Result<String, FleetError> {
    let config = sdk::config_data(request)?;
    let sent = ec2
        .request_spot_fleet()
        .spot_fleet_request_config(config)
        .send()
        .await;
    let sent = sent.map_err(failed("RequestSpotFleet", ""))?;
    let id = sent.spot_fleet_request_id;
    Ok(id.ok_or_else(|| AwsError::new("RequestSpotFleet", "", "returned no id"))?)
}

/// Waits up to `limit` for the fleet to run `target` instances and returns how many run.
/// An error in the fleet's history (a bad AMI, a refused role, …) cancels the fleet and is
/// returned with its cause, except a lone capacity error while some instances run; an
/// endpoint that cannot answer history requests is tolerated.
pub async fn wait_for_capacity(
    ec2: &aws_sdk_ec2::Client,
    fleet_id: &str,
    target: usize,
    limit: Duration,
) -> Result<usize, FleetError> {
    let started = SystemTime::now();
    loop {
        let running = ec2
            .describe_spot_fleet_instances()
            .spot_fleet_request_id(fleet_id)
            .send()
            .await
            .map_err(failed("DescribeSpotFleetInstances", fleet_id))?
            .active_instances
            .map_or(0, |i| i.len());
        let since = aws_smithy_types::DateTime::from(started - Duration::from_secs(60));
        let history = ec2
            .describe_spot_fleet_request_history()
            .spot_fleet_request_id(fleet_id)
            .start_time(since)
            .send()
            .await;
        let errors: Vec<String> = history
            .ok()
            .and_then(|h| h.history_records)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.event_type.as_ref().is_some_and(|t| t.as_str() == "error"))
            .filter_map(|r| r.event_information.and_then(|i| i.event_description))
            .collect();
        let tolerable =
            errors.len() == 1 && errors[0].to_lowercase().contains("capacity") && running > 0;
        if !errors.is_empty() && !tolerable {
            ec2.cancel_spot_fleet_requests()
                .spot_fleet_request_ids(fleet_id)
                .terminate_instances(true)
                .send()
                .await
                .map_err(failed("CancelSpotFleetRequests", fleet_id))?;
            let why = format!("failed and was cancelled: {}", errors.join("; "));
            return Err(AwsError::new("RequestSpotFleet", fleet_id, why).into());
        }
        if running >= target || started.elapsed().unwrap_or_default() >= limit {
            return Ok(running);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

pub(crate) mod sdk;
