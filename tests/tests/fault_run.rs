//! The fault test of issue 8: a run of 1,000 tasks on the embedded backend (10 plates × 100
//! sites, each plate's 100 tasks sharing its output folder `out/<plate>`, each task writing
//! its own per-group file), drained by a local fleet of 4 workers × 4 CellProfiler copies
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

/// Runs `dcp-worker` (`$FAULT_RUN_WORKER`) with the fleet's arguments, writes its pid to
/// `$FAULT_RUN_RECORDS/<wrapper pid>.child`, forwards SIGTERM and SIGINT to it, and when it
/// ends appends `<wrapper pid> <worker pid> <exit status>` to `$FAULT_RUN_RECORDS/exits`.
const WRAPPER: &str = r#"#!/bin/sh
child=
term=
trap 'term=1; [ -n "$child" ] && kill -TERM "$child"' TERM INT
"$FAULT_RUN_WORKER" "$@" &
child=$!
[ -n "$term" ] && kill -TERM "$child"
echo "$child" > "$FAULT_RUN_RECORDS/$$.child.tmp"
mv "$FAULT_RUN_RECORDS/$$.child.tmp" "$FAULT_RUN_RECORDS/$$.child"
while :; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
echo "$$ $child $status" >> "$FAULT_RUN_RECORDS/exits"
exit "$status"
"#;

/// One task of the job.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TaskId {
    /// The output prefix, `out/P01`.
    prefix: String,
    /// The group, `Metadata_Plate=P01,Metadata_Site=1`.
    group: String,
}

impl TaskId {
    /// The file the stand-in writes for the group, relative to the prefix.
    fn file_name(&self) -> String {
        format!("{}.csv", self.group.replace(',', "_").replace('=', "-"))
    }

    /// The file's exact content.
    fn content(&self) -> String {
        format!("Group\n{}\n", self.group)
    }
}

/// Every task of the job, in push order.
fn all_tasks() -> Vec<TaskId> {
    (1..=PLATES)
        .flat_map(|plate| {
            (1..=SITES).map(move |site| TaskId {
                prefix: format!("out/P{plate:02}"),
                group: format!("Metadata_Plate=P{plate:02},Metadata_Site={site}"),
            })
        })
        .collect()
}

/// A worker process of the fleet and the wrapper that launched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Worker {
    wrapper: u32,
    pid: u32,
}

/// The run folder, its queue file opened by the test, and every process the test started
/// (killed on drop, so a failed test leaves nothing behind).
struct Run {
    runtime: tokio::runtime::Runtime,
    queue: EmbeddedQueue,
    watch: Option<Child>,
    dir: tempfile::TempDir,
}

impl Run {
    /// A run with its queue created and the job's 1,000 tasks pushed.
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bucket/w")).unwrap();
        std::fs::create_dir_all(root.join("bucket/img")).unwrap();
        std::fs::create_dir_all(root.join("records")).unwrap();
        std::fs::write(root.join("bucket/w/p.cppipe"), "pipeline").unwrap();
        std::fs::write(root.join("bucket/img/image.tif"), "image").unwrap();
        let mut csv = String::from("Metadata_Plate,Metadata_Site,FileName_DNA,PathName_DNA\n");
        let mut groups = Vec::new();
        for task in all_tasks() {
            let plate = &task.prefix["out/".len()..];
            let site = task.group.rsplit('=').next().unwrap();
            csv.push_str(&format!(
                "{plate},{site},image.tif,/home/ubuntu/bucket/img\n"
            ));
            groups.push(json!({"Metadata": task.group}));
        }
        std::fs::write(root.join("bucket/w/sites.csv"), csv).unwrap();
        let job = json!({
            "pipeline": "w/p.cppipe", "data_file": "w/sites.csv", "input": "img/",
            "output": "out", "output_structure": "Metadata_Plate", "groups": groups,
        });
        std::fs::write(
            root.join("dcp.toml"),
            format!(
                "APP_NAME = \"{APP}\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"bucket\"\n\
                 DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{STANDIN}\"\n\
                 LOCAL_WORKERS = {WORKERS}\nDOCKER_CORES = {COPIES}\nSECONDS_TO_START = 0\n\
                 SQS_MESSAGE_VISIBILITY = {VISIBILITY_SECONDS}\nJOB_RETRIES = 10\n"
            ),
        )
        .unwrap();
        let wrapper = root.join("worker-wrapper");
        std::fs::write(&wrapper, WRAPPER).unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

        let config = Config::load(&root.join("dcp.toml")).unwrap();
        let queue_tool = |args: &[&str], stdin: &str| {
            stdout_ok(dcp_tests::run(tool("dcp-queue"), root, args, stdin))
        };
        queue_tool(&["create"], "");
        let pushed: Value = serde_json::from_str(&queue_tool(&["push"], &job.to_string())).unwrap();
        assert_eq!(pushed["sent"], TASKS, "{pushed}");
        let queue = EmbeddedQueue::open(&config.queue_file, QueueSpec::from_config(&config))
            .expect("the queue file opens");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Run {
            runtime,
            queue,
            watch: None,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run_dir(&self) -> PathBuf {
        self.path().join("run/runs").join(APP)
    }

    fn records(&self) -> PathBuf {
        self.path().join("records")
    }

    /// A dcp tool in the run folder, with the stand-in's mode and the worker wrapper.
    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(tool(name));
        command
            .current_dir(self.path())
            .env_remove("DCP_CONFIG")
            .env("STANDIN", STANDIN_MODE)
            .env("DCP_WORKER", self.path().join("worker-wrapper"))
            .env("FAULT_RUN_WORKER", tool("dcp-worker"))
            .env("FAULT_RUN_RECORDS", self.records())
            .stdin(Stdio::null());
        command
    }

    /// Runs dcp-fleet, which must succeed, and returns its JSON.
    fn fleet(&self, args: &[&str]) -> Value {
        let out = self.command("dcp-fleet").args(args).output().unwrap();
        serde_json::from_str(&stdout_ok(out)).unwrap()
    }

    /// The queue's counts, read from the queue file.
    fn counts(&self) -> Counts {
        self.runtime.block_on(self.queue.counts()).unwrap()
    }

    /// Waits until fewer than `visible` tasks are visible.
    fn wait_for_visible_below(&self, visible: u64) {
        wait_until(&format!("fewer than {visible} visible tasks"), || {
            self.counts().visible < visible
        });
    }

    /// The worker a wrapper launched, once the wrapper has recorded it.
    fn worker_of(&self, wrapper: u32) -> Worker {
        let file = self.records().join(format!("{wrapper}.child"));
        let mut pid = None;
        wait_until(&format!("the worker of wrapper {wrapper}"), || {
            pid = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse().ok());
            pid.is_some()
        });
        Worker {
            wrapper,
            pid: pid.unwrap(),
        }
    }

    /// The fleet's workers that are running, from `fleet.json`.
    fn live_workers(&self) -> Vec<Worker> {
        let text = std::fs::read_to_string(self.run_dir().join("fleet.json")).unwrap();
        let state: Value = serde_json::from_str(&text).unwrap();
        state["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["stopped"].is_null())
            .map(|w| self.worker_of(w["pid"].as_u64().unwrap() as u32))
            .filter(|w| is_running(w.pid))
            .collect()
    }

    /// Every worker launched so far (each wrapper records its worker).
    fn launched_workers(&self) -> Vec<Worker> {
        let mut workers: Vec<Worker> = std::fs::read_dir(self.records())
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".child")?.parse().ok()
            })
            .map(|wrapper| self.worker_of(wrapper))
            .collect();
        workers.sort();
        workers
    }

    /// `kill -9` of `count` running workers; once the fleet sees them gone, `dcp-fleet
    /// scale` starts as many. Returns the killed workers.
    fn kill_and_restart(&self, count: usize) -> Vec<Worker> {
        let live = self.live_workers();
        assert_eq!(live.len(), WORKERS, "every worker runs before a kill");
        let victims = live[..count].to_vec();
        for victim in &victims {
            signal(victim.pid, "KILL");
        }
        wait_until("the fleet to see the killed workers gone", || {
            self.fleet(&["status"])["alive"] == WORKERS - count
        });
        let scaled = self.fleet(&["scale", &WORKERS.to_string()]);
        assert_eq!(scaled["alive"], WORKERS, "{scaled}");
        assert_eq!(scaled["launched"].as_array().unwrap().len(), count);
        assert_eq!(self.live_workers().len(), WORKERS);
        victims
    }

    /// Removes `count` queued tasks that no worker has received yet: receives them and
    /// deletes them. Tasks received before (by a worker) are handed back untouched.
    fn remove_queued(&self, count: usize) -> Vec<TaskId> {
        let mut removed = Vec::new();
        let start = Instant::now();
        while removed.len() < count {
            assert!(start.elapsed() < WAIT_LIMIT, "cannot remove {count} tasks");
            let received = self
                .runtime
                .block_on(self.queue.receive(count - removed.len(), Duration::ZERO))
                .unwrap();
            for message in received {
                if message.receive_count > 1 {
                    self.runtime
                        .block_on(
                            self.queue
                                .change_visibility(&message.receipt, Duration::ZERO),
                        )
                        .unwrap();
                    continue;
                }
                let (pairs, prefix) = Task::from_body(&message.body).unwrap().resolve().unwrap();
                self.runtime
                    .block_on(self.queue.delete_message(&message.receipt))
                    .unwrap();
                removed.push(TaskId {
                    prefix,
                    group: join_pairs(&pairs),
                });
            }
        }
        removed.sort();
        removed
    }

    /// Runs dcp-watch until it exits; returns its exit code and its JSON lines.
    fn watch_until_drained(&mut self) -> (Option<i32>, Vec<Value>) {
        let stdout = self.path().join("watch.jsonl");
        let child = self
            .command("dcp-watch")
            .args(["--interval", "0.5"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(self.path().join("watch.log")).unwrap())
            .spawn()
            .unwrap();
        let watch = self.watch.insert(child);
        let start = Instant::now();
        let status = loop {
            if let Some(status) = watch.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < WATCH_LIMIT,
                "dcp-watch did not drain the run within {WATCH_LIMIT:?}"
            );
            std::thread::sleep(POLL);
        };
        self.watch = None;
        let lines = std::fs::read_to_string(&stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (status.code(), lines)
    }

    /// `(wrapper, worker) → exit status` of every worker that has ended.
    fn exits(&self) -> BTreeMap<Worker, i32> {
        let text = std::fs::read_to_string(self.records().join("exits")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let worker = Worker {
                    wrapper: fields[0].parse().unwrap(),
                    pid: fields[1].parse().unwrap(),
                };
                (worker, fields[2].parse().unwrap())
            })
            .collect()
    }

    /// How many attempts ended with each status, from the workers' outcome lines.
    fn attempts_by_status(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in std::fs::read_dir(self.run_dir().join("workers")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "jsonl") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let outcome: Value = serde_json::from_str(line).unwrap();
                let status = outcome["status"].as_str().unwrap().to_owned();
                *counts.entry(status).or_default() += 1;
            }
        }
        counts
    }

    /// Whether `pid` is a process of this run (its command line names the run folder).
    fn is_ours(&self, pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            String::from_utf8_lossy(&cmdline).contains(&*self.path().to_string_lossy())
        })
    }
}

impl Run {
    /// With `FAULT_RUN_KEEP` set, keeps the run folder of a failed test for a look.
    fn keep_for_debugging(&mut self) {
        if std::env::var_os("FAULT_RUN_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

impl Drop for Run {
    /// Kills whatever the test started that still runs: the monitor, every worker and its
    /// wrapper (CellProfiler stand-ins die with their worker).
    fn drop(&mut self) {
        if let Some(watch) = &mut self.watch {
            let _ = watch.kill();
            let _ = watch.wait();
        }
        let entries = std::fs::read_dir(self.records()).into_iter().flatten();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(wrapper) = name.strip_suffix(".child") else {
                continue;
            };
            let worker = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for pid in [worker.trim(), wrapper] {
                if let Ok(pid) = pid.parse::<u32>()
                    && self.is_ours(pid)
                {
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", &pid.to_string()])
                        .status();
                }
            }
        }
        if std::thread::panicking() {
            self.keep_for_debugging();
        }
    }
}

/// Sends `sig` (a name: KILL, STOP, CONT) to `pid`.
fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {sig} {pid}");
}

/// Whether `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        !after_name.starts_with('Z') && !after_name.starts_with('X')
    })
}

/// Polls `ready` until it holds, failing the test after [`WAIT_LIMIT`].
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < WAIT_LIMIT,
            "timed out after {WAIT_LIMIT:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Every file under `root`, relative to it, with `/` between folders.
fn files_under(root: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                files.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files
}

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
