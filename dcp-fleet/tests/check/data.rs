//! The job and its data: pipeline, data file, groups, images, image paths, queued tasks.

use super::*;

const CSV: &str = "src/demo_project_folder/workspace/load_data.csv";

#[test]
fn examplefly_passes_and_nothing_changes() {
    let example = Example::without_cellprofiler();
    let before = tree(example.dir.path());
    let out = example.check(&["job.json"]);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    let status = |check: &str| {
        let found: Vec<&Value> = all.iter().filter(|f| f["check"] == check).collect();
        assert_eq!(found.len(), 1, "{check}: {all:#?}");
        found[0]["status"].as_str().unwrap().to_owned()
    };
    for check in ["job", "pipeline", "data-file", "groups", "images"] {
        assert_eq!(status(check), "ok", "{all:#?}");
    }
    assert_eq!(status("pipeline-load"), "skipped", "{all:#?}");
    let images = all.iter().find(|f| f["check"] == "images").unwrap();
    assert_eq!(images["detail"], "all 9 images its groups load exist");
    assert_eq!(tree(example.dir.path()), before, "check changed files");
}

#[test]
fn a_group_that_matches_no_row() {
    let example = Example::without_cellprofiler();
    example.edit(
        "job.json",
        r#"{"Metadata": "Metadata_Position=218"}"#,
        r#"{"Metadata": "Metadata_Position=218"}, {"Metadata": "Metadata_Position=5"}"#,
    );
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "groups");
    assert_eq!(
        problem["subject"],
        "demo_project_folder/workspace/load_data.csv"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("1 of 4 groups select no row: Metadata_Position=5: "),
        "{detail}"
    );
    assert!(
        problem["fix"].as_str().unwrap().contains("Metadata"),
        "{problem}"
    );
}

#[test]
fn a_missing_image_file() {
    let example = Example::without_cellprofiler();
    std::fs::remove_file(example.path("src/demo_project_folder/images/01_POS076_F.TIF")).unwrap();
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "images");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("of all 9 images its groups load, 1 are missing: "),
        "{detail}"
    );
    assert!(
        detail.ends_with("/demo_project_folder/images/01_POS076_F.TIF"),
        "{detail}"
    );
}

#[test]
fn a_missing_pipeline() {
    let example = Example::without_cellprofiler();
    example.edit("job.json", "ExampleFly.cppipe", "Example.cppipe");
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline");
    assert_eq!(
        problem["subject"],
        "demo_project_folder/workspace/Example.cppipe"
    );
    assert!(
        problem["fix"].as_str().unwrap().contains("`pipeline`"),
        "{problem}"
    );
}

#[test]
fn a_missing_data_file() {
    let example = Example::without_cellprofiler();
    example.edit("job.json", "load_data.csv", "load_data_v2.csv");
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "data-file");
    assert!(
        problem["fix"].as_str().unwrap().contains("`data_file`"),
        "{problem}"
    );
}

#[test]
fn an_image_outside_the_runs_buckets() {
    let example = Example::without_cellprofiler();
    example.edit(
        CSV,
        "002,/home/ubuntu/bucket/demo_project_folder/images",
        "002,/etc",
    );
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "image-paths");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("Metadata_Position=2: line 2: PathName_OrigBlue: `/etc/01_POS002_D.TIF` is not under MOUNT_ROOT"), "{detail}");
}

#[test]
fn a_job_that_push_would_refuse() {
    let example = Example::without_cellprofiler();
    example.edit(
        "job.json",
        "\"output\": \"demo_project_folder/output\"",
        "\"output\": \"../elsewhere\"",
    );
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "job");
    let detail = problem["detail"].as_str().unwrap();
    // Refused for each of the 3 groups, said once with their lines.
    assert!(
        detail.starts_with("job.json:10,11,12: output: `../elsewhere` must be a relative key"),
        "{detail}"
    );
    assert_eq!(detail.matches("../elsewhere").count(), 1, "{detail}");
}

#[test]
fn without_a_job_the_queued_tasks_are_checked() {
    let example = Example::without_cellprofiler();
    let out = example.check(&[]);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["status"], "skipped");
    assert!(!example.path("run").exists(), "check made a queue file");

    example.edit("job.json", "Metadata_Position=218", "Metadata_Position=219");
    let push = dcp_tests::run(
        dcp_tests::tool("dcp-queue"),
        example.dir.path(),
        &["create"],
        "",
    );
    dcp_tests::stdout_ok(push);
    let push = dcp_tests::run(
        dcp_tests::tool("dcp-queue"),
        example.dir.path(),
        &["push", "job.json"],
        "",
    );
    dcp_tests::stdout_ok(push);
    let problem = the_problem(&example.check(&[]));
    assert_eq!(problem["check"], "groups");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Metadata_Position=219"),
        "{problem}"
    );
    let status = dcp_tests::run(
        dcp_tests::tool("dcp-queue"),
        example.dir.path(),
        &["status"],
        "",
    );
    let status: Value = serde_json::from_str(&dcp_tests::stdout_ok(status)).unwrap();
    assert_eq!(status["visible"], 3, "check received tasks: {status}");
}

#[test]
fn a_second_fleet_file_is_a_problem() {
    let example = Example::without_cellprofiler();
    let fleet = r#"{"IamFleetRole": "arn:aws:iam::1:role/r", "LaunchSpecifications": [{"ImageId": "ami-1"}]}"#;
    std::fs::write(example.path("fleet-a.json"), fleet).unwrap();
    std::fs::write(example.path("fleet-b.json"), fleet).unwrap();
    let out = example.check(&["fleet-a.json", "job.json", "fleet-b.json"]);
    let problem = the_problem(&out);
    assert_eq!(problem["check"], "fleet-file");
    assert_eq!(problem["subject"], "fleet-b.json");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("a second fleet file"),
        "{problem}"
    );
    dcp_tests::assert_exit(&example.check(&["fleet-a.json", "job.json"]), 0);
}
