//! Starting, scaling and stopping a fleet, and the record it keeps.

use super::*;

#[test]
fn start_status_scale_stop() {
    let run = Run::new(2, WORKER);
    let run_dir = run.run_dir();
    let started = run.json(&["start"]);
    assert_eq!(started["run_dir"], json!(run_dir));
    assert_eq!(started["config"], json!(run_dir.join("config.json")));
    assert_eq!(indices(&started["workers"]), [1, 2]);
    let first = pids(&started["workers"]);
    for &pid in &first {
        assert_eq!(session(pid), pid, "worker {pid} leads a session of its own");
    }

    let settings = dcp_common::Config::load(&run_dir.join("config.json")).unwrap();
    assert_eq!(settings.app_name, "Fleet");
    assert_eq!(settings.local_workers, 2);
    let log = run_dir.join("workers/1.log");
    wait_for("worker 1's log", || {
        std::fs::read_to_string(&log).is_ok_and(|l| !l.is_empty())
    });
    let expected = format!(
        "args: --config {} --wait\n",
        run_dir.join("config.json").display()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), expected);
    let outcomes = run_dir.join("workers/2.jsonl");
    wait_for("worker 2's outcome line", || {
        std::fs::read_to_string(&outcomes).is_ok_and(|l| !l.is_empty())
    });
    assert_eq!(
        std::fs::read_to_string(&outcomes).unwrap(),
        "{\"worker\": \"up\"}\n"
    );

    let again = run.fleet(&["start"]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("a fleet of 2 live worker(s) is already running"),
        "{stderr}"
    );

    let status = run.json(&["status"]);
    assert_eq!(status["alive"], 2);
    assert_eq!(status["workers"][0]["alive"], true);
    assert_eq!(pids(&status["workers"]), first);

    let up = run.json(&["scale", "3"]);
    assert_eq!(up["alive"], 3);
    assert_eq!(indices(&up["launched"]), [3]);
    assert_eq!(up["stopped"], json!([]));
    assert_eq!(
        up["warning"],
        "3 workers is above the 2 the settings plan for (LOCAL_WORKERS); each runs (and, on \
         AWS, is paid for) until scaled down or stopped"
    );

    let down = run.json(&["scale", "1"]);
    assert_eq!(down["alive"], 1);
    assert!(down.get("warning").is_none(), "{down}");
    assert_eq!(indices(&down["stopped"]), [3, 2], "the newest go first");
    assert_eq!(down["stopped"][0]["end"], "terminated");
    assert!(
        std::fs::read_to_string(run_dir.join("workers/2.log"))
            .unwrap()
            .ends_with("terminated\n")
    );

    let stopped = run.json(&["stop"]);
    assert_eq!(stopped["alive"], 0);
    assert_eq!(indices(&stopped["stopped"]), [1]);
    let again = run.json(&["stop"]);
    assert_eq!(again["stopped"], json!([]), "stop is idempotent");

    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("fleet.json")).unwrap())
            .unwrap();
    assert_eq!(indices(&record["workers"]), [1, 2, 3]);
    for worker in record["workers"].as_array().unwrap() {
        assert_eq!(worker["end"], "terminated");
        assert!(worker["stopped"].as_u64().is_some());
    }
    let status = run.json(&["status"]);
    assert_eq!(status["alive"], 0);

    let restarted = run.json(&["start"]);
    assert_eq!(indices(&restarted["workers"]), [1, 2]);
    assert_ne!(pids(&restarted["workers"]), first);
    let outcomes = run_dir.join("workers/1.jsonl");
    wait_for("worker 1's second line", || {
        std::fs::read_to_string(&outcomes).is_ok_and(|t| t.lines().count() == 2)
    });
}

#[test]
fn a_worker_that_died_is_reported_and_replaced_by_scale() {
    let run = Run::new(2, WORKER);
    let started = run.json(&["start"]);
    let victim = pids(&started["workers"])[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("the worker's death", || run.json(&["status"])["alive"] == 1);
    let status = run.json(&["status"]);
    assert_eq!(status["workers"][0]["alive"], false);
    assert_eq!(status["workers"][1]["alive"], true);

    let scaled = run.json(&["scale", "2"]);
    assert_eq!(scaled["alive"], 2);
    assert_eq!(
        scaled["stopped"],
        json!([{"index": 1, "pid": victim, "end": "exited"}])
    );
    assert_eq!(indices(&scaled["launched"]), [1], "the free slot is reused");
}

#[test]
fn a_worker_ignoring_sigterm_is_killed_after_the_grace() {
    let stubborn = WORKER.replace("trap 'echo terminated >&2; exit 0' TERM", "trap '' TERM");
    let run = Run::new(1, &stubborn);
    run.json(&["start"]);
    let log = run.run_dir().join("workers/1.log");
    wait_for("the worker's trap", || {
        std::fs::read_to_string(&log).is_ok_and(|l| !l.is_empty())
    });
    let stopped = run.json(&["stop", "--grace", "0.3"]);
    assert_eq!(stopped["stopped"][0]["end"], "killed");
    assert_eq!(stopped["alive"], 0);
}

/// fleet.json names each worker's program and files.
#[test]
fn the_worker_files_are_where_the_record_says() {
    let run = Run::new(1, WORKER);
    run.json(&["start"]);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(run.run_dir().join("fleet.json")).unwrap())
            .unwrap();
    let worker = &record["workers"][0];
    assert_eq!(worker["program"], json!(run.worker));
    assert_eq!(
        worker["outcomes"],
        json!(run.run_dir().join("workers/1.jsonl"))
    );
    assert_eq!(worker["log"], json!(run.run_dir().join("workers/1.log")));
    assert!(Path::new(worker["log"].as_str().unwrap()).exists());
}
