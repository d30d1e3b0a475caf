//! `--pilot`: one group run here through the worker's attempt, into a folder of the
//! pilot's own. Real CellProfiler on ExampleFly for the figures; the stand-in for the
//! pilot's own handling of a failure, a chosen group and a MEMORY too small.

use std::process::Command;

use super::*;

/// The pilot's temporary folders go under `tmp/` of the run folder (TMPDIR).
fn pilot(example: &Example, args: &[&str], standin: Option<&str>) -> Output {
    let tmp = example.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("check")
        .arg("--pilot")
        .args(args)
        .current_dir(example.dir.path())
        .env_remove("DCP_CONFIG")
        .env("TMPDIR", &tmp);
    if let Some(mode) = standin {
        command.env("STANDIN", mode);
    }
    command.output().unwrap()
}

/// ExampleFly with the CellProfiler stand-in (its pipeline checks are skipped).
fn with_standin() -> Example {
    Example::new(Path::new(dcp_tests::STANDIN))
}

fn the(all: &[Value], check: &str) -> Value {
    let found: Vec<&Value> = all.iter().filter(|f| f["check"] == check).collect();
    assert_eq!(found.len(), 1, "{check}: {all:#?}");
    found[0].clone()
}

fn figure(finding: &Value, name: &str) -> f64 {
    finding["figures"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no figure {name}: {finding:#}"))
}

#[test]
fn examplefly_runs_one_group_with_real_cellprofiler_beside_the_results() {
    let example = Example::new(&dcp_tests::cellprofiler());
    let settings = std::fs::read_to_string(example.path("dcp.toml")).unwrap();
    let settings = format!(
        "{settings}CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nCLUSTER_MACHINES = 2\n\
         TASKS_PER_MACHINE = 1\nDOCKER_CORES = 2\nMACHINE_TYPE = [\"m5.xlarge\"]\n"
    );
    std::fs::write(example.path("dcp.toml"), settings).unwrap();
    let source = tree(&example.path("src"));
    let out = pilot(&example, &["job.json"], None);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);

    let run = the(&all, "pilot");
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(
        run["subject"], "Metadata_Position=2",
        "the job's first group"
    );
    let wall = figure(&run, "wall_seconds");
    assert!((1.0..600.0).contains(&wall), "{run:#}");
    let cpu = figure(&run, "cpu_seconds");
    assert!(cpu > 0.5 && cpu < wall * 4.0, "{run:#}");
    // CellProfiler's Python with numpy and scikit-image holds well over 100 MiB.
    let peak = figure(&run, "peak_memory_mib");
    assert!((100.0..8000.0).contains(&peak), "{run:#}");
    // The pipeline, the load-data file, the group's three images and the results.
    let images: u64 = ["01_POS002_D.TIF", "01_POS002_F.TIF", "01_POS002_R.TIF"]
        .iter()
        .map(|f| {
            let path = example.path(&format!("src/demo_project_folder/images/{f}"));
            std::fs::metadata(path).unwrap().len()
        })
        .sum();
    let disk = figure(&run, "disk_mib");
    assert!(disk * 1048576.0 > images as f64, "{run:#}");

    // The results are in the pilot's own folder, named in the finding.
    let results = PathBuf::from(run["figures"]["results"].as_str().unwrap());
    assert!(results.starts_with(example.path("tmp")), "{run:#}");
    assert!(results.ends_with("demo_project_folder/output/2"), "{run:#}");
    assert_eq!(
        run["figures"]["outputs"],
        serde_json::json!(["Cells.csv", "Cytoplasm.csv", "Image.csv", "Nuclei.csv"])
    );
    let nuclei = std::fs::read_to_string(results.join("Nuclei.csv")).unwrap();
    assert!(nuclei.lines().count() > 100, "nuclei found");
    // DESTINATION_BUCKET is untouched (never made), the source unchanged.
    assert!(
        !example.path("results").exists(),
        "the pilot wrote to DESTINATION_BUCKET"
    );
    assert_eq!(
        tree(&example.path("src")),
        source,
        "the pilot changed the source"
    );

    let memory = the(&all, "pilot-memory");
    assert_eq!(memory["status"], "ok", "{memory:#}");
    assert_eq!(figure(&memory, "needed_mib"), 2.0 * peak);
    assert_eq!(the(&all, "pilot-disk")["status"], "ok");
    let price = the(&all, "spot-price");
    assert_eq!(price["status"], "skipped");
    assert!(price["detail"].as_str().unwrap().contains("embedded"));
    // 3 groups, 4 at once: one round of the pilot on 2 machines.
    let estimate = the(&all, "pilot-estimate");
    assert_eq!(estimate["figures"]["groups"], 3);
    assert_eq!(estimate["figures"]["rounds"], 1);
    let hours = figure(&estimate, "wall_hours");
    assert!((hours - wall / 3600.0).abs() < 1e-9, "{estimate:#}");
    assert!((figure(&estimate, "instance_hours") - 2.0 * hours).abs() < 1e-9);
    assert!(estimate["figures"]["spot_cost_usd"].is_null());
}

#[test]
fn a_group_that_fails_is_the_pilots_problem() {
    let example = with_standin();
    let out = pilot(&example, &["job.json"], Some("fail"));
    let problem = the_problem(&out);
    assert_eq!(problem["check"], "pilot");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("cellprofiler-failed"), "{detail}");
    let log = detail.rsplit("its log is ").next().unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("stand-in running Metadata_Position=2"),
        "{log}"
    );
    assert!(!example.path("results").exists());
    let all = findings(&out);
    assert!(
        !all.iter().any(|f| f["check"] == "pilot-estimate"),
        "{all:#?}"
    );
}

#[test]
fn a_missing_image_fails_the_pilot_before_cellprofiler() {
    let example = with_standin();
    std::fs::remove_file(example.path("src/demo_project_folder/images/01_POS002_R.TIF")).unwrap();
    let out = pilot(&example, &["job.json"], None);
    dcp_tests::assert_exit(&out, 2);
    let all = findings(&out);
    assert_eq!(the(&all, "images")["status"], "problem");
    let problem = the(&all, "pilot");
    assert_eq!(problem["status"], "problem", "{problem:#}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("input-problem"), "{detail}");
    assert!(detail.contains("01_POS002_R.TIF"), "{detail}");
}

#[test]
fn the_group_named_runs_and_an_unknown_one_is_refused() {
    let example = with_standin();
    let out = pilot(
        &example,
        &["job.json", "--group", "Metadata_Position=218"],
        None,
    );
    dcp_tests::assert_exit(&out, 0);
    let run = the(&findings(&out), "pilot");
    assert_eq!(run["subject"], "Metadata_Position=218");
    let results = PathBuf::from(run["figures"]["results"].as_str().unwrap());
    let image = std::fs::read_to_string(results.join("Image.csv")).unwrap();
    assert!(image.contains("Metadata_Position=218"), "{image}");

    let problem = the_problem(&pilot(
        &example,
        &["job.json", "--group", "Metadata_Position=5"],
        None,
    ));
    assert_eq!(problem["check"], "pilot");
    assert!(
        problem["fix"]
            .as_str()
            .unwrap()
            .contains("Metadata_Position=2")
    );
}

#[test]
fn a_memory_too_small_for_the_copies_is_a_problem() {
    let example = with_standin();
    let settings = std::fs::read_to_string(example.path("dcp.toml")).unwrap();
    std::fs::write(
        example.path("dcp.toml"),
        format!("{settings}MEMORY = 1\nDOCKER_CORES = 2\n"),
    )
    .unwrap();
    let problem = the_problem(&pilot(&example, &["job.json"], None));
    assert_eq!(problem["check"], "pilot-memory");
    assert!(
        problem["fix"]
            .as_str()
            .unwrap()
            .contains("raise MEMORY to at least")
    );
}
