//! dcp-worker's warm runner: one long-lived runner per copy, replaced after
//! RUNNER_MAX_TASKS tasks or above RUNNER_MAX_RSS_MB, restarted when it dies (its task failing
//! as `cellprofiler-failed` and retried), killed when its task is cancelled; with the warm
//! runner's stand-in (real CellProfiler: tests/tests/warm_equals_cold.rs).

#[allow(dead_code)] // Shared with tests/worker.rs, which uses all of it.
mod standin;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use standin::{RunDir, outcomes};

/// A run whose CELLPROFILER is a copy of the stand-in with a `python` beside it that
/// runs the warm runner's stand-in (`tests/fixtures/warm-runner-standin`), so that
/// tasks run warm (unless `extra` sets CELLPROFILER_RUNNER = "cold").
fn warm_run(extra: &str) -> RunDir {
    let extra = if extra.contains("CELLPROFILER_RUNNER") {
        extra.to_owned()
    } else {
        format!("CELLPROFILER_RUNNER = \"warm\"\n{extra}")
    };
    let installation = |root: &Path| {
        let cp = root.join("cp");
        std::fs::create_dir_all(&cp).unwrap();
        std::fs::copy(dcp_tests::STANDIN, cp.join("cellprofiler")).unwrap();
        let python = cp.join("python");
        let script = format!(
            "#!/bin/sh\nexec python3 {} \"$@\"\n",
            dcp_tests::WARM_STANDIN
        );
        std::fs::write(&python, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        cp.join("cellprofiler").display().to_string()
    };
    RunDir::with_cellprofiler(installation, &extra)
}

/// The stand-in's records: (runner starts, tasks), each as its pid.
fn starts(run: &RunDir) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(run.path().join("starts.txt")).unwrap_or_default();
    let pids = |kind: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(kind))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    };
    (pids("runner "), pids("task "))
}

fn log_of(run: &RunDir, line: &serde_json::Value) -> String {
    std::fs::read_to_string(run.result(line["log"].as_str().unwrap())).unwrap()
}

#[test]
fn one_runner_serves_many_tasks_and_is_replaced_after_runner_max_tasks() {
    let run = warm_run("RUNNER_MAX_TASKS = 2");
    run.push(&["P1", "P2", "P3"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    assert_eq!(
        std::fs::read_to_string(run.result("out/P3/Image.csv")).unwrap(),
        "Group\nMetadata_Plate=P3\n"
    );
    let (runners, tasks) = starts(&run);
    // The first runner ran P1 and P2; its successor started at once and ran P3.
    assert_eq!(runners.len(), 2, "{runners:?}");
    assert_eq!(
        tasks,
        [runners[0].clone(), runners[0].clone(), runners[1].clone()]
    );
    let log = log_of(&run, &lines[1]);
    assert!(log.contains("stand-in running Metadata_Plate=P2"), "{log}");
    assert!(log.contains("task 2 done"), "{log}");
    assert!(
        log.find("running warm").unwrap() < log.find("stand-in running").unwrap(),
        "the worker's notes and the runner's output in order: {log}"
    );
}

#[test]
fn a_runner_dying_mid_task_fails_it_as_cellprofiler_failed_and_it_is_retried() {
    let run = warm_run("");
    run.push(&["P1", "P2", "P3"], "w/p.cppipe");
    let out = run
        .worker("die-on:P2", &["--retry-delay", "0"])
        .env("STANDIN_ONCE", run.path().join("died"))
        .output()
        .unwrap();
    let lines = outcomes(&out);
    let p2: Vec<_> = lines
        .iter()
        .filter(|l| l["group"] == "Metadata_Plate=P2")
        .collect();
    assert_eq!(p2.len(), 2, "{lines:?}");
    assert_eq!(p2[0]["status"], "cellprofiler-failed");
    let detail = p2[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("runner") && detail.contains("died") && detail.contains("signal: 9"),
        "{detail}"
    );
    assert!(log_of(&run, p2[0]).contains("stand-in dying in Metadata_Plate=P2"));
    assert_eq!(
        (p2[1]["status"].as_str(), p2[1]["receive_count"].as_u64()),
        (Some("success"), Some(2))
    );
    assert_eq!(lines.iter().filter(|l| l["status"] == "success").count(), 3);
    assert_eq!(
        std::fs::read_to_string(run.result("out/P2/Image.csv")).unwrap(),
        "Group\nMetadata_Plate=P2\n",
        "the retry's output, not the dead runner's partial one"
    );
    let (runners, _) = starts(&run);
    assert_eq!(runners.len(), 2, "restarted once: {runners:?}");
    assert_eq!(run.counts(), (0, 0, 0));
}

#[test]
fn a_runner_grown_past_runner_max_rss_mb_is_replaced() {
    let run = warm_run("RUNNER_MAX_RSS_MB = 512");
    run.push(&["P1", "P2", "P3"], "w/p.cppipe");
    let lines = outcomes(&run.worker("grow:300", &[]).output().unwrap());
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    let (runners, tasks) = starts(&run);
    // 300 MB after one task, 600 after two: the first runner is replaced after P2.
    assert_eq!(
        tasks,
        [runners[0].clone(), runners[0].clone(), runners[1].clone()]
    );
    let mb = |line: &serde_json::Value| {
        let log = log_of(&run, line);
        let after = &log[log.find(" done, ").unwrap() + 7..];
        after[..after.find(" MB resident").unwrap()]
            .parse::<u64>()
            .unwrap()
    };
    assert!((300..512).contains(&mb(&lines[0])), "{}", mb(&lines[0]));
    assert!(mb(&lines[1]) > 512, "{}", mb(&lines[1]));
}

#[test]
fn sigterm_kills_the_runner_and_hands_the_task_back_at_once() {
    let run = warm_run("SQS_MESSAGE_VISIBILITY = 600");
    run.push(&["P1"], "w/p.cppipe");
    let worker = run
        .worker("sleep:30", &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while starts(&run).1.is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = worker.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(outcomes(&out).is_empty());
    assert_eq!(run.counts(), (1, 0, 0), "visible again, not after 600 s");
    let runner: i32 = starts(&run).0[0].parse().unwrap();
    let gone = || nix::sys::signal::kill(nix::unistd::Pid::from_raw(runner), None).is_err();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone(), "the runner {runner} was killed with its task");
}

#[test]
fn cold_runs_cellprofiler_per_task_even_with_a_python_beside_it() {
    let run = warm_run("CELLPROFILER_RUNNER = \"cold\"");
    run.push(&["P1", "P2"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    let (runners, tasks) = starts(&run);
    assert!(
        runners.is_empty() && tasks.is_empty(),
        "{runners:?} {tasks:?}"
    );
    assert_eq!(run.starts(), 2, "the stand-in CellProfiler ran twice");
    assert!(!log_of(&run, &lines[0]).contains("running warm"));
}
