//! A batch file whose pipeline writes to an output sub-folder with metadata tags, with REAL
//! CellProfiler: its metadata is in the batch file's measurements, not read before
//! CellProfiler runs, so `dcp-fleet check` reports it and `dcp-worker` refuses the task
//! before CellProfiler starts (whether the folder stays inside cannot be told).

use std::process::Command;

use dcp_tests::batch_file::Inputs;
use dcp_tests::files::copy_tree;
use dcp_tests::{stdout_ok, tool};

#[test]
fn a_batch_file_with_a_tagged_output_sub_folder_is_refused_before_cellprofiler() {
    let cellprofiler = dcp_tests::cellprofiler();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // ExampleFly writing to `\g<Position>`, made into a batch file.
    let example = d.join("example");
    copy_tree(&dcp_tests::examplefly(), &example);
    let pipeline = example.join("demo_project_folder/workspace/ExampleFly.cppipe");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let from = "Output file location:Default Output Folder|.";
    assert!(text.contains(from));
    let to = "Output file location:Default Output Folder sub-folder|\\g<Position>";
    std::fs::write(&pipeline, text.replace(from, to)).unwrap();
    let made = d.join("made");
    std::fs::create_dir_all(&made).unwrap();
    let batch = dcp_tests::batch_file::examplefly_batch_file(
        &example,
        &cellprofiler,
        Inputs::LoadData,
        &made,
    );
    std::fs::create_dir_all(d.join("ws/batch")).unwrap();
    let stored = d.join("ws/batch/Batch_data.h5");
    std::fs::copy(&batch, &stored).unwrap();
    // CellProfiler 5 stores the tag as `\\g<Position>`, which it reads back as a literal
    // `\` and no tag (the folder `\g<Position>`, inside); a batch file whose pipeline keeps
    // the tag live (as written here with CellProfiler's API) fills it from its measurements.
    let python = cellprofiler.with_file_name("python");
    let script = "import sys\nfrom cellprofiler_core.measurement import Measurements\n\
        m = Measurements(filename=sys.argv[1], mode='r+')\n\
        text = m.get_experiment_measurement('Pipeline_Pipeline')\n\
        assert '|\\\\\\\\g<Position>' in text\n\
        m.add_experiment_measurement('Pipeline_Pipeline', \
        text.replace('|\\\\\\\\g<', '|\\\\g<'))\nm.close()\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(&stored)
        .output()
        .unwrap();
    dcp_tests::assert_exit(&out, 0);
    let settings = format!(
        "APP_NAME = \"FlyBatch\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\nWORKSPACE_BUCKET = \"ws\"\n\
         DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\nSQS_MESSAGE_VISIBILITY = 120\n\
         DOCKER_CORES = 1\nSECONDS_TO_START = 0\nJOB_RETRIES = 1\n",
        example.display(),
        cellprofiler.display()
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    let job = "{\"pipeline\": \"batch/Batch_data.h5\", \"data_file\": \"batch/Batch_data.h5\", \
        \"input\": \"demo_project_folder/workspace/\", \"output\": \"batch_out\", \
        \"groups\": [{\"Metadata\": \"Metadata_Position=2\"}]}";
    std::fs::write(d.join("job.json"), job).unwrap();

    let out = dcp_tests::run(tool("dcp-fleet"), d, &["check", "job.json"], "");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let problem = lines
        .iter()
        .find(|l| l["check"] == "pipeline-output")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(problem["status"], "problem", "{lines:#?}");
    dcp_tests::assert_exit(&out, 2);
    let expected = "writes to Output file location: Default Output Folder sub-folder|\\g<Position>: \
        its metadata tags are filled from batch/Batch_data.h5, a batch file or file list";
    assert!(
        problem["detail"].as_str().unwrap().contains(expected),
        "{problem}"
    );

    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["create"], ""));
    stdout_ok(dcp_tests::run(tool("dcp-queue"), d, &["push"], job));
    let out = Command::new(tool("dcp-worker"))
        .args(["--retry-delay", "0"])
        .current_dir(d)
        .env_remove("DCP_CONFIG")
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["status"], "input-problem", "{line}");
        assert_eq!(
            line["exit_code"],
            serde_json::Value::Null,
            "CellProfiler started: {line}"
        );
        assert!(
            line["detail"].as_str().unwrap().contains(expected),
            "{line}"
        );
    }
    assert!(!d.join("results/batch_out").exists());
}
