//! Compressed TIFFs as microscopes write them: ExampleFly's images re-saved LZW-compressed
//! run through `dcp-worker` with REAL CellProfiler and measure exactly as the originals.
//! Reading them needs `imagecodecs` in CellProfiler's environment, which
//! `scripts/install-cellprofiler` installs.

use std::path::{Path, PathBuf};
use std::process::Command;

use dcp_tests::{measurements, stdout_ok, tool};

const GROUP: &str = "Metadata_Position=2";
const IMAGES: [&str; 3] = ["01_POS002_D.TIF", "01_POS002_F.TIF", "01_POS002_R.TIF"];

/// Runs ExampleFly's position 2 from `bucket` in a run folder `dir`; returns the output prefix.
fn run_group(dir: &Path, bucket: &Path, cellprofiler: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let settings = format!(
        "APP_NAME = \"Compressed\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\n\
         DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 120\n\
         DOCKER_CORES = 1\nSECONDS_TO_START = 0\n",
        bucket.display(),
        cellprofiler.display()
    );
    std::fs::write(dir.join("dcp.toml"), settings).unwrap();
    let job = serde_json::json!({
        "pipeline": "demo_project_folder/workspace/ExampleFly.cppipe",
        "data_file": "demo_project_folder/workspace/load_data.csv",
        "input": "demo_project_folder/workspace/",
        "output": "out",
        "output_structure": "Metadata_Position",
        "groups": [{"Metadata": GROUP}],
    });
    stdout_ok(dcp_tests::run(tool("dcp-queue"), dir, &["create"], ""));
    stdout_ok(dcp_tests::run(
        tool("dcp-queue"),
        dir,
        &["push"],
        &job.to_string(),
    ));
    let out = Command::new(tool("dcp-worker"))
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .output()
        .unwrap();
    let outcome: serde_json::Value = serde_json::from_str(stdout_ok(out).trim()).unwrap();
    assert_eq!(outcome["status"], "success", "{outcome}");
    dir.join("results/out/2")
}

#[test]
fn lzw_compressed_tiffs_measure_as_the_originals() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let python = cellprofiler.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let lzw = d.join("lzw-bucket/demo_project_folder");
    std::fs::create_dir_all(lzw.join("images")).unwrap();
    std::fs::create_dir_all(lzw.join("workspace")).unwrap();
    let plain = example.join("demo_project_folder");
    for file in ["ExampleFly.cppipe", "load_data.csv"] {
        std::fs::copy(
            plain.join("workspace").join(file),
            lzw.join("workspace").join(file),
        )
        .unwrap();
    }
    let resave = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/resave-lzw.py");
    for image in IMAGES {
        let status = Command::new(&python)
            .arg(&resave)
            .arg(plain.join("images").join(image))
            .arg(lzw.join("images").join(image))
            .status()
            .unwrap();
        assert!(status.success(), "{image} re-saved as LZW");
        let (before, after) = (
            std::fs::metadata(plain.join("images").join(image)).unwrap(),
            std::fs::metadata(lzw.join("images").join(image)).unwrap(),
        );
        assert!(after.len() < before.len(), "{image} is compressed");
    }

    let originals = run_group(&d.join("plain-run"), &example, &cellprofiler);
    let compressed = run_group(&d.join("lzw-run"), &d.join("lzw-bucket"), &cellprofiler);
    // Paths differ (each run fetches into its own folder), and so do execution times and
    // the digests of the files' bytes; the pixels, and so every measurement, are the same.
    let skip = ["PathName_", "URL_", "ExecutionTime_", "MD5Digest_"];
    for table in ["Image.csv", "Nuclei.csv", "Cells.csv", "Cytoplasm.csv"] {
        measurements::assert_same(&originals, &compressed, table, &skip);
    }
}
