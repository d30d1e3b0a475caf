//! What CellProfiler drops or changes when it loads a pipeline, learned by asking
//! CellProfiler itself: a small probe (`pipeline_load/probe.py`) run with CellProfiler's
//! own Python loads the pipeline as `cellprofiler -c -r -p` does and answers in JSON.
//!
//! CellProfiler's headless load reports a module it cannot load (a format it no longer
//! offers, a module it does not have, settings it cannot read) only in its log, stops
//! loading there, runs the modules before it and may still write `Complete` and exit 0
//! (`setup_modules` in cellprofiler_core/pipeline/_pipeline.py: a `LoadException` whose
//! `cancel_run` nobody clears). A pipeline that lost a module writing files cannot make
//! its task's outputs: [`PipelineLoad::lost_file_writers`] names them.
//!
//! A second probe (`pipeline_load/validate.py`, [`validate`]) asks which modules' settings
//! CellProfiler finds invalid once LoadData reads a given load-data file: the pipeline's
//! images and the file's columns must agree.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod output_folder;
pub use output_folder::{FileName, Folder};

/// The probe, run as `python -c PROBE PIPELINE [PLUGINS_FOLDER]`.
const PROBE: &str = include_str!("pipeline_load/probe.py");

/// How long the probe may take: loading CellProfiler takes ~5 s.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// What CellProfiler made of a pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineLoad {
    /// Every module of the file, in file order.
    pub modules: Vec<LoadedModule>,
    /// Warnings CellProfiler logged while loading that concern no one module (e.g. that
    /// the pipeline was saved by another version).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One module of the pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadedModule {
    /// Its place in the file, from 1 (the `#` CellProfiler shows and the file's `module_num`).
    pub number: u32,
    /// Its name (`SaveImages`), when the file gives one.
    pub name: Option<String>,
    /// Whether it is enabled, when its header says.
    pub enabled: Option<bool>,
    /// Whether CellProfiler kept it: it runs with the pipeline.
    pub kept: bool,
    /// Why CellProfiler could not load it, when it could not.
    pub error: Option<String>,
    /// What CellProfiler logged while reading its settings (a setting changed or dropped).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The folder settings it shows, when CellProfiler kept it ([`output_folder`]).
    #[serde(default)]
    pub folders: Vec<Folder>,
    /// The text settings it shows that name the files it writes ([`FileName`]).
    #[serde(default)]
    pub file_names: Vec<FileName>,
}

/// Why the probe gave no answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// CELLPROFILER's Python was not found ([`crate::cellprofiler::python`]).
    #[error("cannot find CellProfiler's Python: {0}")]
    NoPython(String),
    /// The probe could not be started, failed, or took longer than [`PROBE_TIMEOUT`]; the
    /// message has the last lines it printed.
    #[error("the load probe with {python} failed: {message}")]
    Probe {
        /// The Python it ran with.
        python: String,
        /// What went wrong.
        message: String,
    },
    /// CellProfiler cannot load the pipeline at all (it will fail to run it too).
    #[error("CellProfiler cannot load the pipeline: {0}")]
    Unloadable(String),
    /// The probe's answer is not of the shape above.
    #[error("the load probe's answer is not understood: {0}")]
    BadAnswer(String),
}

/// Asks the CellProfiler that `cellprofiler` (the CELLPROFILER setting) names what it
/// makes of `pipeline` (a `.cppipe`, or a batch file `.h5`), loading the plugins of
/// `plugins` (the folder `--plugins-directory` gets) first, as the headless CLI does.
pub async fn check(
    cellprofiler: &str,
    pipeline: &Path,
    plugins: Option<&Path>,
) -> Result<PipelineLoad, CheckError> {
    let args = [pipeline].into_iter().chain(plugins);
    parse(&probe(cellprofiler, PROBE, args).await?)
}

/// The validation probe, run as `python -c VALIDATE PIPELINE DATA_FILE [PLUGINS_FOLDER]`.
const VALIDATE: &str = include_str!("pipeline_load/validate.py");

/// A module whose settings CellProfiler finds invalid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invalid {
    /// The module's place in the pipeline, from 1.
    pub number: u32,
    /// Its name (`IdentifyPrimaryObjects`).
    pub name: String,
    /// CellProfiler's message (`OrigBlue not in DNA, OrigGreen, OrigRed`).
    pub message: String,
}

/// Asks CellProfiler which enabled modules of `pipeline` have invalid settings when its
/// LoadData reads `data_file`, as `cellprofiler -p PIPELINE --data-file DATA_FILE` would
/// run it: a module naming an image no column of the file provides is one (each module's
/// `test_valid`, the check CellProfiler's GUI shows in red).
pub async fn validate(
    cellprofiler: &str,
    pipeline: &Path,
    data_file: &Path,
    plugins: Option<&Path>,
) -> Result<Vec<Invalid>, CheckError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Answer {
        Unloadable { error: String },
        Checked { invalid: Vec<Invalid> },
    }
    let args = [pipeline, data_file].into_iter().chain(plugins);
    let answer = probe(cellprofiler, VALIDATE, args).await?;
    match serde_json::from_slice(&answer) {
        Ok(Answer::Checked { invalid }) => Ok(invalid),
        Ok(Answer::Unloadable { error }) => Err(CheckError::Unloadable(error)),
        Err(e) => Err(CheckError::BadAnswer(e.to_string())),
    }
}

/// Kills a probe's process group when dropped: a probe given up (timed out, or its caller
/// stopped by a signal) leaves no process of CellProfiler's behind.
struct KillGroup(nix::unistd::Pid);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(self.0, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Runs `script` with CellProfiler's own Python, in a process group of its own (killed if
/// the probe is given up, or when this process dies), and returns what it printed on
/// stdout.
async fn probe<'a>(
    cellprofiler: &str,
    script: &str,
    args: impl Iterator<Item = &'a Path>,
) -> Result<Vec<u8>, CheckError> {
    let python = crate::cellprofiler::python(cellprofiler).map_err(CheckError::NoPython)?;
    let failed = |message: String| CheckError::Probe {
        python: python.display().to_string(),
        message,
    };
    let mut command = tokio::process::Command::new(&python);
    command.arg("-c").arg(script).args(args);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe prctl(2) call.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn().map_err(|e| failed(e.to_string()))?;
    let _group = child
        .id()
        .map(|id| KillGroup(nix::unistd::Pid::from_raw(id as i32)));
    let out = tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("it took longer than {PROBE_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let printed = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = printed.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(failed(format!("{}: {}", out.status, tail.join(" | "))));
    }
    Ok(out.stdout)
}

/// The probe's answer: `{"modules": [...], "warnings": [...]}`, or `{"error": "..."}`
/// when CellProfiler cannot load the pipeline at all.
pub fn parse(answer: &[u8]) -> Result<PipelineLoad, CheckError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Answer {
        Unloadable { error: String },
        Load(PipelineLoad),
    }
    match serde_json::from_slice(answer) {
        Ok(Answer::Load(load)) => Ok(load),
        Ok(Answer::Unloadable { error }) => Err(CheckError::Unloadable(error)),
        Err(e) => Err(CheckError::BadAnswer(e.to_string())),
    }
}

/// Whether a module of this name writes files: CellProfiler's Save… and Export… modules
/// (SaveImages, SaveCroppedObjects, ExportToSpreadsheet, ExportToDatabase…) and
/// CreateBatchFiles.
pub fn writes_files(module_name: &str) -> bool {
    module_name.starts_with("Save")
        || module_name.starts_with("Export")
        || module_name == "CreateBatchFiles"
}

impl PipelineLoad {
    /// The modules CellProfiler did not keep.
    pub fn lost(&self) -> impl Iterator<Item = &LoadedModule> {
        self.modules.iter().filter(|m| !m.kept)
    }

    /// The lost modules that would have written files: enabled ones [`writes_files`] names.
    pub fn lost_file_writers(&self) -> Vec<&LoadedModule> {
        self.lost()
            .filter(|m| m.enabled != Some(false))
            .filter(|m| m.name.as_deref().is_some_and(writes_files))
            .collect()
    }

    /// What CellProfiler dropped or changed, in a line: `pipeline lost 6 of its 22
    /// modules on load: SaveImages #17 (Unsupported file format: mat), …; changed on load:
    /// …`; `None` when it kept every module as written.
    pub fn findings(&self) -> Option<String> {
        let first_failure = self.lost().next().map(|m| m.number);
        let lost: Vec<String> = self
            .lost()
            .map(|m| {
                let mut why = Vec::new();
                if m.enabled == Some(false) {
                    why.push("disabled".to_owned());
                }
                match (&m.error, first_failure) {
                    (Some(error), _) => why.push(error.clone()),
                    (None, Some(first)) if first < m.number => why.push(format!(
                        "not loaded: CellProfiler stopped loading at #{first}"
                    )),
                    _ => {}
                }
                format!("{} ({})", m.label(), why.join("; "))
            })
            .collect();
        let changed: Vec<String> = self
            .modules
            .iter()
            .filter(|m| m.kept)
            .flat_map(|m| {
                m.warnings
                    .iter()
                    .map(move |w| format!("{}: {w}", m.label()))
            })
            .collect();
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!(
                "pipeline lost {} of its {} modules on load: {}",
                lost.len(),
                self.modules.len(),
                lost.join(", ")
            ));
        }
        if !changed.is_empty() {
            parts.push(format!("changed on load: {}", changed.join("; ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

impl LoadedModule {
    /// `SaveImages #17`, as CellProfiler names a module in its log.
    pub fn label(&self) -> String {
        format!(
            "{} #{}",
            self.name.as_deref().unwrap_or("module"),
            self.number
        )
    }
}

#[cfg(test)]
mod tests;
