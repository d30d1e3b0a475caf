//! Helpers for tests that run the built dcp binaries: find them, run them with stdin, and
//! compare their output with golden files.

pub mod batch_file;
pub mod direct;
pub mod files;
pub mod imds;
pub mod measurements;
pub mod moto;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The path of a dcp binary built in this workspace's target directory (next to the test
/// executable's `deps/`). `cargo test --workspace` builds them, since each tool has
/// integration tests of its own.
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`",
        path.display()
    );
    path
}

/// Runs `bin` in `dir` with `args`, feeding `stdin`, with no `DCP_CONFIG` inherited.
pub fn run(bin: impl AsRef<Path>, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin.as_ref())
        .args(args)
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.as_ref().display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The stdout of a run that must have succeeded (its stderr otherwise).
pub fn stdout_ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of a golden file: `<crate>/tests/golden/<name>`.
pub fn golden(crate_dir: &str, name: &str) -> String {
    let path = Path::new(crate_dir).join("tests/golden").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads the first `n` outcome lines a running `dcp-worker` prints (its stdout piped),
/// then ends it with SIGTERM; returns the lines and how the worker exited.
pub fn outcomes_then_sigterm(
    worker: &mut std::process::Child,
    n: usize,
) -> (Vec<serde_json::Value>, std::process::ExitStatus) {
    use std::io::BufRead;
    let stdout = worker.stdout.take().expect("the worker's stdout is piped");
    let lines: Vec<serde_json::Value> = std::io::BufReader::new(stdout)
        .lines()
        .take(n)
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    (lines, worker.wait().unwrap())
}

/// Asserts a run's exit code, showing its stderr when it differs.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last stdout line, as JSON, of a run that exited with `code` (a watch's summary).
pub fn last_json(out: &Output, code: i32) -> serde_json::Value {
    assert_exit(out, code);
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_else(|| panic!("no output"));
    serde_json::from_str(last).unwrap()
}

/// The CellProfiler `DCP_CELLPROFILER` names, or else the one `scripts/install-cellprofiler`
/// installs (it prints the path; installing takes a minute the first time).
pub fn cellprofiler() -> PathBuf {
    installed("DCP_CELLPROFILER", "install-cellprofiler")
}

/// The Chromium `DCP_CHROMIUM` names, or else the one `scripts/install-chromium` finds or
/// installs (Debian's package; installing needs root).
pub fn chromium() -> PathBuf {
    installed("DCP_CHROMIUM", "install-chromium")
}

/// The path the environment variable `var` names, or else the one `scripts/SCRIPT` prints;
/// it must exist.
fn installed(var: &str, script: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(script);
        let out = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        PathBuf::from(stdout_ok(out).trim_end())
    });
    assert!(
        path.exists(),
        "{} is missing: run scripts/{script} (scripts/test does)",
        path.display()
    );
    path
}

/// DCP's ExampleFly example laid out as a bucket: `../shared/data/examplefly` beside the
/// project, or the folder `DCP_EXAMPLE` names.
pub fn examplefly() -> PathBuf {
    let path = std::env::var_os("DCP_EXAMPLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/examplefly")
        });
    assert!(
        path.join("job.json").exists(),
        "no ExampleFly at {}: set DCP_EXAMPLE",
        path.display()
    );
    std::fs::canonicalize(path).unwrap()
}

/// The CellProfiler stand-in of `tests/fixtures` (its modes are in its header), for tests
/// of dcp's own handling of success and failure.
pub const STANDIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cellprofiler-standin");

/// The warm runner's stand-in of `tests/fixtures` (its modes are in its header).
pub const WARM_STANDIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/warm-runner-standin");

/// Writes a bucket for the stand-in under `dir/bucket`: a pipeline `w/p.cppipe`, a
/// load-data CSV `w/load_data.csv` of plates P1..P3 whose images are `img/<plate>.tif`.
pub fn standin_bucket(dir: &Path) {
    std::fs::create_dir_all(dir.join("bucket/w")).unwrap();
    std::fs::create_dir_all(dir.join("bucket/img")).unwrap();
    std::fs::write(dir.join("bucket/w/p.cppipe"), "pipeline").unwrap();
    let mut csv = String::from("Metadata_Plate,FileName_DNA,PathName_DNA\n");
    for plate in ["P1", "P2", "P3"] {
        std::fs::write(dir.join(format!("bucket/img/{plate}.tif")), "image").unwrap();
        csv.push_str(&format!("{plate},{plate}.tif,/home/ubuntu/bucket/img\n"));
    }
    std::fs::write(dir.join("bucket/w/load_data.csv"), csv).unwrap();
}
