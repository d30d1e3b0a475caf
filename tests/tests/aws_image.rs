//! The worker image, run as ECS runs it: `dcp-fleet setup` registers the task definition on
//! a real local moto server, and its container — image and environment (`DCP_SETTINGS`) as
//! registered, the CPU shares and memory limit too — runs under podman with credentials
//! from the environment standing in for the task role, on the host network to reach moto.
//! It takes ExampleFly's three tasks from SQS, runs REAL CellProfiler and publishes to S3,
//! where the results are read back; group 2's four CSVs equal a direct run of the host's
//! CellProfiler. Also: the image's size, and its `dcp-worker --version` and
//! `cellprofiler --version`.
//!
//! Run only when `DCP_WORKER_IMAGE` names the image (scripts/test-image builds it and sets it);
//! `DCP_PODMAN` names the podman (or docker) to run it with, `podman` by default.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use dcp_tests::moto::Moto;
use dcp_tests::{direct, stdout_ok};

/// The environment variable naming the image to test.
const IMAGE_ENV: &str = "DCP_WORKER_IMAGE";

/// The largest the image may be, in bytes: 1.2 GB (measured 995 MB: a 179 MB Debian base,
/// CellProfiler's 771 MB venv, the 45 MB worker).
const MAX_IMAGE_BYTES: u64 = 1_200_000_000;

/// The image to test, or `None` (the test is skipped) when `DCP_WORKER_IMAGE` is unset.
fn image() -> Option<String> {
    let image = std::env::var(IMAGE_ENV).ok().filter(|i| !i.is_empty());
    if image.is_none() {
        eprintln!("skipped: set {IMAGE_ENV} to the worker image (scripts/test-image does)");
    }
    image
}

fn podman() -> Command {
    let mut command = Command::new(std::env::var_os("DCP_PODMAN").unwrap_or("podman".into()));
    command.stdin(Stdio::null());
    command
}

fn podman_ok(args: &[&str]) -> String {
    let out = podman().args(args).output().unwrap();
    stdout_ok(out)
}

#[test]
fn image_has_its_tools_and_stays_small() {
    let Some(image) = image() else { return };
    let size: u64 = podman_ok(&["image", "inspect", "--format", "{{.Size}}", &image])
        .trim()
        .parse()
        .unwrap();
    eprintln!("{image}: {size} bytes");
    assert!(size <= MAX_IMAGE_BYTES, "{image} is {size} bytes");

    let worker = podman_ok(&["run", "--rm", &image, "--version"]);
    assert_eq!(
        worker.trim(),
        format!("dcp-worker {}", env!("CARGO_PKG_VERSION"))
    );
    // The image's CellProfiler is the version scripts/install-cellprofiler installs here.
    let version = |out: Output| stdout_ok(out).lines().last().map(str::to_owned);
    let inside = podman()
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "cellprofiler",
            &image,
            "--version",
        ])
        .output()
        .unwrap();
    let here = Command::new(dcp_tests::cellprofiler())
        .arg("--version")
        .output()
        .unwrap();
    let inside = version(inside);
    assert!(inside.is_some(), "cellprofiler --version printed nothing");
    assert_eq!(inside, version(here));
    // Not root.
    let user = podman_ok(&["run", "--rm", "--entrypoint", "id", &image, "-u"]);
    assert_eq!(user.trim(), "1000");
}

fn run_tool(moto: &Moto, dir: &Path, name: &str, args: &[&str], stdin: Stdio) -> String {
    stdout_ok(
        moto.tool(name, dir)
            .args(args)
            .stdin(stdin)
            .output()
            .unwrap(),
    )
}

/// Runs the task definition's container as ECS would: its image, environment, CPU shares
/// and memory; credentials from this environment (the task role's stand-in), never on the
/// command line; the host network, where moto listens.
fn run_container(moto: &Moto, container: &aws_sdk_ecs::types::ContainerDefinition) -> Output {
    let mut command = podman();
    command.args(["run", "--rm", "--network", "host"]);
    command.arg(format!("--cpu-shares={}", container.cpu()));
    if let Some(memory) = container.memory() {
        command.arg(format!("--memory={memory}m"));
    }
    for variable in container.environment() {
        let name = variable.name().unwrap();
        command
            .args(["--env", name])
            .env(name, variable.value().unwrap_or_default());
    }
    for (name, value) in moto.env() {
        command.args(["--env", name]).env(name, value);
    }
    // Off EC2: no instance metadata service to ask for the instance's id.
    command
        .args(["--env", "AWS_EC2_METADATA_DISABLED"])
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command.arg(container.image().unwrap());
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn image_takes_examplefly_from_sqs_and_publishes_to_s3() {
    let Some(image) = image() else { return };
    let (example, cellprofiler) = (dcp_tests::examplefly(), dcp_tests::cellprofiler());
    let moto = Moto::start();
    let s3 = moto.s3_client().await;
    s3.create_bucket().bucket("fly-data").send().await.unwrap();
    dcp_tests::moto::upload_examplefly(&s3, "fly-data", &example).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let settings = format!(
        "BACKEND = \"aws\"\nAPP_NAME = \"FlyInImage\"\nAWS_BUCKET = \"fly-data\"\n\
         DOCKERHUB_TAG = \"{image}\"\nTASK_ROLE_ARN = \"arn:aws:iam::123456789012:role/dcp-worker\"\n\
         CELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\nSQS_MESSAGE_VISIBILITY = 300\n\
         DOCKER_CORES = 2\nMEMORY = 7000\nSECONDS_TO_START = 0\n"
    );
    std::fs::write(d.join("dcp.toml"), settings).unwrap();
    run_tool(&moto, d, "dcp-queue", &["create"], Stdio::null());
    let setup: serde_json::Value =
        serde_json::from_str(&run_tool(&moto, d, "dcp-fleet", &["setup"], Stdio::null())).unwrap();
    let job = example.join("job.json");
    run_tool(
        &moto,
        d,
        "dcp-queue",
        &["push", job.to_str().unwrap()],
        Stdio::null(),
    );

    let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let described = ecs
        .describe_task_definition()
        .task_definition(registered(&setup))
        .send()
        .await
        .unwrap();
    let definition = described.task_definition.unwrap();
    let container = &definition.container_definitions()[0];
    assert_eq!(container.image(), Some(image.as_str()));

    // The host's CellProfiler on group 2 meanwhile, to compare with.
    let (direct_run, direct_out) = direct::run(&example, &cellprofiler, d, "2");
    let out = run_container(&moto, container);
    let lines: Vec<serde_json::Value> = stdout_ok(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["status"] == "success"), "{lines:?}");

    let results = d.join("results");
    for position in ["2", "76", "218"] {
        let prefix = format!("demo_project_folder/output/{position}/");
        let keys = dcp_tests::moto::keys(&s3, "fly-data", &prefix).await;
        let names: Vec<&str> = keys
            .iter()
            .map(|k| k.strip_prefix(&prefix).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                format!(".dcp-done/Metadata_Position={position}.json").as_str(),
                "Cells.csv",
                "Cytoplasm.csv",
                "Image.csv",
                "Nuclei.csv"
            ]
        );
        let folder = results.join(position);
        std::fs::create_dir_all(&folder).unwrap();
        for table in direct::TABLES {
            let object = s3
                .get_object()
                .bucket("fly-data")
                .key(format!("{prefix}{table}.csv"))
                .send()
                .await
                .unwrap();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            std::fs::write(folder.join(format!("{table}.csv")), bytes).unwrap();
            let (_, rows) = dcp_tests::measurements::read(&folder.join(format!("{table}.csv")));
            assert!(!rows.is_empty(), "{position}/{table}.csv has rows");
        }
        let (header, rows) = dcp_tests::measurements::read(&folder.join("Image.csv"));
        let column = header
            .iter()
            .position(|h| h == "Metadata_Position")
            .unwrap();
        assert_eq!(rows[0][column], position);
    }
    direct::wait(direct_run, &direct_out);
    direct::assert_same_tables(&results.join("2"), &direct_out);
}

/// The `family:revision` setup's RegisterTaskDefinition registered.
fn registered(setup: &serde_json::Value) -> &str {
    let requests = setup["requests"].as_array().unwrap();
    let registration = requests
        .iter()
        .find(|r| r["Request"] == "RegisterTaskDefinition");
    registration.and_then(|r| r["note"].as_str()).unwrap()
}
