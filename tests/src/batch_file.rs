//! A CreateBatchFiles batch file made from ExampleFly with REAL CellProfiler, as a DCP user
//! makes one: ExampleFly.cppipe with CreateBatchFiles appended, its images at a local root
//! (here, the example itself), mapped to the cluster root `/home/ubuntu/bucket`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// CreateBatchFiles as the last module: the batch file goes to `out`, paths under `local`
/// are mapped to `/home/ubuntu/bucket`.
fn create_batch_files(module_num: usize, out: &Path, local: &Path) -> String {
    format!(
        "\nCreateBatchFiles:[module_num:{module_num}|svn_version:'Unknown'|variable_revision_number:8|\
         show_window:True|notes:[]|batch_state:array([], dtype=uint8)|enabled:True|wants_pause:False]\n\
         \x20   Store batch files in default output folder?:No\n\
         \x20   Output folder path:{}\n\
         \x20   Are the cluster computers running Windows?:No\n\
         \x20   Hidden- in batch mode:No\n\
         \x20   Hidden- in distributed mode:No\n\
         \x20   Hidden- default input folder at time of save:{}\n\
         \x20   Hidden- revision number:0\n\
         \x20   Hidden- from old matlab:No\n\
         \x20   Local root path:{}\n\
         \x20   Cluster root path:/home/ubuntu/bucket\n",
        out.display(),
        local.display(),
        local.display()
    )
}

/// Makes `dir/Batch_data.h5` from the ExampleFly example `example` with `cellprofiler`
/// (`-c -r -p` of the pipeline with CreateBatchFiles over the example's load_data.csv, its
/// PathNames at the local root), and returns its path. Also leaves `dir/local_load_data.csv`,
/// the load-data CSV with the local paths, for direct runs.
pub fn examplefly_batch_file(example: &Path, cellprofiler: &Path, dir: &Path) -> PathBuf {
    let workspace = example.join("demo_project_folder/workspace");
    let csv = std::fs::read_to_string(workspace.join("load_data.csv")).unwrap();
    let local_csv = dir.join("local_load_data.csv");
    let local = example.to_str().unwrap();
    std::fs::write(&local_csv, csv.replace("/home/ubuntu/bucket", local)).unwrap();
    let pipeline = std::fs::read_to_string(workspace.join("ExampleFly.cppipe")).unwrap();
    let count: usize = pipeline
        .lines()
        .find_map(|l| l.strip_prefix("ModuleCount:"))
        .unwrap()
        .parse()
        .unwrap();
    let mut pipeline = pipeline.replace(
        &format!("ModuleCount:{count}"),
        &format!("ModuleCount:{}", count + 1),
    );
    pipeline.push_str(&create_batch_files(count + 1, dir, example));
    let with_batch = dir.join("ExampleFly_CreateBatchFiles.cppipe");
    std::fs::write(&with_batch, pipeline).unwrap();
    let out = Command::new(cellprofiler)
        .args(["-c", "-r", "-p"])
        .arg(&with_batch)
        .arg(format!("--data-file={}", local_csv.display()))
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    let batch = dir.join("Batch_data.h5");
    assert!(
        batch.is_file(),
        "CreateBatchFiles wrote no batch file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    batch
}
