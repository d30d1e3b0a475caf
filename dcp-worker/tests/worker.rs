//! dcp-worker's own handling of success, failure, retries, visibility and death, with a
//! stand-in for CellProfiler (the real one runs in tests/tests/examplefly.rs).

mod links;
mod standin;

use std::process::Stdio;
use std::time::{Duration, Instant};

use standin::{RunDir, outcomes};

#[test]
fn success_publishes_outputs_files_the_log_and_deletes_the_task() {
    let run = RunDir::new("");
    run.push(&["P1", "P2"], "w/p.cppipe");
    let out = run.worker("ok", &[]).output().unwrap();
    let lines = outcomes(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], "success");
    assert_eq!(lines[0]["group"], "Metadata_Plate=P1");
    assert_eq!(lines[0]["output"], "out/P1");
    assert_eq!(lines[0]["outputs"], serde_json::json!(["Image.csv"]));
    assert_eq!(lines[0]["exit_code"], 0);
    assert_eq!(
        std::fs::read_to_string(run.result("out/P2/Image.csv")).unwrap(),
        "Group\nMetadata_Plate=P2\n"
    );
    let log_key = lines[0]["log"].as_str().unwrap();
    assert!(
        log_key.starts_with("logs/out/P1/Metadata_Plate=P1.") && log_key.ends_with("Z.log"),
        "{log_key}"
    );
    let log = std::fs::read_to_string(run.result(log_key)).unwrap();
    assert!(log.contains("stand-in running Metadata_Plate=P1"), "{log}");
    // The stand-in has no Python of CellProfiler's: the pipeline load check is skipped.
    assert!(
        log.contains("pipeline load check skipped: cannot find CellProfiler's Python"),
        "{log}"
    );
    assert_eq!(lines[0].get("detail"), None);
    // CellProfiler was given the group and a load-data file.
    let starts = std::fs::read_to_string(run.path().join("starts.txt")).unwrap();
    assert!(
        starts.contains("-g Metadata_Plate=P1") && starts.contains("--data-file="),
        "{starts}"
    );
    assert_eq!(run.counts(), (0, 0, 0));
}

#[test]
fn failures_are_retried_then_dead_lettered_with_their_class() {
    let run = RunDir::new("JOB_RETRIES = 2");
    run.push(&["P1"], "w/missing.cppipe");
    let out = run.worker("ok", &["--retry-delay", "0"]).output().unwrap();
    let lines = outcomes(&out);
    let classes: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["download-problem", "download-problem"]);
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("w/missing.cppipe")
    );
    assert_eq!(
        run.starts(),
        0,
        "CellProfiler never started without a pipeline"
    );
    assert_eq!(run.counts(), (0, 0, 1));

    let run = RunDir::new("JOB_RETRIES = 3");
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(
        &run.worker("fail", &["--retry-delay", "0"])
            .output()
            .unwrap(),
    );
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == "cellprofiler-failed" && l["exit_code"] == 255)
    );
    assert_eq!(
        lines
            .iter()
            .map(|l| l["receive_count"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(run.counts(), (0, 0, 1));
    assert!(
        !run.result("out/P1").exists(),
        "a failed task publishes nothing"
    );
}

#[test]
fn complete_without_outputs_and_unknown_groups_fail() {
    let run = RunDir::new("JOB_RETRIES = 1");
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(
        &run.worker("empty", &["--retry-delay", "0"])
            .output()
            .unwrap(),
    );
    assert_eq!(lines[0]["status"], "cellprofiler-failed");
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("no output files")
    );

    let run = RunDir::new("JOB_RETRIES = 1");
    run.push(&["P9"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &["--retry-delay", "0"]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem");
    assert!(
        lines[0]["detail"].as_str().unwrap().contains("no row"),
        "{}",
        lines[0]
    );
    assert_eq!(run.starts(), 0);
}

#[test]
fn check_if_done_skips_without_starting_cellprofiler() {
    let run = RunDir::new(
        "CHECK_IF_DONE_BOOL = true\nEXPECTED_NUMBER_FILES = 1\nNECESSARY_STRING = \".csv\"",
    );
    std::fs::create_dir_all(run.result("out/P1")).unwrap();
    std::fs::write(run.result("out/P1/Image.csv"), "done before").unwrap();
    std::fs::create_dir_all(run.result("out/P2")).unwrap();
    std::fs::write(run.result("out/P2/notes.txt"), "not a result").unwrap();
    run.push(&["P1", "P2"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["skipped-done", "success"]);
    assert_eq!(run.starts(), 1, "only P2 ran");
    assert_eq!(
        std::fs::read_to_string(run.result("out/P1/Image.csv")).unwrap(),
        "done before"
    );
}

#[test]
fn a_long_task_stays_hidden_from_other_workers() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 1");
    run.push(&["P1"], "w/p.cppipe");
    let slow = run
        .worker("sleep:4", &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let other = run.worker("ok", &[]).output().unwrap();
    let slow = slow.wait_with_output().unwrap();
    let (slow_lines, other_lines) = (outcomes(&slow), outcomes(&other));
    assert_eq!(slow_lines.len(), 1);
    assert_eq!(slow_lines[0]["receive_count"], 1);
    assert!(
        other_lines.is_empty(),
        "the second worker got a task in flight: {other_lines:?}"
    );
    assert_eq!(run.starts(), 1);
}

#[test]
fn a_task_delivered_twice_runs_once_in_one_worker() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 600");
    run.push(&["P1"], "w/p.cppipe");
    let worker = run
        .worker("sleep:3", &["--cores", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while run.starts() == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SQS delivers at least once: the task in flight is handed out again, here to the
    // worker's idle copy.
    let queue = rusqlite::Connection::open(run.path().join("dcp-queue.sqlite")).unwrap();
    let shown = queue
        .execute("UPDATE messages SET visible_ms = 0 WHERE receives = 1", [])
        .unwrap();
    assert_eq!(shown, 1);
    let lines = outcomes(&worker.wait_with_output().unwrap());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "success", "{lines:?}");
    assert_eq!(run.starts(), 1, "CellProfiler ran once");
    assert_eq!(
        run.counts(),
        (0, 0, 0),
        "deleted with the newer receipt, not left to come back"
    );
}

#[test]
fn a_killed_workers_task_is_finished_by_another_with_no_partial_output() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 2");
    run.push(&["P1"], "w/p.cppipe");
    let mut doomed = run
        .worker("sleep:30", &[])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    while run.starts() == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    doomed.kill().unwrap(); // SIGKILL: no chance to hand the task back
    doomed.wait().unwrap();
    assert!(
        !run.result("out/P1").exists(),
        "nothing published by the killed worker"
    );
    let started = Instant::now();
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (
            lines[0]["status"].as_str(),
            lines[0]["receive_count"].as_u64()
        ),
        (Some("success"), Some(2))
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "back within about one visibility period"
    );
    let published: Vec<_> = std::fs::read_dir(run.result("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(published, ["P1"], "no staging folders in the destination");
    assert_eq!(run.counts(), (0, 0, 0));
}

#[test]
fn sigterm_hands_the_task_back_at_once() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 600");
    run.push(&["P1"], "w/p.cppipe");
    let worker = run
        .worker("sleep:30", &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while run.starts() == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = worker.wait_with_output().unwrap();
    assert!(outcomes(&out).is_empty());
    assert_eq!(run.counts(), (1, 0, 0), "visible again, not after 600 s");
}

#[test]
fn file_lists_are_handed_over() {
    let run = RunDir::new("");
    let list = "/home/ubuntu/bucket/img/P1.tif\n/home/ubuntu/bucket/img/P2.tif\n";
    std::fs::write(run.path().join("bucket/w/files.txt"), list).unwrap();
    let job = r#"{"pipeline": "w/p.cppipe", "data_file": "w/files.txt", "input": "img/", "output": "txt",
        "groups": [{"Metadata": "Metadata_Plate=P1"}]}"#;
    dcp_tests::stdout_ok(run.queue(&["push"], job));
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    let starts = std::fs::read_to_string(run.path().join("starts.txt")).unwrap();
    let txt = starts.lines().next().unwrap();
    assert!(
        txt.contains("--file-list=") && !txt.contains("--data-file"),
        "{txt}"
    );
}

#[test]
fn a_batch_file_without_cellprofilers_python_is_refused_before_cellprofiler_runs() {
    // The stand-in is a shell script with no Python beside it: nothing can read the batch
    // file's image list, so nothing is fetched and CellProfiler does not start.
    let run = RunDir::new("JOB_RETRIES = 1");
    std::fs::write(run.path().join("bucket/w/Batch_data.h5"), "batch").unwrap();
    let job = r#"{"pipeline": "w/Batch_data.h5", "data_file": "w/Batch_data.h5", "input": "img/", "output": "h5",
        "groups": [{"Metadata": "Metadata_Plate=P2"}]}"#;
    dcp_tests::stdout_ok(run.queue(&["push"], job));
    let lines = outcomes(&run.worker("ok", &["--retry-delay", "0"]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem", "{lines:?}");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(detail.contains("cannot read batch files"), "{detail}");
    assert_eq!(run.starts(), 0);
}

#[test]
fn a_missing_image_is_an_input_problem() {
    let run = RunDir::new("JOB_RETRIES = 1");
    std::fs::remove_file(run.path().join("bucket/img/P2.tif")).unwrap();
    run.push(&["P2"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &["--retry-delay", "0"]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem");
    assert!(
        lines[0]["detail"].as_str().unwrap().contains("img/P2.tif"),
        "{}",
        lines[0]
    );
    assert_eq!(run.starts(), 0);
}

const ZPROJ_GROUPS: [&str; 3] = [
    "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1",
    "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=2",
    "Metadata_Plate=P1,Metadata_Well=A02,Metadata_Site=1",
];

#[test]
fn tasks_sharing_a_plate_folder_keep_every_file_and_log() {
    // DCP's z-projection step: one task per site, every task writing into the plate's folder.
    let run = RunDir::new("");
    run.sites_csv();
    run.push_groups(&ZPROJ_GROUPS, "Metadata_Plate");
    let lines = outcomes(&run.worker("per-group", &[]).output().unwrap());
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    let files = run.files("out/P1");
    let results: Vec<&String> = files.iter().filter(|f| f.ends_with(".csv")).collect();
    assert_eq!(
        results,
        [
            "Metadata_Plate-P1_Metadata_Well-A01_Metadata_Site-1.csv",
            "Metadata_Plate-P1_Metadata_Well-A01_Metadata_Site-2.csv",
            "Metadata_Plate-P1_Metadata_Well-A02_Metadata_Site-1.csv",
        ]
    );
    assert_eq!(
        files.iter().filter(|f| f.starts_with(".dcp-done/")).count(),
        3,
        "one completion record per task: {files:?}"
    );
    let logs = run.files("logs/out/P1");
    assert_eq!(logs.len(), 3, "one log per task: {logs:?}");
    for (group, log) in ZPROJ_GROUPS.iter().zip(&logs) {
        assert!(log.starts_with(&format!("{group}.")), "{log}");
        let text = std::fs::read_to_string(run.result(&format!("logs/out/P1/{log}"))).unwrap();
        assert!(
            text.contains(&format!("stand-in running {group}")),
            "{text}"
        );
    }
    assert_eq!(lines[0]["log"], format!("logs/out/P1/{}", logs[0]));
}

#[test]
fn a_folder_of_an_earlier_step_keeps_its_files_and_check_if_done_counts_them() {
    let run = RunDir::new("CHECK_IF_DONE_BOOL = true\nEXPECTED_NUMBER_FILES = 7");
    for i in 0..6 {
        std::fs::create_dir_all(run.result("out/P1")).unwrap();
        std::fs::write(run.result(&format!("out/P1/illum{i}.npy")), "earlier step").unwrap();
    }
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "success");
    let results: Vec<String> = run
        .files("out/P1")
        .into_iter()
        .filter(|f| !f.starts_with(".dcp-done/"))
        .collect();
    assert_eq!(
        results.len(),
        7,
        "the earlier 6 and the task's 1: {results:?}"
    );
    // Pushed again, the task finds its own record and its file: skipped.
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "skipped-done");
    assert_eq!(run.starts(), 1);
    // Without a record (results written by DCP), DCP's rule counts the whole folder.
    std::fs::remove_dir_all(run.result("out/P1/.dcp-done")).unwrap();
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "skipped-done");
    assert_eq!(run.starts(), 1);
}

#[test]
fn a_task_never_replaces_another_tasks_file() {
    // Two sites writing Image.csv into one plate folder: the second would replace the first's.
    let run = RunDir::new("JOB_RETRIES = 1");
    run.sites_csv();
    run.push_groups(&ZPROJ_GROUPS[..2], "Metadata_Plate");
    let out = run.worker("ok", &[]).output().unwrap();
    let lines = outcomes(&out);
    let statuses: Vec<&str> = lines
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["success", "output-problem"]);
    let detail = lines[1]["detail"].as_str().unwrap();
    assert!(
        detail.contains("out/P1/Image.csv") && detail.contains("not written by this task"),
        "{detail}"
    );
    assert_eq!(
        std::fs::read_to_string(run.result("out/P1/Image.csv")).unwrap(),
        format!("Group\n{}\n", ZPROJ_GROUPS[0])
    );
    // Nothing half-done is left: no partial files, no record of the failed task.
    let files = run.files("out/P1");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| !f.contains("dcp-partial")));
    assert!(
        run.files("")
            .iter()
            .all(|f| !f.contains("dcp-partial") && !f.contains("staging"))
    );
}

#[test]
fn underscores_between_keys_give_dcps_prefix() {
    let run = RunDir::new("");
    run.sites_csv();
    run.push_groups(
        &ZPROJ_GROUPS[..1],
        "Metadata_Plate_Metadata_Well_Metadata_Site",
    );
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(
        (lines[0]["status"].as_str(), lines[0]["output"].as_str()),
        (Some("success"), Some("out/P1_A01_1"))
    );
    assert!(run.result("out/P1_A01_1/Image.csv").exists());
}

#[test]
fn a_task_dcp_pushed_with_an_ambiguous_structure_names_its_group() {
    let run = RunDir::new("JOB_RETRIES = 1");
    // As DCP's submitJob sends it, past dcp-queue's checks: DCP would write to `out/A01Row`.
    let body = r#"{"Metadata": "Metadata_Well=A01,Metadata_WellRow=A", "pipeline": "w/p.cppipe", "output": "out", "input": "img/", "data_file": "w/load_data.csv", "output_structure": "Metadata_WellRow"}"#;
    run.send_as_dcp(body);
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem");
    assert_eq!(lines[0]["group"], "Metadata_Well=A01,Metadata_WellRow=A");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("ambiguous") && detail.contains("Metadata_Well"),
        "{detail}"
    );
    assert_eq!(run.starts(), 0);
}

#[test]
fn a_task_dcp_sent_with_a_batch_file_and_another_pipeline_is_refused() {
    let run = RunDir::new("JOB_RETRIES = 1");
    // Past dcp-queue's checks, as DCP's submitJob sends it: CellProfiler would run the
    // batch file's own pipeline, not the one the task names.
    let body = r#"{"Metadata": "Metadata_Plate=P1", "pipeline": "w/p.cppipe", "output": "out", "input": "img/", "data_file": "w/Batch_data.h5"}"#;
    run.send_as_dcp(body);
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "input-problem");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`w/p.cppipe` is not the batch file `w/Batch_data.h5`"),
        "{detail}"
    );
    assert_eq!(run.starts(), 0);
}

#[test]
fn a_purged_task_ends_its_attempt_and_the_worker_goes_on() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 1");
    run.push(&["P1"], "w/p.cppipe");
    let mut worker = run
        .worker("sleep:3", &["--wait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while run.starts() == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    dcp_tests::stdout_ok(run.queue(&["purge"], ""));
    run.push(&["P2"], "w/p.cppipe");
    let (lines, exit) = dcp_tests::outcomes_then_sigterm(&mut worker, 2);
    assert!(exit.success(), "the worker outlived the lost receipt");
    let (first, second) = (&lines[0], &lines[1]);
    assert_eq!(
        (first["group"].as_str(), first["status"].as_str()),
        (Some("Metadata_Plate=P1"), Some("lost-receipt"))
    );
    assert!(first["log"].is_string(), "{first}");
    assert_eq!(
        (second["group"].as_str(), second["status"].as_str()),
        (Some("Metadata_Plate=P2"), Some("success"))
    );
    assert!(
        !run.result("out/P1").exists(),
        "the stopped attempt published nothing"
    );
    assert_eq!(run.counts(), (0, 0, 0));
}

#[test]
fn a_worker_paused_past_its_visibility_reports_the_lost_task_and_exits_cleanly() {
    let run = RunDir::new("SQS_MESSAGE_VISIBILITY = 1");
    run.push(&["P1", "P2"], "w/p.cppipe");
    let paused = run
        .worker("sleep:2", &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while run.starts() == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(paused.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Another worker takes both tasks, P1 for the second time.
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let out = paused.wait_with_output().unwrap();
    let lines = outcomes(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["group"].as_str(), lines[0]["status"].as_str()),
        (Some("Metadata_Plate=P1"), Some("lost-receipt"))
    );
    assert_eq!(
        std::fs::read_to_string(run.result("out/P1/Image.csv")).unwrap(),
        "Group\nMetadata_Plate=P1\n"
    );
    assert_eq!(run.counts(), (0, 0, 0));
}

#[test]
fn a_missing_input_folder_is_never_created_in_the_source() {
    let run = RunDir::new("");
    let job = r#"{"pipeline": "w/p.cppipe", "data_file": "w/load_data.csv", "input": "not/there/", "output": "out", "groups": [{"Metadata": "Metadata_Plate=P1"}]}"#;
    dcp_tests::stdout_ok(run.queue(&["push"], job));
    let lines = outcomes(&run.worker("ok", &[]).output().unwrap());
    assert_eq!(lines[0]["status"], "success");
    assert!(
        !run.path().join("bucket/not").exists(),
        "the worker wrote into SOURCE_BUCKET"
    );
}

#[test]
fn every_attempt_keeps_its_own_log_even_within_one_second() {
    let run = RunDir::new("JOB_RETRIES = 3");
    run.push(&["P1"], "w/p.cppipe");
    let lines = outcomes(
        &run.worker("fail", &["--retry-delay", "0"])
            .output()
            .unwrap(),
    );
    let logs: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l["log"].as_str().unwrap()).collect();
    assert_eq!(logs.len(), lines.len(), "{lines:?}");
    assert_eq!(run.files("logs/out/P1").len(), lines.len());
}
