//! The checks resolved settings must pass before any tool uses them.

use super::{Backend, Config, FleetApi};

type Invalid = (&'static str, String);

/// Validates resolved settings; an error names the setting and what is wrong.
pub fn check(c: &Config) -> Result<(), Invalid> {
    name("APP_NAME", &c.app_name, 64)?;
    name("SQS_QUEUE_NAME", &c.sqs_queue_name, 80)?;
    name("SQS_DEAD_LETTER_QUEUE", &c.sqs_dead_letter_queue, 80)?;
    // ECS names (cluster, service, task family): up to 255 letters, digits, '-' and '_'
    // (Amazon ECS API Reference, CreateCluster, CreateService, RegisterTaskDefinition).
    name("ECS_CLUSTER", &c.ecs_cluster, 255)?;
    name("APP_NAME (its ECS service name)", &c.ecs_service_name, 255)?;
    name("APP_NAME (its ECS task family)", &c.ecs_task_family, 255)?;
    log_group("LOG_GROUP_NAME", &c.log_group_name)?;
    if c.sqs_queue_name == c.sqs_dead_letter_queue {
        return Err((
            "SQS_DEAD_LETTER_QUEUE",
            "must differ from SQS_QUEUE_NAME".into(),
        ));
    }
    if c.aws_bucket.is_empty() {
        let what = match c.backend {
            Backend::Embedded => "a directory",
            Backend::Aws => "a bucket name",
        };
        return Err((
            "AWS_BUCKET",
            format!("is required: {what} for logs and run files"),
        ));
    }
    at_least("SQS_MESSAGE_VISIBILITY", c.sqs_message_visibility, 1)?;
    at_most("SQS_MESSAGE_VISIBILITY", c.sqs_message_visibility, 43_200)?;
    at_least("JOB_RETRIES", c.job_retries.into(), 1)?;
    at_most("JOB_RETRIES", c.job_retries.into(), 1000)?;
    at_least("TASKS_PER_MACHINE", c.tasks_per_machine.into(), 1)?;
    at_most("TASKS_PER_MACHINE", c.tasks_per_machine.into(), 1024)?;
    at_least("DOCKER_CORES", c.docker_cores.into(), 1)?;
    at_most("DOCKER_CORES", c.docker_cores.into(), 1024)?;
    at_most("LOCAL_WORKERS", c.local_workers.into(), 1024)?;
    // Container cpu units and memory (MiB) are 32-bit integers in an ECS task definition.
    at_most("CPU_SHARES", c.cpu_shares().into(), i32::MAX as u64)?;
    at_least("MEMORY", c.memory.into(), 1)?;
    at_most("MEMORY", c.memory.into(), i32::MAX as u64)?;
    at_most("CLUSTER_MACHINES", c.cluster_machines.into(), 100_000)?;
    at_most("ON_DEMAND_BASE", c.on_demand_base.into(), 100_000)?;
    // The On-Demand base is part of the run's CLUSTER_MACHINES machines, never on top of
    // them (EC2 Auto Scaling's OnDemandBaseCapacity, Spot Fleet's OnDemandTargetCapacity).
    if c.on_demand_base > c.cluster_machines {
        return Err((
            "ON_DEMAND_BASE",
            format!(
                "must be at most CLUSTER_MACHINES ({}), got {}: the On-Demand machines are \
                 part of the run's machines",
                c.cluster_machines, c.on_demand_base
            ),
        ));
    }
    // A Spot Fleet request built from launch specifications (DCP's fleet file) cannot hold
    // On-Demand capacity: "If you include On-Demand capacity in your request, you must use
    // LaunchTemplateConfigs" (EC2 API Reference, SpotFleetRequestConfigData).
    if c.on_demand_base > 0 && c.fleet_api == FleetApi::SpotFleet {
        return Err((
            "ON_DEMAND_BASE",
            format!(
                "must be 0 with FLEET_API = \"spot-fleet\", got {}: a Spot Fleet of DCP's \
                 launch specifications runs Spot machines only; use FLEET_API = \"auto-scaling\" \
                 for an On-Demand base",
                c.on_demand_base
            ),
        ));
    }
    at_most("EBS_VOL_SIZE", c.ebs_vol_size.into(), 16_384)?;
    at_least("EBS_VOL_SIZE", c.ebs_vol_size.into(), 22)?;
    at_least("EXPECTED_NUMBER_FILES", c.expected_number_files.into(), 1)?;
    at_least("RUNNER_MAX_TASKS", c.runner_max_tasks.into(), 1)?;
    at_most("RUNNER_MAX_TASKS", c.runner_max_tasks.into(), 1_000_000)?;
    // Below a few hundred MB a runner would be replaced after every task: CellProfiler
    // with its modules loaded is about 300 MB resident.
    at_least("RUNNER_MAX_RSS_MB", c.runner_max_rss_mb.into(), 512)?;
    at_most("RUNNER_MAX_RSS_MB", c.runner_max_rss_mb.into(), 1 << 20)?;
    if c.cellprofiler.is_empty() {
        return Err(("CELLPROFILER", "must name the CellProfiler command".into()));
    }
    if !c.mount_root.starts_with('/') {
        return Err((
            "MOUNT_ROOT",
            format!("'{}' must be an absolute path", c.mount_root),
        ));
    }
    if c.machine_type.is_empty() || c.machine_type.iter().any(String::is_empty) {
        return Err((
            "MACHINE_TYPE",
            "must list at least one instance type".into(),
        ));
    }
    if !(c.machine_price.is_finite() && c.machine_price > 0.0) {
        return Err((
            "MACHINE_PRICE",
            format!("must be a positive price, got {}", c.machine_price),
        ));
    }
    Ok(())
}

fn name(key: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err((
            key,
            format!("'{value}' must be 1 to {max} letters, digits, '-' or '_'"),
        ))
    }
}

/// A CloudWatch Logs group name: 1 to 512 of letters, digits, '_', '-', '/', '.' and '#'
/// (CloudWatch Logs API Reference, CreateLogGroup).
fn log_group(key: &'static str, value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.len() <= 512
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.' | '#'));
    if ok {
        Ok(())
    } else {
        Err((
            key,
            format!("'{value}' must be 1 to 512 letters, digits, '_', '-', '/', '.' or '#'"),
        ))
    }
}

fn at_least(key: &'static str, value: u64, min: u64) -> Result<(), Invalid> {
    if value >= min {
        Ok(())
    } else {
        Err((key, format!("must be at least {min}, got {value}")))
    }
}

fn at_most(key: &'static str, value: u64, max: u64) -> Result<(), Invalid> {
    if value <= max {
        Ok(())
    } else {
        Err((key, format!("must be at most {max}, got {value}")))
    }
}

/// The 1-based line where `key` is set in TOML (`KEY = …`) or JSON (`"KEY": …`) text.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix(key)
                .or_else(|| line.strip_prefix(&quoted));
            rest.is_some_and(|r| r.trim_start().starts_with(['=', ':']))
        })
        .map(|i| i + 1)
}
