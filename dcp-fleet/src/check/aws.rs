//! The AWS account's side of a run, read-only: the caller and region, the buckets, the
//! Spot vCPU quota and the worker image in ECR ([`account`]), the fleet file's roles and
//! instance profiles ([`iam`]), its AMIs ([`ami`]), key pair and network ([`network`]). A
//! call the endpoint does not serve (an emulator) is reported `skipped` with the service's
//! answer, never as a pass.

mod account;
mod ami;
mod iam;
mod network;
pub mod spot_price;

use dcp_common::Config;
use serde_json::Value;

use super::{Finding, Findings};

/// Clients for the services checked.
pub struct Clients {
    ec2: aws_sdk_ec2::Client,
    ecr: aws_sdk_ecr::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    quotas: aws_sdk_servicequotas::Client,
    ssm: aws_sdk_ssm::Client,
    sts: aws_sdk_sts::Client,
}

impl Clients {
    /// Clients for the run the settings describe.
    pub async fn connect(config: &Config) -> Clients {
        let shared = dcp_common::aws::sdk_config(config).await;
        Clients {
            ec2: aws_sdk_ec2::Client::new(&shared),
            ecr: aws_sdk_ecr::Client::new(&shared),
            iam: aws_sdk_iam::Client::new(&shared),
            s3: dcp_common::aws::s3_client(config).await,
            quotas: aws_sdk_servicequotas::Client::new(&shared),
            ssm: aws_sdk_ssm::Client::new(&shared),
            sts: aws_sdk_sts::Client::new(&shared),
        }
    }
}

/// Runs the AWS checks; those about the fleet file only when one is given.
pub async fn check(
    config: &Config,
    fleet_file: Option<&Value>,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let clients = Clients::connect(config).await;
    account::identity(&clients, config, out).await?;
    account::buckets(&clients, config, out).await?;
    account::worker_image(&clients, config, out).await?;
    iam::task_role(&clients, config, out).await?;
    let Some(request) = fleet_file else {
        return out.add(Finding::skipped(
            "fleet-file",
            "",
            "no fleet file named: name it (dcp-fleet check FLEET.json JOB…) to check its \
             roles, AMI, key pair, subnets and security groups",
        ));
    };
    iam::fleet_role(&clients, request, out).await?;
    iam::instance_profiles(&clients, request, out).await?;
    let specs = launch_specifications(request);
    ami::images(&clients, &specs, out).await?;
    network::key_pairs(&clients, config, &specs, out).await?;
    network::subnets(&clients, config, &specs, out).await?;
    account::spot_quota(&clients, config, out).await
}

/// The fleet file's launch specifications.
fn launch_specifications(request: &Value) -> Vec<&Value> {
    request["LaunchSpecifications"]
        .as_array()
        .map(|specs| specs.iter().collect())
        .unwrap_or_default()
}

/// The name in an IAM ARN: the part after the last `/` (`arn:aws:iam::1:role/a/b` → `b`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The service's code and message of an SDK error, in one line.
fn said<E>(error: &E) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error,
{
    dcp_common::aws::error_line(error)
}

/// Whether an SDK error means the endpoint does not serve the call (an emulator without
/// it) rather than an answer about the resource.
fn unserved<E: aws_sdk_s3::error::ProvideErrorMetadata>(error: &E) -> bool {
    error.code().is_none_or(|code| {
        code.contains("NotImplemented") || code == "InternalFailure" || code == "NoSuchResource"
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_come_from_arns() {
        assert_eq!(super::arn_name("arn:aws:iam::1:role/a/ecsRole"), "ecsRole");
        assert_eq!(super::arn_name("ecsRole"), "ecsRole");
    }
}
