//! CreateBatchFiles batch files with REAL CellProfiler: a `Batch_data.h5` made from ExampleFly
//! with LoadData (DCP's documented way: pipeline and data_file both the batch file; the
//! NamesAndTypes kind runs in `aws_batch_file.rs`) runs a group through
//! `dcp-worker` on the embedded backend as a direct CellProfiler run of that group does, and
//! batch files that cannot serve a task are refused before CellProfiler starts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dcp_tests::batch_file::Inputs;
use dcp_tests::{stdout_ok, tool};

/// The batch file, made once for the tests of this file (CellProfiler takes seconds).
fn batch_file() -> &'static (tempfile::TempDir, PathBuf) {
    static MADE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let batch = dcp_tests::batch_file::examplefly_batch_file(
            &dcp_tests::examplefly(),
            &dcp_tests::cellprofiler(),
            Inputs::LoadData,
            dir.path(),
        );
        (dir, batch)
    })
}

/// A run folder: settings with the example as SOURCE_BUCKET, a workspace bucket `ws` holding
/// the batch file as `batch/Batch_data.h5`, and the queue created.
fn run_dir(extra: &str) -> tempfile::TempDir {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("ws/batch")).unwrap();
    std::fs::copy(&batch_file().1, d.join("ws/batch/Batch_data.h5")).unwrap();
    let settings = format!(
        "APP_NAME = \"FlyBatch\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\nWORKSPACE_BUCKET = \"ws\"\n\
         DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\nCELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\n\
         SQS_MESSAGE_VISIBILITY = 120\nDOCKER_CORES = 1\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n{extra}\n",
        example.display(),
        cellprofiler.display()
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    dir
}

/// A job of the batch file `data_file` (its pipeline too) and `groups`.
fn job(data_file: &str, groups: &[&str]) -> String {
    let groups: Vec<String> = groups
        .iter()
        .map(|g| format!("{{\"Metadata\": \"{g}\"}}"))
        .collect();
    format!(
        "{{\"pipeline\": \"{data_file}\", \"data_file\": \"{data_file}\", \
         \"input\": \"demo_project_folder/workspace/\", \"output\": \"batch_out\", \
         \"groups\": [{}]}}",
        groups.join(",")
    )
}

fn push(d: &Path, data_file: &str, groups: &[&str]) {
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push"],
        &job(data_file, groups),
    ));
}

fn outcomes(d: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(tool("dcp-worker"))
        .args(["--retry-delay", "0"])
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .output()
        .unwrap();
    stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn column<'a>(csv: &'a str, name: &str) -> Vec<&'a str> {
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    rows.map(|r| r.split(',').nth(i).unwrap()).collect()
}

/// Same header and rows, every cell equal as text or as numbers within 1e-9 relative (the
/// floating-point noise of BLAS threading, which the worker limits to one thread).
fn assert_same_table(got: &str, want: &str, name: &str) {
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(got.len(), want.len(), "{name}: rows");
    assert_eq!(got[0], want[0], "{name}: header");
    let header: Vec<&str> = got[0].split(',').collect();
    for (row, (g, w)) in got.iter().zip(&want).enumerate().skip(1) {
        for ((a, b), column) in g.split(',').zip(w.split(',')).zip(&header) {
            let close = a == b
                || match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
                    _ => false,
                };
            assert!(close, "{name} row {row} {column}: {a} != {b}");
        }
    }
}

#[test]
fn a_batch_files_group_runs_as_a_direct_run_of_it() {
    let run = run_dir("");
    let d = run.path();
    // Zero-padded, as in the load-data CSV: the batch file records 76, and CellProfiler's -g
    // compares text, so the worker passes the recorded value.
    push(d, "batch/Batch_data.h5", &["Metadata_Position=076"]);
    let lines = outcomes(d);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "success", "{}", lines[0]);
    let outputs: Vec<_> = std::fs::read_dir(d.join("results/batch_out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let prefix = &outputs[0];
    let image = std::fs::read_to_string(prefix.join("Image.csv")).unwrap();
    assert_eq!(column(&image, "Metadata_Position"), ["76"]);

    // A direct run of the same group, over the load-data CSV the batch file was made from.
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let direct = d.join("direct");
    std::fs::create_dir_all(&direct).unwrap();
    let out = Command::new(cellprofiler)
        .args(["-e", "imageio_reader", "-c", "-r", "-p"])
        .arg(example.join("demo_project_folder/workspace/ExampleFly.cppipe"))
        .arg(format!(
            "--data-file={}",
            batch_file().0.path().join("local_load_data.csv").display()
        ))
        .arg("-o")
        .arg(&direct)
        .args(["-g", "Metadata_Position=76"])
        .output()
        .unwrap();
    dcp_tests::assert_exit(&out, 0);
    let direct_image = std::fs::read_to_string(direct.join("Image.csv")).unwrap();
    for same in ["ImageNumber", "Group_Number", "Group_Index", "Count_Nuclei"] {
        assert_eq!(column(&image, same), column(&direct_image, same), "{same}");
    }
    assert!(column(&image, "Count_Nuclei")[0].parse::<f64>().unwrap() > 100.0);
    for objects in ["Nuclei.csv", "Cells.csv", "Cytoplasm.csv"] {
        assert_same_table(
            &std::fs::read_to_string(prefix.join(objects)).unwrap(),
            &std::fs::read_to_string(direct.join(objects)).unwrap(),
            objects,
        );
    }
}

#[test]
fn batch_files_that_cannot_serve_a_task_are_refused_before_cellprofiler_runs() {
    let run = run_dir("");
    let d = run.path();
    std::fs::write(d.join("ws/batch/not_batch.h5"), "not HDF5").unwrap();
    push(d, "batch/not_batch.h5", &["Metadata_Position=2"]);
    // A measurements file: the same HDF5 layout, its pipeline's CreateBatchFiles not in
    // batch mode (as a run's own measurements record it), written with CellProfiler's API.
    let measurements = d.join("ws/batch/measurements.h5");
    std::fs::copy(&batch_file().1, &measurements).unwrap();
    let python = dcp_tests::cellprofiler().with_file_name("python");
    let script = "import sys\nfrom cellprofiler_core.measurement import Measurements\n\
        m = Measurements(filename=sys.argv[1], mode='r+')\n\
        text = m.get_experiment_measurement('Pipeline_Pipeline')\n\
        m.add_experiment_measurement('Pipeline_Pipeline', \
        text.replace('Hidden- in batch mode:Yes', 'Hidden- in batch mode:No'))\nm.close()\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(&measurements)
        .output()
        .unwrap();
    dcp_tests::assert_exit(&out, 0);
    push(d, "batch/measurements.h5", &["Metadata_Position=76"]);
    push(
        d,
        "batch/Batch_data.h5",
        &["Metadata_Position=3", "Metadata_Plate=2"],
    );
    let mut lines = outcomes(d);
    // A batch file whose images lie outside MOUNT_ROOT.
    let elsewhere = run_dir("MOUNT_ROOT = \"/mnt/elsewhere/\"");
    push(
        elsewhere.path(),
        "batch/Batch_data.h5",
        &["Metadata_Position=2"],
    );
    lines.extend(outcomes(elsewhere.path()));
    assert_eq!(lines.len(), 5, "{lines:?}");
    let detail = |group: &str, data_file: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l["group"] == group && l["detail"].as_str().unwrap_or("").contains(data_file))
            .unwrap_or_else(|| panic!("{group} {data_file}: {lines:?}"));
        assert_eq!(line["status"], "input-problem", "{line}");
        assert!(
            line["exit_code"].is_null(),
            "CellProfiler did not run: {line}"
        );
        line["detail"].as_str().unwrap().to_owned()
    };
    let not_batch = detail("Metadata_Position=2", "not_batch.h5");
    assert!(not_batch.contains("not an HDF5 file"), "{not_batch}");
    let not_in_batch_mode = detail("Metadata_Position=76", "measurements.h5");
    assert!(
        not_in_batch_mode.contains("not a batch file"),
        "{not_in_batch_mode}"
    );
    let no_group = detail("Metadata_Position=3", "Batch_data.h5");
    assert!(
        no_group.contains("no image set has Metadata_Position='3'")
            && no_group.contains("Metadata_Position='76'"),
        "{no_group}"
    );
    let other_key = detail("Metadata_Plate=2", "Batch_data.h5");
    assert!(
        other_key.contains("groups by Metadata_Position"),
        "{other_key}"
    );
    let outside = lines
        .iter()
        .find(|l| l["detail"].as_str().unwrap_or("").contains("MOUNT_ROOT"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    let text = outside["detail"].as_str().unwrap();
    assert!(
        text.contains("/home/ubuntu/bucket/demo_project_folder/images/01_POS002_")
            && text.contains("/mnt/elsewhere/"),
        "{text}"
    );
    assert!(!d.join("results/batch_out").exists(), "nothing published");
}

/// `dcp-fleet check` of a batch-file job reads its groups as the worker does (CellProfiler's
/// Python, all groups at once): groups the batch file has pass, with their images found in
/// the source bucket; a group it lacks, and a file that is no batch file, are problems.
#[test]
fn check_reads_the_groups_of_a_batch_file_job() {
    let run = run_dir("");
    let d = run.path();
    let check = |data_file: &str, groups: &[&str]| {
        std::fs::write(d.join("job.json"), job(data_file, groups)).unwrap();
        let out = dcp_tests::run(tool("dcp-fleet"), d, &["check", "job.json"], "");
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, lines)
    };
    let find = |lines: &[serde_json::Value], check: &str| {
        lines
            .iter()
            .find(|l| l["check"] == check)
            .unwrap_or_else(|| panic!("no {check}: {lines:#?}"))
            .clone()
    };

    let (out, lines) = check(
        "batch/Batch_data.h5",
        &["Metadata_Position=002", "Metadata_Position=76"],
    );
    dcp_tests::assert_exit(&out, 0);
    let groups = find(&lines, "groups");
    assert_eq!(groups["status"], "ok", "{lines:#?}");
    assert_eq!(
        groups["detail"],
        "each of 2 groups selects image sets of the batch file (6 images in all)"
    );
    let images = find(&lines, "images");
    assert_eq!(
        images["detail"], "all 6 images its groups load exist",
        "{images}"
    );

    let (out, lines) = check(
        "batch/Batch_data.h5",
        &["Metadata_Position=3", "Metadata_Position=218"],
    );
    dcp_tests::assert_exit(&out, 2);
    let groups = find(&lines, "groups");
    assert_eq!(groups["status"], "problem", "{lines:#?}");
    let detail = groups["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("1 of 2 groups cannot run: Metadata_Position=3: no image set has"),
        "{detail}"
    );
    assert!(groups["fix"].as_str().unwrap().contains("CreateBatchFiles"));

    std::fs::write(d.join("ws/batch/not_batch.h5"), "not HDF5").unwrap();
    let (out, lines) = check("batch/not_batch.h5", &["Metadata_Position=2"]);
    dcp_tests::assert_exit(&out, 2);
    let problem = lines
        .iter()
        .find(|l| l["check"] == "data-file" && l["status"] == "problem")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not an HDF5 file"),
        "{problem}"
    );
}

/// `dcp-fleet check --pilot` runs a batch file's group through the worker's batch path, with
/// real CellProfiler, into the pilot's own folder.
#[test]
fn a_pilot_runs_a_batch_files_group() {
    let run = run_dir("");
    let d = run.path();
    std::fs::write(
        d.join("job.json"),
        job("batch/Batch_data.h5", &["Metadata_Position=076"]),
    )
    .unwrap();
    let out = Command::new(tool("dcp-fleet"))
        .args(["check", "--pilot", "job.json"])
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .env("TMPDIR", d)
        .output()
        .unwrap();
    dcp_tests::assert_exit(&out, 0);
    let pilot: serde_json::Value = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| l["check"] == "pilot")
        .unwrap();
    assert_eq!(pilot["status"], "ok", "{pilot:#}");
    let results = PathBuf::from(pilot["figures"]["results"].as_str().unwrap());
    assert!(results.starts_with(d), "{pilot:#}");
    let image = std::fs::read_to_string(results.join("Image.csv")).unwrap();
    assert_eq!(column(&image, "Metadata_Position"), ["76"], "its own group");
    assert!(
        !d.join("results").exists(),
        "the pilot wrote to DESTINATION_BUCKET"
    );
}
