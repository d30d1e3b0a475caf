//! Process work of the embedded fleet: finding the worker program, launching a worker in a
//! session of its own, telling a live worker from a dead one (or from another process that
//! reuses its pid), and stopping workers gracefully.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, setsid};

use crate::embedded::state::{End, WorkerRecord};
use crate::{FleetError, WORKER_ENV};
use dcp_common::outcome::FLEET_SLOT_ENV;

/// How often a stop looks whether its workers are gone.
const POLL: Duration = Duration::from_millis(50);
/// How long a stop waits for killed workers to vanish.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// The worker program: `$DCP_WORKER` when set, else `dcp-worker` next to the running
/// executable, else `dcp-worker` in `PATH`. The path returned is absolute.
pub fn worker_program() -> Result<PathBuf, FleetError> {
    if let Some(program) = std::env::var_os(WORKER_ENV).filter(|p| !p.is_empty()) {
        let program = PathBuf::from(program);
        return Ok(std::path::absolute(&program).unwrap_or(program));
    }
    let exe = std::env::current_exe().map_err(FleetError::io("the running executable"))?;
    let beside = exe.with_file_name("dcp-worker");
    if is_executable(&beside) {
        return Ok(beside);
    }
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("dcp-worker"))
            .find(|p| is_executable(p))
    });
    match in_path {
        Some(found) => Ok(std::path::absolute(&found).unwrap_or(found)),
        None => Err(FleetError::NoWorker {
            beside: exe.parent().map(Path::to_owned).unwrap_or_default(),
        }),
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Launches `program --config CONFIG --wait` as the worker of slot `index` in a new
/// session (so it outlives the shell and terminal that started it), with stdin null, stdout
/// and stderr appended to `outcomes` and `log`, and [`FLEET_SLOT_ENV`] set to the slot (so
/// the worker does not record its outcome lines a second time). Returns its pid; the
/// process is not waited for.
pub fn launch(
    program: &Path,
    config: &Path,
    index: u32,
    outcomes: &Path,
    log: &Path,
) -> Result<u32, FleetError> {
    let append = |path: &Path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(FleetError::io(path))
    };
    let mut command = Command::new(program);
    command
        .arg("--config")
        .arg(config)
        .arg("--wait")
        .env(FLEET_SLOT_ENV, index.to_string())
        .stdin(Stdio::null())
        .stdout(append(outcomes)?)
        .stderr(append(log)?);
    // SAFETY: the closure runs in the forked child before exec and makes only the
    // async-signal-safe setsid(2) call.
    unsafe {
        command.pre_exec(|| setsid().map(drop).map_err(std::io::Error::from));
    }
    let child = command.spawn().map_err(|source| FleetError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    Ok(child.id())
}

/// Whether `pid` is a live worker launched as `program` with settings `config`: the process
/// exists (`kill(pid, 0)`) and its command line holds both paths. A pid reused by another
/// process, or a zombie (whose command line is empty), is not a live worker.
pub fn is_worker(pid: u32, program: &Path, config: &Path) -> bool {
    let Some(target) = as_pid(pid) else {
        return false;
    };
    if kill(target, None).is_err() {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&OsStr> = cmdline
        .split(|&b| b == 0)
        .map(std::os::unix::ffi::OsStrExt::from_bytes)
        .collect();
    args.contains(&program.as_os_str()) && args.contains(&config.as_os_str())
}

/// A pid that is safe to signal: never 0, 1 or negative (which would signal groups or
/// every process).
fn as_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|&p| p > 1)
        .map(Pid::from_raw)
}

/// Stops workers: SIGTERM to each live one (a worker then releases its tasks and exits),
/// up to `grace` for them to exit, then SIGKILL to the process group of each one left.
/// Returns how each ended, in the order given.
pub fn stop(workers: &[&WorkerRecord], config: &Path, grace: Duration) -> Vec<End> {
    let alive = |w: &WorkerRecord| is_worker(w.pid, &w.program, config);
    let mut ends: Vec<Option<End>> = workers
        .iter()
        .map(|w| {
            let signalled =
                alive(w) && as_pid(w.pid).is_some_and(|pid| kill(pid, Signal::SIGTERM).is_ok());
            (!signalled).then_some(End::Exited)
        })
        .collect();
    let pending = |ends: &[Option<End>]| {
        workers
            .iter()
            .zip(ends)
            .any(|(w, end)| end.is_none() && alive(w))
    };
    wait_while(grace, || pending(&ends));
    for (w, end) in workers.iter().zip(ends.iter_mut()) {
        if end.is_some() {
            continue;
        }
        if alive(w) {
            if let Some(pid) = as_pid(w.pid) {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = kill(pid, Signal::SIGKILL);
            }
            *end = Some(End::Killed);
        } else {
            *end = Some(End::Terminated);
        }
    }
    wait_while(KILL_WAIT, || workers.iter().any(|w| alive(w)));
    ends.into_iter().map(|e| e.unwrap_or(End::Exited)).collect()
}

/// Polls `busy` until it is false or `limit` has passed.
fn wait_while(limit: Duration, mut busy: impl FnMut() -> bool) {
    let start = Instant::now();
    while busy() && start.elapsed() < limit {
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests;
