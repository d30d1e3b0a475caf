//! ExampleFly on the AWS backend with REAL CellProfiler, against a real local moto server:
//! the example uploaded to a moto bucket, `dcp-config | dcp-queue create`, `dcp-fleet setup`
//! and `start` (moto records the ECS service and the Spot Fleet; no container runs, so the
//! worker runs here), `dcp-queue push`, `dcp-worker` on moto's SQS and S3 — found through
//! `AWS_ENDPOINT_URL` alone — and the results read back from the bucket through the SDK;
//! then `dcp-watch --once` writes the report from the workers' outcome streams, tears the
//! run down and exports its logs to the bucket.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::{Output, Stdio};

use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

fn run_tool(moto: &Moto, dir: &Path, name: &str, args: &[&str], stdin: Stdio) -> Output {
    moto.tool(name, dir)
        .args(args)
        .stdin(stdin)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn examplefly_runs_against_moto_sqs_and_s3() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("fly-data").send().await.unwrap();
    dcp_tests::moto::upload_examplefly(&s3, "fly-data", &example).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"FlyOnMoto\"\nAWS_BUCKET = \"fly-data\"\nCELLPROFILER = \"{}\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 120\nDOCKER_CORES = 2\n\
         SECONDS_TO_START = 0\n",
        cellprofiler.display()
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    let config = stdout_ok(run_tool(&moto, d, "dcp-config", &[], Stdio::null()));
    std::fs::write(d.join("resolved.json"), config).unwrap();
    let resolved = std::fs::File::open(d.join("resolved.json")).unwrap();
    stdout_ok(run_tool(
        &moto,
        d,
        "dcp-queue",
        &["create"],
        Stdio::from(resolved),
    ));
    let shared = moto.sdk_config().await;
    let fleet_file = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": moto.image_id().await}],
    });
    std::fs::write(d.join("fleet.json"), fleet_file.to_string()).unwrap();
    stdout_ok(run_tool(&moto, d, "dcp-fleet", &["setup"], Stdio::null()));
    stdout_ok(run_tool(
        &moto,
        d,
        "dcp-fleet",
        &["start", "fleet.json"],
        Stdio::null(),
    ));
    let job = example.join("job.json");
    stdout_ok(run_tool(
        &moto,
        d,
        "dcp-queue",
        &["push", job.to_str().unwrap()],
        Stdio::null(),
    ));

    let out = run_tool(&moto, d, "dcp-worker", &[], Stdio::null());
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");

    for position in ["2", "76", "218"] {
        let prefix = format!("demo_project_folder/output/{position}/");
        let listed = s3
            .list_objects_v2()
            .bucket("fly-data")
            .prefix(&prefix)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = listed
            .contents
            .unwrap()
            .into_iter()
            .map(|o| o.key.unwrap())
            .collect();
        keys.sort();
        let names: Vec<&str> = keys
            .iter()
            .map(|k| k.strip_prefix(&prefix).unwrap())
            .collect();
        // The outputs, and the task's completion record, published last.
        assert_eq!(
            names,
            [
                format!(".dcp-done/Metadata_Position={position}.json").as_str(),
                "Cells.csv",
                "Cytoplasm.csv",
                "Image.csv",
                "Nuclei.csv"
            ]
        );
        let image = s3
            .get_object()
            .bucket("fly-data")
            .key(format!("{prefix}Image.csv"))
            .send()
            .await
            .unwrap();
        let text =
            String::from_utf8(image.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
        let mut rows = text.lines();
        let header: Vec<&str> = rows.next().unwrap().split(',').collect();
        let column = header
            .iter()
            .position(|h| *h == "Metadata_Position")
            .unwrap();
        assert_eq!(rows.next().unwrap().split(',').nth(column), Some(position));
        // One log per attempt, named after the group.
        let logs = dcp_tests::moto::keys(
            &s3,
            "fly-data",
            &format!("logs/demo_project_folder/output/{position}/Metadata_Position={position}."),
        )
        .await;
        assert_eq!(logs.len(), 1, "{logs:?}");
    }
    let status: serde_json::Value = serde_json::from_str(&stdout_ok(run_tool(
        &moto,
        d,
        "dcp-queue",
        &["status"],
        Stdio::null(),
    )))
    .unwrap();
    assert_eq!(
        (status["visible"].as_u64(), status["in_flight"].as_u64()),
        (Some(0), Some(0))
    );

    // The monitor: drained, so it reports and tears the run down, logs exported.
    let drained: serde_json::Value = serde_json::from_str(&stdout_ok(run_tool(
        &moto,
        d,
        "dcp-watch",
        &["--once"],
        Stdio::null(),
    )))
    .unwrap();
    assert_eq!(drained["drained"], true, "{drained}");
    assert_eq!(
        drained["report"],
        "s3://fly-data/runs/FlyOnMoto/report.json"
    );
    assert_eq!(
        (drained["tasks"].as_u64(), drained["done"].as_u64()),
        (Some(3), Some(3)),
        "{drained}"
    );
    let report = s3
        .get_object()
        .bucket("fly-data")
        .key("runs/FlyOnMoto/report.json")
        .send()
        .await
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&report.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(report["by_status"], serde_json::json!({"success": 3}));
    // The timeline, from the workers' outcome streams: each attempt on its stream's worker.
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 3, "{report}");
    for span in timeline {
        assert!(span["started"].as_f64().unwrap() > 0.0, "{span}");
        assert!(!span["worker"].as_str().unwrap().is_empty(), "{span}");
    }
    let page = s3
        .head_object()
        .bucket("fly-data")
        .key("runs/FlyOnMoto/report.html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    let sqs = aws_sdk_sqs::Client::new(&shared);
    for queue in ["FlyOnMotoQueue", "FlyOnMotoDeadMessages"] {
        assert!(
            sqs.get_queue_url().queue_name(queue).send().await.is_err(),
            "{queue} is left"
        );
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&shared);
    let groups = logs.describe_log_groups().send().await.unwrap();
    assert!(groups.log_groups().is_empty(), "{groups:?}");
    let exported = s3
        .list_objects_v2()
        .bucket("fly-data")
        .prefix("exportedlogs/FlyOnMoto/")
        .send()
        .await
        .unwrap();
    let exported: Vec<&str> = exported.contents().iter().filter_map(|o| o.key()).collect();
    // (moto writes a stream's `/` as `-` in the exported keys.)
    for stream in ["outcomes", "output-2-", "output-76-", "output-218-"] {
        assert!(
            exported.iter().any(|k| k.contains(stream)),
            "{stream} is exported: {exported:?}"
        );
    }
}
