//! Two runs (APP_NAMEs) whose settings name one dead-letter queue, as DCP's default
//! `user_DeadMessages` does, each with a dead letter: `dcp-queue status`, `dead`,
//! `redrive`, `purge --dead-letters` and `delete` of one run see, move and remove only its
//! own letters, and the shared dead-letter queue stays until the last queue naming it is
//! deleted. On the embedded backend, and on SQS against a local moto server with the
//! letters read back through the SDK.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dcp_common::{EmbeddedQueue, Queue, QueueSpec};
use dcp_tests::{stdout_ok, tool};
use serde_json::{Value, json};

const RUNS: [&str; 2] = ["illum", "analysis"];

/// Writes `<run>.toml` (sharing `user_DeadMessages`, one receive before a task dies) and
/// `<run>.json` (one group, output `out/<run>`) for both runs.
fn write_runs(dir: &Path, backend: &str) {
    for run in RUNS {
        std::fs::write(
            dir.join(format!("{run}.toml")),
            format!(
                "BACKEND = \"{backend}\"\nAPP_NAME = \"{run}\"\nAWS_BUCKET = \"shared-runs\"\n\
                 SQS_DEAD_LETTER_QUEUE = \"user_DeadMessages\"\nJOB_RETRIES = 1\n\
                 SQS_MESSAGE_VISIBILITY = 1\nQUEUE_FILE = \"queue.sqlite\"\n"
            ),
        )
        .unwrap();
        let job = json!({"pipeline": "p.cppipe", "data_file": "d.csv", "input": "in/",
                         "output": format!("out/{run}"), "groups": [{"Metadata": "Metadata_Plate=P1"}]});
        std::fs::write(dir.join(format!("{run}.json")), job.to_string()).unwrap();
    }
}

/// Runs `dcp-queue --config <run>.toml ARGS` through `command`; its output lines as JSON.
fn dcp_queue(mut command: Command, run: &str, args: &[&str]) -> Vec<Value> {
    let config = format!("{run}.toml");
    let out = stdout_ok(
        command
            .args(["--config", &config])
            .args(args)
            .output()
            .unwrap(),
    );
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What every backend must show, each run with one dead letter: counts, lists, redrive
/// and purge of one run leave the other's letter alone. `command` makes a dcp-queue call.
fn each_run_sees_its_own(command: &dyn Fn() -> Command) {
    let queue = |run: &str, args: &[&str]| dcp_queue(command(), run, args);
    for run in RUNS {
        let status = &queue(run, &["status"])[0];
        assert_eq!(
            (&status["visible"], &status["in_flight"], &status["dead"]),
            (&json!(0), &json!(0), &json!(1)),
            "{run}: {status}"
        );
        let dead = queue(run, &["dead"]);
        assert_eq!(dead.len(), 1, "{run}: {dead:?}");
        assert_eq!(dead[0]["task"]["output"], format!("out/{run}"));
    }
    assert_eq!(queue("analysis", &["redrive"])[0]["redriven"], 1);
    let status = &queue("analysis", &["status"])[0];
    assert_eq!(
        (&status["visible"], &status["dead"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(queue("illum", &["status"])[0]["dead"], 1);
    assert_eq!(
        queue("analysis", &["purge", "--dead-letters"])[0]["purged"],
        0
    );
    assert_eq!(queue("analysis", &["redrive"])[0]["redriven"], 0);
    assert_eq!(queue("illum", &["dead"]).len(), 1, "left in place");
}

/// The deletes: the first keeps the dead-letter queue (the other run's queue names it,
/// and its letter stays); the last removes it.
fn the_last_delete_removes_the_shared_queue(command: &dyn Fn() -> Command) {
    let queue = |run: &str, args: &[&str]| dcp_queue(command(), run, args);
    assert_eq!(
        queue("analysis", &["delete"])[0],
        json!({"deleted": ["analysisQueue"],
               "kept": ["dead-letter queue user_DeadMessages: the redrive policy of illumQueue names it"]})
    );
    assert_eq!(queue("illum", &["status"])[0]["dead"], 1);
    assert_eq!(queue("illum", &["dead"]).len(), 1);
    assert_eq!(
        queue("illum", &["delete"])[0],
        json!({"deleted": ["illumQueue", "user_DeadMessages"], "kept": []})
    );
}

fn spec(run: &str) -> QueueSpec {
    QueueSpec {
        name: format!("{run}Queue"),
        dead_letter_queue: "user_DeadMessages".into(),
        visibility_timeout: Duration::from_secs(1),
        max_receives: 1,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_runs_sharing_a_dead_letter_queue_see_only_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runs(d, "embedded");
    let command = || {
        let mut command = Command::new(tool("dcp-queue"));
        command.current_dir(d).env_remove("DCP_CONFIG");
        command
    };
    for run in RUNS {
        dcp_queue(command(), run, &["create"]);
        dcp_queue(command(), run, &["push", &format!("{run}.json")]);
    }
    let queues = RUNS.map(|run| EmbeddedQueue::open(&d.join("queue.sqlite"), spec(run)).unwrap());
    for q in &queues {
        assert_eq!(q.receive(1, Duration::ZERO).await.unwrap().len(), 1);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for q in &queues {
        assert!(
            q.receive(1, Duration::ZERO).await.unwrap().is_empty(),
            "moved"
        );
    }
    each_run_sees_its_own(&command);
    the_last_delete_removes_the_shared_queue(&command);
}

#[cfg(feature = "aws")]
mod sqs {
    use super::*;
    use dcp_tests::moto::queue_url;

    /// Every body the queue `name` holds, read and left visible.
    pub async fn bodies(sqs: &aws_sdk_sqs::Client, name: &str) -> Vec<String> {
        let url = queue_url(sqs, name).await;
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        let mut bodies: Vec<String> = got
            .messages()
            .iter()
            .filter_map(|m| m.body.clone())
            .collect();
        bodies.sort();
        bodies
    }

    /// Receives each run's task twice, without deleting it: the second receive moves it.
    pub async fn kill_both(sqs: &aws_sdk_sqs::Client) {
        for round in 0..2 {
            for run in RUNS {
                let url = queue_url(sqs, format!("{run}Queue")).await;
                let got = sqs
                    .receive_message()
                    .queue_url(url)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(got.messages().len(), 1 - round, "{run}, receive {round}");
            }
        }
    }

    pub fn output_of(body: &str) -> String {
        let task: Value = serde_json::from_str(body).unwrap();
        task["output"].as_str().unwrap().to_owned()
    }
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread")]
async fn sqs_runs_sharing_a_dead_letter_queue_see_only_their_own() {
    let moto = dcp_tests::moto::Moto::start();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    // Where each push records its batch's tasks.
    let s3 = moto.s3_client().await;
    s3.create_bucket()
        .bucket("shared-runs")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runs(d, "aws");
    let command = || moto.tool("dcp-queue", d);
    for run in RUNS {
        dcp_queue(command(), run, &["create"]);
        dcp_queue(command(), run, &["push", &format!("{run}.json")]);
    }
    sqs::kill_both(&sqs).await;
    let dead_url = dcp_tests::moto::queue_url(&sqs, "user_DeadMessages").await;
    let sources = sqs
        .list_dead_letter_source_queues()
        .queue_url(&dead_url)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls().len(), 2);

    each_run_sees_its_own(&command);
    // Read back: the illum letter is still dead; the redriven analysis task waits in its
    // queue.
    let dead: Vec<String> = sqs::bodies(&sqs, "user_DeadMessages")
        .await
        .iter()
        .map(|b| sqs::output_of(b))
        .collect();
    assert_eq!(dead, ["out/illum"]);
    let back: Vec<String> = sqs::bodies(&sqs, "analysisQueue")
        .await
        .iter()
        .map(|b| sqs::output_of(b))
        .collect();
    assert_eq!(back, ["out/analysis"]);
    assert!(sqs::bodies(&sqs, "illumQueue").await.is_empty());

    the_last_delete_removes_the_shared_queue(&command);
    for name in ["illumQueue", "analysisQueue", "user_DeadMessages"] {
        assert!(
            sqs.get_queue_url().queue_name(name).send().await.is_err(),
            "{name}"
        );
    }
}
