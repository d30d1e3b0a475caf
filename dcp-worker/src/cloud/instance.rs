//! The EC2 instance a worker runs on: found through the instance metadata service (IMDS),
//! tagged `APP_NAMEWorker`, and given DCP's idle alarm (CPU < 1 % for 15 minutes →
//! terminate), the reaper of stuck machines.

use std::time::Duration;

use aws_config::imds;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use dcp_common::Config;

/// How long the IMDS may take to answer; off EC2 nothing answers, and startup must not wait.
const IMDS_TIMEOUT: Duration = Duration::from_secs(1);

/// The standard variable that turns the instance metadata service off.
const IMDS_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";

/// Setting up the instance failed.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The Name tag could not be set.
    #[error("cannot tag instance {instance} Name={name}: {message}")]
    Tag {
        /// The instance id.
        instance: String,
        /// The tag's value.
        name: String,
        /// EC2's error.
        message: String,
    },
    /// The idle alarm could not be put.
    #[error("cannot put the idle alarm {alarm}: {message}")]
    Alarm {
        /// The alarm's name.
        alarm: String,
        /// CloudWatch's error.
        message: String,
    },
}

/// An IMDS client that answers quickly or not at all: one attempt, short timeouts.
/// It honours `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
pub fn imds_client() -> imds::Client {
    imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .operation_timeout(IMDS_TIMEOUT * 2)
        .build()
}

/// The id of the EC2 instance this runs on; `None` off EC2 (the IMDS does not answer) or
/// when `AWS_EC2_METADATA_DISABLED` is true.
pub async fn instance_id(imds: &imds::Client) -> Option<String> {
    if std::env::var(IMDS_DISABLED).is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let id: String = imds.get("/latest/meta-data/instance-id").await.ok()?.into();
    let id = id.trim().to_owned();
    (!id.is_empty()).then_some(id)
}

/// Tags `instance` Name = APP_NAME + "Worker".
pub async fn tag(
    ec2: &aws_sdk_ec2::Client,
    config: &Config,
    instance: &str,
) -> Result<(), InstanceError> {
    let name = config.instance_name_tag();
    ec2.create_tags()
        .resources(instance)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Name")
                .value(&name)
                .build(),
        )
        .send()
        .await
        .map_err(|e| InstanceError::Tag {
            instance: instance.to_owned(),
            name,
            message: dcp_common::aws::error_line(&e),
        })?;
    Ok(())
}

/// Puts DCP's idle alarm on `instance`: average CPUUtilization below 1 % for 15 periods of
/// 60 s terminates it.
pub async fn put_idle_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    config: &Config,
    region: &str,
    instance: &str,
) -> Result<(), InstanceError> {
    let alarm = config.instance_alarm_name(instance);
    cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm)
        .alarm_description("dcp: terminate the instance after 15 idle minutes")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value(instance)
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(15)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .alarm_actions(format!("arn:aws:automate:{region}:ec2:terminate"))
        .send()
        .await
        .map_err(|e| InstanceError::Alarm {
            alarm,
            message: dcp_common::aws::error_line(&e),
        })?;
    Ok(())
}
