//! REAL CellProfiler: a warm runner gives the results of a cold run, cell for cell
//! (numbers within [`measurements::TOLERANCE`] relative, `ImageNumber` included), for every
//! ExampleFly group and every site of the analysis step of a generated Cell Painting plate,
//! although one runner runs them all, in two different orders, after other tasks (another
//! group, the plate's illumination step with another pipeline). The cold runs go alongside
//! in a run of their own (`CELLPROFILER_RUNNER = "cold"`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dcp_tests::measurements::{self, read as table};
use dcp_tests::{stdout_ok, tool};

/// Columns whose cells may differ between runs: execution times and paths.
const VARIES: [&str; 5] = [
    "ExecutionTime_",
    "PathName_",
    "URL_",
    "ObjectsPathName_",
    "ObjectsURL_",
];
const TABLES: [&str; 4] = ["Image", "Nuclei", "Cells", "Cytoplasm"];

/// A run folder `dir/name` with one copy: its settings, `extra` added, and its queue.
fn run_dir(dir: &Path, name: &str, buckets: &str, extra: &str) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir_all(&run).unwrap();
    let settings = format!(
        "APP_NAME = \"{name}\"\nAWS_BUCKET = \"run\"\n{buckets}\nCELLPROFILER = \"{}\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 300\n\
         DOCKER_CORES = 1\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n{extra}\n",
        dcp_tests::cellprofiler().display()
    );
    std::fs::write(run.join("dcp.toml"), settings).unwrap();
    stdout_ok(dcp_tests::run(tool("dcp-queue"), &run, &["create"], ""));
    run
}

fn push(run: &Path, job: &serde_json::Value) {
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        run,
        &["push"],
        &job.to_string(),
    ));
}

fn worker(run: &Path) -> Child {
    Command::new(tool("dcp-worker"))
        .current_dir(run)
        .env_remove("DCP_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The worker's outcome lines, all successes, in the order they ran.
fn succeeded(child: Child) -> Vec<serde_json::Value> {
    let lines: Vec<serde_json::Value> = stdout_ok(child.wait_with_output().unwrap())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");
    lines
}

/// The warm run's tasks ran in one runner, started once, which logged the time of
/// ExportToSpreadsheet's post_run (where it writes the CSVs) for each task writing CSVs.
fn assert_one_runner(bucket: &Path, lines: &[serde_json::Value]) {
    for (n, line) in lines.iter().enumerate() {
        let log = std::fs::read_to_string(bucket.join(line["log"].as_str().unwrap())).unwrap();
        assert!(
            log.contains(&format!("task {} done", n + 1)),
            "task {} of one runner: {log}",
            n + 1
        );
        let post_runs: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with("dcp-worker: post_run of module ExportToSpreadsheet # "))
            .collect();
        let exports = line["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o.as_str().unwrap().ends_with(".csv"));
        assert_eq!(post_runs.len(), usize::from(exports), "{log}");
        for post_run in post_runs {
            let seconds = post_run.rsplit_once("Wall_time = ").unwrap().1;
            let seconds: f64 = seconds.strip_suffix(" secs").unwrap().parse().unwrap();
            assert!(seconds > 0.0, "{post_run}");
        }
    }
}

fn assert_same_tables(warm: &Path, cold: &Path) {
    for name in TABLES {
        let file = format!("{name}.csv");
        assert!(
            table(&warm.join(&file))
                .0
                .iter()
                .any(|h| h == "ImageNumber")
        );
        measurements::assert_same(warm, cold, &file, &VARIES);
    }
}

fn examplefly_job(output: &str, positions: &[&str]) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = positions
        .iter()
        .map(|p| serde_json::json!({"Metadata": format!("Metadata_Position={p}")}))
        .collect();
    serde_json::json!({
        "pipeline": "demo_project_folder/workspace/ExampleFly.cppipe",
        "data_file": "demo_project_folder/workspace/load_data.csv",
        "input": "demo_project_folder/workspace/",
        "output": output,
        "output_structure": "Metadata_Position",
        "groups": groups,
    })
}

#[test]
fn examplefly_groups_warm_in_two_orders_equal_cold() {
    let example = dcp_tests::examplefly();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let buckets = format!(
        "SOURCE_BUCKET = \"{}\"\nDESTINATION_BUCKET = \"results\"",
        example.display()
    );
    let warm = run_dir(d, "Warm", &buckets, "CELLPROFILER_RUNNER = \"warm\"");
    let cold = run_dir(d, "Cold", &buckets, "CELLPROFILER_RUNNER = \"cold\"");
    push(&warm, &examplefly_job("a", &["2", "76", "218"]));
    push(&warm, &examplefly_job("b", &["218", "76", "2"]));
    push(&cold, &examplefly_job("cold", &["2", "76", "218"]));
    let (warm_run, cold_run) = (worker(&warm), worker(&cold));
    let (warm_lines, _) = (succeeded(warm_run), succeeded(cold_run));
    assert_eq!(warm_lines.len(), 6);
    let results = warm.join("results");
    assert_one_runner(&results, &warm_lines);
    for position in ["2", "76", "218"] {
        let cold = cold.join("results/cold").join(position);
        for order in ["a", "b"] {
            assert_same_tables(&results.join(order).join(position), &cold);
        }
    }
}

/// A plate P1 of one well, two sites, 540 px, as a bucket at `dir`.
fn plate(dir: &Path) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let made = Command::new(dcp_tests::cellprofiler().with_file_name("python"))
        .arg(shared.join("tools/make-cellpainting-plate"))
        .arg("--out")
        .arg(dir)
        .arg("--pipelines")
        .arg(shared.join("data/cellpainting/pipelines"))
        .args(["--plates", "P1", "--wells", "A01", "--sites", "1-2"])
        .args(["--size", "540", "--seed", "0"])
        .output()
        .unwrap();
    stdout_ok(made);
}

fn plate_job(name: &str, output: &str, sites: &[u32]) -> serde_json::Value {
    let mut job: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{name}.json")).unwrap()).unwrap();
    job["output"] = output.into();
    if !sites.is_empty() {
        job["groups"] = sites
            .iter()
            .map(|s| {
                serde_json::json!({
                    "Metadata": format!("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site={s}")
                })
            })
            .collect();
    }
    job
}

/// The analysis pipeline is an older one that CellProfiler upgrades as it loads it
/// (MeasureCorrelation → MeasureColocalization, whose image pairs come from a Python set): the
/// warm sites equal the cold ones, which run in processes of their own, only if every process
/// orders the set alike.
#[test]
fn cell_painting_sites_warm_in_two_orders_equal_cold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A plate each (the same: the generator is deterministic), read and written by its run:
    // the analysis step reads the illumination step's output from the source bucket.
    let run = |name: &str, extra: &str, analyses: &[(&str, &[u32])]| {
        let bucket = d.join(format!("{name}-plate"));
        plate(&bucket);
        let jobs = bucket.join("jobs");
        let buckets = format!(
            "SOURCE_BUCKET = \"{0}\"\nDESTINATION_BUCKET = \"{0}\"",
            bucket.display()
        );
        let run = run_dir(d, name, &buckets, extra);
        push(
            &run,
            &plate_job(jobs.join("illum").to_str().unwrap(), "illum", &[]),
        );
        for (output, sites) in analyses {
            push(
                &run,
                &plate_job(jobs.join("analysis").to_str().unwrap(), output, sites),
            );
        }
        (bucket, worker(&run))
    };
    let (warm, warm_run) = run(
        "Warm",
        "CELLPROFILER_RUNNER = \"warm\"",
        &[("a", &[1, 2]), ("b", &[2, 1])],
    );
    let (cold, cold_run) = run(
        "Cold",
        "CELLPROFILER_RUNNER = \"cold\"",
        &[("cold", &[1, 2])],
    );
    let (warm_lines, _) = (succeeded(warm_run), succeeded(cold_run));
    assert_eq!(warm_lines.len(), 5, "illum, then four sites");
    assert_one_runner(&warm, &warm_lines);
    for site in ["A01-1", "A01-2"] {
        let cold = cold.join("cold/P1").join(site);
        for order in ["a", "b"] {
            assert_same_tables(&warm.join(order).join("P1").join(site), &cold);
        }
    }
}
