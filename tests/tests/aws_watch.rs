//! `dcp-watch --once` on AWS against a real local moto server, each look a fresh process
//! that knows only the settings: it waits while no fleet was started; it lowers the fleet
//! to the tasks in flight once nothing waits, without terminating the instances; it deletes
//! the alarm of an instance that is gone and keeps the others; when drained, two looks at
//! once write the report (with the machines' cost at moto's Spot price history, and its
//! page beside it) and tear the run down without harming each other; after that a look
//! finishes nothing more and exits 0.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::{Output, Stdio};

use dcp_tests::moto::{Moto, alarm_names, put_instance_alarm, queue_url};
use dcp_tests::{assert_exit, stdout_ok};
use serde_json::Value;

fn tool(moto: &Moto, dir: &Path, name: &str, args: &[&str]) -> Output {
    moto.tool(name, dir).args(args).output().unwrap()
}

fn look(moto: &Moto, dir: &Path) -> Value {
    serde_json::from_str(&stdout_ok(tool(moto, dir, "dcp-watch", &["--once"]))).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn looks_shrink_reap_alarms_and_tear_down_once_drained() {
    let moto = Moto::start();
    let shared = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&shared);
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("watched").send().await.unwrap();
    let image = moto.image_id().await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nFLEET_API = \"spot-fleet\"\nAPP_NAME = \"Watched\"\nAWS_BUCKET = \"watched\"\nECS_CLUSTER = \"dcp-watched\"\n\
         CLUSTER_MACHINES = 3\nTASKS_PER_MACHINE = 1\nSQS_MESSAGE_VISIBILITY = 300\n",
    )
    .unwrap();
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": image}],
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();

    // A look before the queue exists has nothing to watch.
    let early = tool(&moto, d, "dcp-watch", &["--once"]);
    assert_exit(&early, 1);
    assert!(String::from_utf8_lossy(&early.stderr).contains("queue WatchedQueue does not exist"));

    stdout_ok(tool(&moto, d, "dcp-fleet", &["setup"]));
    stdout_ok(tool(&moto, d, "dcp-queue", &["create"]));
    let waiting = look(&moto, d);
    assert_eq!(
        (waiting["fleets"].as_u64(), waiting["visible"].as_u64()),
        (Some(0), Some(0)),
        "{waiting}"
    );

    let url = queue_url(&sqs, "WatchedQueue").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("{\"Metadata\": \"Metadata_Site=1\"}")
        .send()
        .await
        .unwrap();
    let started: Value = serde_json::from_str(&stdout_ok(tool(
        &moto,
        d,
        "dcp-fleet",
        &["start", "fleet.json"],
    )))
    .unwrap();
    let fleet_id = started["fleet_id"].as_str().unwrap().to_owned();
    let instances = ec2
        .describe_spot_fleet_instances()
        .spot_fleet_request_id(&fleet_id)
        .send()
        .await
        .unwrap();
    let instances: Vec<String> = instances
        .active_instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_owned())
        .collect();
    assert_eq!(instances.len(), 3);
    for instance in &instances {
        put_instance_alarm(&cloudwatch, "Watched", instance).await;
    }
    put_instance_alarm(&cloudwatch, "Watched", "i-0000000000gone").await;

    // One task waits: nothing to lower; the alarm of the unknown instance goes.
    let busy = look(&moto, d);
    assert_eq!(busy["visible"], 1, "{busy}");
    assert_eq!(busy["requests"].as_array().unwrap().len(), 1, "{busy}");
    assert_eq!(busy["requests"][0]["Request"], "DeleteAlarms");
    assert_eq!(
        busy["requests"][0]["AlarmNames"],
        serde_json::json!(["Watched_i-0000000000gone"])
    );
    assert_eq!(alarm_names(&cloudwatch).await.len(), 3);

    // A worker takes it: one task in flight on three machines lowers the target to one,
    // and terminates none.
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(300)
        .send()
        .await
        .unwrap();
    let receipt = received.messages()[0].receipt_handle().unwrap().to_owned();
    let lowered = look(&moto, d);
    assert_eq!(
        (lowered["in_flight"].as_u64(), lowered["instances"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        lowered["requests"][0]["Request"], "ModifySpotFleetRequest",
        "{lowered}"
    );
    assert_eq!(lowered["requests"][0]["TargetCapacity"], 1);
    let fleet = ec2
        .describe_spot_fleet_requests()
        .spot_fleet_request_ids(&fleet_id)
        .send()
        .await
        .unwrap();
    let config = fleet.spot_fleet_request_configs()[0]
        .spot_fleet_request_config()
        .unwrap();
    assert_eq!(config.target_capacity(), Some(1));
    let running = ec2
        .describe_spot_fleet_instances()
        .spot_fleet_request_id(&fleet_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        running.active_instances().len(),
        3,
        "no busy machine terminated"
    );
    let again = look(&moto, d);
    assert_eq!(
        again["requests"],
        serde_json::json!([]),
        "lowered once: {again}"
    );

    // The task is done: two looks at once tear the run down between them.
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(&receipt)
        .send()
        .await
        .unwrap();
    let first = moto
        .tool("dcp-watch", d)
        .arg("--once")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second = moto.tool("dcp-watch", d).arg("--once").output().unwrap();
    let first = first.wait_with_output().unwrap();
    for output in [first, second] {
        let line: Value = serde_json::from_str(&stdout_ok(output)).unwrap();
        assert_eq!(line["drained"], true, "{line}");
    }
    let report = s3
        .get_object()
        .bucket("watched")
        .key("runs/Watched/report.json")
        .send()
        .await
        .unwrap();
    let report: Value =
        serde_json::from_slice(&report.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(report["app"], "Watched");
    check_cost(&ec2, &report, &instances).await;
    let page = s3
        .get_object()
        .bucket("watched")
        .key("runs/Watched/report.html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    let page = page.body.collect().await.unwrap().into_bytes();
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains(r#"<script type="application/json" id="report-data">{"app":"Watched""#));
    assert!(
        page.contains(r#""assumptions":["#),
        "the cost goes on the page"
    );
    assert!(alarm_names(&cloudwatch).await.is_empty());
    assert!(
        sqs.get_queue_url()
            .queue_name("WatchedQueue")
            .send()
            .await
            .is_err()
    );
    let fleets = ec2.describe_spot_fleet_requests().send().await.unwrap();
    assert!(
        fleets.spot_fleet_request_configs().iter().all(|f| f
            .spot_fleet_request_state()
            .unwrap()
            .as_str()
            .starts_with("cancelled")),
        "{fleets:?}"
    );

    // After the end, a look finds the report, has nothing left to do, and exits 0.
    let after = look(&moto, d);
    assert_eq!(after["drained"], true);
    assert_eq!(
        after["teardown"]["requests"],
        serde_json::json!([]),
        "{after}"
    );
}

/// The report's cost: the fleet's three machines as EC2 describes them, each priced at the
/// Spot price EC2's history gives for its type and zone, read back here through the SDK.
async fn check_cost(ec2: &aws_sdk_ec2::Client, report: &Value, instances: &[String]) {
    let cost = &report["cost"];
    let machines = cost["machines"].as_array().unwrap();
    let mut ids: Vec<&str> = machines.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = instances.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "{cost}");
    let mut instance_dollars = 0.0;
    for machine in machines {
        let described = ec2
            .describe_instances()
            .instance_ids(machine["id"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let instance = &described.reservations()[0].instances()[0];
        let kind = instance.instance_type().unwrap().as_str();
        let zone = instance.placement().unwrap().availability_zone().unwrap();
        assert_eq!(machine["instance_type"], kind);
        assert_eq!(machine["zone"], zone);
        assert_eq!(machine["spot"], true, "{machine}");
        let history = ec2
            .describe_spot_price_history()
            .instance_types(kind.into())
            .send()
            .await
            .unwrap();
        let price: f64 = history
            .spot_price_history()
            .iter()
            .find(|p| p.availability_zone() == Some(zone))
            .and_then(|p| p.spot_price())
            .unwrap()
            .parse()
            .unwrap();
        let hours = machine["hours"].as_f64().unwrap();
        assert!(hours > 0.0 && hours < 1.0, "{machine}");
        let dollars = machine["dollars"].as_f64().unwrap();
        assert!(
            (dollars - hours * price).abs() <= 1e-12,
            "{machine} at {price}"
        );
        instance_dollars += dollars;
    }
    let total = cost["dollars"]["instances"].as_f64().unwrap();
    assert!((total - instance_dollars).abs() <= 1e-12, "{cost}");
    let hours: f64 = machines.iter().map(|m| m["hours"].as_f64().unwrap()).sum();
    let ebs = cost["ebs_gb_hours"].as_f64().unwrap();
    assert!(
        (ebs - hours * 30.0).abs() < 1e-9,
        "EBS_VOL_SIZE's default, 30 GB: {cost}"
    );
    assert!(cost["assumptions"].as_array().unwrap().len() >= 5);
}
