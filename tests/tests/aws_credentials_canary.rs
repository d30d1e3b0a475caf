//! The credentials canary: AWS credentials from the environment never appear in anything
//! a dcp tool writes — stdout, stderr, every `--dry-run`'s JSON, the objects it puts in the
//! buckets (task logs, run report), the log events it ships, the task definition — run by
//! every tool, on moto, with canary credentials (moto takes any).
#![cfg(feature = "aws")]

use std::path::Path;

use dcp_tests::moto::Moto;

const CANARIES: [&str; 3] = [
    "AKIDCANARYNEVERSHOWN",
    "secretCANARYNEVERSHOWN",
    "tokenCANARYNEVERSHOWN",
];

/// Runs a tool with the canary credentials; returns what it printed, both streams.
fn run(moto: &Moto, dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = moto
        .tool(tool, dir)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", CANARIES[0])
        .env("AWS_SECRET_ACCESS_KEY", CANARIES[1])
        .env("AWS_SESSION_TOKEN", CANARIES[2])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    format!(
        "$ {tool} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{what} holds a credential:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_tool_and_no_dry_run_shows_a_credential() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Canary\"\nAWS_BUCKET = \"canary-logs\"\n\
         ECS_CLUSTER = \"dcp-canary\"\nJOB_RETRIES = 1\nCREATE_DASHBOARD = true\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.json"),
        "{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/ld.csv\", \"input\": \"img\", \
         \"output\": \"out\", \"groups\": [{\"Metadata\": \"Metadata_Plate=P1\"}]}",
    )
    .unwrap();
    let fleet = serde_json::json!({
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "LaunchSpecifications": [{"ImageId": "ami-12345678",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}},
                                    {"DeviceName": "/dev/xvdcz", "Ebs": {"VolumeSize": 22}}]}],
        "Type": "maintain"
    });
    std::fs::write(d.join("fleet.json"), fleet.to_string()).unwrap();
    let shared = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&shared);
    s3.create_bucket()
        .bucket("canary-logs")
        .send()
        .await
        .unwrap();

    let runs: [(&str, &[&str]); 22] = [
        ("dcp-config", &[]),
        ("dcp-config", &["init"]),
        ("dcp-queue", &["create"]),
        ("dcp-queue", &["push", "--dry-run", "job.json"]),
        ("dcp-queue", &["push", "job.json"]),
        ("dcp-queue", &["status"]),
        ("dcp-fleet", &["setup", "--dry-run"]),
        ("dcp-fleet", &["setup"]),
        ("dcp-fleet", &["start", "--dry-run", "fleet.json"]),
        ("dcp-fleet", &["status"]),
        ("dcp-fleet", &["scale", "2", "--dry-run"]),
        ("dcp-fleet", &["stop", "--dry-run"]),
        ("dcp-fleet", &["teardown", "--dry-run", "--force"]),
        ("dcp-worker", &["--retry-delay", "0", "--cores", "1"]),
        ("dcp-queue", &["dead"]),
        ("dcp-queue", &["redrive"]),
        ("dcp-watch", &["--once"]),
        ("dcp-queue", &["purge"]),
        ("dcp-watch", &["--once", "--cheapest"]),
        // Failures print errors, which must not carry credentials either.
        ("dcp-queue", &["--config", "missing.toml", "status"]),
        ("dcp-fleet", &["start", "--dry-run", "missing.json"]),
        ("dcp-fleet", &["teardown", "--force", "--export-wait", "0"]),
    ];
    for (tool, args) in runs {
        let printed = if tool == "dcp-worker" {
            // One attempt (the pipeline is missing), then the worker is stopped.
            let mut worker = moto
                .tool(tool, d)
                .args(args)
                .env("AWS_ACCESS_KEY_ID", CANARIES[0])
                .env("AWS_SECRET_ACCESS_KEY", CANARIES[1])
                .env("AWS_SESSION_TOKEN", CANARIES[2])
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let (lines, _) = dcp_tests::outcomes_then_sigterm(&mut worker, 1);
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut worker.stderr.take().unwrap(), &mut stderr).unwrap();
            format!("{lines:?}\n{stderr}")
        } else {
            run(&moto, d, tool, args)
        };
        assert_no_canary(&format!("{tool} {}", args.join(" ")), &printed);
        // (`scale` without a fleet is refused: its error is checked above.)
        if args.contains(&"--dry-run") && !args.contains(&"missing.json") && args[0] != "scale" {
            let planned = if tool == "dcp-fleet" {
                "requests"
            } else {
                "Metadata"
            };
            assert!(
                printed.contains(planned),
                "the dry run printed its plan:\n{printed}"
            );
        }
    }

    // What the tools left in the bucket: the task's log, the run report.
    let listed = s3
        .list_objects_v2()
        .bucket("canary-logs")
        .send()
        .await
        .unwrap();
    assert!(!listed.contents().is_empty(), "the worker filed its log");
    for object in listed.contents() {
        let key = object.key().unwrap();
        let body = s3
            .get_object()
            .bucket("canary-logs")
            .key(key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_no_canary(key, &String::from_utf8_lossy(&body));
    }
    // The log events the worker shipped to CloudWatch Logs.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&shared);
    for group in ["Canary", "Canary_perInstance"] {
        let Ok(events) = logs.filter_log_events().log_group_name(group).send().await else {
            continue;
        };
        for event in events.events() {
            assert_no_canary(group, event.message().unwrap_or_default());
        }
    }
}
