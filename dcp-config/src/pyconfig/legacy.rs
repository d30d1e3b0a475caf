//! What config.py files of earlier DCP releases carry, and what DCP's run.py does with it
//! (Distributed-CellProfiler's run.py, "Back compatability with old config versions", and
//! the history of its config.py).

/// Settings earlier releases had and later dropped, with why dcp has no use for them. They
/// are kept in the dcp.toml as comments.
pub(super) const OBSOLETE: &[(&str, &str)] = &[(
    "DOCKER_BASE_SIZE",
    "dropped in DCP 2.0 (its run.py computes each container's disk from EBS_VOL_SIZE and \
     TASKS_PER_MACHINE); dcp does not use it",
)];

/// Settings renamed by a later release: (old name, new name). DCP's run.py still reads the
/// old name, which wins over the new one when it is set (not empty or False).
pub(super) const RENAMED: &[(&str, &str)] = &[("REQUIREMENTS_FILE", "REQUIREMENTS")];

/// Settings that `'False'` leaves unset in DCP's run.py (it passes them to the worker only
/// when they are not 'False').
pub(super) const FALSE_MEANS_UNSET: &[&str] =
    &["SOURCE_BUCKET", "WORKSPACE_BUCKET", "UPLOAD_FLAGS"];

/// Where a missing setting's value comes from.
pub(super) enum Missing {
    /// A fixed value.
    Value(toml::Value),
    /// The value of another setting.
    Like(&'static str),
}

/// The values a config.py without these settings gets from DCP: run.py's defaults for old
/// configs (JOB_RETRIES 10, the dashboards, monitor, always-continue and plugin update
/// off, ASSIGN_IP on, no upload flags), then its worker's for what run.py leaves unset
/// (SOURCE_BUCKET and DESTINATION_BUCKET default to AWS_BUCKET, WORKSPACE_BUCKET to
/// SOURCE_BUCKET; no s3fs download, no plugins, MIN_FILE_SIZE_BYTES 1). In order: a bucket
/// may follow another filled above it.
pub(super) fn missing() -> Vec<(&'static str, Missing, &'static str)> {
    use Missing::{Like, Value};
    use toml::Value::{Boolean, Integer, String as Text};
    let run_py = "DCP's run.py default for a missing setting";
    let worker = "DCP's worker default for a missing setting";
    vec![
        ("JOB_RETRIES", Value(Integer(10)), run_py),
        ("AUTO_MONITOR", Value(Boolean(false)), run_py),
        ("CREATE_DASHBOARD", Value(Boolean(false)), run_py),
        ("CLEAN_DASHBOARD", Value(Boolean(false)), run_py),
        ("ALWAYS_CONTINUE", Value(Boolean(false)), run_py),
        ("UPDATE_PLUGINS", Value(Boolean(false)), run_py),
        ("ASSIGN_IP", Value(Boolean(true)), run_py),
        ("UPLOAD_FLAGS", Value(Text(String::new())), run_py),
        ("REQUIREMENTS", Value(Text(String::new())), run_py),
        (
            "SOURCE_BUCKET",
            Like("AWS_BUCKET"),
            "not set: DCP's worker reads images from AWS_BUCKET",
        ),
        (
            "WORKSPACE_BUCKET",
            Like("SOURCE_BUCKET"),
            "not set: DCP's worker reads pipelines and load-data files from SOURCE_BUCKET",
        ),
        (
            "DESTINATION_BUCKET",
            Like("AWS_BUCKET"),
            "not set: DCP's worker writes results to AWS_BUCKET",
        ),
        ("DOWNLOAD_FILES", Value(Boolean(false)), worker),
        ("USE_PLUGINS", Value(Boolean(false)), worker),
        ("MIN_FILE_SIZE_BYTES", Value(Integer(1)), worker),
        ("NECESSARY_STRING", Value(Text(String::new())), worker),
    ]
}

/// The parts of an SQS queue ARN, `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
pub(super) struct QueueArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

/// The queue name DCP's run.py takes from SQS_DEAD_LETTER_QUEUE (DCP 2.0 and 2.1 wrote a
/// full ARN): the text after the last `:`, and the ARN's parts when it is one.
pub(super) fn queue_name(value: &str) -> Option<(&str, Option<QueueArn<'_>>)> {
    let (_, name) = value.rsplit_once(':')?;
    let parts: Vec<&str> = value.split(':').collect();
    let arn = match parts.as_slice() {
        ["arn", _, "sqs", region, account, _] => Some(QueueArn { region, account }),
        _ => None,
    };
    Some((name, arn))
}

/// The account of an IAM ARN (`arn:aws:iam::ACCOUNT:role/…`), the one account the settings
/// may name.
pub(super) fn account_of(arn: &str) -> Option<&str> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, _, _, account, _] if !account.is_empty() => Some(account),
        _ => None,
    }
}
