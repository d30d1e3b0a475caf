//! The run of the fault test: its folder, queue file, fleet and the processes the test
//! starts, with the waits and signals the test uses.

use super::*;

/// Runs `dcp-worker` (`$FAULT_RUN_WORKER`) with the fleet's arguments, writes its pid to
/// `$FAULT_RUN_RECORDS/<wrapper pid>.child`, forwards SIGTERM and SIGINT to it, and when it
/// ends appends `<wrapper pid> <worker pid> <exit status>` to `$FAULT_RUN_RECORDS/exits`.
pub const WRAPPER: &str = r#"#!/bin/sh
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
pub struct TaskId {
    /// The output prefix, `out/P01`.
    pub prefix: String,
    /// The group, `Metadata_Plate=P01,Metadata_Site=1`.
    pub group: String,
}

impl TaskId {
    /// The file the stand-in writes for the group, relative to the prefix.
    pub fn file_name(&self) -> String {
        format!("{}.csv", self.group.replace(',', "_").replace('=', "-"))
    }

    /// The file's exact content.
    pub fn content(&self) -> String {
        format!("Group\n{}\n", self.group)
    }
}

/// Every task of the job, in push order.
pub fn all_tasks() -> Vec<TaskId> {
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
pub struct Worker {
    wrapper: u32,
    pub pid: u32,
}

/// The run folder, its queue file opened by the test, and every process the test started
/// (killed on drop, so a failed test leaves nothing behind).
pub struct Run {
    runtime: tokio::runtime::Runtime,
    queue: EmbeddedQueue,
    watch: Option<Child>,
    dir: tempfile::TempDir,
}

impl Run {
    /// A run with its queue created and the job's 1,000 tasks pushed.
    pub fn new() -> Run {
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

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run_dir(&self) -> PathBuf {
        self.path().join("run/runs").join(APP)
    }

    pub fn records(&self) -> PathBuf {
        self.path().join("records")
    }

    /// A dcp tool in the run folder, with the stand-in's mode and the worker wrapper.
    pub fn command(&self, name: &str) -> Command {
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
    pub fn fleet(&self, args: &[&str]) -> Value {
        let out = self.command("dcp-fleet").args(args).output().unwrap();
        serde_json::from_str(&stdout_ok(out)).unwrap()
    }

    /// The queue's counts, read from the queue file.
    pub fn counts(&self) -> Counts {
        self.runtime.block_on(self.queue.counts()).unwrap()
    }

    /// Waits until fewer than `visible` tasks are visible.
    pub fn wait_for_visible_below(&self, visible: u64) {
        wait_until(&format!("fewer than {visible} visible tasks"), || {
            self.counts().visible < visible
        });
    }

    /// The worker a wrapper launched, once the wrapper has recorded it.
    pub fn worker_of(&self, wrapper: u32) -> Worker {
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
    pub fn live_workers(&self) -> Vec<Worker> {
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
    pub fn launched_workers(&self) -> Vec<Worker> {
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
    pub fn kill_and_restart(&self, count: usize) -> Vec<Worker> {
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
    pub fn remove_queued(&self, count: usize) -> Vec<TaskId> {
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
    pub fn watch_until_drained(&mut self) -> (Option<i32>, Vec<Value>) {
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
    pub fn exits(&self) -> BTreeMap<Worker, i32> {
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
    pub fn attempts_by_status(&self) -> BTreeMap<String, usize> {
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
    pub fn is_ours(&self, pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            String::from_utf8_lossy(&cmdline).contains(&*self.path().to_string_lossy())
        })
    }
}

impl Run {
    /// With `FAULT_RUN_KEEP` set, keeps the run folder of a failed test for a look.
    pub fn keep_for_debugging(&mut self) {
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
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {sig} {pid}");
}

/// Whether `pid` exists and is not a zombie.
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        !after_name.starts_with('Z') && !after_name.starts_with('X')
    })
}

/// Polls `ready` until it holds, failing the test after [`WAIT_LIMIT`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
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
pub fn files_under(root: &Path) -> BTreeSet<String> {
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
