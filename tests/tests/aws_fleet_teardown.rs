//! `dcp-fleet status`, `scale`, `stop` and `teardown` on AWS against a real local moto
//! server, each checked with independent reads through the SDK: the fleet's target and the
//! service's desired count after `scale`; nothing changed by `--dry-run` or by a teardown
//! refused while tasks are queued; after `teardown` no fleet, alarm, service, task
//! definition, queue, cluster, dashboard or log group is left, the logs are exported to
//! the bucket, and a dead-letter queue holding tasks is kept until it is empty.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use dcp_tests::moto::{Moto, alarm_names, keys, put_instance_alarm, queue_url};
use dcp_tests::{assert_exit, stdout_ok};
use serde_json::Value;

fn fleet(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    moto.tool("dcp-fleet", dir).args(args).output().unwrap()
}

fn json(output: Output) -> Value {
    serde_json::from_str(&stdout_ok(output)).unwrap()
}

/// The SDK clients of the independent reads.
struct Reads {
    ec2: aws_sdk_ec2::Client,
    ecs: aws_sdk_ecs::Client,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Reads {
    async fn open_fleets(&self) -> Vec<(String, i32)> {
        let described = self
            .ec2
            .describe_spot_fleet_requests()
            .send()
            .await
            .unwrap();
        described
            .spot_fleet_request_configs()
            .iter()
            .filter(|c| {
                let state = c.spot_fleet_request_state().unwrap().as_str();
                !state.starts_with("cancelled")
            })
            .map(|c| {
                let target = c.spot_fleet_request_config().unwrap().target_capacity();
                (
                    c.spot_fleet_request_id().unwrap().to_owned(),
                    target.unwrap(),
                )
            })
            .collect()
    }

    async fn service_desired(&self) -> Option<i32> {
        let described = self
            .ecs
            .describe_services()
            .cluster("dcp-tear")
            .services("TearService")
            .send()
            .await
            .ok()?;
        described
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .map(|s| s.desired_count())
    }

    async fn alarms(&self) -> usize {
        alarm_names(&self.cloudwatch).await.len()
    }

    async fn queue_exists(&self, name: &str) -> bool {
        self.sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .is_ok()
    }

    async fn log_groups(&self) -> Vec<String> {
        let described = self.logs.describe_log_groups().send().await.unwrap();
        described
            .log_groups()
            .iter()
            .filter_map(|g| g.log_group_name().map(str::to_owned))
            .collect()
    }

    async fn task_definitions(&self) -> usize {
        let listed = self
            .ecs
            .list_task_definitions()
            .family_prefix("TearTask")
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .unwrap();
        listed.task_definition_arns().len()
    }

    async fn cluster_active(&self) -> bool {
        let described = self
            .ecs
            .describe_clusters()
            .clusters("dcp-tear")
            .send()
            .await
            .unwrap();
        described
            .clusters()
            .iter()
            .any(|c| c.status() == Some("ACTIVE"))
    }

    async fn dashboards(&self) -> Vec<String> {
        let listed = self.cloudwatch.list_dashboards().send().await.unwrap();
        listed
            .dashboard_entries()
            .iter()
            .filter_map(|d| d.dashboard_name().map(str::to_owned))
            .collect()
    }
}

fn fleet_file(image: &str) -> String {
    serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": image, "KeyName": "lab-key"}],
        "Type": "maintain"
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_stop_and_teardown_leave_nothing_behind() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let reads = Reads {
        ec2: aws_sdk_ec2::Client::new(&shared),
        ecs: aws_sdk_ecs::Client::new(&shared),
        sqs: aws_sdk_sqs::Client::new(&shared),
        s3: moto.s3_client().await,
        logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&shared),
    };
    let image = moto.image_id().await;
    reads
        .s3
        .create_bucket()
        .bucket("tear-logs")
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nFLEET_API = \"spot-fleet\"\nAPP_NAME = \"Tear\"\nAWS_BUCKET = \"tear-logs\"\nECS_CLUSTER = \"dcp-tear\"\n\
         CLUSTER_MACHINES = 2\nTASKS_PER_MACHINE = 2\n",
    )
    .unwrap();
    std::fs::write(d.join("fleet.json"), fleet_file(&image)).unwrap();
    stdout_ok(fleet(&moto, d, &["setup"]));
    stdout_ok(moto.tool("dcp-queue", d).arg("create").output().unwrap());
    let started = json(fleet(&moto, d, &["start", "fleet.json"]));
    let fleet_id = started["fleet_id"].as_str().unwrap().to_owned();
    let status = json(fleet(&moto, d, &["status"]));
    let instances: Vec<String> = status["fleets"][0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(instances.len(), 2, "{status}");
    for instance in &instances {
        put_instance_alarm(&reads.cloudwatch, "Tear", instance).await;
    }
    reads
        .logs
        .create_log_stream()
        .log_group_name("Tear")
        .log_stream_name("task-1")
        .send()
        .await
        .unwrap();
    reads
        .logs
        .put_log_events()
        .log_group_name("Tear")
        .log_stream_name("task-1")
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(1_700_000_000_000)
                .message("CellProfiler says hello")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let status = json(fleet(&moto, d, &["status"]));
    assert_eq!(status["fleets"][0]["id"], fleet_id.as_str());
    assert_eq!(status["alarms"].as_array().unwrap().len(), 2);
    assert_eq!(status["service"]["desired"], 4);
    assert_eq!(
        status["log_groups"],
        serde_json::json!(["Tear", "Tear_perInstance"])
    );
    assert_eq!(status["dashboard"], true);
    let dashboard = reads
        .cloudwatch
        .get_dashboard()
        .dashboard_name("Tear")
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(dashboard.dashboard_body().unwrap()).unwrap();
    let widgets = body["widgets"].to_string();
    assert!(
        widgets.contains("TearQueue") && widgets.contains(&fleet_id),
        "{body}"
    );

    // scale: --dry-run changes nothing; then the fleet's target and the service follow.
    let dry = json(fleet(&moto, d, &["scale", "1", "--dry-run"]));
    assert_eq!(dry["requests"][0]["Request"], "ModifySpotFleetRequest");
    assert_eq!(dry["requests"][0]["result"], "planned");
    assert_eq!(reads.open_fleets().await, [(fleet_id.clone(), 2)]);
    // Above CLUSTER_MACHINES: a warning (stderr and JSON); above 100,000: refused.
    let above = fleet(&moto, d, &["scale", "50", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&above.stderr)
            .contains("warning: 50 machines is above the 2 the settings plan for"),
        "{above:?}"
    );
    let above = json(above);
    assert!(
        above["warning"]
            .as_str()
            .is_some_and(|w| w.contains("(CLUSTER_MACHINES)")),
        "{above}"
    );
    let refused = fleet(&moto, d, &["scale", "100001"]);
    assert_exit(&refused, 2);
    assert_eq!(reads.open_fleets().await, [(fleet_id.clone(), 2)]);
    let scaled = json(fleet(&moto, d, &["scale", "1"]));
    assert_eq!(scaled["requests"][0]["result"], "done", "{scaled}");
    assert_eq!(reads.open_fleets().await, [(fleet_id.clone(), 1)]);
    assert_eq!(reads.service_desired().await, Some(2));

    // teardown is refused while tasks are queued, and changes nothing.
    let url = queue_url(&reads.sqs, "TearQueue").await;
    reads
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let refused = fleet(&moto, d, &["teardown"]);
    assert_exit(&refused, 1);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("TearQueue still holds 1 task(s)"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(reads.open_fleets().await.len(), 1);
    reads
        .sqs
        .purge_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap();

    // A dead letter keeps its queue.
    let dead_url = queue_url(&reads.sqs, "TearDeadMessages").await;
    reads
        .sqs
        .send_message()
        .queue_url(&dead_url)
        .message_body("{\"dead\": 1}")
        .send()
        .await
        .unwrap();

    let dry = json(fleet(&moto, d, &["teardown", "--dry-run"]));
    assert!(dry["requests"].as_array().unwrap().len() >= 10, "{dry}");
    assert_eq!(
        reads.open_fleets().await.len(),
        1,
        "a dry run changes nothing"
    );
    assert_eq!(reads.alarms().await, 2);

    let torn = json(fleet(&moto, d, &["teardown"]));
    for request in torn["requests"].as_array().unwrap() {
        assert_eq!(request["result"], "done", "{request}");
    }
    assert_eq!(torn["kept"].as_array().unwrap().len(), 1, "{torn}");
    assert!(
        torn["kept"][0]
            .as_str()
            .unwrap()
            .contains("holds 1 task(s)")
    );
    assert!(reads.open_fleets().await.is_empty());
    assert_eq!(reads.alarms().await, 0);
    assert_eq!(reads.service_desired().await, None);
    assert_eq!(reads.task_definitions().await, 0);
    assert!(!reads.queue_exists("TearQueue").await);
    assert!(reads.queue_exists("TearDeadMessages").await);
    assert!(!reads.cluster_active().await);
    assert!(reads.log_groups().await.is_empty());
    assert!(reads.dashboards().await.is_empty());
    let exported = keys(&reads.s3, "tear-logs", "exportedlogs/Tear/").await;
    assert!(
        exported.iter().any(|k| k.contains("/task-1/")),
        "{exported:?}"
    );

    // Once the dead letters are dealt with, a second teardown removes their queue, and a
    // third finds nothing to do.
    reads
        .sqs
        .purge_queue()
        .queue_url(&dead_url)
        .send()
        .await
        .unwrap();
    let again = json(fleet(&moto, d, &["teardown"]));
    assert_eq!(again["requests"].as_array().unwrap().len(), 1, "{again}");
    assert_eq!(again["requests"][0]["Request"], "DeleteQueue");
    assert!(!reads.queue_exists("TearDeadMessages").await);
    let nothing = json(fleet(&moto, d, &["teardown"]));
    assert_eq!(nothing["requests"], serde_json::json!([]));
    assert_eq!(nothing["kept"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_keeps_a_dead_letter_queue_another_run_names() {
    let moto = Moto::start();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for run in ["illum", "analysis"] {
        std::fs::write(
            d.join(format!("{run}.toml")),
            format!(
                "BACKEND = \"aws\"\nAPP_NAME = \"{run}\"\nAWS_BUCKET = \"b\"\n\
                 SQS_DEAD_LETTER_QUEUE = \"user_DeadMessages\"\nJOB_RETRIES = 1\n"
            ),
        )
        .unwrap();
        stdout_ok(
            moto.tool("dcp-queue", d)
                .args(["--config", &format!("{run}.toml"), "create"])
                .output()
                .unwrap(),
        );
        // A task received once and then again goes to the dead-letter queue.
        let url = queue_url(&sqs, format!("{run}Queue")).await;
        let body = format!("{{\"output\": \"out/{run}\"}}");
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
        for _ in 0..2 {
            sqs.receive_message()
                .queue_url(&url)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }
    let teardown = |run: &str| {
        json(fleet(
            &moto,
            d,
            &["--config", &format!("{run}.toml"), "teardown"],
        ))
    };
    let letters = || async {
        let url = queue_url(&sqs, "user_DeadMessages").await;
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        got.messages().len()
    };

    let torn = teardown("analysis");
    assert_eq!(
        torn["kept"],
        serde_json::json!([
            "dead-letter queue user_DeadMessages: the redrive policy of illumQueue names it"
        ])
    );
    assert!(
        sqs.get_queue_url()
            .queue_name("analysisQueue")
            .send()
            .await
            .is_err()
    );
    assert_eq!(letters().await, 2, "both runs' letters stay");

    let torn = teardown("illum");
    assert!(
        torn["kept"][0]
            .as_str()
            .unwrap()
            .contains("holds 2 task(s)"),
        "{torn}"
    );
    assert!(
        sqs.get_queue_url()
            .queue_name("illumQueue")
            .send()
            .await
            .is_err()
    );
    assert_eq!(letters().await, 2);

    let dead_url = queue_url(&sqs, "user_DeadMessages").await;
    sqs.purge_queue().queue_url(&dead_url).send().await.unwrap();
    let torn = teardown("illum");
    assert_eq!(torn["requests"][0]["Request"], "DeleteQueue", "{torn}");
    assert_eq!(torn["requests"][0]["result"], "done", "{torn}");
    assert!(
        sqs.get_queue_url()
            .queue_name("user_DeadMessages")
            .send()
            .await
            .is_err()
    );
}
