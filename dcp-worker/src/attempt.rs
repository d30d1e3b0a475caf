//! One attempt at one task: check whether it is done already, fetch its pipeline and data
//! file, check what CellProfiler keeps of the pipeline, fetch the images, run CellProfiler,
//! check and publish the results.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use dcp_common::outcome::Status;
use dcp_common::store::{self, StoreError};
use dcp_common::{Config, Store, Task};

use crate::batch::{BatchError, GroupImages};
use crate::cellprofiler::{self, DataFile, Run};
use crate::load_check::LoadChecks;
use crate::warm::Launch;
use dcp_common::loaddata::{
    Buckets, LoadDataCache, LoadDataError, Object, file_list_objects, write_file_list,
};
use dcp_common::metadata::join_pairs;
use dcp_common::pipeline_load::output_folder::{TAGGED_FIX, Tagged, tagged};

/// The name of CellProfiler's done file, kept out of the published results.
const DONE_FILE: &str = "cp.is.done";

/// A finished attempt: the task is done for good.
#[derive(Debug, PartialEq)]
pub struct Done {
    /// `Success` or `SkippedDone`.
    pub status: Status,
    /// Published files, relative to the output prefix.
    pub outputs: Vec<String>,
    /// CellProfiler's exit code, when it ran.
    pub exit_code: Option<i32>,
    /// What CellProfiler dropped or changed when it loaded the pipeline, if anything.
    pub detail: Option<String>,
}

/// A failed attempt: the task goes back to the queue.
#[derive(Debug, PartialEq)]
pub struct Failure {
    /// The class of the failure.
    pub status: Status,
    /// What went wrong.
    pub detail: String,
    /// CellProfiler's exit code, when it ran and exited.
    pub exit_code: Option<i32>,
}

fn fail(status: Status, detail: impl ToString) -> Failure {
    Failure {
        status,
        detail: detail.to_string(),
        exit_code: None,
    }
}

/// Everything one attempt needs.
pub struct Attempt<'a, S> {
    /// The run's settings.
    pub config: &'a Config,
    /// The buckets.
    pub store: &'a S,
    /// A private, empty folder for this attempt.
    pub scratch: &'a Path,
    /// The attempt's log (opened for appending), uploaded to the destination afterwards.
    pub log: &'a mut File,
    /// Where the log is: a warm runner appends CellProfiler's output to it.
    pub log_path: &'a Path,
    /// How the copy runs CellProfiler.
    pub launch: &'a mut Launch,
    /// The worker's parsed load-data CSVs.
    pub load_data: &'a LoadDataCache,
    /// The worker's pipeline load checks.
    pub load_checks: &'a LoadChecks,
}

impl<S: Store> Attempt<'_, S> {
    fn note(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.log, "dcp-worker: {}", line.as_ref());
    }

    /// Runs the task whose group is `pairs` and output prefix is `prefix`.
    pub async fn run(
        &mut self,
        task: &Task,
        group: &str,
        pairs: &[(String, String)],
        prefix: &str,
    ) -> Result<Done, Failure> {
        let config = self.config;
        if config.check_if_done_bool && self.already_done(prefix, group).await? {
            self.note(format!("{prefix} already holds the results: skipped"));
            return Ok(Done {
                status: Status::SkippedDone,
                outputs: Vec::new(),
                exit_code: None,
                detail: None,
            });
        }
        let keys = [task.pipeline.clone(), task.data_file.clone()];
        self.note(format!(
            "fetching {} and {} from {}",
            keys[0], keys[1], config.workspace_bucket
        ));
        let fetched = self
            .store
            .fetch(
                &config.workspace_bucket,
                &keys,
                &self.scratch.join("workspace"),
            )
            .await;
        let [pipeline, data_file]: [PathBuf; 2] = fetched
            .map_err(|e| match e {
                StoreError::LinkOutside { .. } => fail(Status::InputProblem, e),
                other => fail(Status::DownloadProblem, other),
            })?
            .try_into()
            .expect("one path per key");
        let judged = self.load_checks.judge(config, &pipeline, self.log).await?;
        let (data, group_argument) = self
            .prepare_data(&task.data_file, &data_file, pairs, &judged.tagged)
            .await?;
        // The source is read-only to dcp: a local input folder is used only if it exists;
        // otherwise CellProfiler gets an empty folder of the attempt's own.
        let input = match self.store.local_dir(&config.source_bucket, &task.input) {
            Some(dir) if dir.is_dir() => dir,
            _ => self.scratch.join("input"),
        };
        let output = self.scratch.join("out");
        let done_file = self.scratch.join(DONE_FILE);
        // What an earlier attempt left must not pass for this one's results.
        let _ = std::fs::remove_dir_all(&output);
        let _ = File::create(&done_file);
        for dir in [&input, &output] {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(Status::InputProblem, format!("{}: {e}", dir.display())))?;
        }
        let run = Run {
            pipeline: &pipeline,
            input: &input,
            output: &output,
            done_file: &done_file,
            data_file: &data,
            group: &group_argument,
        };
        let argv = cellprofiler::argv(config, &run);
        let exit_code = self.launch(&argv).await?;
        let complete =
            std::fs::read_to_string(&done_file).is_ok_and(|t| t.lines().next() == Some("Complete"));
        let produced = std::fs::read_dir(&output).map(|d| d.count()).unwrap_or(0);
        let problem = match (exit_code, complete, produced) {
            (Some(0), true, n) if n > 0 => None,
            (Some(0), true, _) => {
                Some("CellProfiler wrote `Complete` but no output files".to_owned())
            }
            (_, false, _) => Some(format!(
                "CellProfiler did not write `Complete` ({})",
                crate::cellprofiler::exit_text(exit_code)
            )),
            (code, true, _) => Some(format!(
                "CellProfiler {}",
                crate::cellprofiler::exit_text(code)
            )),
        };
        if let Some(detail) = problem {
            self.note(&detail);
            return Err(Failure {
                status: Status::CellprofilerFailed,
                detail,
                exit_code,
            });
        }
        self.note(format!("publishing {produced} outputs to {prefix}"));
        let published = store::publish(
            self.store,
            &config.destination_bucket,
            prefix,
            group,
            &output,
        )
        .await
        .map_err(|e| Failure {
            status: Status::OutputProblem,
            detail: e.to_string(),
            exit_code,
        })?;
        Ok(Done {
            status: Status::Success,
            outputs: published.into_iter().map(|o| o.key).collect(),
            exit_code,
            detail: judged.findings,
        })
    }

    /// Runs CellProfiler with `argv`, cold or in the copy's warm runner; its exit code
    /// (`None`: a signal ended a cold run).
    async fn launch(&mut self, argv: &[std::ffi::OsString]) -> Result<Option<i32>, Failure> {
        let runner = match &mut *self.launch {
            Launch::Warm(runner) => runner,
            Launch::Cold(why) => {
                if let Some(why) = why.clone() {
                    self.note(format!("running cold: no warm runner: {why}"));
                }
                self.note(format!("running {argv:?}"));
                return cellprofiler::run(argv, self.log).await.map_err(|e| {
                    fail(
                        Status::CellprofilerFailed,
                        format!("cannot run {}: {e}", self.config.cellprofiler),
                    )
                });
            }
        };
        let starts = runner.starts_next();
        let limits = runner.limits();
        let _ = writeln!(
            self.log,
            "dcp-worker: running warm{} ({limits}): {:?}",
            if starts { ", starting a runner" } else { "" },
            &argv[1..]
        );
        let _ = self.log.flush();
        let run = runner
            .run(&argv[1..], self.log_path)
            .await
            .map_err(|e| fail(Status::CellprofilerFailed, e))?;
        self.note(format!(
            "warm runner pid {}: task {} done, {} MB resident",
            run.pid, run.tasks, run.rss_mb
        ));
        Ok(Some(run.exit_code))
    }

    /// CHECK_IF_DONE: the task's own completion record is complete and every file it
    /// names is still there with its size; or, for results without a record (written by
    /// DCP), DCP's rule: at least EXPECTED_NUMBER_FILES objects of at least
    /// MIN_FILE_SIZE_BYTES whose names contain NECESSARY_STRING, counted over the whole
    /// prefix (dcp's own records not counted).
    async fn already_done(&mut self, prefix: &str, group: &str) -> Result<bool, Failure> {
        let c = self.config;
        let bucket = &c.destination_bucket;
        let problem = |e| fail(Status::OutputProblem, e);
        let listed = self.store.list(bucket, prefix).await.map_err(problem)?;
        let record = store::record(self.store, bucket, prefix, group)
            .await
            .map_err(problem)?;
        if let Some(record) = record {
            let present: HashMap<&str, u64> =
                listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
            return Ok(record.complete
                && record
                    .objects
                    .iter()
                    .all(|o| present.get(o.key.as_str()) == Some(&o.size)));
        }
        let counted = listed
            .iter()
            .filter(|o| {
                !store::is_dcp_key(&o.key)
                    && o.size >= c.min_file_size_bytes
                    && o.key.contains(c.necessary_string.as_str())
            })
            .count();
        Ok(counted >= c.expected_number_files as usize)
    }

    /// Points the data file at the group's images, fetched, and returns it with the `-g`
    /// argument CellProfiler needs for the group: a CSV is written whole (CellProfiler
    /// numbers image sets by row), the group's rows at the fetched images, other rows at
    /// a path that does not exist; the argument carries the values as CellProfiler
    /// compares them (`Metadata_Position=2` for a group `=002` of an integer column).
    /// Before any image is fetched, the `tagged` output sub-folders are judged against the
    /// group's rows; with a batch file or file list, whose metadata is not read here, a
    /// tagged sub-folder is refused ([`tagged`]).
    async fn prepare_data(
        &mut self,
        data_key: &str,
        data_file: &Path,
        pairs: &[(String, String)],
        tagged: &[Tagged],
    ) -> Result<(DataFile, String), Failure> {
        let extension = data_file
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let config = self.config;
        let buckets = Buckets::of(config);
        let input_problem = |e: LoadDataError| match e {
            LoadDataError::Read(..) => fail(Status::DownloadProblem, e),
            _ => fail(Status::InputProblem, format!("{data_key}: {e}")),
        };
        let outside = match extension.as_deref() {
            Some("txt" | "h5") => tagged::unreadable_findings(tagged, data_key),
            _ => None,
        };
        if let Some(outside) = outside {
            return Err(self.writes_outside(outside));
        }
        match extension.as_deref() {
            Some("csv") => {
                let data = self.load_data.get(data_file).map_err(input_problem)?;
                let rows = data.select(pairs).map_err(input_problem)?;
                if let Some(outside) = tagged::group_findings(tagged, data_key, &rows) {
                    return Err(self.writes_outside(outside));
                }
                let objects = rows.objects(&buckets).map_err(input_problem)?;
                let located = self.fetch_images(&objects).await?;
                let csv = self.scratch.join("load_data.csv");
                let absent = self.scratch.join("not-fetched");
                let started = std::time::Instant::now();
                rows.write(&csv, &buckets, &located, &absent)
                    .map_err(input_problem)?;
                self.note(format!(
                    "wrote {} rows ({} of the group) in {} ms; -g {}",
                    data.len(),
                    rows.len(),
                    started.elapsed().as_millis(),
                    rows.argument()
                ));
                Ok((DataFile::Csv(csv), rows.argument().to_owned()))
            }
            Some("txt") => {
                let text = std::fs::read(data_file).map_err(|e| {
                    fail(
                        Status::DownloadProblem,
                        format!("{}: {e}", data_file.display()),
                    )
                })?;
                let objects = file_list_objects(&String::from_utf8_lossy(&text), &buckets)
                    .map_err(input_problem)?;
                let located = self.fetch_images(&objects).await?;
                let list = self.scratch.join("file_list.txt");
                std::fs::write(&list, write_file_list(&objects, &located))
                    .map_err(|e| fail(Status::InputProblem, e))?;
                Ok((DataFile::FileList(list), join_pairs(pairs)))
            }
            Some("h5") => {
                let failed = |e: BatchError| fail(e.status(), e);
                let found = GroupImages::read(self.config, self.scratch, data_file, pairs)
                    .await
                    .map_err(failed)?;
                self.note(format!("batch file: group {}", found.group()));
                let located = self.fetch_images(&found.objects()).await?;
                let data = found
                    .rewrite(&located, self.scratch)
                    .await
                    .map_err(failed)?;
                Ok((data, found.group().to_owned()))
            }
            _ => Err(fail(
                Status::InputProblem,
                format!("{data_key}: a data file must be .csv, .txt or .h5"),
            )),
        }
    }

    /// The [`Status::InputProblem`] failure of a tagged output sub-folder outside the
    /// Default Output Folder, noted in the log.
    fn writes_outside(&mut self, outside: String) -> Failure {
        self.note(format!("not running CellProfiler: {outside}"));
        fail(Status::InputProblem, format!("{outside}: {TAGGED_FIX}"))
    }

    /// Fetches `objects` from their buckets; returns each one's local path.
    async fn fetch_images(
        &mut self,
        objects: &[Object],
    ) -> Result<HashMap<Object, PathBuf>, Failure> {
        let mut buckets: Vec<&str> = Vec::new();
        for object in objects {
            if !buckets.contains(&object.bucket.as_str()) {
                buckets.push(&object.bucket);
            }
        }
        let mut located = HashMap::with_capacity(objects.len());
        for (n, bucket) in buckets.into_iter().enumerate() {
            let keys: Vec<String> = objects
                .iter()
                .filter(|o| o.bucket == bucket)
                .map(|o| o.key.clone())
                .collect();
            let paths = self
                .fetch_from(bucket, &keys, &self.scratch.join(format!("images/{n}")))
                .await?;
            for (key, path) in keys.into_iter().zip(paths) {
                let object = Object {
                    bucket: bucket.to_owned(),
                    key,
                };
                // CellProfiler resolves a relative path against its own folders.
                let path = std::path::absolute(&path).unwrap_or(path);
                located.insert(object, path);
            }
        }
        Ok(located)
    }

    async fn fetch_from(
        &mut self,
        bucket: &str,
        keys: &[String],
        to: &Path,
    ) -> Result<Vec<PathBuf>, Failure> {
        self.note(format!("fetching {} images from {bucket}", keys.len()));
        let paths = self.store.fetch(bucket, keys, to).await;
        paths.map_err(|e| match e {
            StoreError::Missing { .. }
            | StoreError::BadKey { .. }
            | StoreError::LinkOutside { .. } => fail(Status::InputProblem, e),
            other => fail(Status::DownloadProblem, other),
        })
    }
}
