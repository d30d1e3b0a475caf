//! Issue 8, case 6: a `dcp-queue push` killed (SIGKILL) while it sends a large job leaves
//! the embedded queue holding the whole job or none of it, never a part.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dcp_tests::stdout_ok;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-queue");
/// Plates in the plate list; each expands into 384 wells × 9 sites.
const PLATES: usize = 10;
const TASKS: u64 = PLATES as u64 * 384 * 9;

/// A run directory with a queue made and a plate list of [`PLATES`] plates.
fn run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "APP_NAME = \"Killed\"\nAWS_BUCKET = \"bucket\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("template.json"),
        dcp_tests::golden(env!("CARGO_MANIFEST_DIR"), "template.json"),
    )
    .unwrap();
    let plates: String = (0..PLATES).map(|p| format!("BR{p:08}\n")).collect();
    std::fs::write(d.join("plates.csv"), format!("Metadata_Plate\n{plates}")).unwrap();
    stdout_ok(dcp_tests::run(BIN, d, &["create"], ""));
    dir
}

fn push(dir: &Path) -> Child {
    Command::new(BIN)
        .args(["push", "plates.csv", "--job", "template.json"])
        .args(["--plate-format", "384", "--sites", "1-9"])
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn visible(dir: &Path) -> u64 {
    let status: serde_json::Value =
        serde_json::from_str(&stdout_ok(dcp_tests::run(BIN, dir, &["status"], ""))).unwrap();
    status["visible"].as_u64().unwrap()
}

/// How far the open push has written into the queue file: its write-ahead log, in bytes.
fn wal_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("dcp-queue.sqlite-wal")).map_or(0, |m| m.len())
}

/// Pushes the job into a fresh queue; returns the most the push wrote to the log at once.
fn measure_a_push() -> u64 {
    let dir = run_dir();
    let mut child = push(dir.path());
    let mut most = 0;
    while child.try_wait().unwrap().is_none() {
        most = most.max(wal_size(dir.path()));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(visible(dir.path()), TASKS);
    most
}

#[test]
fn a_killed_push_leaves_all_of_the_job_or_none() {
    let most = measure_a_push();
    for fraction in [0.1, 0.5, 0.9] {
        let dir = run_dir();
        let d = dir.path();
        let mut child = push(d);
        let at = (most as f64 * fraction) as u64;
        while child.try_wait().unwrap().is_none() && wal_size(d) < at {
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let held = visible(d);
        assert!(
            held == 0 || held == TASKS,
            "killed with {fraction} of the job written, the queue holds {held} of {TASKS} tasks"
        );
        if fraction == 0.5 {
            assert_eq!(held, 0, "killed before its commit, the push left nothing");
            let mut again = push(d);
            assert!(again.wait().unwrap().success());
            assert_eq!(visible(d), TASKS, "pushing again sends the job once");
        }
    }
}
