//! Where a pipeline's modules write: a module's output folder setting must be the Default
//! Output Folder (or a sub-folder of it), the folder `cellprofiler -o` names and the only
//! one a task publishes (DCP's docs require it: "Default Output Folder" in every module that
//! writes). A module writing to `Elsewhere...|/abs/path`, the Default Input Folder or the
//! folder of its images writes outside the run's output place: into a bucket's files, or
//! where no task's results are collected.

use serde::{Deserialize, Serialize};

use super::{LoadedModule, PipelineLoad, writes_files};

/// CellProfiler's choice of the folder `-o` names (`DEFAULT_OUTPUT_FOLDER_NAME` in
/// cellprofiler_core/preferences).
pub const DEFAULT_OUTPUT_FOLDER: &str = "Default Output Folder";

/// A sub-folder of it (`DEFAULT_OUTPUT_SUBFOLDER_NAME`).
pub const DEFAULT_OUTPUT_SUBFOLDER: &str = "Default Output Folder sub-folder";

/// One folder setting a module shows (a `Directory` in
/// cellprofiler_core/setting/text/_directory.py): `Output file location:Elsewhere...|/x`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Folder {
    /// The setting's text (`Output file location`).
    pub setting: String,
    /// Its choice (`Default Output Folder`, `Elsewhere...`, `Default Input Folder`, …).
    pub choice: String,
    /// Its path: the sub-folder, or the folder elsewhere; `None` or empty when unused.
    #[serde(default)]
    pub path: Option<String>,
}

impl Folder {
    /// Whether the setting says where the module writes: every CellProfiler setting named
    /// `Output file location` (SaveImages, ExportToSpreadsheet, ExportToDatabase,
    /// CalculateStatistics) or `File output directory` (MeasureObjectSkeleton), and every
    /// folder of a module that writes files ([`writes_files`]: SaveCroppedObjects'
    /// `Directory`, plugins') but SaveImages' `Base image folder`, which names the input
    /// tree its sub-folders mirror.
    pub fn is_output(&self, module_name: &str) -> bool {
        matches!(
            self.setting.as_str(),
            "Output file location" | "File output directory"
        ) || (writes_files(module_name) && self.setting != "Base image folder")
    }

    /// Whether the folder is the Default Output Folder or a sub-folder inside it: a
    /// relative path with no `..` (a `\g<Plate>` metadata tag is part of a name).
    pub fn in_default_output(&self) -> bool {
        match self.choice.as_str() {
            DEFAULT_OUTPUT_FOLDER => true,
            DEFAULT_OUTPUT_SUBFOLDER => {
                let path = self.path.as_deref().unwrap_or("");
                !path.starts_with('/') && path.split('/').all(|part| part != "..")
            }
            _ => false,
        }
    }

    /// `Output file location: Elsewhere...|/data/out`.
    pub fn label(&self) -> String {
        match self.path.as_deref() {
            Some(path) if !path.is_empty() => {
                format!("{}: {}|{path}", self.setting, self.choice)
            }
            _ => format!("{}: {}", self.setting, self.choice),
        }
    }
}

impl PipelineLoad {
    /// The output folders of the modules that run (kept, not disabled) that are not the
    /// Default Output Folder or inside it.
    pub fn writes_outside(&self) -> Vec<(&LoadedModule, &Folder)> {
        self.modules
            .iter()
            .filter(|m| m.kept && m.enabled != Some(false))
            .flat_map(|m| {
                let name = m.name.as_deref().unwrap_or("");
                m.folders
                    .iter()
                    .filter(move |f| f.is_output(name) && !f.in_default_output())
                    .map(move |f| (m, f))
            })
            .collect()
    }

    /// The modules [`PipelineLoad::writes_outside`] names, in a line: `ExportToSpreadsheet
    /// #5 writes to Output file location: Elsewhere...|/data/out`; `None` when every module
    /// writes into the Default Output Folder.
    pub fn outside_findings(&self) -> Option<String> {
        let each: Vec<String> = self
            .writes_outside()
            .iter()
            .map(|(m, f)| format!("{} writes to {}", m.label(), f.label()))
            .collect();
        (!each.is_empty()).then(|| {
            format!(
                "{}, outside the Default Output Folder (the task's output place)",
                each.join("; ")
            )
        })
    }
}

/// The fix for [`PipelineLoad::outside_findings`], in one sentence.
pub const OUTSIDE_FIX: &str = "set the output folder of each module named to Default Output \
     Folder (or a Default Output Folder sub-folder): a task publishes only that folder, and \
     anything written elsewhere lands in the run's buckets or is lost";
