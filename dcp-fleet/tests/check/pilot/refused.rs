//! What stops the pilot before anything runs (exit 2): a pipeline writing outside the
//! Default Output Folder (as written, or through a metadata tag), a job file missing, not a job, or named twice, and nothing to run.

use super::*;

const PIPELINE: &str = "src/demo_project_folder/workspace/ExampleFly.cppipe";

/// The pilot's folders under `tmp/` (TMPDIR): none when nothing ran.
fn pilot_folders(example: &Example) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(example.path("tmp")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("dcp-pilot"))
        .collect()
}

fn pushed(example: &Example) {
    for args in [&["create"][..], &["push", "job.json"]] {
        let out = dcp_tests::run(dcp_tests::tool("dcp-queue"), example.dir.path(), args, "");
        dcp_tests::stdout_ok(out);
    }
}

#[test]
fn a_pipeline_writing_outside_the_default_output_folder_is_refused_before_cellprofiler() {
    let example = Example::new(&dcp_tests::cellprofiler());
    let elsewhere = example.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("Image.csv"), "an earlier run's\n").unwrap();
    example.edit(
        PIPELINE,
        "Output file location:Default Output Folder|.",
        &format!("Output file location:Elsewhere...|{}", elsewhere.display()),
    );
    let source = tree(&example.path("src"));

    // Plain check names the module and the fix.
    let problem = the_problem(&example.check(&["job.json"]));
    assert_eq!(problem["check"], "pipeline-output");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("ExportToSpreadsheet #"), "{detail}");
    assert!(detail.contains(&format!("Elsewhere...|{}", elsewhere.display())));
    assert!(
        problem["fix"]
            .as_str()
            .unwrap()
            .contains("Default Output Folder")
    );

    let out = pilot(&example, &["job.json"], None);
    dcp_tests::assert_exit(&out, 2);
    let all = findings(&out);
    assert_eq!(the(&all, "pipeline-output")["status"], "problem");
    let run = the(&all, "pilot");
    assert_eq!(run["status"], "problem", "{run:#}");
    assert!(
        run["detail"].as_str().unwrap().starts_with("not run"),
        "{run:#}"
    );
    assert_eq!(pilot_folders(&example), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("Image.csv")).unwrap(),
        "an earlier run's\n"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    assert_eq!(
        tree(&example.path("src")),
        source,
        "the pilot wrote into SOURCE_BUCKET"
    );
    assert!(!example.path("results").exists());
}

#[test]
fn an_output_sub_folder_whose_metadata_tag_leads_outside_is_refused_before_cellprofiler() {
    let example = Example::new(&dcp_tests::cellprofiler());
    // The first group (what the pilot runs) would write into the run folder, three levels
    // up from the output folder of the pilot's scratch under tmp/.
    example.export_to_sub_folder("\\g<Dir>");
    example.add_column("Metadata_Dir", ["../../../escaped", "ok", "ok"]);
    let before = tree(example.dir.path());

    let out = pilot(&example, &["job.json"], None);
    dcp_tests::assert_exit(&out, 2);
    let all = findings(&out);
    let output = the(&all, "pipeline-output");
    assert_eq!(output["status"], "problem", "{output:#}");
    let detail = output["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "which is `../../../escaped` for demo_project_folder/workspace/load_data.csv \
             line 2 (Metadata_Dir `../../../escaped`)"
        ),
        "{detail}"
    );
    let run = the(&all, "pilot");
    assert!(
        run["detail"].as_str().unwrap().starts_with("not run"),
        "{run:#}"
    );
    assert_eq!(pilot_folders(&example), Vec::<String>::new());
    assert!(!example.path("escaped").exists());
    let tmp = example.path("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "wrote into {tmp:?}"
    );
    let mut after = tree(example.dir.path());
    after.retain(|(path, _)| !path.starts_with(&tmp));
    assert_eq!(after, before, "the pilot wrote into the run folder");
}

#[test]
fn a_job_file_missing_not_a_job_or_named_twice_runs_nothing_not_even_the_queues() {
    let example = with_standin();
    pushed(&example);
    std::fs::write(example.path("notes.json"), "{\"hello\": 1}\n").unwrap();
    for args in [
        &["jbo.json"][..],
        &["notes.json"],
        &["job.json", "job.json"],
        &["job.json", "./job.json"],
    ] {
        let out = pilot(&example, args, None);
        dcp_tests::assert_exit(&out, 2);
        let all = findings(&out);
        assert_eq!(
            the(&all, "input")["status"],
            "problem",
            "{args:?}: {all:#?}"
        );
        let run = the(&all, "pilot");
        assert!(
            run["detail"].as_str().unwrap().starts_with("not run"),
            "{run:#}"
        );
        assert_eq!(pilot_folders(&example), Vec::<String>::new(), "{args:?}");
    }
    // With no file named, the queue's first task runs.
    let out = pilot(&example, &[], None);
    dcp_tests::assert_exit(&out, 0);
    assert_eq!(
        the(&findings(&out), "pilot")["subject"],
        "Metadata_Position=2"
    );
}

#[test]
fn no_job_and_an_empty_queue_is_a_problem_for_the_pilot() {
    let example = with_standin();
    let out = pilot(&example, &[], None);
    dcp_tests::assert_exit(&out, 2);
    let run = the(&findings(&out), "pilot");
    assert_eq!(run["status"], "problem", "{run:#}");
    assert_eq!(pilot_folders(&example), Vec::<String>::new());
}
