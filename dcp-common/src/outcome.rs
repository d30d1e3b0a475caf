//! What became of one task: the JSON line a worker prints per task, which the monitor
//! gathers into the run report.

use serde::{Deserialize, Serialize};

/// On the AWS backend, each worker process writes its outcome lines as events of one log
/// stream of LOG_GROUP_NAME named with this prefix (`outcomes/<instance>-<pid>`), where
/// the monitor reads them back for the run report.
pub const OUTCOME_STREAM_PREFIX: &str = "outcomes/";

/// On the embedded backend, set by `dcp-fleet start` in the environment of each worker it
/// launches, to the worker's slot: the fleet appends that worker's stdout to
/// `<run_dir>/workers/<slot>.jsonl`. A worker without it records its own outcome lines
/// there (`workers/<host>-<pid>.jsonl`).
pub const FLEET_SLOT_ENV: &str = "DCP_FLEET_SLOT";

/// How a task ended (reference §6, with DCP's problem classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// CellProfiler wrote `Complete` and outputs, and they were published.
    Success,
    /// CHECK_IF_DONE found the results already there; CellProfiler was not started.
    SkippedDone,
    /// The task or its load-data file is unusable: a bad body, no rows for the group, a
    /// missing image, a pipeline module writing outside the Default Output Folder
    /// ([`crate::pipeline_load::output_folder`]).
    InputProblem,
    /// The pipeline or the data file is missing from the workspace bucket.
    DownloadProblem,
    /// CellProfiler failed: non-zero exit, no `Complete`, or no outputs; or, before it
    /// started, its load of the pipeline lost a module that writes files
    /// ([`crate::pipeline_load`]).
    CellprofilerFailed,
    /// The outputs could not be published.
    OutputProblem,
    /// The task was taken from the worker while it held it: its receipt handle went stale
    /// because the task was purged or deleted, or received again by another worker after
    /// its visibility timeout (a worker paused too long). The attempt was stopped, or, if
    /// it had finished, its message could not be deleted and may run again.
    LostReceipt,
    /// The queue refused to delete the finished task's message for another reason; the
    /// outputs are published, and the task may run again.
    QueueProblem,
}

impl Status {
    /// Whether the task is finished for good (its message deleted).
    pub fn is_done(self) -> bool {
        matches!(self, Status::Success | Status::SkippedDone)
    }
}

/// One attempt at one task, as printed by `dcp-worker` (one JSON line each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The group, as `Key=Value,…`.
    pub group: String,
    /// The task's output prefix in the destination bucket.
    pub output: String,
    /// How the attempt ended.
    pub status: Status,
    /// Wall time of the attempt.
    pub seconds: f64,
    /// When the attempt started (unix seconds, to the millisecond); it ended `seconds`
    /// later. Absent from the lines of workers that did not write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<f64>,
    /// The copy of the worker loop that ran it (DOCKER_CORES copies per worker, from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<u32>,
    /// The worker whose outcome lines hold it: `n` of the embedded `workers/<n>.jsonl`, or
    /// the log stream's name after [`OUTCOME_STREAM_PREFIX`] on AWS (`<instance>-<pid>`).
    /// Filled in by the monitor as it reads the line; workers leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The published output files, relative to the output prefix.
    pub outputs: Vec<String>,
    /// CellProfiler's exit code, when it ran and exited.
    pub exit_code: Option<i32>,
    /// The queue message's id.
    pub message_id: String,
    /// Which receive of the message this attempt was.
    pub receive_count: u32,
    /// What went wrong, when something did; for a task done, what CellProfiler dropped
    /// or changed when it loaded the pipeline, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The attempt's log in the destination bucket, when it was filed there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The batch the task was pushed in (`dcp-queue push --batch`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}
