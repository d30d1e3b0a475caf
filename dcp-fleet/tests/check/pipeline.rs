//! CellProfiler's view of the pipeline, with real CellProfiler.

use super::*;

#[test]
fn cellprofiler_loads_examplefly_and_finds_its_images() {
    let example = Example::new(&dcp_tests::cellprofiler());
    let out = example.check(&["job.json"]);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    let load = all.iter().find(|f| f["check"] == "pipeline-load").unwrap();
    assert_eq!(load["status"], "ok", "{load}");
    assert_eq!(load["detail"], "CellProfiler keeps all 14 modules");
    let columns = all
        .iter()
        .find(|f| f["check"] == "loaddata-columns")
        .unwrap();
    assert_eq!(columns["status"], "ok", "{columns}");
}

#[test]
fn load_data_columns_that_do_not_name_the_pipelines_images() {
    let example = Example::new(&dcp_tests::cellprofiler());
    example.edit(
        "src/demo_project_folder/workspace/load_data.csv",
        "FileName_OrigBlue,",
        "FileName_DNA,",
    );
    example.edit(
        "src/demo_project_folder/workspace/load_data.csv",
        "PathName_OrigBlue,",
        "PathName_DNA,",
    );
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "loaddata-columns");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("IdentifyPrimaryObjects #2: OrigBlue not in DNA, OrigGreen, OrigRed"),
        "{detail}"
    );
}
