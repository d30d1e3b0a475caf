//! The tasks a push did not send (SQS stops at its first failure), written as JSON Lines of
//! DCP message bodies, which `dcp-queue push` takes to finish the job.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes the bodies at the `unsent` positions, one per line, to a new file
/// `<queue>-unsent-<unix seconds>.jsonl` in the current directory, or in the temp
/// directory when the current one cannot take it; returns the file's absolute path.
pub fn write_unsent(queue: &str, bodies: &[String], unsent: &[usize]) -> std::io::Result<PathBuf> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("{queue}-unsent-{seconds}.jsonl");
    let here = std::env::current_dir().map(|dir| dir.join(&name));
    let written = here.and_then(|path| write_new(&path, bodies, unsent).map(|()| path));
    written.or_else(|_| {
        let path = std::env::temp_dir().join(&name);
        write_new(&path, bodies, unsent).map(|()| path)
    })
}

/// Writes the lines to `path`, which must not exist yet, through to the disk; removes the
/// file again if that fails.
fn write_new(path: &Path, bodies: &[String], unsent: &[usize]) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let written = write_lines(file, bodies, unsent);
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn write_lines(file: File, bodies: &[String], unsent: &[usize]) -> std::io::Result<()> {
    let mut out = BufWriter::new(file);
    for &i in unsent {
        writeln!(out, "{}", bodies[i])?;
    }
    out.into_inner()?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_unsent_bodies_in_order_to_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("TestQueue-unsent-1.jsonl");
        let bodies: Vec<String> = (0..5).map(|i| format!("{{\"task\": {i}}}")).collect();
        write_new(&path, &bodies, &[1, 3, 4]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"task\": 1}\n{\"task\": 3}\n{\"task\": 4}\n"
        );
        assert!(
            write_new(&path, &bodies, &[0]).is_err(),
            "an existing file is kept"
        );
    }
}
