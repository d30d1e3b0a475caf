use std::path::Path;

use dcp_common::outcome::Status;
use serde_json::json;

use super::*;

fn config() -> Config {
    Config::parse(
        "APP_NAME = \"Rep\"\nAWS_BUCKET = \"b\"\n",
        "test",
        Path::new("/"),
    )
    .unwrap()
}

fn outcome(output: &str, status: Status, id: &str, receive_count: u32, seconds: f64) -> Outcome {
    Outcome {
        group: group_of(output),
        output: output.to_owned(),
        status,
        seconds,
        started: None,
        copy: None,
        worker: None,
        outputs: if status == Status::Success {
            vec!["Image.csv".into()]
        } else {
            Vec::new()
        },
        exit_code: (status == Status::CellprofilerFailed).then_some(1),
        message_id: id.to_owned(),
        receive_count,
        detail: (!status.is_done()).then(|| format!("{status:?} at receive {receive_count}")),
        log: None,
        batch: None,
    }
}

/// The group whose output prefix (empty output_structure) is `output`: `out/P1-A01-3`.
fn group_of(output: &str) -> String {
    let values: Vec<&str> = output.trim_start_matches("out/").split('-').collect();
    match values[..] {
        [plate, well, site] => {
            format!("Metadata_Plate={plate},Metadata_Well={well},Metadata_Site={site}")
        }
        _ => String::new(),
    }
}

fn body(site: u32) -> String {
    Task::from_body(&format!(
        r#"{{"Metadata": "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site={site}", "pipeline": "p.cppipe", "output": "out", "input": "in", "data_file": "d.csv", "output_structure": ""}}"#
    ))
    .unwrap()
    .to_body()
}

/// Three tasks of a job and one unreadable message, as four workers reported them.
fn sample() -> (Batch, Vec<DeadLetter>) {
    use Status::*;
    let outcomes = vec![
        outcome("out/P1-A01-1", CellprofilerFailed, "1", 1, 10.0),
        outcome("out/P1-A01-3", CellprofilerFailed, "3", 2, 4.0),
        outcome("out/P1-A01-1", Success, "1", 2, 20.0),
        outcome("out/P1-A01-2", SkippedDone, "2", 1, 0.5),
        outcome("out/P1-A01-3", DownloadProblem, "3", 1, 1.0),
        outcome("", InputProblem, "9", 1, 0.0),
    ];
    let dead = vec![
        DeadLetter {
            id: "3".into(),
            receive_count: 2,
            body: body(3),
            batch: None,
        },
        DeadLetter {
            id: "9".into(),
            receive_count: 1,
            body: "not a task".into(),
            batch: None,
        },
    ];
    (
        Batch {
            outcomes,
            unreadable: 1,
        },
        dead,
    )
}

#[test]
fn every_task_gets_its_final_outcome_and_attempts() {
    let (batch, dead) = sample();
    let report = Report::build(&config(), Some(100), 160, &batch, &dead);
    assert_eq!(
        report.counts,
        Counts {
            tasks: 4,
            done: 2,
            dead: 2,
            attempts: 6,
            failed_attempts: 4,
            unreadable_lines: 1
        }
    );
    let by_status = json!(report.by_status);
    assert_eq!(
        by_status,
        json!({"cellprofiler-failed": 1, "input-problem": 1, "skipped-done": 1, "success": 1})
    );
    let summary: Vec<(&str, Status, u64, f64, bool)> = report
        .tasks
        .iter()
        .map(|t| {
            (
                t.last.output.as_str(),
                t.last.status,
                t.attempts,
                t.total_seconds,
                t.dead,
            )
        })
        .collect();
    use Status::*;
    assert_eq!(
        summary,
        [
            ("out/P1-A01-1", Success, 2, 30.0, false),
            ("out/P1-A01-2", SkippedDone, 1, 0.5, false),
            ("out/P1-A01-3", CellprofilerFailed, 2, 5.0, true),
            ("", InputProblem, 1, 0.0, true),
        ]
    );
    assert_eq!(
        report.tasks[0].last.seconds, 20.0,
        "the final attempt's time"
    );
}

#[test]
fn dead_letters_carry_their_task_and_last_failure_class() {
    let (batch, dead) = sample();
    let report = Report::build(&config(), None, 160, &batch, &dead);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["app"], "Rep");
    assert_eq!(json["queue"], "RepQueue");
    assert_eq!(json["dead_letter_queue"], "RepDeadMessages");
    assert_eq!(json["started"], Value::Null);
    let first = &json["dead_letters"][0];
    assert_eq!(first["id"], "3");
    assert_eq!(first["output"], "out/P1-A01-3");
    assert_eq!(
        first["group"],
        "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=3"
    );
    assert_eq!(
        first["task"]["Metadata"],
        "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=3"
    );
    assert_eq!(first["attempts"], 2);
    // The receive-2 attempt was read first but is the last one.
    assert_eq!(first["last_failure"]["status"], "cellprofiler-failed");
    assert_eq!(first["last_failure"]["receive_count"], 2);
    assert_eq!(first["last_failure"]["exit_code"], 1);
    let second = &json["dead_letters"][1];
    assert_eq!(second["task"], "not a task");
    assert_eq!(second["output"], Value::Null);
    assert_eq!(second["last_failure"]["status"], "input-problem");
}

#[test]
fn a_dead_letter_no_worker_reported_has_no_failure() {
    let dead = [DeadLetter {
        id: "5".into(),
        receive_count: 3,
        body: body(5),
        batch: Some("P1".into()),
    }];
    let report = Report::build(&config(), None, 1, &Batch::default(), &dead);
    assert_eq!(report.counts.dead, 1);
    assert_eq!(
        report.counts.tasks, 1,
        "a dead task is a task, reported or not"
    );
    assert_eq!(report.dead_letters[0].attempts, 0);
    assert!(report.dead_letters[0].last_failure.is_none());
    assert_eq!(
        report.batches["P1"],
        BatchTotals {
            tasks: 1,
            dead: 1,
            ..BatchTotals::default()
        }
    );
}

#[test]
fn a_failure_after_a_success_does_not_undo_it() {
    let batch = Batch {
        outcomes: vec![
            outcome("out/x", Status::Success, "1", 1, 3.0),
            outcome("out/x", Status::OutputProblem, "1", 2, 3.0),
        ],
        unreadable: 0,
    };
    let report = Report::build(&config(), None, 1, &batch, &[]);
    assert_eq!(report.tasks[0].last.status, Status::Success);
    assert_eq!(report.counts.done, 1);
    assert_eq!(report.counts.failed_attempts, 1);
}

/// An attempt of worker `worker`'s copy `copy` that started at `started`.
fn ran(worker: &str, copy: u32, started: f64, output: &str, status: Status) -> Outcome {
    Outcome {
        worker: Some(worker.to_owned()),
        copy: Some(copy),
        started: Some(started),
        ..outcome(output, status, "1", 1, 2.0)
    }
}

#[test]
fn the_timeline_holds_every_attempt_by_worker_copy_and_start() {
    let batch = Batch {
        outcomes: vec![
            ran("10", 0, 5.0, "out/P1-A01-1", Status::Success),
            ran("2", 1, 3.0, "out/P1-A01-2", Status::Success),
            ran("2", 0, 9.0, "out/P1-A01-3", Status::CellprofilerFailed),
            ran("2", 0, 1.0, "out/P1-A01-3", Status::Success),
        ],
        unreadable: 0,
    };
    let report = Report::build(&config(), None, 10, &batch, &[]);
    let order: Vec<(&str, u32, f64)> = report
        .timeline
        .iter()
        .map(|s| {
            (
                s.worker.as_deref().unwrap(),
                s.copy.unwrap(),
                s.started.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [("2", 0, 1.0), ("2", 0, 9.0), ("2", 1, 3.0), ("10", 0, 5.0)]
    );
    assert_eq!(report.timeline[1].status, Status::CellprofilerFailed);
}

/// The JSON island of a rendered page, read back.
fn island_of(page: &str) -> Value {
    let start = page.find(r#"id="report-data">"#).unwrap() + r#"id="report-data">"#.len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

#[test]
fn the_page_embeds_the_report_so_that_no_string_of_it_is_markup() {
    let hostile = "</script><script>alert(1)</script><!--";
    let mut failed = ran("1", 0, 1.0, "out/P1-A01-1", Status::CellprofilerFailed);
    failed.group = format!("Metadata_Plate={hostile}");
    failed.detail = Some(format!("Error & {hostile}\u{2028}next line"));
    let batch = Batch {
        outcomes: vec![failed, ran("1", 0, 4.0, "out/P1-A01-2", Status::Success)],
        unreadable: 0,
    };
    let report = Report::build(&config(), Some(0), 10, &batch, &[]);
    let page = html::render(&report);
    let template = include_str!("page.html");
    for markup in ["<script", "</script", "<!--", "\u{2028}"] {
        assert_eq!(
            page.matches(markup).count(),
            template.matches(markup).count(),
            "{markup} only where the template has it"
        );
    }
    assert_eq!(island_of(&page), serde_json::to_value(&report).unwrap());
    assert!(!page.contains("/*REPORT*/"));
}

mod batches;
