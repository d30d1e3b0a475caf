//! The warm CellProfiler runner: one long-lived process per worker copy, in CellProfiler's
//! own Python (`warm/runner.py`, run as `python -c`), that imports CellProfiler and loads
//! its modules once, then runs task after task with CellProfiler's own headless path
//! (`cellprofiler.__main__.run_pipeline_headless`: a fresh pipeline and fresh measurements
//! per task). One JSON request and one JSON reply per task over its stdin and stdout; while
//! a task runs, CellProfiler's output is appended to the task's log.
//!
//! The runner is replaced after RUNNER_MAX_TASKS tasks, or when its resident size after a
//! task exceeds RUNNER_MAX_RSS_MB, and at once when it dies. A task it was running when it
//! died fails as `cellprofiler-failed`. Dropping a task's future (the task cancelled)
//! kills the runner's whole process group at once, as for a cold run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use dcp_common::Config;
use dcp_common::config::RunnerMode;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The runner, passed to CellProfiler's Python as `-c RUNNER`; its header documents the
/// protocol.
const RUNNER: &str = include_str!("warm/runner.py");

/// How many lines of the runner's own log a failure quotes.
const TAIL_LINES: usize = 5;

/// Why a warm run gave no exit code.
#[derive(Debug, thiserror::Error)]
pub enum WarmError {
    /// The runner could not be started.
    #[error("cannot start the warm CellProfiler runner with {python}: {source}")]
    Start {
        /// CellProfiler's Python.
        python: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The runner died (or closed its reply channel) while it ran the task.
    #[error("the warm CellProfiler runner (pid {pid}) died while running the task: {status}{tail}")]
    Died {
        /// Its process id.
        pid: u32,
        /// How it ended.
        status: String,
        /// The last lines of its own log, as ` (its log ends: …)`, when it has any.
        tail: String,
    },
}

/// A finished warm run.
#[derive(Debug)]
pub struct WarmRun {
    /// What `cellprofiler -c -r` would have exited with.
    pub exit_code: i32,
    /// The runner's resident size after the task, in MB (0 when unknown).
    pub rss_mb: u64,
    /// The runner's tasks so far, this one included.
    pub tasks: u32,
    /// Its process id.
    pub pid: u32,
}

/// How one worker copy runs CellProfiler (CELLPROFILER_RUNNER).
pub enum Launch {
    /// `cellprofiler -c -r` per task; with the reason when warm was asked for but
    /// CELLPROFILER has no Python of its own.
    Cold(Option<String>),
    /// The copy's warm runner.
    Warm(Box<WarmRunner>),
}

impl Launch {
    /// What `config` asks for; a warm runner's own log goes to `own_log`.
    pub fn of(config: &Config, own_log: PathBuf) -> Self {
        match config.cellprofiler_runner {
            RunnerMode::Cold => Launch::Cold(None),
            RunnerMode::Warm => match WarmRunner::new(config, own_log) {
                Ok(runner) => Launch::Warm(Box::new(runner)),
                Err(why) => Launch::Cold(Some(why)),
            },
        }
    }
}

/// One worker copy's runner: started as the copy starts (or on first use), replaced as
/// the module doc says.
pub struct WarmRunner {
    python: PathBuf,
    shared: Vec<OsString>,
    own_log: PathBuf,
    max_tasks: u32,
    max_rss_mb: u64,
    process: Option<Process>,
}

#[derive(Deserialize)]
struct Reply {
    exit_code: i32,
}

impl WarmRunner {
    /// A runner for `config`'s CellProfiler, with its own log (CellProfiler's output
    /// between tasks) at `own_log`; `Err` says why CELLPROFILER has no Python of its own
    /// to run it with (a stand-in), so tasks must run cold.
    pub fn new(config: &Config, own_log: PathBuf) -> Result<Self, String> {
        let python = dcp_common::cellprofiler::python(&config.cellprofiler)?;
        Ok(WarmRunner {
            python,
            shared: crate::cellprofiler::shared_args(config),
            own_log,
            max_tasks: config.runner_max_tasks.max(1),
            max_rss_mb: config.runner_max_rss_mb.into(),
            process: None,
        })
    }

    /// Runs one task: `args` are its CellProfiler arguments (the cold argv without the
    /// command), `log` the task's log file. The runner is started first when none runs.
    pub async fn run(&mut self, args: &[OsString], log: &Path) -> Result<WarmRun, WarmError> {
        let mut process = match self.process.take() {
            Some(process) => process,
            None => self.start()?,
        };
        let request = serde_json::json!({
            "argv": args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
            "log": log.to_string_lossy(),
        });
        let mut line = request.to_string();
        line.push('\n');
        // Held in this future: dropping it (the task cancelled) kills the runner.
        let reply = process.ask(&line).await;
        let Some(reply) = reply else {
            let pid = process.pid;
            let status = process.ended().await;
            let tail = tail(&self.own_log);
            // Started at once, so that it is ready for the next task.
            self.process = self.start().ok();
            return Err(WarmError::Died { pid, status, tail });
        };
        process.tasks += 1;
        let run = WarmRun {
            exit_code: reply.exit_code,
            rss_mb: rss_mb(process.pid).unwrap_or(0),
            tasks: process.tasks,
            pid: process.pid,
        };
        if run.tasks >= self.max_tasks || run.rss_mb > self.max_rss_mb {
            drop(process);
            self.process = self.start().ok();
        } else {
            self.process = Some(process);
        }
        Ok(run)
    }

    /// Starts the runner ahead of the first task, so that CellProfiler's imports overlap
    /// with the task's download and pipeline check; a failure is left for the first task
    /// to meet (and report).
    pub fn start_early(&mut self) {
        if self.process.is_none() {
            self.process = self.start().ok();
        }
    }

    /// Whether the next task starts a new runner.
    pub fn starts_next(&self) -> bool {
        self.process.is_none()
    }

    /// The limits, as the task log states them.
    pub fn limits(&self) -> String {
        format!(
            "replaced after {} tasks or above {} MB resident",
            self.max_tasks, self.max_rss_mb
        )
    }

    fn start(&self) -> Result<Process, WarmError> {
        let error = |source| WarmError::Start {
            python: self.python.display().to_string(),
            source,
        };
        if let Some(folder) = self.own_log.parent() {
            std::fs::create_dir_all(folder).map_err(error)?;
        }
        let own_log = std::fs::File::create(&self.own_log).map_err(error)?;
        let mut command = tokio::process::Command::new(&self.python);
        crate::cellprofiler::environment(&mut command);
        command
            .arg("-c")
            .arg(RUNNER)
            .args(&self.shared)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(own_log)
            .process_group(0)
            .kill_on_drop(true);
        crate::cellprofiler::die_with_worker(&mut command);
        let mut child = command.spawn().map_err(error)?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        Ok(Process {
            pid: child.id().unwrap_or(0),
            child,
            stdin,
            replies: BufReader::new(stdout),
            tasks: 0,
        })
    }
}

/// A running runner; dropping it kills its process group.
struct Process {
    pid: u32,
    child: Child,
    stdin: ChildStdin,
    replies: BufReader<ChildStdout>,
    tasks: u32,
}

impl Process {
    /// Sends one request line; its reply, or `None` when the runner is gone.
    async fn ask(&mut self, line: &str) -> Option<Reply> {
        self.stdin.write_all(line.as_bytes()).await.ok()?;
        self.stdin.flush().await.ok()?;
        let mut reply = String::new();
        match self.replies.read_line(&mut reply).await {
            Ok(n) if n > 0 => serde_json::from_str(&reply).ok(),
            _ => None,
        }
    }

    /// How the runner ended (killed when it still runs, having broken the protocol).
    async fn ended(&mut self) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => status,
            _ => {
                self.kill();
                match self.child.wait().await {
                    Ok(status) => status,
                    Err(e) => return e.to_string(),
                }
            }
        };
        status.to_string()
    }

    fn kill(&self) {
        if let Ok(pid) = i32::try_from(self.pid)
            && pid > 0
        {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The resident size of process `pid` in MB, from `/proc/PID/status` (`VmRSS`, in kB).
fn rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// ` (its log ends: A | B)` with the last lines of `path`, or nothing.
fn tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let from = lines.len().saturating_sub(TAIL_LINES);
    format!(" (its log ends: {})", lines[from..].join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_of_this_process_is_known() {
        let mb = rss_mb(std::process::id()).unwrap();
        assert!(mb > 0 && mb < 100_000, "{mb}");
        assert_eq!(rss_mb(u32::MAX), None);
    }

    #[test]
    fn tail_quotes_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runner.log");
        assert_eq!(tail(&log), "");
        let text: String = (1..=8).map(|n| format!("line {n}\n\n")).collect();
        std::fs::write(&log, text).unwrap();
        assert_eq!(
            tail(&log),
            " (its log ends: line 4 | line 5 | line 6 | line 7 | line 8)"
        );
    }
}
