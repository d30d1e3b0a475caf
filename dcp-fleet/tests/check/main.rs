//! `dcp-fleet check`, the built binary, on a copy of DCP's ExampleFly example laid out as
//! the embedded backend's buckets: the example as it is passes, and each test breaks one
//! thing and expects exactly that problem with its fix (exit 2). Pipeline checks use real
//! CellProfiler ([`dcp_tests::cellprofiler`]); the data checks run without it (CELLPROFILER
//! names nothing, so the pipeline checks are skipped, which is no problem).

use std::path::{Path, PathBuf};
use std::process::Output;

use dcp_tests::files::{copy_tree, tree};
use serde_json::Value;

mod data;
mod pilot;
mod pipeline;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-fleet");

/// A run folder: `src/` a copy of ExampleFly, `dcp.toml`, and `job.json` (ExampleFly's job).
struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    /// ExampleFly with CELLPROFILER = `cellprofiler`.
    fn new(cellprofiler: &Path) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let source = dcp_tests::examplefly();
        copy_tree(&source, &dir.path().join("src"));
        std::fs::copy(source.join("job.json"), dir.path().join("job.json")).unwrap();
        let toml = format!(
            "APP_NAME = \"ExampleFly\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"src\"\n\
             DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\n",
            cellprofiler.display()
        );
        std::fs::write(dir.path().join("dcp.toml"), toml).unwrap();
        Example { dir }
    }

    /// ExampleFly without CellProfiler: the pipeline checks are skipped.
    fn without_cellprofiler() -> Example {
        Example::new(Path::new("/nonexistent/cellprofiler"))
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Replaces `from` with `to` in the file at `relative`.
    fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{relative} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    /// Adds a column `name` to ExampleFly's load-data CSV, `values` for its rows (positions
    /// 002, 076 and 218) in order.
    fn add_column(&self, name: &str, values: [&str; 3]) {
        let path = self.path("src/demo_project_folder/workspace/load_data.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let mut edited = format!("{},{name}\n", lines[0]);
        for (line, value) in lines[1..].iter().zip(values) {
            edited.push_str(&format!("{line},{value}\n"));
        }
        std::fs::write(path, edited).unwrap();
    }

    /// Sets the output folder of ExampleFly's ExportToSpreadsheet to a Default Output
    /// Folder sub-folder of `path` (with metadata tags: `\g<Dir>`).
    fn export_to_sub_folder(&self, path: &str) {
        self.edit(
            "src/demo_project_folder/workspace/ExampleFly.cppipe",
            "Output file location:Default Output Folder|.",
            &format!("Output file location:Default Output Folder sub-folder|{path}"),
        );
    }

    /// Runs `dcp-fleet check ARGS…` in the run folder.
    fn check(&self, args: &[&str]) -> Output {
        let mut all = vec!["check"];
        all.extend(args);
        dcp_tests::run(BIN, self.dir.path(), &all, "")
    }
}

/// The findings a run printed, one JSON object per line.
fn findings(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

/// The one problem a run found (exit 2), checked to carry a fix.
fn the_problem(out: &Output) -> Value {
    dcp_tests::assert_exit(out, 2);
    let all = findings(out);
    let problems: Vec<&Value> = all.iter().filter(|f| f["status"] == "problem").collect();
    assert_eq!(problems.len(), 1, "{all:#?}");
    let problem = problems[0].clone();
    assert!(
        problem["fix"].as_str().is_some_and(|fix| !fix.is_empty()),
        "{problem}"
    );
    problem
}
