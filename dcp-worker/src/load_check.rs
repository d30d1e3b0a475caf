//! The pipeline load check before CellProfiler runs a task: what CellProfiler drops or
//! changes when it loads the task's pipeline ([`dcp_common::pipeline_load`]), asked once
//! per pipeline content per worker. A pipeline that lost a module writing files fails the
//! task before any image is fetched, and so does one with a module writing outside the
//! Default Output Folder ([`pipeline_load::output_folder`]: a run never writes outside its
//! output place); anything else it lost or changed is recorded in the
//! task's outcome. Output sub-folders with metadata tags are handed to the attempt, which
//! judges them against the group's load-data rows before fetching images. Without CellProfiler's Python (a stand-in CELLPROFILER) the check is
//! skipped, and the task's log says so.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use dcp_common::Config;
use dcp_common::outcome::Status;
use dcp_common::pipeline_load::output_folder::Tagged;
use dcp_common::pipeline_load::{self, CheckError, PipelineLoad};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::attempt::Failure;

/// What the check lets through.
#[derive(Debug, Default)]
pub struct Judged {
    /// What CellProfiler dropped or changed on load, to record in the outcome.
    pub findings: Option<String>,
    /// The output sub-folders with metadata tags, to judge against the group's data
    /// ([`pipeline_load::output_folder::tagged`]).
    pub tagged: Vec<Tagged>,
}

/// CellProfiler's answer for one pipeline, or why there is none.
type Answer = Arc<Result<PipelineLoad, CheckError>>;

/// The answers of the check, by the SHA-256 of the pipeline file. Copies of the worker
/// loop take turns, so a pipeline is checked once however many copies need it.
#[derive(Default)]
pub struct LoadChecks {
    answers: Mutex<HashMap<[u8; 32], Answer>>,
}

impl LoadChecks {
    /// What CellProfiler makes of the pipeline file at `pipeline`, loading the configured
    /// plugins first as `cellprofiler` does.
    async fn answer(&self, config: &Config, pipeline: &Path) -> std::io::Result<Answer> {
        let key: [u8; 32] = Sha256::digest(std::fs::read(pipeline)?).into();
        let mut answers = self.answers.lock().await;
        if let Some(answer) = answers.get(&key) {
            return Ok(Arc::clone(answer));
        }
        let plugins = dcp_common::cellprofiler::configured_plugins(config);
        let answer = pipeline_load::check(&config.cellprofiler, pipeline, plugins.as_deref()).await;
        let answer = Arc::new(answer);
        answers.insert(key, Arc::clone(&answer));
        Ok(answer)
    }

    /// Asks CellProfiler about the pipeline file at `pipeline` now, so that a task's check
    /// of the same content takes the answer kept (the pilot times the check apart, as a
    /// worker makes it once, not once per task).
    pub async fn ask(&self, config: &Config, pipeline: &Path) -> std::io::Result<()> {
        self.answer(config, pipeline).await.map(drop)
    }

    /// Checks the task's pipeline and notes what it found in `log`: the findings to record
    /// in the outcome (`None` when CellProfiler keeps the pipeline as written, or the check
    /// could not be made) and the tagged output sub-folders, or a
    /// [`Status::CellprofilerFailed`] failure when the pipeline lost a module that writes
    /// files, or an [`Status::InputProblem`] failure when a module writes outside the
    /// Default Output Folder as written.
    pub async fn judge(
        &self,
        config: &Config,
        pipeline: &Path,
        log: &mut File,
    ) -> Result<Judged, Failure> {
        let mut note = |line: &str| {
            let _ = writeln!(log, "dcp-worker: {line}");
        };
        let answer = match self.answer(config, pipeline).await {
            Ok(answer) => answer,
            Err(e) => {
                note(&format!(
                    "pipeline load check skipped: {}: {e}",
                    pipeline.display()
                ));
                return Ok(Judged::default());
            }
        };
        let load = match answer.as_ref() {
            Ok(load) => load,
            Err(e) => {
                note(&format!("pipeline load check skipped: {e}"));
                return Ok(Judged::default());
            }
        };
        if let Some(outside) = load.outside_findings() {
            note(&format!("not running CellProfiler: {outside}"));
            return Err(Failure {
                status: Status::InputProblem,
                detail: format!("{outside}: {}", pipeline_load::output_folder::OUTSIDE_FIX),
                exit_code: None,
            });
        }
        let tagged = load.tagged_outputs();
        for warning in &load.warnings {
            note(&format!("CellProfiler, loading the pipeline: {warning}"));
        }
        let Some(findings) = load.findings() else {
            note(&format!(
                "pipeline load check: CellProfiler keeps all {} modules",
                load.modules.len()
            ));
            return Ok(Judged {
                findings: None,
                tagged,
            });
        };
        note(&findings);
        let writers = load.lost_file_writers();
        if writers.is_empty() {
            return Ok(Judged {
                findings: Some(findings),
                tagged,
            });
        }
        note(&format!(
            "not running CellProfiler: {} lost module(s) write files, so the task cannot \
             make its outputs",
            writers.len()
        ));
        Err(Failure {
            status: Status::CellprofilerFailed,
            detail: findings,
            exit_code: None,
        })
    }
}
