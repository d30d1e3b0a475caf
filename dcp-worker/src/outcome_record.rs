//! On the embedded backend, the record of a worker's outcome lines in the run folder, where
//! `dcp-watch` reads every worker's lines (`<run_dir>/workers/*.jsonl`) for its counts and
//! the run report. A worker of `dcp-fleet start` is recorded by the fleet, which appends its
//! stdout to `workers/<slot>.jsonl` and says so with [`FLEET_SLOT_ENV`]; a worker started
//! any other way (by hand, by make, by a scheduler) records its own lines in
//! `workers/<host>-<pid>.jsonl`. On AWS the outcome log streams play this part
//! ([`crate::cloud`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use dcp_common::outcome::FLEET_SLOT_ENV;
use dcp_common::store::{StoreError, path_in_bucket};
use dcp_common::{Backend, Config};

/// Why the record could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The run folder leads outside AWS_BUCKET (a link out) or its name is not a key.
    #[error(transparent)]
    Outside(#[from] StoreError),
    /// The folder or the file could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The file a worker appends its outcome lines to.
#[derive(Debug)]
pub struct OutcomeRecord {
    path: PathBuf,
    file: Mutex<File>,
}

impl OutcomeRecord {
    /// The record this worker keeps itself: `None` on AWS and for a fleet worker (its
    /// stdout is the record; an empty [`FLEET_SLOT_ENV`] is no slot). Creates `<run_dir>/workers/` and opens the file for
    /// appending; an I/O error names the path.
    pub fn open(config: &Config) -> Result<Option<OutcomeRecord>, RecordError> {
        let fleet_worker = std::env::var_os(FLEET_SLOT_ENV).is_some_and(|slot| !slot.is_empty());
        if config.backend != Backend::Embedded || fleet_worker {
            return Ok(None);
        }
        // The run folder resolves inside AWS_BUCKET (no link out), as the fleet's does.
        let key = format!(
            "runs/{}/workers/{}-{}.jsonl",
            config.app_name,
            host_name(),
            std::process::id()
        );
        let path = path_in_bucket(&config.aws_bucket, &key)?;
        let io = |source| RecordError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(Some(OutcomeRecord {
            path,
            file: Mutex::new(file),
        }))
    }

    /// Appends `line` and its newline in one write, so a reader never sees half of one
    /// line followed by another. A failure is a warning on stderr: the task's work is done
    /// and the line was printed on stdout.
    pub fn append(&self, line: &str) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(format!("{line}\n").as_bytes()) {
            eprintln!(
                "dcp-worker: warning: outcome line not recorded in {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The machine's name as part of a file or log stream name ([`file_safe`]).
pub(crate) fn host_name() -> String {
    let name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    file_safe(&name)
}

/// `name` with anything but letters, digits, `-`, `.` and `_` made `_`, and `host` put
/// before an empty name or one starting with `.`.
fn file_safe(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' | '_' => c,
            _ => '_',
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        format!("host{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_name_is_kept_to_file_name_characters() {
        assert_eq!(file_safe("node-7.lab_2"), "node-7.lab_2");
        assert_eq!(file_safe("a/b c\\d"), "a_b_c_d");
        assert_eq!(file_safe(""), "host");
        assert_eq!(file_safe(".."), "host..");
    }
}
