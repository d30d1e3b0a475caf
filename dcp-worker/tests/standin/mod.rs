//! A run folder with a stand-in for CellProfiler (`tests/fixtures/cellprofiler-standin`,
//! whose mode `STANDIN` picks), for testing the worker's own handling of success, failure
//! and death.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dcp_tests::{stdout_ok, tool};

/// A run folder: dcp.toml, a source/workspace bucket with a pipeline, a load-data CSV of
/// plates P1..P3 and their images, and the stand-in.
pub struct RunDir {
    /// Removed on drop.
    pub dir: tempfile::TempDir,
}

impl RunDir {
    /// A run whose settings add `extra` TOML lines to the defaults of these tests.
    pub fn new(extra: &str) -> Self {
        Self::with_cellprofiler(|_| dcp_tests::STANDIN.to_owned(), extra)
    }

    /// A run whose CELLPROFILER is the path `cellprofiler` returns, given the run folder.
    pub fn with_cellprofiler(cellprofiler: impl FnOnce(&Path) -> String, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cellprofiler = cellprofiler(root);
        dcp_tests::standin_bucket(root);
        let settings = format!(
            "APP_NAME = \"Standin\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"bucket\"\n\
             DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{cellprofiler}\"\nDOCKER_CORES = 1\n\
             SECONDS_TO_START = 0\n{extra}\n"
        );
        std::fs::write(root.join("dcp.toml"), settings).unwrap();
        let run = RunDir { dir };
        stdout_ok(run.queue(&["create"], ""));
        run
    }

    /// The run folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs dcp-queue in the run folder.
    pub fn queue(&self, args: &[&str], stdin: &str) -> Output {
        dcp_tests::run(tool("dcp-queue"), self.path(), args, stdin)
    }

    /// Pushes one task per plate, with `pipeline` as the pipeline key.
    pub fn push(&self, plates: &[&str], pipeline: &str) {
        let groups: Vec<String> = plates
            .iter()
            .map(|p| format!("{{\"Metadata\": \"Metadata_Plate={p}\"}}"))
            .collect();
        let job = format!(
            "{{\"pipeline\": \"{pipeline}\", \"data_file\": \"w/load_data.csv\", \"input\": \"img/\", \
             \"output\": \"out\", \"groups\": [{}]}}",
            groups.join(", ")
        );
        stdout_ok(self.queue(&["push"], &job));
    }

    /// Writes `w/sites.csv`: a load-data file with a row per plate (P1, P2) × well (A01,
    /// A02) × site (1, 2), all naming the image `img/P1.tif`.
    pub fn sites_csv(&self) {
        let mut csv =
            String::from("Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA\n");
        for plate in ["P1", "P2"] {
            for well in ["A01", "A02"] {
                for site in 1..=2 {
                    csv.push_str(&format!(
                        "{plate},{well},{site},P1.tif,/home/ubuntu/bucket/img\n"
                    ));
                }
            }
        }
        std::fs::write(self.path().join("bucket/w/sites.csv"), csv).unwrap();
    }

    /// Pushes `groups` (Metadata strings) of `w/sites.csv` with `output_structure`, into
    /// `out`.
    pub fn push_groups(&self, groups: &[&str], output_structure: &str) {
        let groups: Vec<String> = groups
            .iter()
            .map(|g| format!("{{\"Metadata\": \"{g}\"}}"))
            .collect();
        let job = format!(
            "{{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/sites.csv\", \"input\": \"img/\", \
             \"output\": \"out\", \"output_structure\": \"{output_structure}\", \"groups\": [{}]}}",
            groups.join(", ")
        );
        stdout_ok(self.queue(&["push"], &job));
    }

    /// The files under a folder of the destination bucket, relative to it, sorted.
    pub fn files(&self, folder: &str) -> Vec<String> {
        let root = self.result(folder);
        let mut files: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        files
    }

    /// The queue's counts: (visible, in flight, dead).
    pub fn counts(&self) -> (u64, u64, u64) {
        let status: serde_json::Value =
            serde_json::from_str(&stdout_ok(self.queue(&["status"], ""))).unwrap();
        let n = |k: &str| status[k].as_u64().unwrap();
        (n("visible"), n("in_flight"), n("dead"))
    }

    /// Sends `body` as DCP's own tools would, past dcp-queue's checks, to a queue whose
    /// tasks go to the dead-letter queue after one receive.
    pub fn send_as_dcp(&self, body: &str) {
        use dcp_common::Queue;
        let spec = dcp_common::QueueSpec {
            name: "StandinQueue".into(),
            dead_letter_queue: "StandinDeadMessages".into(),
            visibility_timeout: std::time::Duration::from_secs(60),
            max_receives: 1,
        };
        let queue =
            dcp_common::EmbeddedQueue::open(&self.path().join("dcp-queue.sqlite"), spec).unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(queue.send(&[body.to_owned()]))
            .unwrap();
    }

    /// A dcp-worker command in the run folder, with the stand-in in `mode`.
    pub fn worker(&self, mode: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dcp-worker"));
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("DCP_CONFIG")
            .env("STANDIN", mode)
            .env("STANDIN_STARTS", self.path().join("starts.txt"));
        command
    }

    /// How often the stand-in was started.
    pub fn starts(&self) -> usize {
        std::fs::read_to_string(self.path().join("starts.txt")).map_or(0, |t| t.lines().count())
    }

    /// A file of the destination bucket.
    pub fn result(&self, key: &str) -> PathBuf {
        self.path().join("results").join(key)
    }
}

/// The outcome lines a worker printed.
pub fn outcomes(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
