//! REAL CellProfiler on DCP's ExampleFly, in one worker run of six tasks: zero-padded
//! groups (`=002`, `=02`, `=2`) all run and find the same nuclei, a load-data file with
//! `URL_` columns (`file://` and `s3://`) runs, and every group's four CSVs equal a direct
//! `cellprofiler -c -r -p … --data-file=… -g …` run on the whole load-data file,
//! `ImageNumber` and `Group_Number` included (only execution times and paths differ).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use dcp_tests::direct::{self, MOUNT_ROOT, assert_same_tables};
use dcp_tests::measurements::read as table;
use dcp_tests::{stdout_ok, tool};

/// The run's workspace bucket: ExampleFly's pipeline and load-data file, and the same file
/// with `URL_` columns: OrigBlue as a `file://` URL under the mount root, OrigGreen as an
/// `s3://` URL of the source bucket (named by its folder), OrigRed left as PathName/FileName.
fn workspace(example: &Path, d: &Path) {
    let from = example.join("demo_project_folder/workspace");
    let to = d.join("workspace/demo_project_folder/workspace");
    std::fs::create_dir_all(&to).unwrap();
    for file in ["ExampleFly.cppipe", "load_data.csv"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    let source = example.file_name().unwrap().to_str().unwrap();
    let mut urls = String::from(
        "URL_OrigBlue,URL_OrigGreen,FileName_OrigRed,PathName_OrigRed,Metadata_Position\n",
    );
    let mut reader = csv::Reader::from_path(from.join("load_data.csv")).unwrap();
    for row in reader.deserialize::<std::collections::HashMap<String, String>>() {
        let row = row.unwrap();
        let key = |channel: &str| {
            let folder = row[&format!("PathName_{channel}")]
                .strip_prefix(MOUNT_ROOT)
                .unwrap();
            format!(
                "{}/{}",
                folder.trim_start_matches('/'),
                row[&format!("FileName_{channel}")]
            )
        };
        urls.push_str(&format!(
            "file://{MOUNT_ROOT}/{},s3://{source}/{},{},{},{}\n",
            key("OrigBlue"),
            key("OrigGreen"),
            row["FileName_OrigRed"],
            row["PathName_OrigRed"],
            row["Metadata_Position"]
        ));
    }
    std::fs::write(to.join("urls.csv"), urls).unwrap();
}

fn settings(example: &Path, cellprofiler: &Path) -> String {
    format!(
        "APP_NAME = \"ExampleFlyGroups\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\n\
         WORKSPACE_BUCKET = \"workspace\"\nDESTINATION_BUCKET = \"results\"\n\
         CELLPROFILER = \"{}\"\nCELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\n\
         SQS_MESSAGE_VISIBILITY = 120\nDOCKER_CORES = 2\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n",
        example.display(),
        cellprofiler.display()
    )
}

fn job(data_file: &str, output: &str, positions: &[&str]) -> String {
    let groups: Vec<String> = positions
        .iter()
        .map(|p| format!("{{\"Metadata\": \"Metadata_Position={p}\"}}"))
        .collect();
    format!(
        "{{\"pipeline\": \"demo_project_folder/workspace/ExampleFly.cppipe\", \
         \"data_file\": \"demo_project_folder/workspace/{data_file}\", \
         \"input\": \"demo_project_folder/workspace/\", \"output\": \"{output}\", \
         \"output_structure\": \"Metadata_Position\", \"groups\": [{}]}}",
        groups.join(", ")
    )
}

fn nuclei(folder: &Path) -> usize {
    table(&folder.join("Nuclei.csv")).1.len()
}

#[test]
fn padded_groups_url_columns_and_output_equal_to_a_direct_run() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    workspace(&example, d);
    std::fs::write(d.join("dcp.toml"), settings(&example, &cellprofiler)).unwrap();
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    for job in [
        job("load_data.csv", "out", &["002", "02", "2", "76", "218"]),
        job("urls.csv", "url", &["2"]),
    ] {
        stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["push"], &job));
    }
    let direct_runs: Vec<(Child, PathBuf)> = ["2", "76", "218"]
        .iter()
        .map(|p| direct::run(&example, &cellprofiler, d, p))
        .collect();
    let out = Command::new(tool("dcp-worker"))
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");

    let results = d.join("results");
    let padded: Vec<usize> = ["out/002", "out/02", "out/2", "url/2"]
        .iter()
        .map(|f| nuclei(&results.join(f)))
        .collect();
    assert!(padded[0] > 100, "nuclei found: {padded:?}");
    assert!(padded.iter().all(|n| *n == padded[0]), "{padded:?}");
    let (headers, rows) = table(&results.join("url/2/Image.csv"));
    let green = headers.iter().position(|h| h == "URL_OrigGreen").unwrap();
    assert!(
        rows[0][green].starts_with("file:///"),
        "read from its fetched file"
    );

    for (child, direct) in direct_runs {
        direct::wait(child, &direct);
        let position = direct.file_name().unwrap().to_str().unwrap().to_owned();
        assert_same_tables(&results.join("out").join(&position), &direct);
    }
    // The worker ran the padded groups as group 2 too.
    assert_same_tables(&results.join("out/002"), &d.join("direct/2"));
}
