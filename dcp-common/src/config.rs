//! Settings of a dcp run: every setting of DCP's config.py under its own name (reference
//! §1), with DCP's defaults and derived names, plus dcp's own (`BACKEND`, `QUEUE_FILE`).
//!
//! Settings are read from TOML (`dcp.toml`) or from the JSON `dcp-config` prints; both use
//! the same keys. [`Config::parse`] is the only way in: it fills derived names, makes
//! embedded paths absolute and validates, so every tool sees the same resolved settings.

mod flag;
mod locate;
mod located;
mod notice;
mod upload;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use locate::{SETTINGS_ENV, locate};
pub use notice::Notice;
pub use upload::UploadFlags;

/// Which services carry the queue, the buckets and the fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One machine, no cloud: a SQLite queue file, local directories as buckets, local
    /// worker processes as the fleet.
    #[default]
    Embedded,
    /// SQS, S3, ECS and an EC2 Spot Fleet.
    Aws,
}

/// The resolved settings of a run. Field docs give DCP's meaning; keys are DCP's names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "SCREAMING_SNAKE_CASE")]
pub struct Config {
    /// dcp: `embedded` (default) or `aws`.
    pub backend: Backend,
    /// dcp, embedded: the SQLite file holding the queues.
    pub queue_file: PathBuf,
    /// Ties every resource of a run together; the names below derive from it.
    pub app_name: String,
    /// Worker image.
    pub dockerhub_tag: String,
    /// AWS region.
    pub aws_region: String,
    /// AWS profile of the standard credential chain.
    pub aws_profile: String,
    /// EC2 key pair of the fleet's instances, as DCP names it (the key file, `NAME.pem`):
    /// fills a launch specification's KeyName (`NAME`) when the fleet file has none.
    pub ssh_key_name: String,
    /// Bucket (embedded: directory) for logs, run files and ECS config.
    pub aws_bucket: String,
    /// Images are read from here (default AWS_BUCKET).
    pub source_bucket: String,
    /// Pipelines, load-data CSVs and batch files (default SOURCE_BUCKET).
    pub workspace_bucket: String,
    /// Results go here (default AWS_BUCKET).
    pub destination_bucket: String,
    /// Options of every object the worker writes, as `aws s3 cp` flags, e.g.
    /// `--acl bucket-owner-full-control` ([`UploadFlags`]); checked when read.
    pub upload_flags: UploadFlags,
    /// ECS cluster name.
    pub ecs_cluster: String,
    /// Instances in the fleet.
    pub cluster_machines: u32,
    /// Containers per instance.
    pub tasks_per_machine: u32,
    /// Instance types of the fleet (a single string is accepted too).
    #[serde(deserialize_with = "flag::one_or_many")]
    pub machine_type: Vec<String>,
    /// Maximum spot price per instance-hour.
    pub machine_price: f64,
    /// GB of disk per instance (at least 22).
    pub ebs_vol_size: u32,
    /// DCP: download images instead of mounting the source bucket. dcp always downloads
    /// exactly a group's files; `false` is accepted with a notice.
    #[serde(deserialize_with = "flag::boolean")]
    pub download_files: bool,
    /// Public IPv4 addresses on instances; `false` overrides the fleet file.
    #[serde(deserialize_with = "flag::boolean")]
    pub assign_ip: bool,
    /// CellProfiler copies run inside each container.
    pub docker_cores: u32,
    /// ECS CPU units per container (1024 = one core). Absent: DOCKER_CORES × 1024, as in
    /// DCP's config.py; an explicit 0 is kept (ECS reserves no CPU for the container).
    /// Absent from the text means absent here, whatever [`Config::default`] holds.
    #[serde(default)]
    pub cpu_shares: Option<u32>,
    /// MB of memory per container.
    pub memory: u32,
    /// Seconds between the starts of the copies inside one container.
    pub seconds_to_start: u64,
    /// The task queue (default APP_NAME + "Queue").
    pub sqs_queue_name: String,
    /// Seconds a received task stays hidden from other workers.
    pub sqs_message_visibility: u64,
    /// Where a task goes after JOB_RETRIES receives (default APP_NAME + "DeadMessages").
    pub sqs_dead_letter_queue: String,
    /// Receives of a task before it goes to the dead-letter queue.
    pub job_retries: u32,
    /// CloudWatch log group (default APP_NAME); `_perInstance` is appended for containers.
    pub log_group_name: String,
    /// Start the monitor automatically: on AWS, `dcp-fleet start` schedules `dcp-watch
    /// --once` every minute as a Fargate task (needs MONITOR_ROLE_ARN); the embedded backend
    /// has none (run `dcp-watch`), and `true` is accepted with a notice.
    #[serde(deserialize_with = "flag::boolean")]
    pub auto_monitor: bool,
    /// Create a CloudWatch dashboard for the run.
    #[serde(deserialize_with = "flag::boolean")]
    pub create_dashboard: bool,
    /// Remove the dashboard at the end of the run.
    #[serde(deserialize_with = "flag::boolean")]
    pub clean_dashboard: bool,
    /// Skip a task whose output prefix already holds its results.
    #[serde(deserialize_with = "flag::boolean")]
    pub check_if_done_bool: bool,
    /// Files that make a task count as done.
    pub expected_number_files: u32,
    /// Smallest size of a file that counts.
    pub min_file_size_bytes: u64,
    /// A string a file's name must contain to count.
    pub necessary_string: String,
    /// Pass `--always-continue` to CellProfiler.
    #[serde(deserialize_with = "flag::boolean")]
    pub always_continue: bool,
    /// Use CellProfiler plugins.
    #[serde(deserialize_with = "flag::boolean")]
    pub use_plugins: bool,
    /// Update the plugins checkout (git fetch, then pull) before the first task.
    #[serde(deserialize_with = "flag::boolean")]
    pub update_plugins: bool,
    /// Commit or tag of the plugins to check out (empty: as installed).
    pub plugins_commit: String,
    /// Install the plugins (with REQUIREMENTS) into CellProfiler's Python before the first
    /// task.
    #[serde(deserialize_with = "flag::boolean")]
    pub install_requirements: bool,
    /// What INSTALL_REQUIREMENTS installs: the extras of the plugins package (`cellpose`)
    /// or, in a checkout without `active_plugins`, a requirements file within it.
    pub requirements: String,
    /// ECS service (default APP_NAME + "Service").
    pub ecs_service_name: String,
    /// ECS task definition family (default APP_NAME + "Task").
    pub ecs_task_family: String,
    /// dcp: the CellProfiler command, a path or a name looked up in PATH.
    pub cellprofiler: String,
    /// dcp: arguments put before CellProfiler's own, e.g. `["-e", "imageio_reader"]`.
    pub cellprofiler_args: Vec<String>,
    /// dcp: the CellProfiler-plugins checkout (DCP's /home/ubuntu/CellProfiler-plugins;
    /// embedded: relative to the settings file's folder);
    /// CellProfiler loads plugins from its `active_plugins` folder when there is one, as in
    /// DCP, else from the folder itself.
    pub plugins_directory: String,
    /// dcp: where load-data PathNames put the source bucket (DCP's s3fs mount root); paths
    /// under it are mapped to the source bucket's objects.
    pub mount_root: String,
    /// dcp, embedded: worker processes of the embedded fleet (0: CPU cores ÷ DOCKER_CORES).
    pub local_workers: u32,
    /// dcp, AWS: the IAM role the worker containers run as (their only credentials).
    pub task_role_arn: String,
    /// dcp: how the worker runs CellProfiler: `warm` (default: one long-lived CellProfiler
    /// per worker copy runs task after task) or `cold` (`cellprofiler -c -r` per task).
    pub cellprofiler_runner: RunnerMode,
    /// dcp: a warm runner is replaced by a fresh one after this many tasks.
    pub runner_max_tasks: u32,
    /// dcp: a warm runner is replaced by a fresh one when, after a task, its resident
    /// size exceeds this many MB.
    pub runner_max_rss_mb: u32,
    /// dcp, AWS: the API that requests the machines: `auto-scaling` (default: an EC2 Auto
    /// Scaling group with a mixed-instances policy) or `spot-fleet` (DCP's RequestSpotFleet,
    /// a legacy API, for accounts whose roles allow only it).
    pub fleet_api: FleetApi,
    /// dcp, AWS: machines of the Auto Scaling group that run On-Demand rather than on Spot
    /// (its OnDemandBaseCapacity); the rest are Spot. At most CLUSTER_MACHINES, and 0 with
    /// FLEET_API = "spot-fleet" (see `config/validate.rs`).
    pub on_demand_base: u32,
    /// dcp, AWS: with AUTO_MONITOR, the IAM role the monitor's schedule (EventBridge
    /// Scheduler) and the monitor's Fargate task run as; it trusts `scheduler.amazonaws.com`
    /// and `ecs-tasks.amazonaws.com` (`docs/iam/monitor-role-trust.json`).
    pub monitor_role_arn: String,
}

/// How the worker runs CellProfiler (CELLPROFILER_RUNNER).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerMode {
    /// One CellProfiler process per worker copy, kept between tasks; needs CellProfiler's
    /// own Python (a CELLPROFILER without one runs cold).
    #[default]
    Warm,
    /// One `cellprofiler -c -r` process per task (DCP's way).
    Cold,
}

/// The API that requests a run's machines on AWS (FLEET_API).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FleetApi {
    /// An EC2 Auto Scaling group with a mixed-instances policy (EC2 User Guide, "Spot Fleet":
    /// AWS recommends EC2 Fleet or Auto Scaling over the legacy RequestSpotFleet).
    #[default]
    AutoScaling,
    /// A Spot Fleet request, as DCP makes it.
    SpotFleet,
}

impl Default for Config {
    /// DCP's defaults (its config.py), with names left empty where they derive from others,
    /// except where dcp does otherwise: DOWNLOAD_FILES true (dcp always downloads) and
    /// AUTO_MONITOR false (DCP's run.py default; dcp's monitor on AWS also needs
    /// MONITOR_ROLE_ARN).
    fn default() -> Self {
        Config {
            backend: Backend::Embedded,
            queue_file: PathBuf::from("dcp-queue.sqlite"),
            app_name: "DistributedCP".into(),
            dockerhub_tag: "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8".into(),
            aws_region: "us-east-1".into(),
            aws_profile: "default".into(),
            ssh_key_name: String::new(),
            aws_bucket: String::new(),
            source_bucket: String::new(),
            workspace_bucket: String::new(),
            destination_bucket: String::new(),
            upload_flags: UploadFlags::default(),
            ecs_cluster: "default".into(),
            cluster_machines: 3,
            tasks_per_machine: 1,
            machine_type: vec!["m5.xlarge".into()],
            machine_price: 0.20,
            ebs_vol_size: 30,
            download_files: true,
            assign_ip: true,
            docker_cores: 4,
            cpu_shares: Some(4 * 1024),
            memory: 15000,
            seconds_to_start: 180,
            sqs_queue_name: String::new(),
            sqs_message_visibility: 60,
            sqs_dead_letter_queue: String::new(),
            job_retries: 3,
            log_group_name: String::new(),
            auto_monitor: false,
            create_dashboard: true,
            clean_dashboard: true,
            check_if_done_bool: false,
            expected_number_files: 7,
            min_file_size_bytes: 1,
            necessary_string: String::new(),
            always_continue: false,
            use_plugins: false,
            update_plugins: false,
            plugins_commit: String::new(),
            install_requirements: false,
            requirements: String::new(),
            ecs_service_name: String::new(),
            ecs_task_family: String::new(),
            cellprofiler: "cellprofiler".into(),
            cellprofiler_args: Vec::new(),
            plugins_directory: String::new(),
            mount_root: "/home/ubuntu/bucket/".into(),
            local_workers: 0,
            task_role_arn: String::new(),
            cellprofiler_runner: RunnerMode::Warm,
            runner_max_tasks: 200,
            runner_max_rss_mb: 4096,
            fleet_api: FleetApi::AutoScaling,
            on_demand_base: 0,
            monitor_role_arn: String::new(),
        }
    }
}

/// Why settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML or JSON of settings (the message names line and key).
    #[error("{origin}: {message}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A setting has a value dcp cannot use.
    #[error("{origin}{}: {key}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// The line of the key, when the key is in the text.
        line: Option<usize>,
        /// The setting.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// No settings were given and none were found.
    #[error("no settings found: {0}")]
    NotFound(String),
}

impl Config {
    /// Reads settings from TOML or JSON text (JSON when it starts with `{`), fills derived
    /// names, makes embedded paths absolute against `base_dir`, and validates.
    /// `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let raw: Config = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| located::json_error(text, origin, &e))?
        } else {
            toml::from_str(text).map_err(|e| located::toml_error(text, origin, &e))?
        };
        raw.resolve(base_dir)
            .map_err(|(key, message)| ConfigError::Invalid {
                origin: origin.to_owned(),
                line: validate::line_of_key(text, key),
                key: key.to_owned(),
                message,
            })
    }

    /// Reads a settings file (TOML or JSON); relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = crate::text::decode(bytes).map_err(|e| ConfigError::Syntax {
            origin: format!("{}:{}", path.display(), e.line),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Worker processes of the embedded fleet: LOCAL_WORKERS, or as many as give one
    /// CellProfiler copy per CPU core (cores ÷ DOCKER_CORES, at least one).
    pub fn local_worker_count(&self) -> u32 {
        match self.local_workers {
            0 => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
                (cores / self.docker_cores.max(1)).max(1)
            }
            n => n,
        }
    }

    /// Embedded: the folder holding the run's files (fleet state, worker logs, run report):
    /// `AWS_BUCKET/runs/APP_NAME`.
    pub fn local_run_dir(&self) -> PathBuf {
        Path::new(&self.aws_bucket)
            .join("runs")
            .join(&self.app_name)
    }

    /// The log group of the containers: LOG_GROUP_NAME + "_perInstance".
    pub fn per_instance_log_group(&self) -> String {
        format!("{}_perInstance", self.log_group_name)
    }

    /// The run's log groups: LOG_GROUP_NAME (the workers' task logs) and its
    /// `_perInstance` group (the containers' output).
    pub fn log_groups(&self) -> [String; 2] {
        [self.log_group_name.clone(), self.per_instance_log_group()]
    }

    /// The CloudWatch alarm a worker puts on its EC2 instance (idle → terminate), named as
    /// DCP names it: APP_NAME + "_" + instance id.
    pub fn instance_alarm_name(&self, instance_id: &str) -> String {
        format!("{}_{instance_id}", self.app_name)
    }

    /// ECS CPU units per container: CPU_SHARES, or DOCKER_CORES × 1024 when it is absent.
    pub fn cpu_shares(&self) -> u32 {
        self.cpu_shares
            .unwrap_or_else(|| self.docker_cores.saturating_mul(1024))
    }

    /// The Name tag a worker gives its EC2 instance: APP_NAME + "Worker".
    pub fn instance_name_tag(&self) -> String {
        format!("{}Worker", self.app_name)
    }

    fn resolve(mut self, base_dir: &Path) -> Result<Config, (&'static str, String)> {
        let app = self.app_name.clone();
        let derive = |slot: &mut String, value: String| {
            if slot.is_empty() {
                *slot = value;
            }
        };
        derive(&mut self.sqs_queue_name, format!("{app}Queue"));
        derive(
            &mut self.sqs_dead_letter_queue,
            format!("{app}DeadMessages"),
        );
        derive(&mut self.log_group_name, app.clone());
        derive(&mut self.ecs_service_name, format!("{app}Service"));
        derive(&mut self.ecs_task_family, format!("{app}Task"));
        derive(&mut self.source_bucket, self.aws_bucket.clone());
        derive(&mut self.workspace_bucket, self.source_bucket.clone());
        derive(&mut self.destination_bucket, self.aws_bucket.clone());
        self.cpu_shares = Some(self.cpu_shares());
        if self.plugins_commit.eq_ignore_ascii_case("false") {
            self.plugins_commit.clear();
        }
        validate::check(&self)?;
        if self.backend == Backend::Embedded {
            let dir = |p: &str| {
                absolute(base_dir, Path::new(p))
                    .to_string_lossy()
                    .into_owned()
            };
            self.queue_file = absolute(base_dir, &self.queue_file);
            self.aws_bucket = dir(&self.aws_bucket);
            self.source_bucket = dir(&self.source_bucket);
            self.workspace_bucket = dir(&self.workspace_bucket);
            self.destination_bucket = dir(&self.destination_bucket);
            if !self.plugins_directory.is_empty() {
                self.plugins_directory = dir(&self.plugins_directory);
            }
        }
        Ok(self)
    }
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

#[cfg(test)]
mod tests;
