//! The built dcp-fleet binary managing real background processes. The worker is a stand-in
//! script named by DCP_WORKER: it logs its arguments, prints one line on stdout, and
//! sleeps until SIGTERM (or gives up after a minute, so a failed test leaves nothing behind).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use dcp_tests::stdout_ok;
use serde_json::{Value, json};

mod lifecycle;
mod refusals;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-fleet");

/// Held while a script is written or a process started: a child forked while a script is
/// open for writing would make its exec fail with ETXTBSY.
static SPAWN: Mutex<()> = Mutex::new(());

struct Run {
    dir: tempfile::TempDir,
    worker: PathBuf,
}

impl Run {
    /// A folder with a dcp.toml for `workers` local workers and a stand-in worker.
    fn new(workers: u32, worker_script: &str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let toml =
            format!("APP_NAME = \"Fleet\"\nAWS_BUCKET = \"bucket\"\nLOCAL_WORKERS = {workers}\n");
        std::fs::write(dir.path().join("dcp.toml"), toml).unwrap();
        let worker = dir.path().join("dcp-worker");
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::write(&worker, worker_script).unwrap();
        std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
        Run { dir, worker }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("bucket/runs/Fleet")
    }

    fn fleet(&self, args: &[&str]) -> Output {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DCP_CONFIG")
            .env("DCP_WORKER", &self.worker)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&stdout_ok(self.fleet(args))).unwrap()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.fleet(&["stop", "--grace", "1"]);
    }
}

const WORKER: &str = "#!/bin/sh
trap 'echo terminated >&2; exit 0' TERM
echo \"args: $*\" >&2
echo '{\"worker\": \"up\"}'
i=0
while [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
";

fn pids(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| w["pid"].as_u64().unwrap())
        .collect()
}

fn indices(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| w["index"].as_u64().unwrap())
        .collect()
}

/// The session id of a process (field 6 of /proc/PID/stat).
fn session(pid: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(3).unwrap().parse().unwrap()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..100 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
