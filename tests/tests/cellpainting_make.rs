//! The Cell Painting example (`examples/cellpainting/`) with make, on the embedded backend
//! with REAL CellProfiler: a generated screen of 2 plates × 2 wells × 2 sites, per plate an
//! illum batch then an analysis batch, plates side by side on one queue and one fleet.
//! A missing image in P2's analysis makes only `analysis-P2` exit 3; after the image is
//! restored, `dcp-queue redrive --batch analysis-P2` and `make` finish the screen, and no
//! task that was done runs again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dcp_tests::{stdout_ok, tool};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cellpainting");
const PLATE_TOOL: &str = "/work/shared/tools/make-cellpainting-plate";
const PIPELINES: &str = "/work/shared/data/cellpainting/pipelines";
const ILLUM: [&str; 5] = ["AGP", "DNA", "ER", "Mito", "RNA"];
const SITES: [&str; 4] = ["A01-1", "A01-2", "A02-1", "A02-2"];
/// P2, well A01 (r01c01), site 1 (f01), Mito (ch1): the image the failure removes.
const MISSING: &str = "images/P2/r01c01f01p01-ch1sk1fk1fl1.tiff";

/// Runs make on the example's Makefile in the run folder `dir`.
fn make(dir: &Path, args: &[&str]) -> Output {
    let bin = tool("dcp-queue").parent().unwrap().to_owned();
    Command::new("make")
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .env_remove("MAKEFLAGS")
        .arg("-f")
        .arg(Path::new(EXAMPLE).join("Makefile"))
        .arg(format!("DCP_BIN={}/", bin.display()))
        .arg("INTERVAL=1")
        .args(args)
        .output()
        .expect("make is installed")
}

/// The generated screen in `dir/plate` and the example's settings, pointed at CellProfiler.
fn screen(dir: &Path, cellprofiler: &Path) -> PathBuf {
    let python = cellprofiler.parent().unwrap().join("python");
    let plate = dir.join("plate");
    let out = Command::new(python)
        .arg(PLATE_TOOL)
        .args(["--out", plate.to_str().unwrap(), "--pipelines", PIPELINES])
        .args(["--plates", "P1,P2", "--wells", "A01,A02", "--sites", "1-2"])
        .args(["--size", "540", "--seed", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings = std::fs::read_to_string(Path::new(EXAMPLE).join("dcp.toml"))
        .unwrap()
        .replace(
            "CELLPROFILER = \"cellprofiler\"",
            &format!("CELLPROFILER = \"{}\"", cellprofiler.display()),
        )
        .replace("JOB_RETRIES = 2", "JOB_RETRIES = 1");
    assert!(settings.contains(&cellprofiler.display().to_string()));
    std::fs::write(dir.join("dcp.toml"), settings).unwrap();
    plate
}

/// The batch summaries make's targets printed, by batch.
fn summaries(out: &Output) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["finished"] == true)
        .map(|v| (v["batch"].as_str().unwrap().to_owned(), v))
        .collect()
}

/// Every outcome line of the run's workers.
fn outcomes(plate: &Path) -> Vec<Value> {
    let dir = plate.join("runs/CellPainting/workers");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(&path).unwrap();
            all.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()),
            );
        }
    }
    all
}

fn done_counts(summary: &Value) -> (u64, u64) {
    let counts = &summary["counts"];
    (
        counts["done"].as_u64().unwrap(),
        counts["dead"].as_u64().unwrap(),
    )
}

/// Stops the run's embedded fleet when the test ends, passed or panicked: `dcp-fleet stop`,
/// then SIGKILL to any `dcp-worker --wait` of the fleet record still alive.
struct StopFleet<'a> {
    dir: &'a Path,
    record: PathBuf,
}

impl Drop for StopFleet<'_> {
    fn drop(&mut self) {
        let _ = dcp_tests::run(tool("dcp-fleet"), self.dir, &["stop", "--grace", "5"], "");
        let record: Value = std::fs::read_to_string(&self.record)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let pids = record["workers"].as_array().into_iter().flatten();
        for pid in pids.filter_map(|w| w["pid"].as_u64()) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("dcp-worker") && cmdline.contains("--wait") {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

#[test]
fn a_screen_runs_plate_by_plate_with_make_and_resumes_after_a_failure() {
    let cellprofiler = dcp_tests::cellprofiler();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plate = screen(d, &cellprofiler);
    let _stop = StopFleet {
        dir: d,
        record: plate.join("runs/CellPainting/fleet.json"),
    };

    // Both plates' illum steps side by side.
    let illum = make(d, &["-j2", "illum-P1", "illum-P2"]);
    assert!(
        illum.status.success(),
        "{}",
        String::from_utf8_lossy(&illum.stderr)
    );
    let found = summaries(&illum);
    for p in ["P1", "P2"] {
        assert_eq!(done_counts(&found[&format!("illum-{p}")]), (1, 0));
        for channel in ILLUM {
            let npy = plate.join(format!("illum/{p}/{p}_Illum{channel}.npy"));
            assert!(npy.metadata().unwrap().len() > 0, "{}", npy.display());
        }
    }

    // An image of P2's analysis goes missing: only analysis-P2 fails, with exit 3.
    let saved = d.join("saved.tiff");
    std::fs::rename(plate.join(MISSING), &saved).unwrap();
    let failed = make(d, &["-j4", "-k"]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("analysis-P2] Error 3"), "{stderr}");
    assert!(!stderr.contains("analysis-P1] Error"), "{stderr}");
    assert!(!stderr.contains("illum-"), "{stderr}");
    let found = summaries(&failed);
    assert_eq!(done_counts(&found["analysis-P1"]), (4, 0));
    assert_eq!(done_counts(&found["analysis-P2"]), (3, 1));
    let letter = &found["analysis-P2"]["dead_letters"][0];
    assert_eq!(letter["output"], "analysis/P2/A01-1");
    assert_eq!(letter["last_failure"]["status"], "input-problem");
    assert!(!found.contains_key("all"));

    // Restored, redriven, and make again: the screen is finished and the fleet stopped.
    std::fs::rename(&saved, plate.join(MISSING)).unwrap();
    let redrive = ["redrive", "--batch", "analysis-P2"];
    let redriven = stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &redrive, ""));
    assert!(redriven.contains("\"redriven\":1"), "{redriven}");
    let finished = make(d, &["-j4"]);
    assert!(
        finished.status.success(),
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let found = summaries(&finished);
    for p in ["P1", "P2"] {
        assert_eq!(done_counts(&found[&format!("analysis-{p}")]), (4, 0));
        for site in SITES {
            let folder = plate.join(format!("analysis/{p}/{site}"));
            for table in ["Image", "Nuclei", "Cells", "Cytoplasm"] {
                let csv = std::fs::read_to_string(folder.join(format!("{table}.csv"))).unwrap();
                assert!(csv.lines().count() > 1, "{p} {site}: {table}.csv has rows");
            }
        }
    }
    let drained = String::from_utf8_lossy(&finished.stdout);
    assert!(drained.contains("\"drained\":true"), "{drained}");
    assert!(plate.join("runs/CellPainting/report.json").exists());

    // Each task ran once, but the one that failed, which ran once more.
    let mut attempts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in outcomes(&plate) {
        let key = format!("{} {}", o["output"].as_str().unwrap(), o["group"]);
        attempts
            .entry(key)
            .or_default()
            .push(o["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(attempts.len(), 10, "{attempts:?}");
    for (task, statuses) in &mut attempts {
        statuses.sort();
        if task.starts_with("analysis/P2/A01-1 ") {
            assert_eq!(statuses, &["input-problem", "success"], "{task}");
        } else {
            assert_eq!(statuses, &["success"], "{task}");
        }
    }
}
