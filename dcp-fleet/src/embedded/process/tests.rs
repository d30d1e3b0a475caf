use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use super::*;

/// Held while a test writes a script or starts a process: a process forked while another
/// thread still has a script open for writing would make exec of that script fail with
/// ETXTBSY.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn spawning() -> std::sync::MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stand-in worker: logs its arguments and its fleet slot, then sleeps until SIGTERM (or,
/// with `stubborn`, ignores SIGTERM).
fn fake_worker(dir: &Path, stubborn: bool) -> PathBuf {
    let _guard = spawning();
    let path = dir.join("dcp-worker");
    let trap = if stubborn {
        "trap '' TERM"
    } else {
        "trap 'exit 0' TERM"
    };
    let script = format!(
        "#!/bin/sh\n{trap}\necho \"args: $*\" >&2\necho \"slot: $DCP_FLEET_SLOT\" >&2\nwhile :; do sleep 0.05; done\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn record(pid: u32, program: &Path, dir: &Path) -> WorkerRecord {
    WorkerRecord {
        index: 1,
        pid,
        program: program.to_owned(),
        started: dcp_common::file::unix_seconds(),
        outcomes: dir.join("1.jsonl"),
        log: dir.join("1.log"),
        stopped: None,
        end: None,
    }
}

#[test]
fn a_process_that_is_not_the_worker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let program = fake_worker(dir.path(), false);
    let config = dir.path().join("config.json");
    let guard = spawning();
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(guard);
    assert!(!is_worker(sleeper.id(), &program, &config));
    assert!(!is_worker(std::process::id(), &program, &config));
    assert!(!is_worker(0, &program, &config));
    assert!(!is_worker(1, &program, &config));
    assert!(!is_worker(u32::MAX, &program, &config));
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn a_launched_worker_is_live_until_stopped_and_a_zombie_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let program = fake_worker(dir.path(), false);
    let config = dir.path().join("config.json");
    let rec = record(0, &program, dir.path());
    let pid = {
        let _guard = spawning();
        launch(&program, &config, 1, &rec.outcomes, &rec.log).unwrap()
    };
    wait_while(Duration::from_secs(5), || {
        !std::fs::read_to_string(&rec.log).is_ok_and(|l| l.contains("slot"))
    });
    assert!(is_worker(pid, &program, &config));
    assert!(
        !is_worker(pid, &program, &dir.path().join("other.json")),
        "a worker of another fleet is not ours"
    );
    let log = std::fs::read_to_string(&rec.log).unwrap();
    assert_eq!(
        log,
        format!("args: --config {} --wait\nslot: 1\n", config.display()),
        "the worker is told its stdout is recorded"
    );
    let rec = record(pid, &program, dir.path());
    // The test process is the worker's parent and never reaps it: after it exits, the
    // zombie (kill(pid, 0) still succeeds) must count as gone.
    assert_eq!(
        stop(&[&rec], &config, Duration::from_secs(5)),
        [End::Terminated]
    );
    assert!(!is_worker(pid, &program, &config));
    assert_eq!(
        stop(&[&rec], &config, Duration::from_secs(5)),
        [End::Exited]
    );
}

#[test]
fn a_worker_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let program = fake_worker(dir.path(), true);
    let config = dir.path().join("config.json");
    let rec = record(0, &program, dir.path());
    let pid = {
        let _guard = spawning();
        launch(&program, &config, 1, &rec.outcomes, &rec.log).unwrap()
    };
    wait_while(Duration::from_secs(5), || {
        !is_worker(pid, &program, &config)
    });
    // Give the shell time to install its trap before it is signalled.
    wait_while(Duration::from_secs(5), || {
        std::fs::read_to_string(&rec.log).map_or(true, |l| l.is_empty())
    });
    let rec = record(pid, &program, dir.path());
    let start = Instant::now();
    assert_eq!(
        stop(&[&rec], &config, Duration::from_millis(500)),
        [End::Killed]
    );
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert!(!is_worker(pid, &program, &config));
}
