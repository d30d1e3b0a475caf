//! The fault test of issue 8: a run of 1,000 tasks on the embedded backend (10 plates × 100
//! sites, each plate's 100 tasks sharing its output folder `out/<plate>`, each task writing
//! its own per-group file), drained by a embedded fleet of 4 workers × 4 CellProfiler copies
//! (the stand-in of tests/fixtures sleeping 1 s per task), while the test does to it what
//! machines do to real runs:
//!
//! - `kill -9` of workers three times (once two at a time), each time restarting the missing
//!   ones with `dcp-fleet scale`;
//! - the removal of 5 queued tasks mid-run, straight from the queue file;
//! - `SIGSTOP` of a worker for twice `SQS_MESSAGE_VISIBILITY` when the queue is nearly
//!   empty, so that other workers take its tasks, then `SIGCONT`.
//!
//! Then `dcp-watch` drains the run, and the test proves: every task not removed has its
//! file exactly once, whole, beside a complete completion record naming it; removed tasks
//! left nothing (no file, no record, no log); the destination holds no partial file; every
//! worker exited 0 except those killed (the stopped one included); and the run report,
//! `dcp-queue status`, the monitor's last lines and the files agree.
//!
//! Each worker runs under a small shell wrapper (named by `DCP_WORKER`) that forwards
//! SIGTERM and records the worker's pid and exit status, since the fleet's workers are not
//! children of the test.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dcp_common::metadata::join_pairs;
use dcp_common::queue::Counts;
use dcp_common::store::record_key;
use dcp_common::{Config, EmbeddedQueue, Queue, QueueSpec, Task};
use dcp_tests::{STANDIN, stdout_ok, tool};
use serde_json::{Value, json};

const APP: &str = "FaultRun";
const PLATES: usize = 10;
const SITES: usize = 100;
const TASKS: usize = PLATES * SITES;
const WORKERS: usize = 4;
const COPIES: usize = 4;
const VISIBILITY_SECONDS: u64 = 2;
/// How long the stopped worker stays stopped: twice the visibility timeout.
const STOPPED_FOR: Duration = Duration::from_secs(2 * VISIBILITY_SECONDS);
/// Queued tasks the test removes mid-run.
const REMOVED: usize = 5;
/// The stand-in's mode: 1 s per task, a file named after the group.
const STANDIN_MODE: &str = "sleep-per-group:1";
/// The longest any one wait of the test may take.
const WAIT_LIMIT: Duration = Duration::from_secs(120);
/// The longest `dcp-watch` may take to drain and report the run.
const WATCH_LIMIT: Duration = Duration::from_secs(300);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// The exit status a shell reports for a process killed by SIGKILL.
const KILLED_STATUS: i32 = 128 + 9;

mod run;

use run::*;

#[test]
fn a_run_survives_killed_stopped_workers_and_removed_tasks() {
    let started = Instant::now();
    let mut run = Run::new();
    let fleet = run.fleet(&["start"]);
    assert_eq!(
        fleet["workers"].as_array().unwrap().len(),
        WORKERS,
        "{fleet}"
    );

    // Faults, each once the run has made some progress.
    let mut killed = Vec::new();
    run.wait_for_visible_below((TASKS - 100) as u64);
    killed.extend(run.kill_and_restart(1));
    run.wait_for_visible_below((TASKS - 200) as u64);
    let removed = run.remove_queued(REMOVED);
    run.wait_for_visible_below((TASKS - 400) as u64);
    killed.extend(run.kill_and_restart(2));
    run.wait_for_visible_below((TASKS - 650) as u64);
    killed.extend(run.kill_and_restart(1));

    // Near the end of the queue, so that the other workers take the stopped one's tasks
    // once their visibility ends.
    run.wait_for_visible_below((2 * COPIES) as u64);
    let stopped = run.live_workers()[0];
    signal(stopped.pid, "STOP");
    std::thread::sleep(STOPPED_FOR);
    signal(stopped.pid, "CONT");

    let (code, lines) = run.watch_until_drained();
    let watch_log = std::fs::read_to_string(run.path().join("watch.log")).unwrap();
    assert_eq!(code, Some(0), "dcp-watch: {watch_log}");

    let kept: Vec<TaskId> = all_tasks()
        .into_iter()
        .filter(|t| !removed.contains(t))
        .collect();
    assert_eq!(kept.len(), TASKS - REMOVED);

    // Files: each kept task's file, whole, and its complete record; nothing else.
    let results = run.path().join("results");
    let destination = files_under(&results);
    let partial: Vec<&String> = destination
        .iter()
        .filter(|f| f.contains(".dcp-partial-"))
        .collect();
    assert!(partial.is_empty(), "partial files left: {partial:?}");
    let outputs: BTreeSet<String> = destination
        .iter()
        .filter(|f| f.starts_with("out/"))
        .cloned()
        .collect();
    let mut expected = BTreeSet::new();
    for task in &kept {
        let file = format!("{}/{}", task.prefix, task.file_name());
        let content = std::fs::read_to_string(results.join(&file)).unwrap();
        assert_eq!(content, task.content(), "{file}");
        let record_file = record_key(&task.prefix, &task.group);
        let record: Value =
            serde_json::from_str(&std::fs::read_to_string(results.join(&record_file)).unwrap())
                .unwrap();
        assert_eq!(
            record,
            json!({"group": task.group, "complete": true,
                   "objects": [{"key": task.file_name(), "size": content.len()}]}),
            "{record_file}"
        );
        expected.insert(file);
        expected.insert(record_file);
    }
    let missing: Vec<&String> = expected.difference(&outputs).collect();
    let extra: Vec<&String> = outputs.difference(&expected).collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(
        extra.is_empty(),
        "not a kept task's file or record: {extra:?}"
    );
    let others: Vec<&String> = destination
        .iter()
        .filter(|f| !f.starts_with("out/") && !f.starts_with("logs/out/"))
        .collect();
    assert!(others.is_empty(), "unexpected files: {others:?}");
    // Each attempt files a log named after its group; removed tasks never ran.
    let logged = |task: &TaskId| {
        let prefix = format!("logs/{}/{}.", task.prefix, task.group);
        destination.iter().any(|f| f.starts_with(&prefix))
    };
    assert!(kept.iter().all(logged), "every kept task has a log");
    for task in &removed {
        assert!(!logged(task), "removed task {task:?} ran");
    }

    // The queue, the report and the monitor's last lines agree with the files.
    let status: Value = serde_json::from_str(&stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        run.path(),
        &["status"],
        "",
    )))
    .unwrap();
    assert_eq!(
        (&status["visible"], &status["in_flight"], &status["dead"]),
        (&json!(0), &json!(0), &json!(0)),
        "{status}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run.run_dir().join("report.json")).unwrap())
            .unwrap();
    let reported: BTreeSet<TaskId> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| TaskId {
            prefix: t["output"].as_str().unwrap().to_owned(),
            group: t["group"].as_str().unwrap().to_owned(),
        })
        .collect();
    let kept_set: BTreeSet<TaskId> = kept.iter().cloned().collect();
    let unreported: Vec<&TaskId> = kept_set.difference(&reported).collect();
    let not_kept: Vec<&TaskId> = reported.difference(&kept_set).collect();
    assert!(
        unreported.is_empty(),
        "done but not reported: {unreported:?}"
    );
    assert!(not_kept.is_empty(), "reported but removed: {not_kept:?}");
    let counts = &report["counts"];
    assert_eq!(counts["tasks"], kept.len(), "{counts}");
    assert_eq!(counts["done"], kept.len(), "{counts}");
    assert_eq!(counts["dead"], 0, "{counts}");
    assert_eq!(counts["unreadable_lines"], 0, "{counts}");
    assert_eq!(report["by_status"], json!({"success": kept.len()}));
    assert_eq!(report["dead_letters"], json!([]));
    let drained = lines.last().unwrap();
    assert_eq!(drained["drained"], true, "{drained}");
    assert_eq!(
        (&drained["tasks"], &drained["done"], &drained["dead"]),
        (&json!(kept.len()), &json!(kept.len()), &json!(0)),
        "{drained}"
    );
    // The last tick counts tasks, not output folders: at most one outcome per copy may
    // still be on its way when the queue is found drained.
    let last_tick = &lines[lines.len() - 2];
    let ticked_done = last_tick["done"].as_u64().unwrap() as usize;
    assert!(
        ticked_done + WORKERS * COPIES >= kept.len(),
        "the monitor's last tick: {last_tick}"
    );

    // Workers: those killed ended by SIGKILL, every other (the stopped one too) with 0.
    let exits = run.exits();
    let launched = run.launched_workers();
    assert_eq!(launched.len(), WORKERS + killed.len());
    for worker in &launched {
        let expected = if killed.contains(worker) {
            KILLED_STATUS
        } else {
            0
        };
        assert_eq!(exits.get(worker), Some(&expected), "{worker:?}: {exits:?}");
    }

    eprintln!(
        "fault run: {} tasks done, {REMOVED} removed, {} workers killed, 1 stopped for \
         {STOPPED_FOR:?}; attempts by outcome: {:?}; {:.1} s",
        kept.len(),
        killed.len(),
        run.attempts_by_status(),
        started.elapsed().as_secs_f64(),
    );
}
