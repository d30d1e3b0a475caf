//! Tasks and totals per batch: a task is its group in its output prefix in its batch, and
//! every dead letter counts, so `done + dead <= tasks` in the run and in each batch.

use super::*;

#[test]
fn totals_per_batch_count_tasks_done_and_dead_letters() {
    let in_batch = |output, status, id, batch: &str| Outcome {
        batch: Some(batch.to_owned()),
        ..outcome(output, status, id, 1, 1.0)
    };
    let batch = Batch {
        outcomes: vec![
            in_batch("out/P1-A01-1", Status::Success, "1", "P1"),
            in_batch("out/P1-A01-2", Status::SkippedDone, "2", "P1"),
            in_batch("out/P1-A01-3", Status::InputProblem, "3", "P2"),
            Outcome {
                receive_count: 2,
                ..in_batch("out/P1-A01-3", Status::InputProblem, "3", "P2")
            },
            outcome("out/P1-A01-4", Status::Success, "4", 1, 1.0),
        ],
        unreadable: 0,
    };
    let dead = [DeadLetter {
        id: "3".into(),
        receive_count: 1,
        body: body(3),
        batch: Some("P2".into()),
    }];
    let report = Report::build(&config(), None, 1, &batch, &dead);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["batches"],
        serde_json::json!({
            "P1": {"tasks": 2, "done": 2, "dead": 0, "attempts": 2, "failed_attempts": 0,
                   "by_status": {"success": 1, "skipped-done": 1}},
            "P2": {"tasks": 1, "done": 0, "dead": 1, "attempts": 2, "failed_attempts": 2,
                   "by_status": {"input-problem": 1}}})
    );
    assert_eq!(json["dead_letters"][0]["batch"], "P2");
}

fn in_batch(output: &str, status: Status, id: &str, batch: &str) -> Outcome {
    Outcome {
        batch: Some(batch.to_owned()),
        ..outcome(output, status, id, 1, 1.0)
    }
}

fn letter(id: &str, site: u32, batch: &str) -> DeadLetter {
    DeadLetter {
        id: id.into(),
        receive_count: 1,
        body: body(site),
        batch: Some(batch.into()),
    }
}

/// Whether `done + dead <= tasks` in the run and in every batch.
fn consistent(report: &Report) -> bool {
    let c = &report.counts;
    c.done + c.dead <= c.tasks
        && report
            .batches
            .values()
            .all(|b| b.done + b.dead <= b.tasks && b.by_status.values().sum::<u64>() <= b.tasks)
}

#[test]
fn a_group_pushed_in_two_batches_is_a_task_of_each() {
    // Batch A's task dies; batch B pushes the same group, which succeeds.
    let batch = Batch {
        outcomes: vec![
            in_batch("out/P1-A01-1", Status::CellprofilerFailed, "1", "A"),
            in_batch("out/P1-A01-1", Status::Success, "2", "B"),
        ],
        unreadable: 0,
    };
    let report = Report::build(&config(), None, 1, &batch, &[letter("1", 1, "A")]);
    assert!(consistent(&report), "{:?}", report.counts);
    assert_eq!(
        (report.counts.tasks, report.counts.done, report.counts.dead),
        (2, 1, 1)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["batches"],
        json!({
            "A": {"tasks": 1, "done": 0, "dead": 1, "attempts": 1, "failed_attempts": 1,
                  "by_status": {"cellprofiler-failed": 1}},
            "B": {"tasks": 1, "done": 1, "dead": 0, "attempts": 1, "failed_attempts": 0,
                  "by_status": {"success": 1}}})
    );
    let tasks: Vec<_> = report
        .tasks
        .iter()
        .map(|t| (t.last.batch.as_deref(), t.last.status, t.dead))
        .collect();
    assert_eq!(
        tasks,
        [
            (Some("A"), Status::CellprofilerFailed, true),
            (Some("B"), Status::Success, false)
        ]
    );
    // A's dead letter carries A's failure only.
    assert_eq!(report.dead_letters[0].attempts, 1);
    assert_eq!(
        report.dead_letters[0]
            .last_failure
            .as_ref()
            .unwrap()
            .batch
            .as_deref(),
        Some("A")
    );
}

#[test]
fn a_group_pushed_twice_in_one_batch_counts_its_dead_letter_apart() {
    // The first push's message dies; pushed again, the group succeeds; a third group's
    // messages both die.
    let batch = Batch {
        outcomes: vec![
            in_batch("out/P1-A01-1", Status::CellprofilerFailed, "1", "A"),
            in_batch("out/P1-A01-2", Status::CellprofilerFailed, "2", "A"),
            in_batch("out/P1-A01-1", Status::Success, "3", "A"),
            in_batch("out/P1-A01-2", Status::CellprofilerFailed, "4", "A"),
        ],
        unreadable: 0,
    };
    let dead = [
        letter("1", 1, "A"),
        letter("2", 2, "A"),
        letter("4", 2, "A"),
    ];
    let report = Report::build(&config(), None, 1, &batch, &dead);
    assert!(consistent(&report), "{:?}", report.counts);
    assert_eq!(
        (report.counts.tasks, report.counts.done, report.counts.dead),
        (4, 1, 3)
    );
    let a = &report.batches["A"];
    assert_eq!((a.tasks, a.done, a.dead, a.attempts), (4, 1, 3, 4));
    let dead_tasks: Vec<_> = report.tasks.iter().map(|t| t.dead).collect();
    assert_eq!(dead_tasks, [false, true], "the finished group is not dead");
}

#[test]
fn a_task_neither_done_nor_dead_counts_as_a_task() {
    let batch = Batch {
        outcomes: vec![in_batch("out/P1-A01-1", Status::DownloadProblem, "1", "A")],
        unreadable: 0,
    };
    let report = Report::build(&config(), None, 1, &batch, &[]);
    assert_eq!(
        (report.counts.tasks, report.counts.done, report.counts.dead),
        (1, 0, 0)
    );
    assert_eq!(report.batches["A"].tasks, 1);
}
