//! Single looks with --once: before the drain, a clean drain, a drain with dead letters,
//! and the refusals.

use super::*;

#[test]
fn once_before_the_drain_prints_one_tick_and_changes_nothing() {
    let run = Run::new("", &[1, 2, 3]);
    let taken = run.receive(1);
    let out = run.watch(&["--once"]);
    assert_exit(&out, 0);
    let ticks = lines(&out.stdout);
    assert_eq!(ticks.len(), 1);
    assert_eq!(
        counts(&ticks[0]),
        json!({"visible": 2, "in_flight": 1, "dead": 0, "done": 0, "failed_attempts": 0, "workers_alive": 0})
    );
    assert!(out.stderr.is_empty(), "no human output off a terminal");
    assert!(!run.run_dir().join("report.json").exists());
    run.delete(&taken[0]);
}

#[test]
fn a_clean_drain_writes_the_report_and_exits_0() {
    let run = Run::new("", &[1, 2, 3]);
    let first = run.receive(1).remove(0);
    run.report(1, &first, Status::CellprofilerFailed);
    run.release(&first);
    for (i, task) in run.receive(3).iter().enumerate() {
        let status = if task.body.contains("Site=3") {
            Status::SkippedDone
        } else {
            Status::Success
        };
        run.report(1 + i as u32 % 2, task, status);
        run.delete(task);
    }
    let out = run.watch(&["--once"]);
    assert_exit(&out, 0);
    let printed = lines(&out.stdout);
    assert_eq!(printed.len(), 2);
    assert_eq!(
        counts(&printed[0]),
        json!({"visible": 0, "in_flight": 0, "dead": 0, "done": 3, "failed_attempts": 1, "workers_alive": 0})
    );
    let path = run.run_dir().join("report.json");
    assert_eq!(
        counts(&printed[1]),
        json!({"drained": true, "report": path, "tasks": 3, "done": 3, "dead": 0, "failed_attempts": 1, "workers_stopped": 0})
    );
    let report = report(&run);
    assert_eq!(report["app"], "Watch");
    assert_eq!(report["queue"], "WatchQueue");
    assert_eq!(report["started"], Value::Null, "no fleet was recorded");
    assert_eq!(
        report["by_status"],
        json!({"skipped-done": 1, "success": 2})
    );
    assert_eq!(report["counts"]["attempts"], 4);
    assert_eq!(report["dead_letters"], json!([]));
    let tasks = report["tasks"].as_array().unwrap();
    let summary: Vec<(&str, &str, u64)> = tasks
        .iter()
        .map(|t| {
            (
                t["output"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
                t["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("out/P1-A01-1", "success", 2),
            ("out/P1-A01-2", "success", 1),
            ("out/P1-A01-3", "skipped-done", 1)
        ]
    );
    assert_eq!(tasks[0]["receive_count"], 2);
    assert_eq!(tasks[0]["total_seconds"], 5.0);

    let again = run.watch(&["--once"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "running it twice does no harm"
    );
    assert_eq!(report["tasks"], self::report(&run)["tasks"]);
}

#[test]
fn a_dead_letter_is_reported_with_its_failure_and_exits_3() {
    let run = Run::new("JOB_RETRIES = 1\nSQS_MESSAGE_VISIBILITY = 1\n", &[1, 2]);
    let taken = run.receive(2);
    run.report(1, &taken[0], Status::Success);
    run.delete(&taken[0]);
    run.report(2, &taken[1], Status::CellprofilerFailed);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        run.receive(1).is_empty(),
        "the second receive sends the task to the dead letters"
    );

    let out = run.watch(&["--once"]);
    assert_exit(&out, 3);
    let printed = lines(&out.stdout);
    assert_eq!(counts(&printed[0])["dead"], 1);
    assert_eq!(printed[1]["dead"], 1);
    assert_eq!(printed[1]["done"], 1);
    let report = report(&run);
    assert_eq!(
        report["by_status"],
        json!({"cellprofiler-failed": 1, "success": 1})
    );
    assert_eq!(report["counts"]["dead"], 1);
    let dead = &report["dead_letters"][0];
    assert_eq!(dead["id"], json!(taken[1].id));
    assert_eq!(dead["receive_count"], 1);
    assert_eq!(dead["output"], "out/P1-A01-2");
    assert_eq!(
        dead["task"]["Metadata"],
        "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=2"
    );
    assert_eq!(dead["task"]["pipeline"], "p.cppipe");
    assert_eq!(dead["last_failure"]["status"], "cellprofiler-failed");
    assert_eq!(dead["last_failure"]["detail"], "CellProfiler exited with 1");
    assert_eq!(report["tasks"][1]["dead"], true);
    assert_eq!(report["tasks"][0]["dead"], false);
    // The whole report, less its clock: the shape readers of report.json rely on.
    let mut report = report;
    report["finished"] = json!(0);
    let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
    assert_eq!(
        text,
        golden(env!("CARGO_MANIFEST_DIR"), "report-dead-letter.json")
    );
}

#[test]
fn failures_exit_1_and_bad_usage_exits_2() {
    let run = Run::new("", &[1]);
    let guard = spawning();
    let deleted = dcp_tests::run(tool("dcp-queue"), run.dir.path(), &["delete"], "");
    drop(guard);
    stdout_ok(deleted);
    let out = run.watch(&["--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue `WatchQueue` does not exist"));
    assert_eq!(run.watch(&["--interval", "0"]).status.code(), Some(2));
    // Built without the AWS backend, AWS settings are refused before any call.
    #[cfg(not(feature = "aws"))]
    {
        std::fs::write(
            run.dir.path().join("dcp.toml"),
            "BACKEND = \"aws\"\nAWS_BUCKET = \"b\"\n",
        )
        .unwrap();
        let out = run.watch(&["--once"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "bad input, whatever module found it"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "dcp-watch: error: BACKEND = \"aws\": this build has no AWS backend (cargo feature `aws`)\n"
        );
    }
    std::fs::write(run.dir.path().join("dcp.toml"), "JOB_RETRIES = \"x\"\n").unwrap();
    assert_eq!(run.watch(&["--once"]).status.code(), Some(2));
}
