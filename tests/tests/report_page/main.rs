//! The run report's page (`report.html`) in a real browser: headless Chromium opens the page
//! dcp-watch wrote at the end of an embedded run, with no error logged, a screenshot that is
//! not blank, and one timeline bar per attempt. One run with REAL CellProfiler on DCP's
//! ExampleFly; one with the stand-in for a mix of outcomes, two batches, a dead letter and a
//! group whose name is markup.

mod browser;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dcp_tests::{assert_exit, stdout_ok, tool};
use serde_json::Value;

use browser::{Page, drawn_pixels};

/// Runs `bin` in `dir` with `args`, with the settings of `dir/dcp.toml` only.
fn run(bin: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(tool(bin))
        .args(args)
        .current_dir(dir)
        .env_remove("DCP_CONFIG")
        .env_remove("DCP_WORKER")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Starts the embedded fleet and watches the run drain; returns dcp-watch's output and
/// the report's folder.
fn fleet_and_watch(dir: &Path, env: &[(&str, &str)]) -> (Output, PathBuf) {
    stdout_ok(run("dcp-fleet", dir, &["start"], env));
    let out = run("dcp-watch", dir, &["--interval", "0.5"], env);
    let last: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let report = PathBuf::from(last["report"].as_str().unwrap());
    (out, report.parent().unwrap().to_owned())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Opens the page, and checks what every report page must show: no error logged, a
/// screenshot with something drawn, one bar per attempt of the report's timeline, each
/// coloured by its outcome.
fn open_and_check(run_dir: &Path, report: &Value) -> Page {
    let page = Page::open(&run_dir.join("report.html"));
    assert_eq!(page.errors(), Vec::<String>::new(), "errors logged");
    let shot = page.screenshot();
    let (drawn, all) = drawn_pixels(&shot);
    assert!(
        drawn * 50 > all,
        "the screenshot is all but blank: {drawn} of {all} pixels drawn"
    );
    let attempts = report["timeline"].as_array().unwrap();
    assert_eq!(attempts.len() as u64, report["counts"]["attempts"]);
    let bars = page.eval(
        "[...document.querySelectorAll('#timeline-svg rect.bar')].map(b => b.dataset.status)",
    );
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    let mut bars: Vec<&Value> = bars.as_array().unwrap().iter().collect();
    let mut expected = statuses.clone();
    bars.sort_by_key(|v| v.to_string());
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(bars, expected, "one bar per attempt, with its outcome");
    let rows = page.eval("document.querySelectorAll('#timeline-svg text').length");
    assert!(rows.as_u64().unwrap() > 0);
    page
}

fn examplefly_settings(example: &Path, cellprofiler: &Path) -> String {
    format!(
        "APP_NAME = \"ExampleFly\"\nAWS_BUCKET = \"run\"\nSOURCE_BUCKET = \"{}\"\n\
         DESTINATION_BUCKET = \"results\"\nCELLPROFILER = \"{}\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 120\n\
         LOCAL_WORKERS = 2\nDOCKER_CORES = 1\nSECONDS_TO_START = 0\n",
        example.display(),
        cellprofiler.display()
    )
}

#[test]
fn the_page_of_a_real_examplefly_run_shows_each_attempt_on_its_worker() {
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        examplefly_settings(&example, &cellprofiler),
    )
    .unwrap();
    let job = example.join("job.json");
    stdout_ok(run("dcp-queue", d, &["create"], &[]));
    stdout_ok(run("dcp-queue", d, &["push", job.to_str().unwrap()], &[]));
    let (out, run_dir) = fleet_and_watch(d, &[]);
    assert_exit(&out, 0);

    let report = read_json(&run_dir.join("report.json"));
    assert_eq!(report["counts"]["done"], 3, "{report}");
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 3);
    for span in timeline {
        assert!(span["started"].as_f64().unwrap() >= report["started"].as_f64().unwrap());
        assert!(span["seconds"].as_f64().unwrap() > 0.0);
        assert!(
            ["1", "2"].contains(&span["worker"].as_str().unwrap()),
            "{span}"
        );
        assert_eq!(span["copy"], 0);
    }
    let page = open_and_check(&run_dir, &report);
    let title = page.eval("document.getElementById('title').textContent");
    assert_eq!(title, "Run report: ExampleFly");
    let slowest = page.eval("document.querySelectorAll('#slowest tr').length");
    assert_eq!(slowest, 4, "a header and the three groups");
    let shot = page.screenshot();
    let kept = std::env::var_os("DCP_REPORT_SCREENSHOT");
    if let Some(path) = kept {
        std::fs::write(path, shot).unwrap();
    }
}

/// The plate whose name is markup: were it read as HTML, the page would hold a `<b>`.
const MARKUP: &str = "<b hostile>P2";

#[test]
fn the_page_shows_outcomes_batches_and_dead_letters_and_names_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dcp_tests::standin_bucket(d);
    let csv = std::fs::read_to_string(d.join("bucket/w/load_data.csv")).unwrap();
    std::fs::write(
        d.join("bucket/w/load_data.csv"),
        csv.replace("P2,P2.tif", &format!("{MARKUP},P2.tif")),
    )
    .unwrap();
    std::fs::write(
        d.join("dcp.toml"),
        format!(
            "APP_NAME = \"Mix\"\nAWS_BUCKET = \"bucket\"\nCELLPROFILER = \"{}\"\n\
             JOB_RETRIES = 2\nSQS_MESSAGE_VISIBILITY = 1\nLOCAL_WORKERS = 2\n\
             DOCKER_CORES = 2\nSECONDS_TO_START = 0\n",
            dcp_tests::STANDIN
        ),
    )
    .unwrap();
    stdout_ok(run("dcp-queue", d, &["create"], &[]));
    for (batch, plates) in [("first", &["P1", MARKUP][..]), ("second", &["P3"][..])] {
        let groups: Vec<Value> = plates
            .iter()
            .map(|p| serde_json::json!({"Metadata": format!("Metadata_Plate={p}")}))
            .collect();
        let job = serde_json::json!({
            "pipeline": "w/p.cppipe", "data_file": "w/load_data.csv", "input": "img",
            "output": "out", "output_structure": "Metadata_Plate", "groups": groups,
        });
        let file = d.join(format!("{batch}.json"));
        std::fs::write(&file, job.to_string()).unwrap();
        let args = ["push", "--batch", batch, file.to_str().unwrap()];
        stdout_ok(run("dcp-queue", d, &args, &[]));
    }
    let (out, run_dir) = fleet_and_watch(d, &[("STANDIN", "fail-on:P3")]);
    assert_exit(&out, 3);

    let report = read_json(&run_dir.join("report.json"));
    assert_eq!(report["counts"]["attempts"], 4, "{report}");
    assert_eq!(report["batches"]["second"]["failed_attempts"], 2);
    let page = open_and_check(&run_dir, &report);
    let failed = page.eval(
        "[...document.querySelectorAll('#timeline-svg rect.bar')]\
         .filter(b => b.getAttribute('fill') !== '#2e9d4f').length",
    );
    assert_eq!(failed, 2, "the failed attempts stand out");
    let batches = page.eval(
        "[...document.querySelectorAll('#batches tr')].slice(1).map(r => r.cells[0].textContent)",
    );
    assert_eq!(batches, serde_json::json!(["first", "second"]));
    let dead = page.eval(
        "[...document.querySelectorAll('#dead tr')].slice(1)\
         .map(r => [r.cells[1].textContent, r.cells[4].textContent])",
    );
    assert_eq!(dead, serde_json::json!([["second", "cellprofiler-failed"]]));
    assert_eq!(page.eval("document.querySelectorAll('b').length"), 0);
    let text = page.eval("document.body.innerText");
    assert!(text.as_str().unwrap().contains(MARKUP), "{text}");
}

#[test]
fn the_browser_reports_a_page_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.html");
    std::fs::write(&file, "<p>x</p><script>no_such_function();</script>").unwrap();
    let page = Page::open(&file);
    let errors = page.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("no_such_function"), "{errors:?}");
}
