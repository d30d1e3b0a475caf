//! The built dcp-watch binary on a real embedded queue: tasks pushed with dcp-queue, taken
//! and deleted here as a worker would, with the outcome lines a worker prints written into
//! the run folder; and a embedded fleet of stand-in workers for it to stop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dcp_common::outcome::{Outcome, Status};
use dcp_common::queue::Received;
use dcp_common::{Config, EmbeddedQueue, Queue, QueueSpec};
use dcp_tests::{assert_exit, golden, stdout_ok, tool};
use serde_json::{Value, json};

mod batches;
mod drain;
mod fleet;
mod real_worker;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-watch");

/// Held while a script is written or a process started: a child forked while a script is
/// open for writing would make its exec fail with ETXTBSY.
static SPAWN: Mutex<()> = Mutex::new(());

fn spawning() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

struct Run {
    dir: tempfile::TempDir,
    config: Config,
    queue: EmbeddedQueue,
    runtime: tokio::runtime::Runtime,
}

impl Run {
    /// A run with a created queue holding one task per site.
    fn new(settings: &str, sites: &[u32]) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("APP_NAME = \"Watch\"\nAWS_BUCKET = \"bucket\"\n{settings}");
        std::fs::write(dir.path().join("dcp.toml"), toml).unwrap();
        let groups: Vec<Value> = sites
            .iter()
            .map(|s| json!({"Metadata": format!("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site={s}")}))
            .collect();
        let job = json!({"pipeline": "p.cppipe", "data_file": "d.csv", "input": "in", "output": "out", "groups": groups});
        let queue_tool = |args: &[&str], stdin: &str| {
            let _guard = spawning();
            stdout_ok(dcp_tests::run(tool("dcp-queue"), dir.path(), args, stdin))
        };
        queue_tool(&["create"], "");
        queue_tool(&["push"], &job.to_string());
        let config = Config::load(&dir.path().join("dcp.toml")).unwrap();
        let queue =
            EmbeddedQueue::open(&config.queue_file, QueueSpec::from_config(&config)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Run {
            dir,
            config,
            queue,
            runtime,
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.config.local_run_dir()
    }

    fn watch(&self, args: &[&str]) -> Output {
        let _guard = spawning();
        dcp_tests::run(BIN, self.dir.path(), args, "")
    }

    /// Starts dcp-watch in the run folder without waiting for it.
    fn spawn_watch(&self, args: &[&str]) -> Child {
        let _guard = spawning();
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DCP_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn receive(&self, max: usize) -> Vec<Received> {
        self.runtime
            .block_on(self.queue.receive(max, Duration::ZERO))
            .unwrap()
    }

    fn delete(&self, task: &Received) {
        self.runtime
            .block_on(self.queue.delete_message(&task.receipt))
            .unwrap();
    }

    fn release(&self, task: &Received) {
        self.runtime
            .block_on(self.queue.change_visibility(&task.receipt, Duration::ZERO))
            .unwrap();
    }

    /// Appends the outcome line a worker prints for an attempt at `task`, without a start
    /// time.
    fn report(&self, worker: u32, task: &Received, status: Status) {
        self.report_started(worker, task, status, None);
    }

    /// Appends the outcome line a worker prints for an attempt at `task` that started at
    /// `started` (unix seconds).
    fn report_started(&self, worker: u32, task: &Received, status: Status, started: Option<f64>) {
        let body: Value = serde_json::from_str(&task.body).unwrap();
        let group = body["Metadata"].as_str().unwrap().to_owned();
        let site = group.rsplit('=').next().unwrap();
        let outcome = Outcome {
            output: format!("out/P1-A01-{site}"),
            group,
            status,
            seconds: 2.5,
            started,
            copy: None,
            worker: None,
            outputs: if status.is_done() {
                vec!["Image.csv".into()]
            } else {
                Vec::new()
            },
            exit_code: Some(if status.is_done() { 0 } else { 1 }),
            message_id: task.id.clone(),
            receive_count: task.receive_count,
            detail: (!status.is_done()).then(|| "CellProfiler exited with 1".into()),
            log: None,
            batch: task.batch.clone(),
        };
        append(
            &self.run_dir().join(format!("workers/{worker}.jsonl")),
            &serde_json::to_string(&outcome).unwrap(),
        );
    }
}

impl Drop for Run {
    /// Stops a fleet a failed test may have left running.
    fn drop(&mut self) {
        if let Ok(fleet) = dcp_fleet::EmbeddedFleet::new(&self.config) {
            let _ = fleet.stop(Duration::from_secs(1));
        }
    }
}

/// Waits up to `limit` for a dcp-watch to end (killing it if it does not) and returns its
/// output.
fn ended(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("dcp-watch did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A tick line, less its clock.
fn counts(tick: &Value) -> Value {
    let mut tick = tick.clone();
    assert!(tick["elapsed_seconds"].as_u64().unwrap() < 60, "{tick}");
    tick.as_object_mut().unwrap().remove("elapsed_seconds");
    tick
}

fn report(run: &Run) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.run_dir().join("report.json")).unwrap())
        .unwrap()
}
