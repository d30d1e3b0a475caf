//! Where a pipeline's modules write: a module's output folder setting must be the Default
//! Output Folder (or a sub-folder of it), the folder `cellprofiler -o` names and the only
//! one a task publishes (DCP's docs require it: "Default Output Folder" in every module that
//! writes). A module writing to `Elsewhere...|/abs/path`, the Default Input Folder or the
//! folder of its images writes outside the run's output place: into a bucket's files, or
//! where no task's results are collected.
//!
//! A file name is joined to that folder (`os.path.join`), so the same rule holds for the
//! settings naming the files ([`FileName`]). A sub-folder or file name with metadata tags
//! (`\g<Plate>`, [`tags`]) is filled by CellProfiler from each image set's metadata:
//! [`Tagged`] judges it against the load-data rows of a group.

pub mod tagged;
pub mod tags;

use serde::{Deserialize, Serialize};

pub use tagged::{TAGGED_FIX, Tagged};

use super::{LoadedModule, PipelineLoad, writes_files};

/// CellProfiler's choice of the folder `-o` names (`DEFAULT_OUTPUT_FOLDER_NAME` in
/// cellprofiler_core/preferences).
pub const DEFAULT_OUTPUT_FOLDER: &str = "Default Output Folder";

/// A sub-folder of it (`DEFAULT_OUTPUT_SUBFOLDER_NAME`).
pub const DEFAULT_OUTPUT_SUBFOLDER: &str = "Default Output Folder sub-folder";

/// SaveImages' folder setting that it shows only with `Create subfolders in the output
/// folder?` set to Yes (cellprofiler/modules/saveimages.py, `root_dir`).
pub const BASE_IMAGE_FOLDER: &str = "Base image folder";

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
        ) || (writes_files(module_name) && self.setting != BASE_IMAGE_FOLDER)
    }

    /// Whether the folder is the Default Output Folder or a sub-folder inside it as
    /// written: a relative path with no `..` part ([`tags::stays_inside`]). A sub-folder
    /// with metadata tags passes here when its text does; what CellProfiler fills in for
    /// them is judged per group ([`Tagged`]).
    pub fn in_default_output(&self) -> bool {
        match self.choice.as_str() {
            DEFAULT_OUTPUT_FOLDER => true,
            DEFAULT_OUTPUT_SUBFOLDER => tags::stays_inside(self.path.as_deref().unwrap_or("")),
            _ => false,
        }
    }

    /// The metadata names of the tags in a Default Output Folder sub-folder's path (`Plate`
    /// for `\g<Plate>/masks`); empty for any other choice, which takes no tags here.
    pub fn metadata_tags(&self) -> Vec<String> {
        match (self.choice.as_str(), self.path.as_deref()) {
            (DEFAULT_OUTPUT_SUBFOLDER, Some(path)) => tags::names(path),
            _ => Vec::new(),
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

/// A text setting a module that writes shows, naming (part of) the files it writes: one
/// taking metadata tags (SaveImages' `Enter single file name` and `Text to append to the
/// image name`, ExportToSpreadsheet's `File name`; `Text(…, metadata=True)` in
/// CellProfiler), or ExportToSpreadsheet's `Filename prefix`. CellProfiler joins the name
/// to the module's folder (`os.path.join`), so `../x` or `/x` writes outside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileName {
    /// The setting's text (`File name`).
    pub setting: String,
    /// Its value (`\g<Plate>.csv`).
    pub value: String,
}

impl FileName {
    /// `File name: \g<Plate>.csv`.
    pub fn label(&self) -> String {
        format!("{}: {}", self.setting, self.value)
    }
}

impl PipelineLoad {
    /// The output folders of the modules that run (kept, not disabled).
    fn output_folders(&self) -> impl Iterator<Item = (&LoadedModule, &Folder)> {
        self.modules
            .iter()
            .filter(|m| m.kept && m.enabled != Some(false))
            .flat_map(|m| {
                let name = m.name.as_deref().unwrap_or("");
                m.folders
                    .iter()
                    .filter(move |f| f.is_output(name))
                    .map(move |f| (m, f))
            })
    }

    /// The file-name settings of the modules that run and write files.
    fn output_file_names(&self) -> impl Iterator<Item = (&LoadedModule, &FileName)> {
        self.modules
            .iter()
            .filter(|m| m.kept && m.enabled != Some(false))
            .filter(|m| m.name.as_deref().is_some_and(writes_files))
            .flat_map(|m| m.file_names.iter().map(move |n| (m, n)))
    }

    /// The file-name settings of the modules that run that lead outside their folder as
    /// written: an absolute name or one with a `..` part ([`tags::stays_inside`]).
    pub fn names_outside(&self) -> Vec<(&LoadedModule, &FileName)> {
        self.output_file_names()
            .filter(|(_, n)| !tags::stays_inside(&n.value))
            .collect()
    }

    /// The output folders of the modules that run that are not the Default Output Folder
    /// or inside it as written.
    pub fn writes_outside(&self) -> Vec<(&LoadedModule, &Folder)> {
        self.output_folders()
            .filter(|(_, f)| !f.in_default_output())
            .collect()
    }

    /// The modules that run and mirror their images' folders under their output folder:
    /// SaveImages with `Create subfolders in the output folder?` set to Yes, which shows its
    /// [`BASE_IMAGE_FOLDER`]. CellProfiler adds each image's folder, relative to the base,
    /// to the output folder (`os.path.relpath` in SaveImages' `get_filename`). A task's
    /// images are fetched into a folder of the worker's own, beside the output folder, so
    /// that relative path starts with `..`: the images would land outside the output
    /// folder and be lost.
    pub fn mirrors_image_folders(&self) -> Vec<(&LoadedModule, &Folder)> {
        self.modules
            .iter()
            .filter(|m| m.kept && m.enabled != Some(false))
            .flat_map(|m| {
                m.folders
                    .iter()
                    .filter(|f| f.setting == BASE_IMAGE_FOLDER)
                    .map(move |f| (m, f))
            })
            .collect()
    }

    /// The output sub-folders and file names inside the Default Output Folder as written
    /// whose metadata tags CellProfiler fills per image set: whether they stay inside
    /// depends on the data.
    pub fn tagged_outputs(&self) -> Vec<Tagged> {
        let folders = self
            .output_folders()
            .filter(|(_, f)| f.in_default_output() && !f.metadata_tags().is_empty())
            .map(|(m, f)| Tagged {
                module: m.label(),
                place: format!("writes to {}", f.label()),
                pattern: f.path.clone().unwrap_or_default(),
            });
        let names = self
            .output_file_names()
            .filter(|(_, n)| tags::stays_inside(&n.value) && !tags::names(&n.value).is_empty())
            .map(|(m, n)| Tagged {
                module: m.label(),
                place: format!("names its files {}", n.label()),
                pattern: n.value.clone(),
            });
        folders.chain(names).collect()
    }

    /// The modules [`PipelineLoad::writes_outside`] names, in a line: `ExportToSpreadsheet
    /// #5 writes to Output file location: Elsewhere...|/data/out`; `None` when every module
    /// writes into the Default Output Folder.
    pub fn outside_findings(&self) -> Option<String> {
        let folders = self
            .writes_outside()
            .into_iter()
            .map(|(m, f)| format!("{} writes to {}", m.label(), f.label()));
        let names = self
            .names_outside()
            .into_iter()
            .map(|(m, n)| format!("{} names its files {}", m.label(), n.label()));
        let mirrors = self.mirrors_image_folders().into_iter().map(|(m, f)| {
            format!(
                "{} mirrors its images' folders under its output folder (Create subfolders in \
                 the output folder? Yes; {})",
                m.label(),
                f.label()
            )
        });
        let each: Vec<String> = folders.chain(names).chain(mirrors).collect();
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
     Folder (or a Default Output Folder sub-folder, which may take metadata tags such as \
     `\\g<Plate>`), give file names no `..` part and no leading `/`, and set SaveImages' \
     `Create subfolders in the output folder?` to No (a task's images are fetched into a \
     folder of the worker's own, so a mirrored folder leads outside): a task publishes only \
     the output folder, and anything written elsewhere lands in the run's buckets or is lost";
