//! What dcp-fleet refuses, and what it does without a fleet.

use super::*;

#[test]
fn no_fleet_is_an_empty_status_and_a_no_op_stop() {
    let run = Run::new(1, WORKER);
    let status = run.json(&["status"]);
    assert_eq!(
        status,
        json!({"run_dir": run.run_dir(), "started": null, "alive": 0, "workers": []})
    );
    let stopped = run.json(&["stop"]);
    assert_eq!(
        stopped,
        json!({"run_dir": run.run_dir(), "alive": 0, "stopped": []})
    );
    assert!(
        !run.dir.path().join("bucket").exists(),
        "nothing was created"
    );
}

#[test]
fn a_missing_worker_program_fails_and_leaves_no_worker() {
    let run = Run::new(1, WORKER);
    std::fs::remove_file(&run.worker).unwrap();
    let out = run.fleet(&["start"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot launch {}", run.worker.display())),
        "{stderr}"
    );
    assert_eq!(run.json(&["status"])["workers"], json!([]));
}

/// Built without the `aws` feature, the AWS settings are refused up front.
#[cfg(not(feature = "aws"))]
#[test]
fn a_build_without_aws_refuses_the_aws_backend() {
    let run = Run::new(1, WORKER);
    let aws = "APP_NAME = \"Fleet\"\nBACKEND = \"aws\"\nAWS_BUCKET = \"bucket\"\n";
    std::fs::write(run.dir.path().join("dcp.toml"), aws).unwrap();
    let out = run.fleet(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad input, whatever module found it"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "dcp-fleet: error: BACKEND = \"aws\": this build has no AWS backend (cargo feature `aws`)\n"
    );
}

#[test]
fn bad_settings_and_usage_exit_2() {
    let run = Run::new(1, WORKER);
    std::fs::write(
        run.dir.path().join("dcp.toml"),
        "LOCAL_WORKERS = \"many\"\n",
    )
    .unwrap();
    assert_eq!(run.fleet(&["status"]).status.code(), Some(2));
    assert_eq!(run.fleet(&["scale", "-1"]).status.code(), Some(2));
    assert_eq!(
        run.fleet(&["stop", "--grace", "soon"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_run_folder_linked_out_of_the_bucket_is_refused() {
    let run = Run::new(1, WORKER);
    let outside = run.dir.path().join("elsewhere");
    std::fs::create_dir_all(run.dir.path().join("bucket")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, run.dir.path().join("bucket/runs")).unwrap();
    let out = run.fleet(&["start"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`runs/Fleet/workers`") && stderr.contains("bucket/runs"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written there"
    );
    // A run folder linked to another folder of the bucket is the run folder.
    std::fs::remove_file(run.dir.path().join("bucket/runs")).unwrap();
    std::fs::create_dir_all(run.dir.path().join("bucket/kept-runs")).unwrap();
    std::os::unix::fs::symlink("kept-runs", run.dir.path().join("bucket/runs")).unwrap();
    assert_eq!(run.json(&["status"])["alive"], 0);
}

#[test]
fn scale_above_the_most_workers_the_settings_may_hold_is_refused() {
    let run = Run::new(1, WORKER);
    let out = run.fleet(&["scale", "1025"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "dcp-fleet: error: scale 1025: above the most LOCAL_WORKERS may be (1024); nothing was \
         changed\n"
    );
    assert!(out.stdout.is_empty());
    assert!(
        !run.dir.path().join("bucket").exists(),
        "nothing was created"
    );
}
