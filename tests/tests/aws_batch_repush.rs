//! `dcp-watch --batch NAME` on AWS (moto) after the batch's dead task is redriven (a new
//! message) and after the batch is pushed again, the resume of a batch with a dead task:
//! the watch waits for the new messages and reports their figures, not the earlier
//! outcomes and dead letter (issue 13: "Re-running a batch skips its finished tasks, so
//! `make` after a failure is the resume").
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use dcp_tests::moto::Moto;
use dcp_tests::{last_json, stdout_ok};
use serde_json::{Value, json};

const APP: &str = "Repushed";
const BUCKET: &str = "repushed-data";

fn tool(moto: &Moto, d: &Path, name: &str, args: &[&str]) -> Output {
    moto.tool(name, d).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_pushed_again_is_watched_for_its_new_messages() {
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dcp_tests::standin_bucket(d);
    for key in ["w/p.cppipe", "w/load_data.csv", "img/P1.tif", "img/P2.tif"] {
        let body = ByteStream::from_path(d.join("bucket").join(key))
            .await
            .unwrap();
        let put = s3.put_object().bucket(BUCKET).key(key).body(body);
        put.send().await.unwrap();
    }
    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"{APP}\"\nAWS_BUCKET = \"{BUCKET}\"\n\
         CELLPROFILER = \"{}\"\nDOCKER_CORES = 1\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n\
         ECS_CLUSTER = \"dcp-repushed\"\n",
        dcp_tests::STANDIN
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    stdout_ok(tool(&moto, d, "dcp-fleet", &["setup"]));
    stdout_ok(tool(&moto, d, "dcp-queue", &["create"]));
    let job = "{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/load_data.csv\", \
               \"input\": \"img/\", \"output\": \"out\", \"groups\": [\
               {\"Metadata\": \"Metadata_Plate=P1\"}, {\"Metadata\": \"Metadata_Plate=P2\"}]}";
    std::fs::write(d.join("plates.json"), job).unwrap();

    // The first push: P2 fails and is dead.
    stdout_ok(tool(&moto, d, "dcp-queue", &["push", "plates.json"]));
    moto.standin_worker(d, "fail-on:P2");
    let first = last_json(&tool(&moto, d, "dcp-watch", &["--batch", "plates"]), 3);
    assert_eq!(
        (&first["counts"]["done"], &first["counts"]["dead"]),
        (&1.into(), &1.into()),
        "{first}"
    );

    // Redriven, its message is a new one (a new id): the watch waits for it, and counts
    // its dead letter once it dies again.
    stdout_ok(tool(
        &moto,
        d,
        "dcp-queue",
        &["redrive", "--batch", "plates"],
    ));
    let redriven = last_json(
        &tool(&moto, d, "dcp-watch", &["--batch", "plates", "--once"]),
        0,
    );
    assert_eq!(
        (&redriven["done"], &redriven["dead"], &redriven["waiting"]),
        (&1.into(), &0.into(), &1.into()),
        "{redriven}"
    );
    let lines = moto.standin_worker(d, "fail-on:P2");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let dead_again = last_json(&tool(&moto, d, "dcp-watch", &["--batch", "plates"]), 3);
    assert_eq!(dead_again["dead_letters"].as_array().unwrap().len(), 1);
    assert_eq!(
        dead_again["dead_letters"][0]["id"], lines[0]["message_id"],
        "{dead_again}"
    );

    // Pushed again: the earlier outcomes and dead letter are not the new messages'.
    stdout_ok(tool(&moto, d, "dcp-queue", &["push", "plates.json"]));
    let waiting = last_json(
        &tool(&moto, d, "dcp-watch", &["--batch", "plates", "--once"]),
        0,
    );
    assert_eq!(
        waiting,
        json!({"batch": "plates", "pushed": 2, "done": 0, "dead": 0, "waiting": 2,
            "failed_attempts": 0, "elapsed_seconds": waiting["elapsed_seconds"]})
    );

    // The worker finishes them: P1 found done, P2 run again.
    let lines = moto.standin_worker(d, "ok");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let again = last_json(&tool(&moto, d, "dcp-watch", &["--batch", "plates"]), 0);
    assert_eq!(
        (
            &again["counts"]["tasks"],
            &again["counts"]["done"],
            &again["counts"]["dead"],
            &again["counts"]["attempts"],
            &again["counts"]["failed_attempts"],
        ),
        (&2.into(), &2.into(), &0.into(), &2.into(), &0.into()),
        "{again}"
    );
    assert_eq!(again["dead_letters"], json!([]), "{again}");

    // The record keeps both pushes, each task with the message its latest push sent.
    let key = format!("runs/{APP}/batches/plates.json");
    let object = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let record: Value = serde_json::from_slice(&bytes).unwrap();
    let pushes = record["pushes"].as_array().unwrap();
    assert_eq!(pushes.len(), 2, "{record}");
    assert!(
        pushes[0]["at"].as_f64() < pushes[1]["at"].as_f64(),
        "{record}"
    );
    let tasks = record["tasks"].as_array().unwrap();
    assert!(tasks.iter().all(|t| t["push"] == 1), "{record}");
    let mut noted: Vec<&Value> = tasks.iter().map(|t| &t["message_id"]).collect();
    let mut ran: Vec<&Value> = lines.iter().map(|l| &l["message_id"]).collect();
    noted.sort_by_key(|id| id.to_string());
    ran.sort_by_key(|id| id.to_string());
    assert_eq!(noted, ran, "{record}");
}
