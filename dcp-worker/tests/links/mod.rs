//! Symbolic links in local buckets, through the worker: a link that leads out of its bucket
//! makes the task an input or output problem naming the key and the link, and nothing is
//! read or written out there; a link that stays inside works like its target.

use std::os::unix::fs::symlink;

use crate::standin::{RunDir, outcomes};

#[test]
fn an_image_linked_out_of_the_source_is_an_input_problem() {
    let run = RunDir::new("JOB_RETRIES = 1");
    let secret = run.path().join("secret.tif");
    std::fs::write(&secret, "not for the run").unwrap();
    std::fs::remove_file(run.path().join("bucket/img/P2.tif")).unwrap();
    symlink(&secret, run.path().join("bucket/img/P2.tif")).unwrap();
    run.push(&["P2"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &["--retry-delay", "0"]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`img/P2.tif`") && detail.contains("symbolic link"),
        "{detail}"
    );
    assert_eq!(run.starts(), 0, "CellProfiler never saw it");
}

#[test]
fn links_inside_the_buckets_work_and_results_linked_out_are_refused() {
    let run = RunDir::new("JOB_RETRIES = 1");
    // The pipeline reached through a link that stays in its bucket.
    symlink("p.cppipe", run.path().join("bucket/w/alias.cppipe")).unwrap();
    run.push(&["P1"], "w/alias.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "success", "{}", lines[0]);
    // The output folder is a link out of the destination bucket.
    let elsewhere = run.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(run.path().join("results")).unwrap();
    symlink(&elsewhere, run.path().join("results/out2")).unwrap();
    let job = "{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/load_data.csv\", \
               \"input\": \"img/\", \"output\": \"out2\", \
               \"groups\": [{\"Metadata\": \"Metadata_Plate=P2\"}]}";
    dcp_tests::stdout_ok(run.queue(&["push"], job));
    let lines = outcomes(&run.worker("ok", &["--retry-delay", "0"]).output().unwrap());
    assert_eq!(lines[0]["status"], "output-problem", "{}", lines[0]);
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("results/out2"),
        "{}",
        lines[0]
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

/// A worker started by hand records its outcome lines in the run folder's `workers/`
/// inside AWS_BUCKET: when that folder is a link out, the worker refuses to start (exit 2)
/// before taking a task, and writes nothing out there.
#[test]
fn a_workers_folder_linked_out_of_the_run_bucket_is_refused_before_any_task() {
    let run = RunDir::new("JOB_RETRIES = 1");
    let elsewhere = run.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(run.path().join("run/runs/Standin")).unwrap();
    symlink(&elsewhere, run.path().join("run/runs/Standin/workers")).unwrap();
    run.push(&["P1"], "w/p.cppipe");
    let out = run.worker("ok", &[]).output().unwrap();
    dcp_tests::assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(run.starts(), 0, "no task was taken");
    let status = dcp_tests::stdout_ok(run.queue(&["status"], ""));
    assert!(status.contains("\"visible\":1"), "{status}");
}
