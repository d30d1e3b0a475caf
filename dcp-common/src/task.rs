//! One task: one image group of a job, and the queue message that carries it.

use serde::{Deserialize, Serialize};

use crate::metadata::{Metadata, MetadataError};
use crate::prefix::{self, PrefixError};
use crate::pyjson;

/// One group of a job with the job's fields, in the field order of DCP's message body:
/// `{"Metadata", "pipeline", "output", "input", "data_file", "output_structure"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The group, in the form the job gave it.
    #[serde(rename = "Metadata")]
    pub metadata: Metadata,
    /// Pipeline (`.cppipe`) or batch file (`.h5`), a key in WORKSPACE_BUCKET.
    pub pipeline: String,
    /// Output folder, a key in DESTINATION_BUCKET.
    pub output: String,
    /// Input folder, a key in SOURCE_BUCKET.
    pub input: String,
    /// Load-data CSV or file list, a key in WORKSPACE_BUCKET.
    pub data_file: String,
    /// How the group's metadata names its output folder; empty joins the values with `-`.
    #[serde(default)]
    pub output_structure: String,
}

/// Why a task cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The message body is not a DCP task.
    #[error("not a DCP task message: {0}")]
    Body(String),
    /// The group's metadata is malformed.
    #[error("Metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// A bucket key or the output prefix would leave its bucket or folder.
    #[error("{field}: {source}")]
    Location {
        /// The field of the task at fault.
        field: &'static str,
        /// What is wrong.
        source: PrefixError,
    },
    /// A batch file names another pipeline than itself.
    #[error(
        "`{pipeline}` is not the batch file `{data_file}`: a batch file (.h5) holds its \
         own pipeline, so give its key as both pipeline and data_file (DCP's \
         passing_files_to_DCP.md)"
    )]
    BatchPipeline {
        /// The task's pipeline key.
        pipeline: String,
        /// The task's data file key.
        data_file: String,
    },
}

impl Task {
    /// The queue message body, exactly as DCP's `json.dumps` writes it.
    pub fn to_body(&self) -> String {
        pyjson::dumps(self)
    }

    /// Reads a queue message body written by dcp or by DCP.
    pub fn from_body(body: &str) -> Result<Task, TaskError> {
        serde_json::from_str(body).map_err(|e| TaskError::Body(e.to_string()))
    }

    /// Checks every field and returns the group's key/value pairs and output prefix.
    pub fn resolve(&self) -> Result<(Vec<(String, String)>, String), TaskError> {
        let pairs = self.metadata.pairs()?;
        let prefix = self.locate(&pairs)?;
        Ok((pairs, prefix))
    }

    /// Whether the data file is a CreateBatchFiles batch file: `.h5`, as DCP's worker decides.
    fn is_batch(&self) -> bool {
        std::path::Path::new(&self.data_file)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("h5"))
    }

    /// A batch file holds its own pipeline: the task must name it as both pipeline and data
    /// file (DCP's `passing_files_to_DCP.md`), or CellProfiler would run another pipeline
    /// than the one the task names.
    fn check_batch(&self) -> Result<(), TaskError> {
        if self.is_batch() && self.pipeline != self.data_file {
            return Err(TaskError::BatchPipeline {
                pipeline: self.pipeline.clone(),
                data_file: self.data_file.clone(),
            });
        }
        Ok(())
    }

    /// Checks the bucket keys and a batch file's pipeline ([`Task::check_batch`]) and returns
    /// the output prefix, for the group's `pairs` (as [`Metadata::pairs`] gave them).
    pub fn locate(&self, pairs: &[(String, String)]) -> Result<String, TaskError> {
        self.check_batch()?;
        for (field, key) in [
            ("pipeline", &self.pipeline),
            ("data_file", &self.data_file),
            ("input", &self.input),
            ("output", &self.output),
        ] {
            prefix::check_relative(key).map_err(|source| TaskError::Location { field, source })?;
        }
        let location = |source| TaskError::Location {
            field: "output_structure",
            source,
        };
        if matches!(self.metadata, Metadata::Fields(_)) && self.output_structure.is_empty() {
            return Err(location(PrefixError::StructureRequired));
        }
        let group = prefix::group_path(pairs, &self.output_structure).map_err(location)?;
        Ok(prefix::output_prefix(&self.output, &group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Task {
        Task {
            metadata: Metadata::Text("Metadata_Position=2".into()),
            pipeline: "demo_project_folder/workspace/ExampleFly.cppipe".into(),
            output: "demo_project_folder/output".into(),
            input: "demo_project_folder/workspace/".into(),
            data_file: "demo_project_folder/workspace/load_data.csv".into(),
            output_structure: "Metadata_Position".into(),
        }
    }

    #[test]
    fn body_is_what_dcp_sends() {
        // json.dumps(templateMessage) in DCP's run.py submitJob, for the ExampleFly job.
        let expected = r#"{"Metadata": "Metadata_Position=2", "pipeline": "demo_project_folder/workspace/ExampleFly.cppipe", "output": "demo_project_folder/output", "input": "demo_project_folder/workspace/", "data_file": "demo_project_folder/workspace/load_data.csv", "output_structure": "Metadata_Position"}"#;
        assert_eq!(example().to_body(), expected);
        assert_eq!(Task::from_body(expected).unwrap(), example());
    }

    #[test]
    fn reads_bodies_without_output_structure() {
        let body = r#"{"Metadata": "Metadata_Plate=P1,Metadata_Well=A01", "pipeline": "p", "output": "o", "input": "i", "data_file": "d"}"#;
        let task = Task::from_body(body).unwrap();
        assert_eq!(task.resolve().unwrap().1, "o/P1-A01");
    }

    #[test]
    fn resolves_the_output_prefix() {
        assert_eq!(
            example().resolve().unwrap().1,
            "demo_project_folder/output/2"
        );
        let mut task = example();
        task.pipeline = "../secrets/p.cppipe".into();
        assert!(matches!(
            task.resolve(),
            Err(TaskError::Location {
                field: "pipeline",
                ..
            })
        ));
        task = example();
        task.metadata = serde_json::from_str(r#"{"Metadata_Position": 2}"#).unwrap();
        task.output_structure.clear();
        assert!(matches!(
            task.resolve(),
            Err(TaskError::Location {
                field: "output_structure",
                ..
            })
        ));
    }

    #[test]
    fn a_batch_file_is_known_by_its_extension_and_must_be_the_pipeline() {
        let mut task = example();
        assert!(!task.is_batch() && task.check_batch().is_ok());
        task.data_file = "w/BATCH.H5".into();
        assert!(task.is_batch());
        let err = task.check_batch().unwrap_err().to_string();
        assert!(err.contains("is not the batch file `w/BATCH.H5`"), "{err}");
        task.pipeline = task.data_file.clone();
        assert!(task.check_batch().is_ok());
        task.data_file = "w/h5".into();
        assert!(!task.is_batch());
    }
}
