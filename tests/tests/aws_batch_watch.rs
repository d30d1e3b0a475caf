//! `dcp-watch --batch NAME` on AWS (moto), with dcp-worker running the stand-in: the watch
//! never reads the task queue; it compares the tasks `dcp-queue push` recorded in
//! s3://AWS_BUCKET/runs/APP_NAME/batches/NAME.json with the batch's outcome lines and dead
//! letters. A batch whose tasks are done exits 0 with its summary while another batch
//! still waits in the queue, untouched, and the Spot Fleet keeps its target; a batch with a
//! dead task exits 3; a batch no push recorded fails.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::QueueAttributeName;
use dcp_tests::moto::{Moto, queue_url};
use dcp_tests::{assert_exit, last_json, stdout_ok};
use serde_json::Value;

const APP: &str = "Batched";
const BUCKET: &str = "batched-data";

fn tool(moto: &Moto, d: &Path, name: &str, args: &[&str]) -> Output {
    moto.tool(name, d).args(args).output().unwrap()
}

/// Writes `<name>.json`, a job of the stand-in's plates, and pushes it as batch `name`.
fn push(moto: &Moto, d: &Path, name: &str, plates: &[&str]) {
    let groups: Vec<String> = plates
        .iter()
        .map(|p| format!("{{\"Metadata\": \"Metadata_Plate={p}\"}}"))
        .collect();
    let job = format!(
        "{{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/load_data.csv\", \
         \"input\": \"img/\", \"output\": \"out\", \"groups\": [{}]}}",
        groups.join(", ")
    );
    let file = format!("{name}.json");
    std::fs::write(d.join(&file), job).unwrap();
    let pushed = stdout_ok(tool(moto, d, "dcp-queue", &["push", &file]));
    assert!(
        pushed.contains(&format!("\"batch\":\"{name}\"")),
        "{pushed}"
    );
}

/// (visible, in flight) of the task queue.
async fn queue_counts(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let url = queue_url(sqs, format!("{APP}Queue")).await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    (
        attributes[&QueueAttributeName::ApproximateNumberOfMessages].clone(),
        attributes[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible].clone(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_watch_waits_for_its_own_tasks_only() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dcp_tests::standin_bucket(d);
    for key in [
        "w/p.cppipe",
        "w/load_data.csv",
        "img/P1.tif",
        "img/P2.tif",
        "img/P3.tif",
    ] {
        let body = ByteStream::from_path(d.join("bucket").join(key))
            .await
            .unwrap();
        let put = s3.put_object().bucket(BUCKET).key(key).body(body);
        put.send().await.unwrap();
    }
    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"{APP}\"\nAWS_BUCKET = \"{BUCKET}\"\n\
         CELLPROFILER = \"{}\"\nDOCKER_CORES = 1\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n\
         FLEET_API = \"spot-fleet\"\nECS_CLUSTER = \"dcp-batched\"\nCLUSTER_MACHINES = 2\n",
        dcp_tests::STANDIN
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": moto.image_id().await}],
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();
    stdout_ok(tool(&moto, d, "dcp-fleet", &["setup"]));
    stdout_ok(tool(&moto, d, "dcp-queue", &["create"]));
    let started = stdout_ok(tool(&moto, d, "dcp-fleet", &["start", "fleet.json"]));
    let started: Value = serde_json::from_str(&started).unwrap();
    let fleet_id = started["fleet_id"].as_str().unwrap().to_owned();

    // No push recorded batch `nope`.
    let unknown = tool(&moto, d, "dcp-watch", &["--batch", "nope", "--once"]);
    assert_exit(&unknown, 1);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains(&format!(
            "batch `nope`: no push recorded it at s3://{BUCKET}/runs/{APP}/batches/nope.json"
        )),
        "{stderr}"
    );

    // Batch `illum` is pushed in two pushes (one task twice): three tasks recorded.
    push(&moto, d, "illum", &["P1", "P2"]);
    std::fs::rename(d.join("illum.json"), d.join("first.json")).unwrap();
    push(&moto, d, "illum", &["P2", "P3"]);
    let waiting = last_json(
        &tool(&moto, d, "dcp-watch", &["--batch", "illum", "--once"]),
        0,
    );
    assert_eq!(
        waiting,
        serde_json::json!({"batch": "illum", "pushed": 3, "done": 0, "dead": 0, "waiting": 3,
            "failed_attempts": 0, "elapsed_seconds": waiting["elapsed_seconds"]})
    );
    assert_eq!(queue_counts(&sqs).await, ("4".into(), "0".into()));
    let lines = moto.standin_worker(d, "ok");
    assert_eq!(lines.len(), 4, "{lines:?}");

    // Batch `analysis` waits in the queue while `illum`'s watch finishes.
    push(&moto, d, "analysis", &["P3"]);
    let watches: Vec<_> = ["illum", "analysis"]
        .into_iter()
        .map(|name| {
            let mut command = moto.tool("dcp-watch", d);
            command.args(["--batch", name, "--interval", "1"]);
            if name == "analysis" {
                command.arg("--once");
            }
            command.spawn_output()
        })
        .collect();
    let mut outs = watches.into_iter().map(|w| w.join().unwrap());
    let illum = last_json(&outs.next().unwrap(), 0);
    assert_eq!(illum["batch"], "illum");
    assert_eq!(illum["finished"], true);
    assert_eq!(
        (
            &illum["counts"]["tasks"],
            &illum["counts"]["done"],
            &illum["counts"]["dead"]
        ),
        (&3.into(), &3.into(), &0.into()),
        "{illum}"
    );
    // P2 ran twice: its second run may find it done.
    assert_eq!(illum["counts"]["attempts"], 4, "{illum}");
    let statuses = illum["by_status"].as_object().unwrap();
    assert!(
        statuses
            .keys()
            .all(|s| s == "success" || s == "skipped-done"),
        "{illum}"
    );
    assert_eq!(illum["dead_letters"], serde_json::json!([]));
    let analysis = last_json(&outs.next().unwrap(), 0);
    assert_eq!(
        (&analysis["pushed"], &analysis["waiting"], &analysis["done"]),
        (&1.into(), &1.into(), &0.into()),
        "{analysis}"
    );
    assert_eq!(
        queue_counts(&sqs).await,
        ("1".into(), "0".into()),
        "the batch watches left the queue alone"
    );

    // Its task fails, then SQS moves it to the dead-letter queue: exit 3.
    let lines = moto.standin_worker(d, "fail-on:P3");
    assert_eq!(lines[0]["status"], "cellprofiler-failed", "{lines:?}");
    let analysis = last_json(
        &tool(
            &moto,
            d,
            "dcp-watch",
            &["--batch", "analysis", "--interval", "1"],
        ),
        3,
    );
    assert_eq!(
        (&analysis["counts"]["done"], &analysis["counts"]["dead"]),
        (&0.into(), &1.into()),
        "{analysis}"
    );
    let letter = &analysis["dead_letters"][0];
    assert_eq!(letter["batch"], "analysis");
    assert_eq!(letter["last_failure"]["status"], "cellprofiler-failed");
    // `illum` is still all done.
    let illum = last_json(&tool(&moto, d, "dcp-watch", &["--batch", "illum"]), 0);
    assert_eq!(illum["counts"]["done"], 3, "{illum}");

    // No batch watch lowered, stopped or tore down the fleet.
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let fleet = ec2
        .describe_spot_fleet_requests()
        .spot_fleet_request_ids(&fleet_id)
        .send()
        .await
        .unwrap();
    let fleet = &fleet.spot_fleet_request_configs()[0];
    assert_eq!(fleet.spot_fleet_request_state().unwrap().as_str(), "active");
    let config = fleet.spot_fleet_request_config().unwrap();
    assert_eq!(config.target_capacity(), Some(2));
    queue_url(&sqs, format!("{APP}Queue")).await;
}

/// Runs a command on a thread, for watches side by side.
trait SpawnOutput {
    fn spawn_output(self) -> std::thread::JoinHandle<Output>;
}

impl SpawnOutput for std::process::Command {
    fn spawn_output(mut self) -> std::thread::JoinHandle<Output> {
        std::thread::spawn(move || self.output().unwrap())
    }
}
