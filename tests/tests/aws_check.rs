//! `dcp-fleet check FLEET.json JOB` against a real local moto server: a correct setup
//! (ExampleFly in S3, the Spot Fleet role, ecsInstanceRole's instance profile, the task
//! role, the current ECS-optimized AMI from moto's SSM parameters, a private subnet with a
//! NAT gateway route, a key pair, the worker image in ECR) passes with no problem; each
//! other test breaks one thing and expects exactly that problem with its fix. moto serves
//! no EC2 Spot quota, which is reported skipped.
#![cfg(feature = "aws")]

use std::process::Output;

use dcp_tests::moto::Moto;
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "dcp-check-run";

/// A correct AWS setup on a moto server and a run folder using it.
struct Setup {
    moto: Moto,
    dir: tempfile::TempDir,
    shared: aws_config::SdkConfig,
    /// The fleet file, written by [`Setup::check`].
    fleet: Value,
    /// The settings, written by [`Setup::check`].
    settings: String,
}

fn trust(service: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
    .to_string()
}

impl Setup {
    async fn new() -> Setup {
        let moto = Moto::start();
        let shared = moto.sdk_config().await;
        let dir = tempfile::tempdir().unwrap();

        let s3 = moto.s3_client().await;
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let example = dcp_tests::examplefly();
        for entry in walkdir::WalkDir::new(example.join("demo_project_folder")) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let key = entry
                    .path()
                    .strip_prefix(&example)
                    .unwrap()
                    .to_str()
                    .unwrap();
                let body = aws_sdk_s3::primitives::ByteStream::from_path(entry.path())
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
        }
        std::fs::copy(example.join("job.json"), dir.path().join("job.json")).unwrap();

        // moto loads no AWS managed policies by default: same-named ones stand for them.
        let iam = aws_sdk_iam::Client::new(&shared);
        let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "ec2:DescribeInstances", "Resource": "*"}]})
        .to_string();
        for policy in [
            "AmazonEC2SpotFleetTaggingRole",
            "AmazonEC2ContainerServiceforEC2Role",
        ] {
            iam.create_policy()
                .policy_name(policy)
                .policy_document(&document)
                .send()
                .await
                .unwrap();
        }
        for (role, service, policy) in [
            (
                "aws-ec2-spot-fleet-tagging-role",
                "spotfleet.amazonaws.com",
                Some("AmazonEC2SpotFleetTaggingRole"),
            ),
            (
                "ecsInstanceRole",
                "ec2.amazonaws.com",
                Some("AmazonEC2ContainerServiceforEC2Role"),
            ),
            ("dcpTaskRole", "ecs-tasks.amazonaws.com", None),
            (
                "wrongTrust",
                "ec2.amazonaws.com",
                Some("AmazonEC2SpotFleetTaggingRole"),
            ),
        ] {
            iam.create_role()
                .role_name(role)
                .assume_role_policy_document(trust(service))
                .send()
                .await
                .unwrap();
            if let Some(policy) = policy {
                let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{policy}");
                iam.attach_role_policy()
                    .role_name(role)
                    .policy_arn(arn)
                    .send()
                    .await
                    .unwrap();
            }
        }
        iam.create_instance_profile()
            .instance_profile_name("ecsInstanceRole")
            .send()
            .await
            .unwrap();
        iam.add_role_to_instance_profile()
            .instance_profile_name("ecsInstanceRole")
            .role_name("ecsInstanceRole")
            .send()
            .await
            .unwrap();

        let ec2 = aws_sdk_ec2::Client::new(&shared);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
        let mut subnets = Vec::new();
        for cidr in ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"] {
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .send()
                .await
                .unwrap();
            subnets.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
        }
        // The first subnet is private with a NAT gateway (in the second); the third has none.
        let address = ec2.allocate_address().send().await.unwrap();
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&subnets[1])
            .allocation_id(address.allocation_id().unwrap())
            .send()
            .await
            .unwrap();
        let nat = nat
            .nat_gateway()
            .unwrap()
            .nat_gateway_id()
            .unwrap()
            .to_owned();
        let table = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        let table = table
            .route_table()
            .unwrap()
            .route_table_id()
            .unwrap()
            .to_owned();
        ec2.create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat)
            .send()
            .await
            .unwrap();
        ec2.associate_route_table()
            .route_table_id(&table)
            .subnet_id(&subnets[0])
            .send()
            .await
            .unwrap();
        let group = ec2
            .create_security_group()
            .group_name("dcp-workers")
            .description("dcp")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let group = group.group_id().unwrap().to_owned();
        ec2.create_key_pair()
            .key_name("lab-key")
            .send()
            .await
            .unwrap();

        let ssm = aws_sdk_ssm::Client::new(&shared);
        let parameter = ssm
            .get_parameter()
            .name("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
            .send()
            .await
            .unwrap();
        let image = parameter.parameter().unwrap().value().unwrap().to_owned();

        let ecr = aws_sdk_ecr::Client::new(&shared);
        ecr.create_repository()
            .repository_name("dcp-worker")
            .send()
            .await
            .unwrap();
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
            "layers": []});
        ecr.put_image()
            .repository_name("dcp-worker")
            .image_tag("0.1.0")
            .image_manifest(manifest.to_string())
            .send()
            .await
            .unwrap();

        let fleet = json!({
            "IamFleetRole": format!("arn:aws:iam::{ACCOUNT}:role/aws-ec2-spot-fleet-tagging-role"),
            "AllocationStrategy": "lowestPrice",
            "TerminateInstancesWithExpiration": true,
            "LaunchSpecifications": [{
                "ImageId": image,
                "KeyName": "lab-key",
                "IamInstanceProfile": {"Arn": format!("arn:aws:iam::{ACCOUNT}:instance-profile/ecsInstanceRole")},
                "NetworkInterfaces": [{"DeviceIndex": 0, "SubnetId": subnets[0], "DeleteOnTermination": true,
                    "AssociatePublicIpAddress": false, "Groups": [group]}]
            }],
            "Type": "maintain"
        });
        let settings = format!(
            "BACKEND = \"aws\"\nAPP_NAME = \"Check\"\nAWS_BUCKET = \"{BUCKET}\"\nASSIGN_IP = false\n\
             CLUSTER_MACHINES = 2\nMACHINE_TYPE = [\"m5.xlarge\"]\nCELLPROFILER = \"/nonexistent/cellprofiler\"\n\
             TASK_ROLE_ARN = \"arn:aws:iam::{ACCOUNT}:role/dcpTaskRole\"\n\
             DOCKERHUB_TAG = \"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/dcp-worker:0.1.0\"\n"
        );
        Setup {
            moto,
            dir,
            shared,
            fleet,
            settings,
        }
    }

    /// Runs `dcp-fleet check fleet.json job.json` with the current settings and fleet file.
    fn check(&self) -> Output {
        self.check_with(&[])
    }

    /// [`Setup::check`] with `extra` arguments; temporary folders under the run folder.
    fn check_with(&self, extra: &[&str]) -> Output {
        let d = self.dir.path();
        std::fs::write(d.join("dcp.toml"), &self.settings).unwrap();
        std::fs::write(d.join("fleet.json"), self.fleet.to_string()).unwrap();
        self.moto
            .tool("dcp-fleet", d)
            .args(["check", "fleet.json", "job.json"])
            .args(extra)
            .env("TMPDIR", d)
            .output()
            .unwrap()
    }
}

fn findings(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The one problem of a run (exit 2), with its fix.
fn the_problem(out: &Output) -> Value {
    dcp_tests::assert_exit(out, 2);
    let all = findings(out);
    let problems: Vec<&Value> = all.iter().filter(|f| f["status"] == "problem").collect();
    assert_eq!(problems.len(), 1, "{all:#?}");
    assert!(
        problems[0]["fix"].as_str().is_some_and(|f| !f.is_empty()),
        "{}",
        problems[0]
    );
    problems[0].clone()
}

fn assert_has(finding: &Value, field: &str, text: &str) {
    let value = finding[field].as_str().unwrap_or_default();
    assert!(value.contains(text), "{field} lacks `{text}`: {finding:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_setup_passes_and_is_left_as_it_was() {
    let setup = Setup::new().await;
    let s3 = setup.moto.s3_client().await;
    let before = dcp_tests::moto::keys(&s3, BUCKET, "").await;
    let out = setup.check();
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    let status = |check: &str| -> Vec<String> {
        all.iter()
            .filter(|f| f["check"] == check)
            .map(|f| f["status"].as_str().unwrap().to_owned())
            .collect()
    };
    for check in [
        "job",
        "fleet-file",
        "identity",
        "bucket",
        "worker-image",
        "iam-task-role",
        "iam-fleet-role",
        "instance-profile",
        "ami",
        "key-pair",
        "subnet",
        "security-group",
        "private-subnet-route",
        "pipeline",
        "data-file",
        "groups",
        "images",
    ] {
        assert_eq!(status(check), ["ok"], "{check}: {all:#?}");
    }
    assert_eq!(status("spot-vcpu-quota"), ["skipped"], "{all:#?}");
    let bucket = all.iter().find(|f| f["check"] == "bucket").unwrap();
    assert_has(bucket, "detail", "written and removed");
    assert_eq!(
        dcp_tests::moto::keys(&s3, BUCKET, "").await,
        before,
        "check left objects"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_instance_profile() {
    let mut setup = Setup::new().await;
    setup.fleet["LaunchSpecifications"][0]["IamInstanceProfile"]["Arn"] = json!(format!(
        "arn:aws:iam::{ACCOUNT}:instance-profile/ecsInstanceRole2"
    ));
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "instance-profile");
    assert_has(&problem, "detail", "GetInstanceProfile");
    assert_has(&problem, "fix", "create the instance profile");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_role_that_trusts_another_service() {
    let mut setup = Setup::new().await;
    setup.fleet["IamFleetRole"] = json!(format!("arn:aws:iam::{ACCOUNT}:role/wrongTrust"));
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "iam-fleet-role");
    assert_has(
        &problem,
        "detail",
        "does not let spotfleet.amazonaws.com assume it",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_subnet_without_a_route() {
    let mut setup = Setup::new().await;
    let ec2 = aws_sdk_ec2::Client::new(&setup.shared);
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let third = subnets
        .subnets()
        .iter()
        .find(|s| s.cidr_block() == Some("10.0.3.0/24"))
        .unwrap();
    let third = third.subnet_id().unwrap().to_owned();
    setup.fleet["LaunchSpecifications"][0]["NetworkInterfaces"][0]["SubnetId"] = json!(third);
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "private-subnet-route");
    assert_eq!(problem["subject"], third);
    assert_has(&problem, "detail", "no default route through a NAT gateway");
    assert_has(&problem, "fix", "NAT gateway");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ami_that_is_not_ecs_optimized() {
    let mut setup = Setup::new().await;
    let ec2 = aws_sdk_ec2::Client::new(&setup.shared);
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let plain = images
        .images()
        .iter()
        .find(|i| !i.name().unwrap_or_default().contains("ecs"))
        .unwrap();
    setup.fleet["LaunchSpecifications"][0]["ImageId"] = json!(plain.image_id().unwrap());
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "ami");
    assert_has(&problem, "detail", "is not an ECS-optimized AMI");
    assert_has(
        &problem,
        "fix",
        "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_image_missing_from_ecr() {
    let mut setup = Setup::new().await;
    setup.settings = setup
        .settings
        .replace("dcp-worker:0.1.0", "dcp-worker:0.2.0");
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "worker-image");
    assert_has(&problem, "fix", "push the worker image");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_file_missing_from_the_bucket() {
    let setup = Setup::new().await;
    let s3 = setup.moto.s3_client().await;
    let key = "demo_project_folder/images/01_POS218_R.TIF";
    s3.delete_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "images");
    assert_has(&problem, "detail", &format!("{BUCKET}/{key}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_pair() {
    let mut setup = Setup::new().await;
    setup.fleet["LaunchSpecifications"][0]["KeyName"] = json!("lost-key");
    let problem = the_problem(&setup.check());
    assert_eq!(problem["check"], "key-pair");
    assert_eq!(problem["subject"], "lost-key");
}

/// `--pilot` on S3 with real CellProfiler: the group's files are read from the bucket, the
/// results land in the pilot's own local folder (the bucket is left as it was), and the
/// cost comes from EC2's Spot price history (moto prices every type at $0.00001 an hour
/// in each zone).
#[tokio::test(flavor = "multi_thread")]
async fn a_pilot_reads_s3_publishes_nowhere_and_is_priced_from_the_spot_history() {
    let mut setup = Setup::new().await;
    let cellprofiler = dcp_tests::cellprofiler();
    setup.settings = setup.settings.replace(
        "CELLPROFILER = \"/nonexistent/cellprofiler\"\n",
        &format!(
            "CELLPROFILER = \"{}\"\nCELLPROFILER_ARGS = [\"-e\", \"imageio_reader\"]\n",
            cellprofiler.display()
        ),
    );
    let s3 = setup.moto.s3_client().await;
    let before = dcp_tests::moto::keys(&s3, BUCKET, "").await;
    let out = setup.check_with(&["--pilot", "--group", "Metadata_Position=76"]);
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    let one = |check: &str| all.iter().find(|f| f["check"] == check).unwrap().clone();

    let pilot = one("pilot");
    assert_eq!(pilot["status"], "ok", "{pilot:#}");
    assert_eq!(pilot["subject"], "Metadata_Position=76");
    let results = std::path::PathBuf::from(pilot["figures"]["results"].as_str().unwrap());
    assert!(results.starts_with(setup.dir.path()), "{pilot:#}");
    let nuclei = std::fs::read_to_string(results.join("Nuclei.csv")).unwrap();
    assert!(nuclei.lines().count() > 100, "nuclei found");
    // Downloaded from S3: the pipeline, the load-data file and the group's three images.
    assert!(
        pilot["figures"]["disk_mib"].as_f64().unwrap() > 1.0,
        "{pilot:#}"
    );
    assert_eq!(
        dcp_tests::moto::keys(&s3, BUCKET, "").await,
        before,
        "the pilot wrote to the bucket"
    );

    let price = one("spot-price");
    assert_eq!(price["status"], "ok", "{price:#}");
    let m5 = &price["figures"]["m5.xlarge"];
    assert_eq!(m5["lowest"], 0.00001, "{price:#}");
    assert!(m5["zones"].as_u64().unwrap() >= 2, "{price:#}");
    let estimate = one("pilot-estimate");
    let figures = &estimate["figures"];
    // 3 groups on CLUSTER_MACHINES = 2 of 1 task × 4 copies: one round.
    assert_eq!(figures["rounds"], 1, "{estimate:#}");
    let hours = figures["instance_hours"].as_f64().unwrap();
    let wall = pilot["figures"]["wall_seconds"].as_f64().unwrap();
    assert!((hours - 2.0 * wall / 3600.0).abs() < 1e-9, "{estimate:#}");
    let low = figures["spot_cost_usd"]["low"].as_f64().unwrap();
    assert!((low - hours * 0.00001).abs() < 1e-15, "{estimate:#}");
}
