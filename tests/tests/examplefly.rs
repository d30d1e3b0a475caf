//! End to end with REAL CellProfiler on DCP's ExampleFly example: config → queue → worker
//! → results, then a second run that CHECK_IF_DONE skips without starting CellProfiler.
//!
//! CellProfiler and the example are found by [`dcp_tests::cellprofiler`] and
//! [`dcp_tests::examplefly`].

use std::path::Path;
use std::process::Command;

use dcp_tests::files::{copy_tree, tree};
use dcp_tests::{stdout_ok, tool};

fn settings(example: &Path, cellprofiler: &Path, extra: &str) -> String {
    format!(
        "APP_NAME = \"ExampleFly\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\nDESTINATION_BUCKET = \"results\"\n\
         CELLPROFILER = \"{}\"\nCELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 120\n\
         DOCKER_CORES = 2\nSECONDS_TO_START = 0\n{extra}\n",
        example.display(),
        cellprofiler.display()
    )
}

fn outcomes(dir: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(tool("dcp-worker"))
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .output()
        .unwrap();
    stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn examplefly_runs_on_real_cellprofiler_and_reruns_skip() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("dcp.toml"), settings(&example, &cellprofiler, "")).unwrap();
    let job = example.join("job.json");
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push", job.to_str().unwrap()],
        "",
    ));

    let lines = outcomes(d);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for position in ["2", "76", "218"] {
        let line = lines
            .iter()
            .find(|l| l["group"] == format!("Metadata_Position={position}"))
            .unwrap();
        assert_eq!(line["status"], "success", "{line}");
        let prefix = d.join("results/demo_project_folder/output").join(position);
        let image = std::fs::read_to_string(prefix.join("Image.csv")).unwrap();
        let mut rows = image.lines();
        let header: Vec<&str> = rows.next().unwrap().split(',').collect();
        let column = header
            .iter()
            .position(|h| *h == "Metadata_Position")
            .unwrap();
        let row: Vec<&str> = rows.next().unwrap().split(',').collect();
        assert_eq!(
            row[column], position,
            "Image.csv of {position} describes its own group"
        );
        let nuclei = std::fs::read_to_string(prefix.join("Nuclei.csv")).unwrap();
        assert!(
            nuclei.lines().count() > 100,
            "nuclei found at position {position}"
        );
    }
    let status: serde_json::Value = serde_json::from_str(&stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["status"],
        "",
    )))
    .unwrap();
    assert_eq!(
        (
            status["visible"].as_u64(),
            status["in_flight"].as_u64(),
            status["dead"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );

    // Again, with CHECK_IF_DONE and a CellProfiler that cannot start: all three are skipped.
    let rerun = "CHECK_IF_DONE_BOOL = true\nEXPECTED_NUMBER_FILES = 4\nNECESSARY_STRING = \".csv\"";
    let settings = settings(&example, Path::new("/nonexistent/cellprofiler"), rerun);
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push", job.to_str().unwrap()],
        "",
    ));
    let lines = outcomes(d);
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().all(|l| l["status"] == "skipped-done"),
        "{lines:?}"
    );
}

#[test]
fn a_pipeline_writing_into_the_default_input_folder_fails_before_cellprofiler_starts() {
    let from = "Output file location:Default Output Folder|.";
    refused_before_cellprofiler(
        |text| {
            assert!(text.contains(from));
            text.replace(from, "Output file location:Default Input Folder|.")
        },
        &[
            "ExportToSpreadsheet #",
            "Output file location: Default Input Folder",
        ],
    );
}

/// SaveImages' `Create subfolders in the output folder?`: CellProfiler would add each
/// image's folder relative to the Default Input Folder to the output folder, which from the
/// worker's own image folder leads outside it: the images would be lost.
#[test]
fn a_save_images_mirroring_its_images_folders_fails_before_cellprofiler_starts() {
    let save_images = "SaveImages:[module_num:15|svn_version:'Unknown'|variable_revision_number:16|\
         show_window:False|notes:[]|batch_state:array([], dtype=uint8)|enabled:True|wants_pause:False]
    Select the type of image to save:Image
    Select the image to save:OrigBlue
    Select method for constructing file names:From image filename
    Select image name for file prefix:OrigBlue
    Enter single file name:OrigBlue
    Number of digits:4
    Append a suffix to the image file name?:No
    Text to append to the image name:
    Saved file format:png
    Output file location:Default Output Folder|
    Image bit depth:8-bit integer
    Overwrite existing files without warning?:Yes
    When to save:Every cycle
    Record the file and path information to the saved image?:No
    Create subfolders in the output folder?:Yes
    Base image folder:Default Input Folder|
    How to save the series:T (Time)
    Save with lossless compression?:No
";
    refused_before_cellprofiler(
        |text| {
            assert!(text.contains("ModuleCount:14"));
            format!(
                "{}\n\n{save_images}",
                text.replace("ModuleCount:14", "ModuleCount:15").trim_end()
            )
        },
        &[
            "SaveImages #15 mirrors its images' folders",
            "Create subfolders in the output folder?` to No",
        ],
    );
}

/// ExampleFly with its pipeline edited by `edit`: `dcp-fleet check` reports a
/// `pipeline-output` problem, and every task fails as `input-problem` before CellProfiler
/// starts, its detail containing each of `says`; nothing is written to the source or the
/// results.
fn refused_before_cellprofiler(edit: impl Fn(&str) -> String, says: &[&str]) {
    let cellprofiler = dcp_tests::cellprofiler();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = d.join("src");
    copy_tree(&dcp_tests::examplefly(), &source);
    let pipeline = source.join("demo_project_folder/workspace/ExampleFly.cppipe");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, edit(&text)).unwrap();
    let before = tree(&source);
    std::fs::write(d.join("dcp.toml"), settings(&source, &cellprofiler, "")).unwrap();
    let job = source.join("job.json");
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push", job.to_str().unwrap()],
        "",
    ));

    let mut worker = Command::new(tool("dcp-worker"))
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, _) = dcp_tests::outcomes_then_sigterm(&mut worker, 3);
    for line in &lines {
        assert_eq!(line["status"], "input-problem", "{line}");
        assert_eq!(
            line["exit_code"],
            serde_json::Value::Null,
            "CellProfiler started: {line}"
        );
        let detail = line["detail"].as_str().unwrap();
        assert!(says.iter().all(|s| detail.contains(s)), "{detail}");
    }
    let check = dcp_tests::run(tool("dcp-fleet"), d, &["check", job.to_str().unwrap()], "");
    assert_eq!(check.status.code(), Some(2), "{check:?}");
    let report = String::from_utf8_lossy(&check.stdout);
    let problem = report
        .lines()
        .find(|l| l.contains("\"pipeline-output\"") && l.contains("\"problem\""))
        .unwrap_or_else(|| panic!("no pipeline-output problem: {report}"));
    assert!(says.iter().all(|s| problem.contains(s)), "{problem}");
    assert_eq!(tree(&source), before, "the task wrote into SOURCE_BUCKET");
    assert!(!d.join("results/demo_project_folder/output").exists());
}

#[test]
fn an_output_sub_folder_whose_metadata_tag_leads_outside_fails_its_task_before_cellprofiler() {
    let cellprofiler = dcp_tests::cellprofiler();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = d.join("src");
    copy_tree(&dcp_tests::examplefly(), &source);
    let workspace = source.join("demo_project_folder/workspace");
    let pipeline = workspace.join("ExampleFly.cppipe");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let from = "Output file location:Default Output Folder|.";
    assert!(text.contains(from));
    let to = "Output file location:Default Output Folder sub-folder|\\g<Dir>";
    std::fs::write(&pipeline, text.replace(from, to)).unwrap();
    // Position 002 climbs from the attempt's output folder (scratch/<pid>-<copy>/out) into
    // the run folder; 218 names an absolute folder; 076 makes folders inside.
    let absolute = d.join("abs");
    let csv = workspace.join("load_data.csv");
    let rows = std::fs::read_to_string(&csv).unwrap();
    let values = ["../../../escaped", "Plate1/A01", absolute.to_str().unwrap()];
    let mut edited = String::new();
    for (n, line) in rows.lines().enumerate() {
        let value = if n == 0 {
            "Metadata_Dir"
        } else {
            values[n - 1]
        };
        edited.push_str(&format!("{line},{value}\n"));
    }
    std::fs::write(&csv, edited).unwrap();
    let before = tree(&source);
    std::fs::write(d.join("dcp.toml"), settings(&source, &cellprofiler, "")).unwrap();
    let job = source.join("job.json");
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        d,
        &["push", job.to_str().unwrap()],
        "",
    ));

    let mut worker = Command::new(tool("dcp-worker"))
        .args(["--scratch", "scratch", "--retry-delay", "600"])
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, _) = dcp_tests::outcomes_then_sigterm(&mut worker, 3);
    let outcome = |position: &str| {
        let group = format!("Metadata_Position={position}");
        lines.iter().find(|l| l["group"] == group).unwrap().clone()
    };
    for (position, value) in [
        ("2", "../../../escaped"),
        ("218", absolute.to_str().unwrap()),
    ] {
        let line = outcome(position);
        assert_eq!(line["status"], "input-problem", "{line}");
        assert_eq!(
            line["exit_code"],
            serde_json::Value::Null,
            "CellProfiler started: {line}"
        );
        let detail = line["detail"].as_str().unwrap();
        let row = if position == "2" { 2 } else { 4 };
        assert!(
            detail.contains("ExportToSpreadsheet #")
                && detail.contains(&format!(
                    "which is `{value}` for demo_project_folder/workspace/load_data.csv line \
                     {row} (Metadata_Dir `{value}`), outside the Default Output Folder"
                )),
            "{detail}"
        );
    }
    // The worker carried on: the group whose folder stays inside ran and published it.
    let line = outcome("76");
    assert_eq!(line["status"], "success", "{line}");
    let image = d.join("results/demo_project_folder/output/76/Plate1/A01/Image.csv");
    assert!(image.is_file(), "{line}");
    assert!(
        !d.join("escaped").exists(),
        "CellProfiler wrote above its scratch"
    );
    assert!(
        !absolute.exists(),
        "CellProfiler wrote to an absolute folder"
    );
    assert_eq!(tree(&source), before, "the task wrote into SOURCE_BUCKET");
    let written: Vec<_> = tree(&d.join("scratch"))
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "csv"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
}
