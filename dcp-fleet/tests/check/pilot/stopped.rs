//! SIGTERM to `check --pilot`: whatever it was running ends with it (the pipeline-load
//! probe, CellProfiler's group), and its temporary folders are removed.

use std::time::{Duration, Instant};

use super::measured::real_python_beside_the_standin;
use super::*;

/// The processes whose command line names `dir` (the run folder: its pipeline, its
/// stand-in, its temporary folders).
fn processes_naming(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&dir).then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}

/// Starts the pilot, waits until `ready` holds (at most 60 s), sends SIGTERM; asserts it
/// exits, leaving no process and no temporary folder behind.
fn stop_when(example: &Example, standin: &str, ready: impl Fn() -> bool) {
    let tmp = example.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = Command::new(BIN)
        .args(["check", "--pilot", "job.json"])
        .current_dir(example.dir.path())
        .env_remove("DCP_CONFIG")
        .env("TMPDIR", &tmp)
        .env("STANDIN", standin)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        assert!(child.try_wait().unwrap().is_none(), "the pilot ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
    // SIGKILL to a group is delivered at once, but give the kernel a moment to reap.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processes_naming(example.dir.path()), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new(), "temporary folders left");
}

#[test]
fn sigterm_during_the_pipeline_load_probe_ends_it() {
    let example = with_standin();
    real_python_beside_the_standin(&example);
    let dir = example.dir.path().to_owned();
    stop_when(&example, "ok", || {
        processes_naming(&dir).iter().any(|p| p.contains("python"))
    });
}

#[test]
fn sigterm_while_cellprofiler_runs_ends_it_and_removes_the_pilots_folders() {
    let example = with_standin();
    let dir = example.dir.path().to_owned();
    stop_when(&example, "sleep:30", || {
        processes_naming(&dir).iter().any(|p| p.contains("-o "))
    });
}
