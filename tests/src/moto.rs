//! A real `moto_server` on 127.0.0.1 for the AWS backend's tests: the one
//! `scripts/install-moto` installs (`DCP_MOTO_SERVER` names another), on a free port,
//! stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// Its endpoint, `http://127.0.0.1:PORT`.
    pub url: String,
}

fn moto_server() -> PathBuf {
    let path = std::env::var_os("DCP_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/dcp/venvs/moto-5.2.5/bin/moto_server")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-moto (scripts/test does)",
        path.display()
    );
    path
}

impl Moto {
    /// Starts a fresh server and waits until it answers.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// The environment that points the AWS SDK at this server, with dummy credentials.
    pub fn env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// A command running the dcp tool `name` in `dir` against this server: its settings
    /// from `dir`, the SDK pointed here by `AWS_ENDPOINT_URL`, no profile.
    pub fn tool(&self, name: &str, dir: &std::path::Path) -> Command {
        let mut command = Command::new(crate::tool(name));
        command
            .current_dir(dir)
            .env_remove("DCP_CONFIG")
            .env_remove("AWS_PROFILE")
            .envs(self.env())
            .stdin(Stdio::null());
        command
    }

    /// Runs one dcp-worker in `dir` off EC2, with the stand-in for CellProfiler in `mode`
    /// (`tests/fixtures/cellprofiler-standin`) and no retry delay, until the queue is
    /// empty; its outcome lines.
    pub fn standin_worker(&self, dir: &std::path::Path, mode: &str) -> Vec<serde_json::Value> {
        let out = self
            .tool("dcp-worker", dir)
            .args(["--retry-delay", "0"])
            .env("STANDIN", mode)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        crate::stdout_ok(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// SDK settings for reading back, independently, what the tools did on this server.
    #[cfg(feature = "aws")]
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials =
            aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(credentials)
            .load()
            .await
    }
    /// An S3 client on this server (path-style, as emulators expect).
    #[cfg(feature = "aws")]
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        let shared = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(true)
                .build(),
        )
    }

    /// The id of an image moto knows, for fleet files.
    #[cfg(feature = "aws")]
    pub async fn image_id(&self) -> String {
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk_config().await);
        let images = ec2.describe_images().send().await.unwrap();
        images.images()[0].image_id().unwrap().to_owned()
    }
}

/// Puts the alarm a worker puts on its instance (`APP_NAME_<instance>`, CPU < 1 % for 15
/// minutes), standing for a worker on a machine moto only records.
#[cfg(feature = "aws")]
pub async fn put_instance_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    app: &str,
    instance: &str,
) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    cloudwatch
        .put_metric_alarm()
        .alarm_name(format!("{app}_{instance}"))
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value(instance)
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(15)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .send()
        .await
        .unwrap();
}

/// The names of every alarm on this server.
#[cfg(feature = "aws")]
pub async fn alarm_names(cloudwatch: &aws_sdk_cloudwatch::Client) -> Vec<String> {
    let described = cloudwatch.describe_alarms().send().await.unwrap();
    described
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_owned))
        .collect()
}

/// The URL of the queue `name`, which must exist.
#[cfg(feature = "aws")]
pub async fn queue_url(sqs: &aws_sdk_sqs::Client, name: impl Into<String>) -> String {
    let found = sqs.get_queue_url().queue_name(name).send().await.unwrap();
    found.queue_url.unwrap()
}

/// Uploads DCP's ExampleFly (`example`, laid out as a bucket: `demo_project_folder/images`
/// and `demo_project_folder/workspace`) into `bucket`, keys relative to the example.
#[cfg(feature = "aws")]
pub async fn upload_examplefly(s3: &aws_sdk_s3::Client, bucket: &str, example: &std::path::Path) {
    for folder in ["images", "workspace"] {
        let dir = example.join("demo_project_folder").join(folder);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let key = format!(
                "demo_project_folder/{folder}/{}",
                path.file_name().unwrap().to_string_lossy()
            );
            let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
                .await
                .unwrap();
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send()
                .await
                .unwrap();
        }
    }
}

/// The keys under `prefix` in `bucket`, sorted.
#[cfg(feature = "aws")]
pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// Two subnets of a new VPC and a security group in it.
#[cfg(feature = "aws")]
pub async fn network(ec2: &aws_sdk_ec2::Client) -> (String, String, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.9.1.0/24", "us-east-1a"), ("10.9.2.0/24", "us-east-1b")] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .unwrap();
        subnets.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let group = ec2
        .create_security_group()
        .group_name("dcp-workers")
        .description("dcp")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = group.group_id().unwrap().to_owned();
    (subnets[0].clone(), subnets[1].clone(), group)
}
