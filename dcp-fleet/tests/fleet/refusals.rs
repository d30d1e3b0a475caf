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
