//! Pipelines CellProfiler 5 loads only in part, with REAL CellProfiler on a synthetic Cell
//! Painting plate (`../shared/tools/make-cellpainting-plate`): the public illum pipeline
//! saves its functions as `.mat`, which CellProfiler 5 no longer offers, so it drops the
//! SaveImages modules and would run the rest, write `Complete` and exit 0. The worker's
//! load check fails that task as cellprofiler-failed, naming the modules and the reason,
//! without starting CellProfiler; the run report carries the reason; the plate
//! generator's corrected `.cp5.cppipe` copy runs and publishes the illumination functions,
//! and so does that copy with a plugin module CellProfiler lacks at its end (a lost module
//! that writes no files), its loss recorded in the outcome's detail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dcp_tests::{stdout_ok, tool};
use serde_json::Value;

const PIPELINES: &str = "workspace/pipelines";

/// A plate P1 of one well, two sites, laid out as a bucket under `dir/plate`.
fn plate(dir: &Path, cellprofiler: &Path) -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let generator = shared.join("tools/make-cellpainting-plate");
    assert!(
        generator.exists(),
        "no plate generator at {}",
        generator.display()
    );
    let out = dir.join("plate");
    let made = Command::new(cellprofiler.with_file_name("python"))
        .arg(&generator)
        .arg("--out")
        .arg(&out)
        .arg("--pipelines")
        .arg(shared.join("data/cellpainting/pipelines"))
        .args(["--plates", "P1", "--wells", "A01", "--sites", "1-2"])
        .args(["--size", "540", "--seed", "0"])
        .output()
        .unwrap();
    stdout_ok(made);
    out
}

fn tool_in(dir: &Path, name: &str, args: &[&str]) -> Output {
    Command::new(tool(name))
        .args(args)
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_pipeline_that_lost_its_save_images_modules_fails_with_the_reason() {
    let cellprofiler = dcp_tests::cellprofiler();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bucket = plate(d, &cellprofiler);
    std::fs::write(
        d.join("dcp.toml"),
        format!(
            "APP_NAME = \"Illum\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\n\
             DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\n\
             CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nJOB_RETRIES = 2\n\
             SQS_MESSAGE_VISIBILITY = 6\nLOCAL_WORKERS = 1\nDOCKER_CORES = 1\n\
             SECONDS_TO_START = 0\n",
            bucket.display(),
            cellprofiler.display()
        ),
    )
    .unwrap();
    stdout_ok(tool_in(d, "dcp-queue", &["create"]));
    let job = |pipeline: &str, output: &str| {
        serde_json::json!({
            "pipeline": format!("{PIPELINES}/{pipeline}"),
            "data_file": "workspace/load_data_csv/P1/load_data.csv",
            "input": "images/",
            "output": output,
            "output_structure": "Metadata_Plate",
            "groups": [{"Metadata": "Metadata_Plate=P1"}],
        })
        .to_string()
    };
    // The corrected copy with a plugin module this CellProfiler lacks at its end: lost,
    // but it writes no files, so the task runs and the loss is recorded.
    let pipelines = bucket.join(PIPELINES);
    let corrected =
        std::fs::read_to_string(pipelines.join("illum_without_batchfile.cp5.cppipe")).unwrap();
    assert!(corrected.contains("ModuleCount:22\n"));
    let plugin = format!(
        "{}\n\nRunCellpose:[module_num:23|svn_version:\\'Unknown\\'|variable_revision_number:1|\
         show_window:False|notes:\\x5B\\x5D|batch_state:array(\\x5B\\x5D, dtype=uint8)|\
         enabled:True|wants_pause:False]\n    Select the input image:OrigDNA\n",
        corrected
            .trim_end()
            .replace("ModuleCount:22\n", "ModuleCount:23\n")
    );
    std::fs::write(pipelines.join("illum_with_plugin.cppipe"), plugin).unwrap();
    for (pipeline, output) in [
        ("illum_without_batchfile.cppipe", "original"),
        ("illum_without_batchfile.cp5.cppipe", "illum"),
        ("illum_with_plugin.cppipe", "plugin"),
    ] {
        stdout_ok(dcp_tests::run(
            tool("dcp-queue"),
            d,
            &["push"],
            &job(pipeline, output),
        ));
    }

    stdout_ok(tool_in(d, "dcp-fleet", &["start"]));
    let watch = tool_in(d, "dcp-watch", &["--interval", "0.5"]);
    assert_eq!(
        watch.status.code(),
        Some(3),
        "the original pipeline's task ends dead: {}",
        String::from_utf8_lossy(&watch.stderr)
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("run/runs/Illum/report.json")).unwrap(),
    )
    .unwrap();

    let dead = report["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{report:#}");
    assert_eq!(dead[0]["output"], "original/P1");
    assert_eq!(dead[0]["attempts"], 2);
    let failure = &dead[0]["last_failure"];
    assert_eq!(failure["status"], "cellprofiler-failed");
    assert_eq!(
        failure["exit_code"],
        Value::Null,
        "CellProfiler was not started"
    );
    let detail = failure["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("pipeline lost 6 of its 22 modules on load: SaveImages #17 (Unsupported file format: mat), SaveImages #18 (Unsupported file format: mat)"),
        "{detail}"
    );
    assert!(
        detail.contains("SaveImages #21 (Unsupported file format: mat)"),
        "{detail}"
    );
    // The same pipeline is checked once per worker: the retry fails at once.
    let original = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["output"] == "original/P1")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(original["receive_count"], 2);
    assert!(original["seconds"].as_f64().unwrap() < 2.0, "{original}");
    let log =
        std::fs::read_to_string(d.join("results").join(failure["log"].as_str().unwrap())).unwrap();
    assert!(log.contains("not running CellProfiler"), "{log}");
    assert!(!d.join("results/original").exists(), "nothing published");

    let illum = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["output"] == "illum/P1")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(illum["status"], "success", "{illum}");
    assert_eq!(illum.get("detail"), None, "CellProfiler keeps every module");
    let mut outputs: Vec<&str> = illum["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    outputs.sort();
    let channels = ["AGP", "DNA", "ER", "Mito", "RNA"];
    assert_eq!(outputs, channels.map(|c| format!("P1_Illum{c}.npy")));
    let plugin = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["output"] == "plugin/P1")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(plugin["status"], "success", "{plugin}");
    assert_eq!(plugin["outputs"].as_array().unwrap().len(), 5, "{plugin}");
    assert_eq!(
        plugin["detail"],
        "pipeline lost 1 of its 23 modules on load: RunCellpose #23 (Could not find the \
         RunCellpose module)"
    );
    for channel in channels {
        let npy = std::fs::read(d.join(format!("results/illum/P1/P1_Illum{channel}.npy"))).unwrap();
        assert!(npy.starts_with(b"\x93NUMPY"), "{channel}: a NumPy array");
        assert!(
            npy.len() > 540 * 540 * 4,
            "{channel}: a whole image of values"
        );
    }
}
