//! The whole loop on the embedded backend with failing tasks: dcp-fleet's workers retry
//! them until the dead-letter queue takes them, dcp-watch reports them with their classes
//! and exits 3, and after the cause is fixed `dcp-queue redrive` runs them to success.
//! CellProfiler is the stand-in of tests/fixtures (this is dcp's own failure handling).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use dcp_tests::{STANDIN, stdout_ok, tool};
use serde_json::Value;

fn tool_in(dir: &Path, name: &str, args: &[&str], standin: &str) -> Output {
    Command::new(tool(name))
        .args(args)
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .env("STANDIN", standin)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn read_report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("run/runs/Faults/report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn dead_letters_are_reported_by_class_and_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dcp_tests::standin_bucket(d);
    std::fs::write(
        d.join("dcp.toml"),
        format!(
            "APP_NAME = \"Faults\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"bucket\"\nDESTINATION_BUCKET = \"results\"\n\
             CELLPROFILER = \"{STANDIN}\"\nJOB_RETRIES = 2\nSQS_MESSAGE_VISIBILITY = 2\nLOCAL_WORKERS = 2\n\
             DOCKER_CORES = 1\nSECONDS_TO_START = 0\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("job.json"), r#"{"pipeline": "w/p.cppipe", "data_file": "w/load_data.csv", "input": "img/", "output": "out"}"#).unwrap();
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    let plates = "Metadata_Plate,pipeline\nP1,\nP2,w/missing.cppipe\nP3,\n";
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push", "--job", "job.json"],
        plates,
    ));

    // P2's pipeline is missing, CellProfiler fails on P3.
    stdout_ok(tool_in(d, "dcp-fleet", &["start"], "fail-on:P3"));
    let watch = tool_in(d, "dcp-watch", &["--interval", "0.5"], "");
    assert_eq!(
        watch.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&watch.stderr)
    );
    let summary = read_report(d);
    let classes: Vec<(&str, &str)> = summary["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dead| {
            (
                dead["output"].as_str().unwrap(),
                dead["last_failure"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("out/P2", "download-problem"),
            ("out/P3", "cellprofiler-failed")
        ]
    );
    assert!(
        summary["dead_letters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|dead| dead["attempts"] == 2)
    );
    let dead = stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["dead"], ""));
    assert_eq!(dead.lines().count(), 2);
    assert!(d.join("results/out/P1/Image.csv").exists());
    assert!(
        !d.join("results/out/P3").exists(),
        "a failed task publishes nothing"
    );

    // Fix both causes, then run the dead letters again.
    std::fs::write(d.join("bucket/w/missing.cppipe"), "pipeline").unwrap();
    let redrive: Value = serde_json::from_str(&stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["redrive"],
        "",
    )))
    .unwrap();
    assert_eq!(redrive["redriven"], 2);
    stdout_ok(tool_in(d, "dcp-fleet", &["start"], "ok"));
    let watch = tool_in(d, "dcp-watch", &["--interval", "0.5"], "");
    assert_eq!(
        watch.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&watch.stderr)
    );
    let summary = read_report(d);
    assert_eq!(summary["dead_letters"], serde_json::json!([]));
    assert_eq!(summary["by_status"], serde_json::json!({"success": 3}));
    for plate in ["P1", "P2", "P3"] {
        let image =
            std::fs::read_to_string(d.join(format!("results/out/{plate}/Image.csv"))).unwrap();
        assert_eq!(image, format!("Group\nMetadata_Plate={plate}\n"));
    }
}
