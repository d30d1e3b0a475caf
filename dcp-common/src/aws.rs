//! AWS plumbing every tool shares. Clients are built the standard way: the default
//! credential chain (environment, profiles, SSO, IMDS, task roles), the settings' region,
//! endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` when set (so the same
//! binaries run against AWS, S3-compatible stores and local emulators), and the SDK's
//! retries (standard mode by default: 3 attempts with exponential backoff and jitter for
//! throttling and transient errors; `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` change them, as
//! the AWS SDKs and Tools Reference Guide's "Retry behavior" describes). A call that still fails becomes an [`AwsError`] naming the operation
//! and the resource; [`codes`] lists the service codes that mean "already exists" and
//! "already gone", which make repeated commands idempotent.

pub mod batch_record;
mod error;
pub mod spot_price_history;

pub use error::{AwsError, Settled, codes, failed, settle};

use aws_config::{BehaviorVersion, Region};
use tokio::sync::Mutex;

use crate::Config;

/// The shared SDK configuration for a run's settings. `AWS_PROFILE` from the settings
/// picks the profile unless the environment names one.
///
/// It is loaded once per process for a region and profile: every client a tool makes
/// (queue, store, logs, EC2, …) then shares one credentials cache, so the credential
/// chain — profiles, SSO, the instance's or the task's role — is resolved once, not once
/// per client.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    static LOADED: Mutex<Option<((String, String), aws_config::SdkConfig)>> =
        Mutex::const_new(None);
    let key = (config.aws_region.clone(), config.aws_profile.clone());
    let mut loaded = LOADED.lock().await;
    if let Some((for_key, shared)) = loaded.as_ref()
        && *for_key == key
    {
        return shared.clone();
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.aws_region.clone()));
    if std::env::var_os("AWS_PROFILE").is_none()
        && config.aws_profile != "default"
        && !config.aws_profile.is_empty()
    {
        loader = loader.profile_name(&config.aws_profile);
    }
    let shared = loader.load().await;
    *loaded = Some((key, shared.clone()));
    shared
}

/// An SQS client for the run.
pub async fn sqs_client(config: &Config) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(config).await)
}

/// An S3 client for the run; path-style addressing when an endpoint is set, as
/// S3-compatible stores and emulators expect.
pub async fn s3_client(config: &Config) -> aws_sdk_s3::Client {
    let shared = sdk_config(config).await;
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

pub use aws_sdk_s3::error::ProvideErrorMetadata;

/// One line for an AWS SDK error: the service's error code and message when it answered
/// (`NoSuchBucket: The specified bucket does not exist`), else the causes' messages joined
/// (`dispatch failure: io error: … Connection refused`) — never the SDK's debug dump of
/// the request and response, which goes to stderr instead when `RUST_LOG` is set. Callers
/// put the operation and the resource in front.
pub fn error_line<E>(error: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    if std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty()) {
        eprintln!("dcp: the AWS SDK's error in full: {error:?}");
    }
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        (None, _) => error_chain(error),
    }
}

/// The error's message and its causes', joined with `: ` (for errors that are not the
/// service's answer, such as a broken download stream).
pub fn error_chain(error: &(dyn std::error::Error + '_)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        line.push_str(": ");
        line.push_str(&e.to_string());
        cause = e.source();
    }
    line
}
