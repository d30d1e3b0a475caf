//! dcp-worker's AWS side against a real local moto server, which also answers as the EC2
//! instance metadata service (instance `i-fake`, through the relay [`Imds`]): the
//! instance's idle alarm and Name tag, the task logs and outcome lines in CloudWatch Logs,
//! CHECK_IF_DONE requiring a complete record, a spot interruption notice handing the task
//! back, a rebalance recommendation letting the task finish but taking no new one, and a task purged while it runs ending as `lost-receipt` without ending the
//! worker. Everything is read back through the SDK. CellProfiler is the stand-in: these
//! test the worker's own handling.
#![cfg(feature = "aws")]

use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::OutputLogEvent;
use aws_sdk_s3::primitives::ByteStream;
use dcp_tests::imds::Imds;
use dcp_tests::moto::{Moto, queue_url};
use dcp_tests::stdout_ok;

const APP: &str = "CloudWorker";
const BUCKET: &str = "cloud-data";

struct Run {
    moto: Moto,
    dir: tempfile::TempDir,
    s3: aws_sdk_s3::Client,
    sdk: aws_config::SdkConfig,
}

impl Run {
    /// A moto server with the stand-in's bucket, settings adding `extra`, and the queue.
    async fn new(extra: &str) -> Run {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        let s3 = moto.s3_client().await;
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        dcp_tests::standin_bucket(dir.path());
        for key in ["w/p.cppipe", "w/load_data.csv", "img/P1.tif", "img/P2.tif"] {
            let body = ByteStream::from_path(dir.path().join("bucket").join(key))
                .await
                .unwrap();
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body)
                .send()
                .await
                .unwrap();
        }
        let settings = format!(
            "BACKEND = \"aws\"\nAPP_NAME = \"{APP}\"\nAWS_BUCKET = \"{BUCKET}\"\n\
             CELLPROFILER = \"{}\"\nDOCKER_CORES = 1\nSECONDS_TO_START = 0\n{extra}\n",
            dcp_tests::STANDIN
        );
        std::fs::write(dir.path().join("dcp.toml"), settings).unwrap();
        let run = Run { moto, dir, s3, sdk };
        stdout_ok(run.tool("dcp-queue").arg("create").output().unwrap());
        run
    }

    fn tool(&self, name: &str) -> Command {
        self.moto.tool(name, self.dir.path())
    }

    fn push(&self, plates: &[&str]) {
        let groups: Vec<String> = plates
            .iter()
            .map(|p| format!("{{\"Metadata\": \"Metadata_Plate={p}\"}}"))
            .collect();
        let job = format!(
            "{{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/load_data.csv\", \
             \"input\": \"img/\", \"output\": \"out\", \"groups\": [{}]}}",
            groups.join(", ")
        );
        let job_file = self.dir.path().join("job.json");
        std::fs::write(&job_file, job).unwrap();
        stdout_ok(
            self.tool("dcp-queue")
                .args(["push", job_file.to_str().unwrap()])
                .output()
                .unwrap(),
        );
    }

    /// A dcp-worker command with the stand-in in `mode` and `imds` as the metadata service
    /// (`None`: off EC2).
    fn worker(&self, mode: &str, imds: Option<&str>) -> Command {
        let mut command = self.tool("dcp-worker");
        command
            .env("STANDIN", mode)
            .env("STANDIN_STARTS", self.starts_file())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match imds {
            Some(url) => command
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)
                .env_remove("AWS_EC2_METADATA_DISABLED"),
            None => command.env("AWS_EC2_METADATA_DISABLED", "true"),
        };
        command
    }

    fn starts_file(&self) -> std::path::PathBuf {
        self.dir.path().join("starts.txt")
    }

    fn starts(&self) -> usize {
        std::fs::read_to_string(self.starts_file()).map_or(0, |t| t.lines().count())
    }

    fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.sdk)
    }

    /// The names of the streams of the run's log group starting with `prefix`.
    async fn streams(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .logs()
            .describe_log_streams()
            .log_group_name(APP)
            .log_stream_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        listed
            .log_streams
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.log_stream_name.unwrap())
            .collect()
    }

    async fn events(&self, stream: &str) -> Vec<OutputLogEvent> {
        self.logs()
            .get_log_events()
            .log_group_name(APP)
            .log_stream_name(stream)
            .start_from_head(true)
            .send()
            .await
            .unwrap()
            .events
            .unwrap_or_default()
    }

    /// Waits until the worker found its instance (and so watches for notices): the idle
    /// alarm is there.
    async fn found_instance(&self, deadline: Instant) {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.sdk);
        while cloudwatch
            .describe_alarms()
            .alarm_names(format!("{APP}_i-fake"))
            .send()
            .await
            .unwrap()
            .metric_alarms
            .unwrap_or_default()
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "no alarm: the worker found no instance"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (visible, in flight) of the task queue, read through the SDK.
    async fn queue_counts(&self) -> (u64, u64) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = queue_url(&sqs, format!("{APP}Queue")).await;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let n = |name: aws_sdk_sqs::types::QueueAttributeName| {
            attributes[&name].parse::<u64>().unwrap()
        };
        (
            n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
            n(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

fn stdout_lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn messages(events: &[OutputLogEvent]) -> Vec<&str> {
    events.iter().map(|e| e.message().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn on_ec2_the_worker_alarms_its_instance_and_logs_attempts_and_outcomes() {
    let run = Run::new("").await;
    run.push(&["P1", "P2"]);
    let imds = Imds::start(&run.moto.url, false);
    let out = run.worker("ok", Some(&imds.url)).output().unwrap();
    let lines = stdout_lines(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("\"status\":\"success\"")));

    // The idle alarm on i-fake, as DCP puts it.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&run.sdk);
    let alarms = cloudwatch
        .describe_alarms()
        .alarm_names(format!("{APP}_i-fake"))
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap_or_default();
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let alarm = &alarms[0];
    assert_eq!(alarm.metric_name(), Some("CPUUtilization"));
    assert_eq!(alarm.namespace(), Some("AWS/EC2"));
    assert_eq!(
        alarm.statistic(),
        Some(&aws_sdk_cloudwatch::types::Statistic::Average)
    );
    assert_eq!(
        (
            alarm.period(),
            alarm.evaluation_periods(),
            alarm.threshold()
        ),
        (Some(60), Some(15), Some(1.0))
    );
    assert_eq!(
        alarm.comparison_operator(),
        Some(&aws_sdk_cloudwatch::types::ComparisonOperator::LessThanThreshold)
    );
    let dimension = &alarm.dimensions()[0];
    assert_eq!(
        (dimension.name(), dimension.value()),
        (Some("InstanceId"), Some("i-fake"))
    );
    assert_eq!(
        alarm.alarm_actions(),
        ["arn:aws:automate:us-east-1:ec2:terminate"]
    );

    // moto refuses to tag an instance it does not hold: the worker warned and carried on.
    let ec2 = aws_sdk_ec2::Client::new(&run.sdk);
    let tags = ec2
        .describe_tags()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("resource-id")
                .values("i-fake")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    match tags.iter().find(|t| t.key() == Some("Name")) {
        Some(tag) => assert_eq!(tag.value(), Some("CloudWorkerWorker")),
        None => assert!(
            stderr.contains("warning: cannot tag instance i-fake Name=CloudWorkerWorker"),
            "{stderr}"
        ),
    }
    assert!(stderr.contains("dcp-worker: machine: disk "), "{stderr}");

    // One stream per attempt, holding the task's log.
    for plate in ["P1", "P2"] {
        let streams = run.streams(&format!("out/{plate}/")).await;
        assert_eq!(streams.len(), 1, "{streams:?}");
        let (start, copy) = streams[0]
            .strip_prefix(&format!("out/{plate}/"))
            .unwrap()
            .split_once('-')
            .unwrap();
        assert!(start.parse::<u64>().unwrap() > 1_700_000_000_000);
        assert_eq!(copy, "0");
        let events = run.events(&streams[0]).await;
        let text = messages(&events);
        assert!(
            text.contains(&format!("stand-in running Metadata_Plate={plate}").as_str()),
            "{text:?}"
        );
        assert!(text.iter().any(|m| m.starts_with("dcp-worker: running ")));
    }

    // One outcome stream for the process, holding exactly what it printed.
    let streams = run.streams("outcomes/").await;
    assert_eq!(streams.len(), 1, "{streams:?}");
    assert!(streams[0].starts_with("outcomes/i-fake-"), "{streams:?}");
    let events = run.events(&streams[0]).await;
    assert_eq!(messages(&events), lines);

    // The results were published with the task's completion record.
    let record = run
        .s3
        .get_object()
        .bucket(BUCKET)
        .key("out/P1/.dcp-done/Metadata_Plate=P1.json")
        .send()
        .await
        .unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(record["complete"], true);
    assert_eq!(record["objects"][0]["key"], "Image.csv");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_if_done_on_s3_takes_a_record_only_when_complete() {
    let run = Run::new("CHECK_IF_DONE_BOOL = \"True\"\nEXPECTED_NUMBER_FILES = 1").await;
    // A publish cut short: its file is there, its record says it is not complete.
    for (key, body) in [
        ("out/P1/Image.csv", &b"partial"[..]),
        (
            "out/P1/.dcp-done/Metadata_Plate=P1.json",
            br#"{"group": "Metadata_Plate=P1", "complete": false, "objects": [{"key": "Image.csv", "size": 7}]}"#,
        ),
    ] {
        run.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(body))
            .send()
            .await
            .unwrap();
    }
    run.push(&["P1"]);
    let first = stdout_lines(&run.worker("ok", None).output().unwrap());
    assert_eq!(first.len(), 1);
    assert!(first[0].contains("\"status\":\"success\""), "{first:?}");
    assert_eq!(run.starts(), 1);

    // Now its record is complete: the same task is skipped without starting CellProfiler.
    run.push(&["P1"]);
    let out = run.worker("ok", None).output().unwrap();
    let second = stdout_lines(&out);
    assert!(
        second[0].contains("\"status\":\"skipped-done\""),
        "{second:?}"
    );
    assert_eq!(run.starts(), 1);

    // Off EC2 (metadata service disabled): no alarm, and the outcome stream is named after
    // the host.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("machine:"), "{stderr}");
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&run.sdk);
    let alarms = cloudwatch.describe_alarms().send().await.unwrap();
    assert!(alarms.metric_alarms.unwrap_or_default().is_empty());
    let host = hostname();
    let streams = run.streams("outcomes/").await;
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert!(
        streams
            .iter()
            .all(|s| s.starts_with(&format!("outcomes/{host}-"))),
        "{streams:?}"
    );
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .replace([':', '*'], "_")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spot_interruption_notice_hands_the_task_back_and_stops_the_worker() {
    let run = Run::new("SQS_MESSAGE_VISIBILITY = 600").await;
    run.push(&["P1"]);
    let imds = Imds::start(&run.moto.url, true);
    let worker = run.worker("sleep:120", Some(&imds.url)).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.starts() == 0 {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    run.found_instance(deadline).await;
    assert_eq!(run.queue_counts().await, (0, 1), "the task is in flight");

    imds.interruption.store(true, Ordering::SeqCst);
    let noticed = Instant::now();
    let out = worker.wait_with_output().unwrap();
    let waited = noticed.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        waited < Duration::from_secs(15),
        "exited {waited:?} after the notice"
    );
    assert!(stderr.contains("spot interruption notice"), "{stderr}");
    assert!(out.stdout.is_empty(), "no outcome for a task handed back");
    assert_eq!(
        run.queue_counts().await,
        (1, 0),
        "visible again at once, not after 600 s"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebalance_recommendation_lets_the_task_finish_and_takes_no_new_one() {
    use std::io::BufRead;
    let run = Run::new("SQS_MESSAGE_VISIBILITY = 600").await;
    run.push(&["P1", "P2"]);
    let imds = Imds::start(&run.moto.url, true);
    let mut worker = run.worker("sleep:15", Some(&imds.url)).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while run.starts() == 0 {
        assert!(Instant::now() < deadline, "the task never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    run.found_instance(deadline).await;
    imds.rebalance.store(true, Ordering::SeqCst);

    let mut stdout = std::io::BufReader::new(worker.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let outcome: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(outcome["status"], "success", "the held task ran to the end");
    // Long enough for a worker still taking tasks to have started the next one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        run.starts(),
        1,
        "no task was taken after the recommendation"
    );
    assert_eq!(run.queue_counts().await, (1, 0), "the other task waits");
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker stays up: exiting would let ECS start a new one on this instance"
    );
    let listed = dcp_tests::moto::keys(&run.s3, BUCKET, "out/").await;
    assert_eq!(
        listed,
        [
            "out/P1/.dcp-done/Metadata_Plate=P1.json",
            "out/P1/Image.csv"
        ]
    );

    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = worker.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("rebalance recommendation"), "{stderr}");
    assert_eq!(run.queue_counts().await, (1, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_purged_from_sqs_while_it_runs_ends_as_lost_receipt_and_the_worker_goes_on() {
    let run = Run::new("SQS_MESSAGE_VISIBILITY = 1").await;
    run.push(&["P1"]);
    let mut worker = run.worker("sleep:3", None).arg("--wait").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.starts() == 0 {
        assert!(Instant::now() < deadline, "the worker never started a task");
        std::thread::sleep(Duration::from_millis(50));
    }
    stdout_ok(run.tool("dcp-queue").arg("purge").output().unwrap());
    run.push(&["P2"]);
    let (lines, exit) = dcp_tests::outcomes_then_sigterm(&mut worker, 2);
    assert!(exit.success(), "the worker outlived the lost receipt");
    let (first, second) = (&lines[0], &lines[1]);
    assert_eq!(
        (first["group"].as_str(), first["status"].as_str()),
        (Some("Metadata_Plate=P1"), Some("lost-receipt"))
    );
    assert_eq!(
        (second["group"].as_str(), second["status"].as_str()),
        (Some("Metadata_Plate=P2"), Some("success"))
    );
    // Read back through the SDK: P1 published nothing, P2 its file and its record.
    let listed = dcp_tests::moto::keys(&run.s3, BUCKET, "out/").await;
    assert_eq!(
        listed,
        [
            "out/P2/.dcp-done/Metadata_Plate=P2.json",
            "out/P2/Image.csv"
        ]
    );
    let sqs = aws_sdk_sqs::Client::new(&run.sdk);
    let url = queue_url(&sqs, &format!("{APP}Queue")).await;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    for name in [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ] {
        assert_eq!(attributes[&name], "0", "{name:?}");
    }
}
