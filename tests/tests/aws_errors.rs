//! AWS errors as one line each — the operation, the resource, the service's error code and
//! message — never the SDK's debug dump, against a real local moto server; with `RUST_LOG`
//! set the dump goes to stderr as well.
#![cfg(feature = "aws")]

use std::process::{Output, Stdio};

use dcp_tests::moto::Moto;
use dcp_tests::stdout_ok;

/// The marks of the SDK's debug dump.
const DUMP: [&str; 4] = ["ErrorMetadata", "Error {", "ServiceError(", "extras:"];

fn assert_one_line(text: &str, expected: &str) {
    assert!(text.contains(expected), "no `{expected}` in: {text}");
    let line = text.lines().find(|l| l.contains(expected)).unwrap();
    for mark in DUMP {
        assert!(!line.contains(mark), "the SDK's dump in: {line}");
    }
}

fn run(moto: &Moto, dir: &std::path::Path, tool: &str, args: &[&str]) -> Output {
    moto.tool(tool, dir).args(args).output().unwrap()
}

#[test]
fn a_missing_bucket_is_one_line_with_the_operation_and_the_code() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("dcp.toml"),
        "BACKEND = \"aws\"\nAPP_NAME = \"Errs\"\nAWS_BUCKET = \"no-such-bucket\"\nJOB_RETRIES = 1\n",
    )
    .unwrap();
    std::fs::write(
        d.join("job.json"),
        "{\"pipeline\": \"w/p.cppipe\", \"data_file\": \"w/ld.csv\", \"input\": \"img\", \
         \"output\": \"out\", \"groups\": [{\"Metadata\": \"Metadata_Plate=P1\"}]}",
    )
    .unwrap();
    stdout_ok(run(&moto, d, "dcp-queue", &["create"]));
    // A push of a batch records its tasks in the bucket first: nothing is sent.
    let refused = run(&moto, d, "dcp-queue", &["push", "job.json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_one_line(
        &String::from_utf8_lossy(&refused.stderr),
        "GetObject no-such-bucket/runs/Errs/batches/job.json: NoSuchBucket: The specified \
         bucket does not exist",
    );
    let status = stdout_ok(run(&moto, d, "dcp-queue", &["status"]));
    assert!(status.contains("\"visible\":0"), "{status}");
    // Without a batch (stdin) nothing is recorded.
    let mut push = moto
        .tool("dcp-queue", d)
        .arg("push")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let job = std::fs::read(d.join("job.json")).unwrap();
    std::io::Write::write_all(&mut push.stdin.take().unwrap(), &job).unwrap();
    stdout_ok(push.wait_with_output().unwrap());
    let mut worker = moto
        .tool("dcp-worker", d)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (outcomes, _) = dcp_tests::outcomes_then_sigterm(&mut worker, 1);
    assert_eq!(outcomes[0]["status"], "download-problem");
    assert_one_line(
        outcomes[0]["detail"].as_str().unwrap(),
        "GetObject no-such-bucket/w/p.cppipe: NoSuchBucket: The specified bucket does not exist",
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut worker.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_one_line(&stderr, "PutObject no-such-bucket/logs/out/P1/");
    assert_one_line(&stderr, "NoSuchBucket: The specified bucket does not exist");

    // The fleet's teardown exports its log groups into the missing bucket.
    stdout_ok(run(&moto, d, "dcp-fleet", &["setup"]));
    let teardown = run(&moto, d, "dcp-fleet", &["teardown", "--force"]);
    assert_eq!(teardown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&teardown.stderr);
    assert_one_line(&stderr, "CreateExportTask Errs to no-such-bucket/");
    assert_one_line(&stderr, "InvalidParameterException: ");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // RUST_LOG asks for the SDK's report in full, on stderr.
    let verbose = moto
        .tool("dcp-fleet", d)
        .args(["teardown", "--force"])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(stderr.contains("ErrorMetadata"), "{stderr}");
}
