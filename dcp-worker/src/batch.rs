//! CreateBatchFiles batch files (`Batch_data.h5`) as pipeline and data file, as DCP's
//! `passing_files_to_DCP.md` describes. CellProfiler's own Python reads the group's image
//! sets from the batch file (`batch/batch_file.py`, with CellProfiler's Measurements); the
//! worker fetches exactly their images from the source bucket and runs CellProfiler on a
//! copy of the batch file whose URLs point at the fetched files. Image numbers stay the
//! batch file's own.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use dcp_common::Config;
use dcp_common::outcome::Status;
use serde::Deserialize;

use crate::cellprofiler::DataFile;
use dcp_common::loaddata::{Buckets, Object};

/// The helper run with CellProfiler's Python; its header documents its commands.
const HELPER: &str = include_str!("batch/batch_file.py");

/// Why a batch file cannot be run for a group.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// No Python of CellProfiler's own to read the batch file with.
    #[error(
        "cannot read batch files: CELLPROFILER `{0}` is neither a Python script nor beside a \
         `python`, so its Python (with h5py and CellProfiler's readers) is not known"
    )]
    NoPython(String),
    /// The batch file cannot serve the group; the helper's reason.
    #[error("{file}: cannot be run as a batch file: {reason}")]
    Refused {
        /// The batch file.
        file: String,
        /// Why, in the helper's words.
        reason: String,
    },
    /// An image of the group lies outside the run's buckets.
    #[error(
        "{file}: image set {}, {}: `{}` (path `{}`) {reason}: map it with CreateBatchFiles' \
         path mapping (Cluster root path = MOUNT_ROOT)",
        image.image_number, image.feature, image.url, image.path
    )]
    Outside {
        /// The batch file.
        file: String,
        /// The image: its image set, URL measurement (`URL_DNA`), recorded URL and path
        /// after the recorded path mappings.
        image: Box<Image>,
        /// Why the run may not read it (see [`Buckets::locate`]).
        reason: String,
    },
    /// The helper could not be run, or failed without a reason.
    #[error("reading the batch file with {python}: {detail}")]
    Helper {
        /// The Python used.
        python: String,
        /// What happened.
        detail: String,
    },
}

impl BatchError {
    /// The outcome status of a task failing with this error: the helper's own faults are
    /// CellProfiler's environment failing (retried); everything else is the input's.
    pub fn status(&self) -> Status {
        match self {
            BatchError::Helper { .. } => Status::CellprofilerFailed,
            _ => Status::InputProblem,
        }
    }
}

/// One image URL of the group, as the helper reports it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Image {
    /// CellProfiler's image number (the image set).
    pub image_number: u64,
    /// Where it is recorded: the measurement `URL_X` or `ObjectsURL_X`, or
    /// `ImageSet_ImageSet[X]` (NamesAndTypes' image set).
    pub feature: String,
    /// The URL the batch file records.
    pub url: String,
    /// A `file:` URL's path after the recorded path mappings; other URLs as they are.
    pub path: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Reply<T> {
    Refused { refused: String },
    Done(T),
}

#[derive(Deserialize)]
struct Listed {
    group: Vec<(String, String)>,
    images: Vec<Image>,
}

#[derive(Deserialize)]
struct Rewritten {
    data_file: Option<PathBuf>,
}

/// A batch file read for one group: its images and the objects of the run's buckets they
/// map to.
pub struct GroupImages {
    python: Vec<OsString>,
    helper: PathBuf,
    batch: PathBuf,
    /// The group as the batch file records its values (`Metadata_Position=2` for a task's
    /// `=002`), which CellProfiler's `-g` compares as text.
    group: String,
    images: Vec<(Image, Object)>,
}

impl GroupImages {
    /// Reads the image sets of the group `pairs` from `batch` with CellProfiler's Python,
    /// mapping each URL to an object of the run's buckets by the load-data rules (a path
    /// under MOUNT_ROOT is a SOURCE_BUCKET key; an `s3://` URL names one of the run's
    /// buckets). Writes the helper into `scratch`.
    pub async fn read(
        config: &Config,
        scratch: &Path,
        batch: &Path,
        pairs: &[(String, String)],
    ) -> Result<Self, BatchError> {
        let mut found = GroupImages::helper(config, scratch, batch)?;
        let group = serde_json::to_string(pairs).expect("pairs serialize");
        let listed: Listed = found
            .call(&["images".as_ref(), batch.as_os_str(), group.as_ref()])
            .await?;
        found.locate(config, listed)?;
        Ok(found)
    }

    /// [`GroupImages::read`] for each of `groups` at once (one Python process): each
    /// group's images, or why the batch file cannot serve it ([`BatchError::Refused`],
    /// [`BatchError::Outside`]). An error for the whole file (not a batch file, no Python,
    /// the helper failing) is the outer error. For `dcp-fleet check`.
    pub async fn read_groups(
        config: &Config,
        scratch: &Path,
        batch: &Path,
        groups: &[Vec<(String, String)>],
    ) -> Result<Vec<Result<GroupImages, BatchError>>, BatchError> {
        let found = GroupImages::helper(config, scratch, batch)?;
        let list = scratch.join("batch_groups.json");
        let json = serde_json::to_vec(groups).expect("groups serialize");
        std::fs::write(&list, json).map_err(|e| BatchError::Helper {
            python: show(&found.python),
            detail: format!("{}: {e}", list.display()),
        })?;
        #[derive(Deserialize)]
        struct AllGroups {
            groups: Vec<Reply<Listed>>,
        }
        let all: AllGroups = found
            .call(&["groups".as_ref(), batch.as_os_str(), list.as_os_str()])
            .await?;
        Ok(all
            .groups
            .into_iter()
            .map(|reply| {
                let mut group = GroupImages {
                    python: found.python.clone(),
                    helper: found.helper.clone(),
                    batch: batch.to_owned(),
                    group: String::new(),
                    images: Vec::new(),
                };
                match reply {
                    Reply::Refused { refused } => Err(BatchError::Refused {
                        file: batch.display().to_string(),
                        reason: refused,
                    }),
                    Reply::Done(listed) => group.locate(config, listed).map(|()| group),
                }
            })
            .collect())
    }

    /// No group yet: CellProfiler's Python, and the helper written into `scratch`.
    fn helper(config: &Config, scratch: &Path, batch: &Path) -> Result<Self, BatchError> {
        let python = dcp_common::cellprofiler::python(&config.cellprofiler)
            .map(|p| vec![p.into_os_string()])
            .map_err(|_| BatchError::NoPython(config.cellprofiler.clone()))?;
        let helper = scratch.join("batch_file.py");
        std::fs::write(&helper, HELPER).map_err(|e| BatchError::Helper {
            python: show(&python),
            detail: format!("{}: {e}", helper.display()),
        })?;
        Ok(GroupImages {
            python,
            helper,
            batch: batch.to_owned(),
            group: String::new(),
            images: Vec::new(),
        })
    }

    /// Takes the helper's listing of the group: its recorded values, and each image with
    /// the object of the run's buckets it maps to.
    fn locate(&mut self, config: &Config, listed: Listed) -> Result<(), BatchError> {
        self.group = listed
            .group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let buckets = Buckets::of(config);
        for image in listed.images {
            let object = buckets
                .locate(&image.path)
                .map_err(|reason| BatchError::Outside {
                    file: self.batch.display().to_string(),
                    image: Box::new(image.clone()),
                    reason,
                })?;
            self.images.push((image, object));
        }
        Ok(())
    }

    /// The group as CellProfiler's `-g` takes it, with the values the batch file records.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The objects of the group's images, each once, in image-number order.
    pub fn objects(&self) -> Vec<Object> {
        let mut seen = HashSet::new();
        self.images
            .iter()
            .filter(|(_, object)| seen.insert(object))
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// Writes `scratch/Batch_data.h5`, the batch file with the group's URLs pointing at the
    /// fetched files (`located`: object → local path), and, for a LoadData pipeline, the
    /// group's rows as `scratch/batch_load_data.csv` (LoadData reads its CSV's header even
    /// in batch mode).
    pub async fn rewrite(
        &self,
        located: &HashMap<Object, PathBuf>,
        scratch: &Path,
    ) -> Result<DataFile, BatchError> {
        let places: Vec<(u64, &str, &Path)> = self
            .images
            .iter()
            .filter_map(|(image, object)| {
                let local = located.get(object)?;
                Some((image.image_number, image.url.as_str(), local.as_path()))
            })
            .collect();
        let places_file = scratch.join("batch_places.json");
        let copy = scratch.join("Batch_data.h5");
        let csv = scratch.join("batch_load_data.csv");
        let json = serde_json::to_vec(&places).expect("places serialize");
        std::fs::write(&places_file, json).map_err(|e| BatchError::Helper {
            python: show(&self.python),
            detail: format!("{}: {e}", places_file.display()),
        })?;
        let args = [
            "rewrite".as_ref(),
            self.batch.as_os_str(),
            copy.as_os_str(),
            places_file.as_os_str(),
            csv.as_os_str(),
        ];
        let rewritten: Rewritten = self.call(&args).await?;
        Ok(DataFile::Batch {
            batch: copy,
            data_file: rewritten.data_file,
        })
    }

    /// Runs the helper; its JSON reply, or its refusal (exit 2).
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        args: &[&std::ffi::OsStr],
    ) -> Result<T, BatchError> {
        let helper_error = |detail: String| BatchError::Helper {
            python: show(&self.python),
            detail,
        };
        let out = tokio::process::Command::new(&self.python[0])
            .args(&self.python[1..])
            .arg(&self.helper)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| helper_error(e.to_string()))?;
        let reply = serde_json::from_slice::<Reply<T>>(&out.stdout);
        match (out.status.code(), reply) {
            (Some(2), Ok(Reply::Refused { refused })) => Err(BatchError::Refused {
                file: self.batch.display().to_string(),
                reason: refused,
            }),
            (Some(0), Ok(Reply::Done(value))) => Ok(value),
            (code, _) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Err(helper_error(format!(
                    "{}: {}",
                    crate::cellprofiler::exit_text(code),
                    tail.join(" | ")
                )))
            }
        }
    }
}

fn show(python: &[OsString]) -> String {
    python
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
