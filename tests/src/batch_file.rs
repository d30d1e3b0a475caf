//! CreateBatchFiles batch files made from ExampleFly with REAL CellProfiler, as DCP users
//! make them: the pipeline with CreateBatchFiles appended, its images at a local root,
//! mapped to the cluster root `/home/ubuntu/bucket`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// ExampleFly's input modules (Images, Metadata extracting `Position` from the file name,
/// NamesAndTypes, Groups by `Position`): CellProfiler's own ExampleFly input modules, grouped.
const INPUT_MODULES: &str = include_str!("../fixtures/examplefly-input-modules.cppipe");

/// How the batch file's pipeline finds its images.
#[derive(Clone, Copy, Debug)]
pub enum Inputs {
    /// DCP's ExampleFly.cppipe: LoadData over the example's load_data.csv, its PathNames at
    /// the local root.
    LoadData,
    /// Images, Metadata, NamesAndTypes and Groups over the images of a local copy of the
    /// example, which is removed once the batch file is written, so that only the paths the
    /// batch file records are left.
    NamesAndTypes,
}

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

/// DCP's ExampleFly.cppipe with its LoadData module replaced by `inputs` (when given) and
/// CreateBatchFiles appended.
fn pipeline(example: &Path, inputs: Option<&str>, out: &Path, local: &Path) -> String {
    let text =
        std::fs::read_to_string(example.join("demo_project_folder/workspace/ExampleFly.cppipe"))
            .unwrap();
    let (head, modules) = text.split_once("\n\n").unwrap();
    let mut modules: Vec<&str> = modules
        .split("\n\n")
        .filter(|m| !m.trim().is_empty())
        .collect();
    if let Some(inputs) = inputs {
        assert!(modules[0].starts_with("LoadData:"), "{}", modules[0]);
        modules.splice(0..1, inputs.split("\n\n").filter(|m| !m.trim().is_empty()));
    }
    let count = modules.len() + 1;
    let head: Vec<String> = head
        .lines()
        .map(|l| match l.strip_prefix("ModuleCount:") {
            Some(_) => format!("ModuleCount:{count}"),
            None => l.to_owned(),
        })
        .collect();
    let modules: Vec<&str> = modules.iter().map(|m| m.trim_end_matches('\n')).collect();
    format!(
        "{}\n\n{}\n{}",
        head.join("\n"),
        modules.join("\n\n"),
        create_batch_files(count, out, local)
    )
}

/// Makes `dir/Batch_data.h5` from the ExampleFly example `example` with `cellprofiler`
/// (`-c -r -p` of the pipeline with CreateBatchFiles, which writes the batch file instead of
/// running) and returns its path. Also leaves `dir/local_load_data.csv`, the example's
/// load-data CSV with its PathNames in the example itself, for direct runs.
pub fn examplefly_batch_file(
    example: &Path,
    cellprofiler: &Path,
    inputs: Inputs,
    dir: &Path,
) -> PathBuf {
    let workspace = example.join("demo_project_folder/workspace");
    let csv = std::fs::read_to_string(workspace.join("load_data.csv")).unwrap();
    let local_csv = dir.join("local_load_data.csv");
    std::fs::write(
        &local_csv,
        csv.replace("/home/ubuntu/bucket", example.to_str().unwrap()),
    )
    .unwrap();
    let mut command = Command::new(cellprofiler);
    let local = dir.join("local");
    let text = match inputs {
        Inputs::LoadData => {
            command.arg(format!("--data-file={}", local_csv.display()));
            pipeline(example, None, dir, example)
        }
        Inputs::NamesAndTypes => {
            let images = local.join("demo_project_folder/images");
            std::fs::create_dir_all(&images).unwrap();
            let mut list = String::new();
            for entry in std::fs::read_dir(example.join("demo_project_folder/images")).unwrap() {
                let path = entry.unwrap().path();
                let copy = images.join(path.file_name().unwrap());
                std::fs::copy(&path, &copy).unwrap();
                list.push_str(&format!("{}\n", copy.display()));
            }
            std::fs::write(dir.join("file_list.txt"), list).unwrap();
            command.arg(format!(
                "--file-list={}",
                dir.join("file_list.txt").display()
            ));
            pipeline(example, Some(INPUT_MODULES), dir, &local)
        }
    };
    let with_batch = dir.join("ExampleFly_CreateBatchFiles.cppipe");
    std::fs::write(&with_batch, text).unwrap();
    let out = command
        .args(["-c", "-r", "-p"])
        .arg(&with_batch)
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&local);
    let batch = dir.join("Batch_data.h5");
    assert!(
        batch.is_file(),
        "CreateBatchFiles wrote no batch file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    batch
}
