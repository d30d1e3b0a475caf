//! Finding CellProfiler's own Python: the environment that has CellProfiler's modules,
//! h5py and pip, for reading batch files and installing plugins' requirements.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The command (program and arguments) that runs CellProfiler's Python: the interpreter of the CELLPROFILER
/// script's `#!` line (a pip-installed `cellprofiler` is one), else the `python3` or
/// `python` beside the executable. `cellprofiler` without a `/` is looked up in PATH.
pub fn cellprofiler_python(cellprofiler: &str) -> Option<Vec<OsString>> {
    let exe = if cellprofiler.contains('/') {
        PathBuf::from(cellprofiler)
    } else {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(cellprofiler))
            .find(|p| p.is_file())?
    };
    if let Some(command) = shebang_python(&exe) {
        return Some(command);
    }
    let dirs = [
        exe.parent(),
        std::fs::canonicalize(&exe)
            .ok()
            .as_deref()
            .and_then(Path::parent),
    ]
    .into_iter()
    .flatten()
    .map(Path::to_owned)
    .collect::<Vec<_>>();
    dirs.iter()
        .flat_map(|dir| ["python3", "python"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
        .map(|p| vec![p.into_os_string()])
}

/// The `#!` interpreter of a script when it is a Python (`/venv/bin/python3.11`, or
/// `/usr/bin/env python3`).
fn shebang_python(script: &Path) -> Option<Vec<OsString>> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    let line = text.strip_prefix("#!")?.lines().next()?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_python = |w: &str| {
        Path::new(w)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("python"))
    };
    match words.as_slice() {
        [interpreter, ..] if is_python(interpreter) => Some(vec![(*interpreter).into()]),
        [env, python, ..] if env.ends_with("/env") && is_python(python) => {
            Some(vec![(*env).into(), (*python).into()])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn cellprofilers_python_is_its_shebang_or_its_neighbour() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let venv = script(
            d,
            "cellprofiler",
            "#!/opt/venv/bin/python3.11 -u\nimport sys\n",
        );
        assert_eq!(
            cellprofiler_python(venv.to_str().unwrap()),
            Some(vec!["/opt/venv/bin/python3.11".into()])
        );
        let env = script(d, "cp-env", "#!/usr/bin/env python3\n");
        assert_eq!(
            cellprofiler_python(env.to_str().unwrap()),
            Some(vec!["/usr/bin/env".into(), "python3".into()])
        );
        let shell = script(d, "cp-sh", "#!/bin/sh\nexec true\n");
        assert_eq!(
            cellprofiler_python(shell.to_str().unwrap()),
            None,
            "no python beside it"
        );
        let python = script(d, "python3", "");
        assert_eq!(
            cellprofiler_python(shell.to_str().unwrap()),
            Some(vec![python.into_os_string()])
        );
        assert_eq!(cellprofiler_python("/nonexistent/cellprofiler"), None);
    }
}
