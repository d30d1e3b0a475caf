//! `dcp-watch --batch NAME`: two batches and other work on one queue, each batch watched by
//! its own dcp-watch at once; each ends with its summary and exit code when its own tasks
//! are done or dead, and the run goes on (no report, the queue's other work untouched).

use super::*;

/// Pushes one task per site labelled `batch`.
pub(super) fn push_batch(run: &Run, batch: &str, sites: &[u32]) {
    let groups: Vec<Value> = sites
        .iter()
        .map(|s| json!({"Metadata": format!("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site={s}")}))
        .collect();
    // The prefix the test's outcome lines name: out/P1-A01-SITE.
    let job = json!({"pipeline": "p.cppipe", "data_file": "d.csv", "input": "in", "output": "out",
        "output_structure": "Metadata_Plate-Metadata_Well-Metadata_Site", "groups": groups});
    let _guard = spawning();
    let args = ["push", "--batch", batch];
    let out = dcp_tests::run(tool("dcp-queue"), run.dir.path(), &args, &job.to_string());
    assert!(stdout_ok(out).contains(&format!("\"batch\":\"{batch}\"")));
}

#[test]
fn batches_on_one_queue_are_watched_apart_and_the_run_goes_on() {
    let run = Run::new("JOB_RETRIES = 1\n", &[9]);
    push_batch(&run, "P1", &[1, 2]);
    push_batch(&run, "P2", &[3, 4]);
    let watches = ["P1", "P2"].map(|b| run.spawn_watch(&["--batch", b, "--interval", "1"]));

    let taken = run.receive(10);
    assert_eq!(taken.len(), 5);
    for task in &taken {
        match task.batch.as_deref() {
            None => {} // other work, held in flight throughout
            Some("P2") if task.body.contains("Site=4") => {
                run.report(2, task, Status::CellprofilerFailed);
                run.release(task);
            }
            Some(_) => {
                run.report(1, task, Status::Success);
                run.delete(task);
            }
        }
    }
    // The failed task's next receive gives it up (JOB_RETRIES = 1).
    assert!(run.receive(10).is_empty());

    let [p1, p2] = watches.map(|w| ended(w, Duration::from_secs(30)));
    assert_exit(&p1, 0);
    assert_exit(&p2, exit_dead());
    let summary = |out: &Output| lines(&out.stdout).pop().unwrap();
    let (p1, p2) = (summary(&p1), summary(&p2));
    assert_eq!(p1["batch"], "P1");
    assert_eq!(p1["finished"], true);
    assert_eq!(
        (
            &p1["counts"]["done"],
            &p1["counts"]["dead"],
            &p1["by_status"]
        ),
        (&json!(2), &json!(0), &json!({"success": 2}))
    );
    assert_eq!(
        (&p2["counts"]["done"], &p2["counts"]["dead"]),
        (&json!(1), &json!(1))
    );
    let letter = &p2["dead_letters"][0];
    assert_eq!(letter["output"], "out/P1-A01-4");
    assert_eq!(letter["last_failure"]["status"], "cellprofiler-failed");

    // The run goes on: no report, the other task still held.
    assert!(!run.run_dir().join("report.json").exists());
    let whole = run.watch(&["--once"]);
    assert_exit(&whole, 0);
    assert_eq!(lines(&whole.stdout)[0]["in_flight"], 1);

    // A finished batch answers at once, from any shell; an unknown one is an error.
    let again = run.watch(&["--batch", "P1"]);
    assert_exit(&again, 0);
    assert_eq!(lines(&again.stdout).len(), 1, "only the summary");
    let unknown = run.watch(&["--batch", "P3"]);
    assert_exit(&unknown, 1);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("batch `P3`"));
    for bad in ["P 3", "-P3"] {
        let bad = run.watch(&[&format!("--batch={bad}")]);
        assert_exit(&bad, 2);
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(
            stderr.contains("not starting with '-'"),
            "the rule: {stderr}"
        );
    }
}

#[test]
fn a_group_pushed_in_two_batches_counts_in_each_and_the_report_agrees_with_status() {
    let run = Run::new("JOB_RETRIES = 1\n", &[9]);
    // Batches A and B hold the same group; A also holds a group pushed twice.
    push_batch(&run, "A", &[1, 2]);
    push_batch(&run, "B", &[1]);
    push_batch(&run, "A", &[2]);
    let taken = run.receive(10);
    assert_eq!(taken.len(), 5);
    let mut a2 = 0;
    for task in &taken {
        let site1 = task.body.contains("Site=1");
        let fails = match task.batch.as_deref() {
            Some("A") if site1 => true,
            // The first message of A's site 2 fails; the second push's succeeds.
            Some("A") => {
                a2 += 1;
                a2 == 1
            }
            _ => false,
        };
        if fails {
            run.report(1, task, Status::CellprofilerFailed);
            run.release(task);
        } else {
            run.report(1, task, Status::Success);
            run.delete(task);
        }
    }
    assert!(run.receive(10).is_empty(), "the failed tasks are given up");

    let out = run.watch(&["--once"]);
    assert_exit(&out, exit_dead());
    let report = report(&run);
    let c = &report["counts"];
    assert_eq!(
        (&c["tasks"], &c["done"], &c["dead"]),
        (&json!(5), &json!(3), &json!(2)),
        "{c}"
    );
    let batches = &report["batches"];
    assert_eq!(
        (
            &batches["A"]["tasks"],
            &batches["A"]["done"],
            &batches["A"]["dead"]
        ),
        (&json!(3), &json!(1), &json!(2)),
        "{batches}"
    );
    assert_eq!(
        (
            &batches["B"]["tasks"],
            &batches["B"]["done"],
            &batches["B"]["dead"]
        ),
        (&json!(1), &json!(1), &json!(0)),
        "{batches}"
    );
    for (name, totals) in batches.as_object().unwrap() {
        let n = |k: &str| totals[k].as_u64().unwrap();
        assert!(n("done") + n("dead") <= n("tasks"), "{name}: {totals}");
    }
    // B's task is its own: its row says B and is not dead.
    let b: Vec<&Value> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["batch"] == "B")
        .collect();
    assert_eq!(b.len(), 1);
    assert_eq!(
        (&b[0]["status"], &b[0]["dead"]),
        (&json!("success"), &json!(false))
    );

    // `dcp-queue status` counts each batch's dead letters as the report does.
    let status = {
        let _guard = spawning();
        stdout_ok(dcp_tests::run(
            tool("dcp-queue"),
            run.dir.path(),
            &["status"],
            "",
        ))
    };
    let status: Value = serde_json::from_str(&status).unwrap();
    for name in ["A", "B"] {
        let dead = status["batches"][name]["dead"].as_u64().unwrap_or(0);
        assert_eq!(json!(dead), batches[name]["dead"], "{name}: {status}");
    }
    // Each batch's watch gives the same figures as its part of the report.
    for name in ["A", "B"] {
        let out = run.watch(&["--batch", name]);
        let summary = lines(&out.stdout).pop().unwrap();
        for key in ["tasks", "done", "dead"] {
            assert_eq!(
                summary["counts"][key], batches[name][key],
                "{name} {key}: {summary}"
            );
        }
    }
}

/// `make` after a failure pushes the batch again: its watch then counts each task at its
/// latest push, as on AWS; the earlier dead letter stays in the dead-letter queue.
#[test]
fn a_batch_pushed_again_after_a_failure_ends_done_with_its_old_dead_letter_left_out() {
    let run = Run::new("JOB_RETRIES = 1\n", &[9]);
    push_batch(&run, "B", &[1, 2]);
    // No fleet serves the queue: the tick says so.
    let tick = lines(&run.watch(&["--batch", "B", "--once"]).stdout)
        .pop()
        .unwrap();
    assert_eq!(
        (&tick["visible"], &tick["workers_alive"]),
        (&json!(2), &json!(0)),
        "{tick}"
    );
    let mut clock = 1_796_000_000.0;
    let mut attempt = |task: &Received, status: Status| {
        clock += 10.0;
        run.report_started(1, task, status, Some(clock));
    };
    // Other work (site 9, no batch) is held in flight throughout.
    for task in run.receive(10).iter().filter(|t| t.batch.is_some()) {
        if task.body.contains("Site=2") {
            attempt(task, Status::CellprofilerFailed);
            run.release(task);
        } else {
            attempt(task, Status::Success);
            run.delete(task);
        }
    }
    assert!(run.receive(10).is_empty(), "site 2 is given up");
    let first = run.watch(&["--batch", "B"]);
    assert_exit(&first, exit_dead());

    push_batch(&run, "B", &[1, 2]);
    for task in run.receive(10) {
        attempt(&task, Status::Success);
        run.delete(&task);
    }
    let again = run.watch(&["--batch", "B"]);
    assert_exit(&again, 0);
    let summary = lines(&again.stdout).pop().unwrap();
    let c = &summary["counts"];
    assert_eq!(
        (&c["tasks"], &c["done"], &c["dead"]),
        (&json!(2), &json!(2), &json!(0)),
        "{summary}"
    );
    let letters = run.runtime.block_on(run.queue.dead_letters()).unwrap();
    assert_eq!(letters.len(), 1, "the old dead letter stays in the queue");
}

pub(super) fn exit_dead() -> i32 {
    i32::from(dcp_common::exit::DEAD_LETTERS)
}
