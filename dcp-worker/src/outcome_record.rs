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
use dcp_common::{Backend, Config};

/// The file a worker appends its outcome lines to.
#[derive(Debug)]
pub struct OutcomeRecord {
    path: PathBuf,
    file: Mutex<File>,
}

impl OutcomeRecord {
    /// The record this worker keeps itself: `None` on AWS and for a fleet worker (its
    /// stdout is the record). Creates `<run_dir>/workers/` and opens the file for
    /// appending; an I/O error names the path.
    pub fn open(config: &Config) -> Result<Option<OutcomeRecord>, std::io::Error> {
        if config.backend != Backend::Embedded || std::env::var_os(FLEET_SLOT_ENV).is_some() {
            return Ok(None);
        }
        let dir = config.local_run_dir().join("workers");
        let path = dir.join(format!("{}-{}.jsonl", host_name(), std::process::id()));
        let named =
            |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&dir).map_err(named)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(named)?;
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

/// The machine's name as part of a file name ([`file_safe`]).
fn host_name() -> String {
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
