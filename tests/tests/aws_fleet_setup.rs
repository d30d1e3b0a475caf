//! `dcp-fleet setup` against a real local moto server: the ECS cluster, the task
//! definition (settings in, credentials out), the service at desired count 0 and the log
//! groups, all read back independently through the SDK; `--dry-run` changes nothing.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

const ACCESS_KEY: &str = "AKIDSETUPNEVERSHOWN";
const SECRET_KEY: &str = "secretSETUPNEVERSHOWN";

fn setup(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    let mut command = moto.tool("dcp-fleet", dir);
    command
        .arg("setup")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_makes_cluster_task_definition_service_and_log_groups() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Setup\"\nAWS_BUCKET = \"logs\"\nECS_CLUSTER = \"dcp-test\"\n\
         TASK_ROLE_ARN = \"arn:aws:iam::123456789012:role/dcp-worker\"\nDOCKER_CORES = 2\nMEMORY = 7000\n",
    )
    .unwrap();
    let shared = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&shared);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&shared);

    let dry: serde_json::Value =
        serde_json::from_str(&stdout_ok(setup(&moto, d, &["--dry-run"]))).unwrap();
    let request = |report: &serde_json::Value, name: &str| -> serde_json::Value {
        let requests = report["requests"].as_array().unwrap();
        let found = requests.iter().find(|r| r["Request"] == name);
        found
            .unwrap_or_else(|| panic!("no {name}: {report}"))
            .clone()
    };
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        request(&dry, "CreateService")["ServiceName"],
        "SetupService"
    );
    let registration = request(&dry, "RegisterTaskDefinition");
    assert_eq!(registration["Container"]["Cpu"], 2048);
    assert_eq!(registration["result"], "planned");
    let clusters = ecs.list_clusters().send().await.unwrap();
    assert!(
        clusters
            .cluster_arns()
            .iter()
            .all(|arn| !arn.ends_with("/dcp-test")),
        "dry run made nothing"
    );

    let report: serde_json::Value = serde_json::from_str(&stdout_ok(setup(&moto, d, &[]))).unwrap();
    let registered = request(&report, "RegisterTaskDefinition");
    assert_eq!(registered["note"], "SetupTask:1");
    let service = request(&report, "CreateService");
    assert_eq!(
        (&service["result"], &service["note"]),
        (&"done".into(), &"made with SetupTask:1".into())
    );
    let queues = request(&report, "CreateQueues");
    assert_eq!(
        queues["note"],
        "queue made, its attributes set; dead-letter queue made"
    );

    let described = ecs
        .describe_task_definition()
        .task_definition("SetupTask")
        .send()
        .await
        .unwrap();
    let definition = described.task_definition.unwrap();
    assert_eq!(
        definition.task_role_arn(),
        Some("arn:aws:iam::123456789012:role/dcp-worker")
    );
    let container = &definition.container_definitions()[0];
    assert_eq!((container.cpu(), container.memory()), (2048, Some(7000)));
    let names: Vec<&str> = container
        .environment()
        .iter()
        .filter_map(|e| e.name())
        .collect();
    assert_eq!(names, ["DCP_SETTINGS"]);
    for variable in container.environment() {
        let value = variable.value().unwrap_or_default();
        assert!(
            !value.contains(ACCESS_KEY) && !value.contains(SECRET_KEY),
            "a credential leaked: {value}"
        );
    }
    let settings: serde_json::Value =
        serde_json::from_str(container.environment()[0].value().unwrap()).unwrap();
    assert_eq!(settings["SQS_QUEUE_NAME"], "SetupQueue");
    let log_options = container.log_configuration().unwrap().options().unwrap();
    assert_eq!(log_options["awslogs-group"], "Setup_perInstance");

    let services = ecs
        .describe_services()
        .cluster("dcp-test")
        .services("SetupService")
        .send()
        .await
        .unwrap();
    assert_eq!(services.services()[0].desired_count(), 0);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("Setup")
        .send()
        .await
        .unwrap();
    let found: Vec<(&str, Option<i32>)> = groups
        .log_groups()
        .iter()
        .map(|g| (g.log_group_name().unwrap(), g.retention_in_days()))
        .collect();
    assert_eq!(
        found,
        [("Setup", Some(60)), ("Setup_perInstance", Some(60))]
    );

    let again: serde_json::Value = serde_json::from_str(&stdout_ok(setup(&moto, d, &[]))).unwrap();
    assert_eq!(
        request(&again, "RegisterTaskDefinition")["note"],
        "SetupTask:2"
    );
    let service = request(&again, "CreateService");
    assert_eq!(
        (&service["result"], &service["note"]),
        (
            &"found".into(),
            &"the service existed: moved to SetupTask:2".into()
        )
    );
    assert_eq!(request(&again, "CreateLogGroup")["result"], "found");
}
