//! One error type for a failed AWS call, and the codes that let a repeated request count as
//! done.

use std::fmt::Display;

use super::{ProvideErrorMetadata, error_line};

/// An AWS call that failed, as one line: `DeleteService cluster/service: Code: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}{}{resource}: {message}", if resource.is_empty() { "" } else { " " })]
pub struct AwsError {
    /// The API operation, as AWS names it (`RequestSpotFleet`).
    pub operation: &'static str,
    /// The resource it was about (a name, an id, `cluster/service`); may be empty.
    pub resource: String,
    /// The service's error code and message ([`error_line`]), or what went wrong.
    pub message: String,
}

impl AwsError {
    /// An error of `operation` on `resource` that is not the service's answer (a reply
    /// without the field asked for, a fleet whose history shows an error, …).
    pub fn new(
        operation: &'static str,
        resource: impl Display,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation,
            resource: resource.to_string(),
            message: message.into(),
        }
    }
}

/// Turns an SDK error of `operation` on `resource` into an [`AwsError`], for `map_err`.
pub fn failed<E: ProvideErrorMetadata + std::error::Error>(
    operation: &'static str,
    resource: impl Display,
) -> impl FnOnce(E) -> AwsError {
    move |e| AwsError::new(operation, resource, error_line(&e))
}

/// What a request that changes something came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// It was carried out.
    Done,
    /// There was nothing to do: the resource was already gone (or already there).
    Gone,
}

impl Settled {
    /// `done` or `gone`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Settled::Done => "done",
            Settled::Gone => "gone",
        }
    }
}

/// A call's result: [`Settled::Done`], or [`Settled::Gone`] when the error's code is one of
/// `gone` (see [`codes`]); any other error as an [`AwsError`].
pub fn settle<T, E>(
    operation: &'static str,
    resource: impl Display,
    sent: Result<T, E>,
    gone: &[&str],
) -> Result<Settled, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match sent {
        Ok(_) => Ok(Settled::Done),
        Err(e) if e.code().is_some_and(|c| gone.contains(&c)) => Ok(Settled::Gone),
        Err(e) => Err(failed(operation, resource)(e)),
    }
}

/// Service error codes that make a repeated request harmless, by service and resource
/// (from each API reference's "Errors" section, and what moto answers).
pub mod codes {
    /// ECS: the service, or its cluster, is no longer there.
    pub const ECS_SERVICE_GONE: &[&str] = &[
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "ClusterNotFoundException",
    ];
    /// ECS: the cluster is no longer there.
    pub const ECS_CLUSTER_GONE: &[&str] = &["ClusterNotFoundException"];
    /// ECS: a task definition revision is unknown or already inactive.
    pub const ECS_TASK_DEFINITION_GONE: &[&str] = &["ClientException"];
    /// EC2: the Spot Fleet request is unknown.
    pub const SPOT_FLEET_GONE: &[&str] = &["InvalidSpotFleetRequestId.NotFound"];
    /// CloudWatch: alarms or dashboards that are not there.
    pub const CLOUDWATCH_GONE: &[&str] = &["ResourceNotFound"];
    /// CloudWatch Logs: the log group (or stream) is not there.
    pub const LOGS_GONE: &[&str] = &["ResourceNotFoundException"];
    /// EventBridge Scheduler: the schedule is not there.
    pub const SCHEDULE_GONE: &[&str] = &["ResourceNotFoundException"];
    /// CloudWatch Logs: the log group exists already.
    pub const LOGS_EXISTS: &[&str] = &["ResourceAlreadyExistsException"];
    /// SQS: the queue is not there (JSON and query protocol names).
    pub const SQS_QUEUE_GONE: &[&str] = &[
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    ];
}
