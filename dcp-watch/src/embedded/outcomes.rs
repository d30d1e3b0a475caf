//! The embedded workers' outcome lines: `<run_dir>/workers/*.jsonl`, one [`Outcome`] per task
//! attempt, read incrementally — each look reads only the whole lines appended since the
//! last one, so a long run is not read again every tick.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dcp_common::outcome::Outcome;

use crate::WatchError;
use crate::outcomes::Batch;

/// The outcome files of a run's workers and how far each has been read.
#[derive(Debug)]
pub struct OutcomeLog {
    dir: PathBuf,
    read: HashMap<PathBuf, u64>,
}

impl OutcomeLog {
    /// The outcome files in `dir` (`<run_dir>/workers`), none read yet.
    pub fn new(dir: impl Into<PathBuf>) -> OutcomeLog {
        OutcomeLog {
            dir: dir.into(),
            read: HashMap::new(),
        }
    }

    /// Reads the whole lines appended since the last call. A line still being written is
    /// left for the next call; a file that shrank is read again from its start.
    pub fn read_new(&mut self) -> Result<Batch, WatchError> {
        let mut batch = Batch::default();
        for path in files(&self.dir)? {
            let worker = path.file_stem().unwrap_or_default().to_string_lossy();
            let offset = self.read.entry(path.clone()).or_default();
            let mut file = File::open(&path).map_err(WatchError::io(&path))?;
            let len = file.metadata().map_err(WatchError::io(&path))?.len();
            if len < *offset {
                *offset = 0;
            }
            file.seek(SeekFrom::Start(*offset))
                .map_err(WatchError::io(&path))?;
            let mut reader = BufReader::new(file.take(len - *offset));
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(WatchError::io(&path))?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                *offset += n as u64;
                if line.trim_ascii().is_empty() {
                    continue;
                }
                match serde_json::from_slice::<Outcome>(&line) {
                    Ok(outcome) => batch.outcomes.push(Outcome {
                        worker: Some(worker.clone().into_owned()),
                        ..outcome
                    }),
                    Err(_) => batch.unreadable += 1,
                }
            }
        }
        Ok(batch)
    }
}

/// Every outcome of the run's workers (the whole lines of every file in `dir`).
pub fn read_all(dir: &Path) -> Result<Batch, WatchError> {
    OutcomeLog::new(dir).read_new()
}

/// The `*.jsonl` files of `dir`, in worker order (`2.jsonl` before `10.jsonl`); none when
/// the folder does not exist.
fn files(dir: &Path) -> Result<Vec<PathBuf>, WatchError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(WatchError::io(dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(WatchError::io(dir))?.path();
        if path.extension().is_some_and(|e| e == "jsonl") && path.is_file() {
            files.push(path);
        }
    }
    let order = |p: &PathBuf| {
        let stem = p.file_stem().unwrap_or_default().to_string_lossy();
        (stem.parse::<u64>().unwrap_or(u64::MAX), stem.into_owned())
    };
    files.sort_by_cached_key(order);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LINE: &str = r#"{"group":"Metadata_Site=1","output":"out/1","status":"success","seconds":1.5,"outputs":["Image.csv"],"exit_code":0,"message_id":"1","receive_count":1}"#;

    #[test]
    fn reads_only_whole_new_lines_in_worker_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("10.jsonl"),
            format!("{}\n", LINE.replace("out/1", "out/10")),
        )
        .unwrap();
        std::fs::write(
            d.join("2.jsonl"),
            format!("{LINE}\nnot json\n\n{}", &LINE[..20]),
        )
        .unwrap();
        std::fs::write(d.join("2.log"), "a log, not outcomes\n").unwrap();
        let mut log = OutcomeLog::new(d);
        let first = log.read_new().unwrap();
        let outputs: Vec<&str> = first.outcomes.iter().map(|o| o.output.as_str()).collect();
        assert_eq!(outputs, ["out/1", "out/10"]);
        let workers: Vec<_> = first.outcomes.iter().map(|o| o.worker.as_deref()).collect();
        assert_eq!(
            workers,
            [Some("2"), Some("10")],
            "each line's worker is its file's"
        );
        assert_eq!(first.unreadable, 1);

        let mut two = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("2.jsonl"))
            .unwrap();
        two.write_all(format!("{}\n", &LINE[20..]).as_bytes())
            .unwrap();
        let second = log.read_new().unwrap();
        assert_eq!(second.outcomes.len(), 1, "the finished line, once");
        assert_eq!(second.outcomes[0].output, "out/1");
        assert!(log.read_new().unwrap().outcomes.is_empty());
        assert_eq!(read_all(d).unwrap().outcomes.len(), 3);
    }

    #[test]
    fn no_folder_means_no_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let batch = read_all(&dir.path().join("workers")).unwrap();
        assert!(batch.outcomes.is_empty());
    }
}
