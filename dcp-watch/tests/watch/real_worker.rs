//! The whole loop with the real dcp-worker, started by dcp-fleet or by hand: dcp-watch sees
//! the run drain, stops the fleet and reports. CellProfiler is a stand-in script taking its
//! arguments: site 3 fails, the other sites succeed.

use super::*;
use batches::{exit_dead, push_batch};

const CELLPROFILER: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    -d) done_file="$2"; shift ;;
    -g) group="$2"; shift ;;
  esac
  shift
done
case "$group" in
  *Site=3*) echo Failure > "$done_file"; exit 255 ;;
esac
echo "$group" > "$out/Image.csv"
echo Complete > "$done_file"
"#;

/// Writes the workspace (pipeline, load-data CSV) and the images of `sites` into the bucket,
/// and the stand-in CellProfiler into the settings.
fn workspace(run: &Run, sites: &[u32]) {
    let bucket = run.dir.path().join("bucket");
    std::fs::create_dir_all(bucket.join("in")).unwrap();
    std::fs::write(bucket.join("p.cppipe"), "pipeline").unwrap();
    let mut csv =
        String::from("Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA\n");
    for site in sites {
        std::fs::write(bucket.join(format!("in/s{site}.tif")), "image").unwrap();
        csv.push_str(&format!(
            "P1,A01,{site},s{site}.tif,/home/ubuntu/bucket/in\n"
        ));
    }
    std::fs::write(bucket.join("d.csv"), csv).unwrap();
    let cellprofiler = run.dir.path().join("cellprofiler");
    let _guard = spawning();
    std::fs::write(&cellprofiler, CELLPROFILER).unwrap();
    std::fs::set_permissions(&cellprofiler, std::fs::Permissions::from_mode(0o755)).unwrap();
    append(
        &run.dir.path().join("dcp.toml"),
        &format!("CELLPROFILER = \"{}\"", cellprofiler.display()),
    );
}

#[test]
fn dcp_fleet_and_dcp_watch_run_the_real_worker_to_the_end() {
    let settings = "JOB_RETRIES = 2\nSQS_MESSAGE_VISIBILITY = 1\nLOCAL_WORKERS = 2\n\
                    DOCKER_CORES = 1\nSECONDS_TO_START = 0\n";
    let run = Run::new(settings, &[1, 2, 3]);
    workspace(&run, &[1, 2, 3]);
    let start = {
        let _guard = spawning();
        Command::new(tool("dcp-fleet"))
            .arg("start")
            .current_dir(run.dir.path())
            .env_remove("DCP_CONFIG")
            .env_remove("DCP_WORKER")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let started: Value = serde_json::from_str(&stdout_ok(start)).unwrap();
    assert_eq!(started["workers"].as_array().unwrap().len(), 2);

    let out = ended(
        run.spawn_watch(&["--interval", "0.2"]),
        Duration::from_secs(60),
    );
    assert_exit(&out, 3);
    let printed = lines(&out.stdout);
    let last = printed.last().unwrap();
    assert_eq!(
        counts(last),
        json!({"drained": true, "report": run.run_dir().join("report.json"), "tasks": 3,
               "done": 2, "dead": 1, "failed_attempts": 2, "workers_stopped": 2})
    );
    assert!(
        printed.iter().any(|tick| tick["workers_alive"] == 2),
        "{printed:?}"
    );

    let fleet = dcp_fleet::EmbeddedFleet::new(&run.config).unwrap();
    assert_eq!(
        fleet.status().unwrap().alive,
        0,
        "the drain stopped the fleet"
    );
    let report = report(&run);
    assert_eq!(
        report["by_status"],
        json!({"cellprofiler-failed": 1, "success": 2})
    );
    let dead = &report["dead_letters"][0];
    assert_eq!(dead["output"], "out/P1-A01-3");
    assert_eq!(dead["attempts"], 2);
    assert_eq!(dead["last_failure"]["status"], "cellprofiler-failed");
    assert_eq!(dead["last_failure"]["exit_code"], 255);
    assert_eq!(dead["last_failure"]["receive_count"], 2);
    let image = run.dir.path().join("bucket/out/P1-A01-1/Image.csv");
    assert_eq!(
        std::fs::read_to_string(image).unwrap(),
        "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1\n"
    );
}

/// A `dcp-worker` started by hand, not by `dcp-fleet start`, records its outcome lines in
/// the run folder itself: the batch's watch and the run's report count its tasks, once.
#[test]
fn a_worker_started_by_hand_counts_in_the_batch_watch_and_the_report() {
    let settings = "JOB_RETRIES = 1\nSQS_MESSAGE_VISIBILITY = 1\nDOCKER_CORES = 1\n\
                    SECONDS_TO_START = 0\n";
    let run = Run::new(settings, &[1]);
    workspace(&run, &[1, 2, 3]);
    push_batch(&run, "B", &[2, 3]);
    let worker = {
        let _guard = spawning();
        Command::new(tool("dcp-worker"))
            .current_dir(run.dir.path())
            .env_remove("DCP_CONFIG")
            .env_remove(dcp_common::outcome::FLEET_SLOT_ENV)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let printed = lines(&stdout_ok(worker).into_bytes());
    assert_eq!(
        printed.len(),
        3,
        "one line per attempt on stdout: {printed:?}"
    );

    let batch = run.watch(&["--batch", "B"]);
    assert_exit(&batch, exit_dead());
    let summary = lines(&batch.stdout).pop().unwrap();
    let c = &summary["counts"];
    assert_eq!(
        (&c["tasks"], &c["done"], &c["dead"]),
        (&json!(2), &json!(1), &json!(1)),
        "{summary}"
    );

    let whole = run.watch(&[]);
    assert_exit(&whole, exit_dead());
    let last = lines(&whole.stdout).pop().unwrap();
    assert_eq!(
        counts(&last),
        json!({"drained": true, "report": run.run_dir().join("report.json"), "tasks": 3,
               "done": 2, "dead": 1, "failed_attempts": 1, "workers_stopped": 0})
    );
    let records: Vec<_> = std::fs::read_dir(run.run_dir().join("workers"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let recorded = std::fs::read_to_string(&records[0]).unwrap();
    assert_eq!(
        lines(recorded.as_bytes()),
        printed,
        "the record is what it printed"
    );
}
