//! A direct `cellprofiler -c -r -p … --data-file=… -g …` run of one ExampleFly group, to
//! compare a worker's four CSVs with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::measurements;

/// Where ExampleFly's load-data file says the bucket is mounted.
pub const MOUNT_ROOT: &str = "/home/ubuntu/bucket";

/// ExampleFly's tables, each written by ExportToSpreadsheet as `<name>.csv`.
pub const TABLES: [&str; 4] = ["Image", "Nuclei", "Cells", "Cytoplasm"];

/// Columns whose cells may differ from a direct run: execution times and paths.
pub const VARIES: [&str; 5] = [
    "ExecutionTime_",
    "PathName_",
    "URL_",
    "ObjectsPathName_",
    "ObjectsURL_",
];

/// Starts a direct CellProfiler run of the group `Metadata_Position=position` on the whole
/// load-data file, its paths rewritten from the mount root to the example itself; the
/// results go to `d/direct/<position>`, which is returned with the running child.
pub fn run(example: &Path, cellprofiler: &Path, d: &Path, position: &str) -> (Child, PathBuf) {
    let csv = d.join("direct.csv");
    if !csv.exists() {
        let text =
            std::fs::read_to_string(example.join("demo_project_folder/workspace/load_data.csv"))
                .unwrap();
        std::fs::write(&csv, text.replace(MOUNT_ROOT, example.to_str().unwrap())).unwrap();
    }
    let out = d.join(format!("direct/{position}"));
    std::fs::create_dir_all(&out).unwrap();
    let child = Command::new(cellprofiler)
        .args(["-e", "imageio_reader", "-c", "-r", "-p"])
        .arg(example.join("demo_project_folder/workspace/ExampleFly.cppipe"))
        .arg("-i")
        .arg(example.join("demo_project_folder/workspace"))
        .arg("-o")
        .arg(&out)
        .arg("-d")
        .arg(out.join("done.txt"))
        .arg(format!("--data-file={}", csv.display()))
        .args(["-g", &format!("Metadata_Position={position}")])
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, out)
}

/// Waits for a direct run and asserts it completed.
pub fn wait(mut child: Child, out: &Path) {
    assert!(child.wait().unwrap().success(), "{}", out.display());
    assert_eq!(
        std::fs::read_to_string(out.join("done.txt")).unwrap(),
        "Complete\n"
    );
}

/// Asserts the four tables in `worker` equal those of the direct run in `direct`,
/// `ImageNumber` and `Group_Number` included (only [`VARIES`] may differ).
pub fn assert_same_tables(worker: &Path, direct: &Path) {
    for name in TABLES {
        let file = format!("{name}.csv");
        assert!(
            measurements::read(&worker.join(&file))
                .0
                .iter()
                .any(|h| h == "ImageNumber")
        );
        measurements::assert_same(worker, direct, &file, &VARIES);
    }
}
