//! Watching with a live fleet, and watching in a loop until the drain.

use super::*;

/// Stand-in worker: on SIGTERM it prints the outcome of the task it was busy with, as a
/// worker releasing its task would, then exits.
const WORKER: &str = r#"#!/bin/sh
trap 'echo "{\"group\":\"Metadata_Site=9\",\"output\":\"out/late\",\"status\":\"cellprofiler-failed\",\"seconds\":1.0,\"outputs\":[],\"exit_code\":null,\"message_id\":\"99\",\"receive_count\":1}"; exit 0' TERM
echo up >&2
i=0
while [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
"#;

#[test]
fn the_drain_stops_the_fleet_before_reading_its_last_lines() {
    let run = Run::new("LOCAL_WORKERS = 2\n", &[1]);
    let script = run.dir.path().join("dcp-worker");
    let fleet = dcp_fleet::EmbeddedFleet::new(&run.config)
        .unwrap()
        .with_program(&script);
    let started = {
        let _guard = spawning();
        std::fs::write(&script, WORKER).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        fleet.start(&run.config).unwrap()
    };
    assert_eq!(started.workers.len(), 2);
    let logs = run.run_dir().join("workers");
    let up = || {
        (1..=2).all(|n| {
            std::fs::read_to_string(logs.join(format!("{n}.log"))).is_ok_and(|l| l == "up\n")
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !up() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }

    let out = run.watch(&["--once"]);
    assert_eq!(lines(&out.stdout)[0]["workers_alive"], 2);

    let task = run.receive(1).remove(0);
    run.report(1, &task, Status::Success);
    run.delete(&task);
    let out = run.watch(&["--once"]);
    assert_exit(&out, 0);
    let printed = lines(&out.stdout);
    assert_eq!(
        printed[0]["workers_alive"], 2,
        "the tick comes before the stop"
    );
    assert_eq!(printed[1]["workers_stopped"], 2);
    assert_eq!(
        printed[1]["tasks"], 2,
        "the lines the workers printed as they stopped count"
    );
    assert_eq!(fleet.status().unwrap().alive, 0);
    let record = fleet.state().unwrap().unwrap();
    assert!(
        record.workers.iter().all(|w| w.stopped.is_some()),
        "the record is kept, marked stopped"
    );
    let report = report(&run);
    assert_eq!(report["started"], json!(started.started));
    assert_eq!(report["tasks"][1]["output"], "out/late");
    assert_eq!(report["tasks"][1]["attempts"], 2);
}

#[test]
fn without_once_it_watches_until_the_drain() {
    let run = Run::new("", &[1]);
    let child = run.spawn_watch(&["--interval", "0.2"]);
    std::thread::sleep(Duration::from_millis(500));
    let task = run.receive(1).remove(0);
    run.report(1, &task, Status::Success);
    run.delete(&task);
    let out = ended(child, Duration::from_secs(20));
    assert_exit(&out, 0);
    let printed = lines(&out.stdout);
    assert!(
        printed.len() >= 3,
        "several ticks, then the end: {printed:?}"
    );
    assert_eq!(printed[0]["visible"], 1);
    assert_eq!(printed[printed.len() - 2]["done"], 1);
    assert_eq!(printed[printed.len() - 1]["drained"], true);
}
