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

#[test]
fn an_output_sub_folder_whose_metadata_tag_leads_outside_is_a_problem() {
    let example = Example::new(&dcp_tests::cellprofiler());
    example.export_to_sub_folder("results/\\g<Dir>");
    example.add_column("Metadata_Dir", ["Plate1/A01", "../..", "ok"]);
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline-output");
    assert_eq!(
        problem["subject"],
        "demo_project_folder/workspace/ExampleFly.cppipe"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("ExportToSpreadsheet #")
            && detail.contains(
                "writes to Output file location: Default Output Folder sub-folder|\
                 results/\\g<Dir>, which is `results/../..` for \
                 demo_project_folder/workspace/load_data.csv line 3 (Metadata_Dir `../..`), \
                 outside the Default Output Folder"
            ),
        "{detail}"
    );
    assert!(problem["fix"].as_str().unwrap().contains("no `..` part"));

    // An absolute value, in the group's row (`/abs` replaces the Default Output Folder).
    let example = Example::new(&dcp_tests::cellprofiler());
    example.export_to_sub_folder("\\g<Dir>");
    example.add_column("Metadata_Dir", ["/abs", "ok", "ok"]);
    let problem = the_problem(&example.check(&["job.json"]));
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("which is `/abs` for demo_project_folder/workspace/load_data.csv line 2"),
        "{detail}"
    );

    // A tag naming no column of the load-data file: CellProfiler would fail on it.
    let example = Example::new(&dcp_tests::cellprofiler());
    example.export_to_sub_folder("\\g<Plate>");
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline-output");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "but demo_project_folder/workspace/load_data.csv has no column Metadata_Plate"
        ),
        "{detail}"
    );
}

#[test]
fn an_output_sub_folder_whose_metadata_tags_stay_inside_passes() {
    let example = Example::new(&dcp_tests::cellprofiler());
    // A value with `/` but no `..` part makes folders inside the Default Output Folder.
    example.export_to_sub_folder("\\g<Dir>_\\g<Position>");
    example.add_column("Metadata_Dir", ["Plate1/A01", "a..b", "ok"]);
    let out = example.check(&["job.json"]);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    let output = all
        .iter()
        .find(|f| f["check"] == "pipeline-output")
        .unwrap();
    assert_eq!(output["status"], "ok", "{output}");
    assert!(
        output["detail"]
            .as_str()
            .unwrap()
            .contains("metadata tags filled from each group's load-data rows"),
        "{output}"
    );
}

#[test]
fn a_file_name_leading_outside_is_a_problem_as_written_or_through_a_metadata_tag() {
    let pipeline = "src/demo_project_folder/workspace/ExampleFly.cppipe";
    let example = Example::new(&dcp_tests::cellprofiler());
    example.edit(pipeline, "File name:Image.csv", "File name:\\g<Dir>.csv");
    example.add_column("Metadata_Dir", ["ok", "ok", "../../../escaped"]);
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline-output");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "names its files File name: \\g<Dir>.csv, which is `../../../escaped.csv` for \
             demo_project_folder/workspace/load_data.csv line 4 (Metadata_Dir \
             `../../../escaped`)"
        ),
        "{detail}"
    );

    let example = Example::new(&dcp_tests::cellprofiler());
    example.edit(pipeline, "File name:Nuclei.csv", "File name:../Nuclei.csv");
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline-output");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("ExportToSpreadsheet #")
            && detail.contains("names its files File name: ../Nuclei.csv, outside"),
        "{detail}"
    );
}
