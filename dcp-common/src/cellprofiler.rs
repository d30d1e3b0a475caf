//! The CellProfiler installation a CELLPROFILER setting names, as dcp finds its parts.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// CellProfiler's own Python: the `python` (or `python3`) next to the CELLPROFILER
/// executable (a venv's `bin`, symbolic links to the executable followed), else the
/// interpreter its `#!` line names. The error says why none was found.
pub fn python(cellprofiler: &str) -> Result<PathBuf, String> {
    let executable = find_program(cellprofiler)
        .ok_or_else(|| format!("CELLPROFILER '{cellprofiler}' is not found"))?;
    let executable = std::fs::canonicalize(&executable).unwrap_or(executable);
    let bin = executable.parent().unwrap_or(Path::new("/"));
    for name in ["python", "python3"] {
        if bin.join(name).is_file() {
            return Ok(bin.join(name));
        }
    }
    let text = std::fs::read(&executable).unwrap_or_default();
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let mut words = first
        .strip_prefix("#!")
        .unwrap_or_default()
        .split_whitespace();
    let interpreter = match words.next() {
        Some(env) if Path::new(env).file_name() == Some(OsStr::new("env")) => {
            words.find(|w| !w.starts_with('-')).and_then(find_program)
        }
        Some(path) => Some(PathBuf::from(path)),
        None => None,
    };
    interpreter
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python"))
        })
        .ok_or_else(|| {
            format!(
                "there is no python next to {} and its first line names none",
                executable.display()
            )
        })
}

/// `program` as a path when it has a `/`, else its first match in PATH.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The folder CellProfiler loads plugins from: the checkout's `active_plugins` when there is
/// one (CellProfiler-plugins 1.0 and later), else the folder itself, as DCP's worker chooses.
pub fn plugins_folder(plugins_directory: &Path) -> PathBuf {
    let active = plugins_directory.join("active_plugins");
    if active.is_dir() {
        active
    } else {
        plugins_directory.to_owned()
    }
}

/// The plugins folder `--plugins-directory` gets for `config`: with USE_PLUGINS and a
/// PLUGINS_DIRECTORY, [`plugins_folder`] of it; else none.
pub fn configured_plugins(config: &crate::Config) -> Option<PathBuf> {
    (config.use_plugins && !config.plugins_directory.is_empty())
        .then(|| plugins_folder(Path::new(&config.plugins_directory)))
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
    fn its_python_is_its_neighbour_or_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let venv = script(
            d,
            "cellprofiler",
            "#!/opt/venv/bin/python3.11 -u\nimport sys\n",
        );
        assert_eq!(
            python(venv.to_str().unwrap()),
            Ok(PathBuf::from("/opt/venv/bin/python3.11"))
        );
        let env = script(d, "cp-env", "#!/usr/bin/env -S python3\n");
        let found = python(env.to_str().unwrap()).expect("python3 is in PATH");
        assert!(found.ends_with("python3"), "{}", found.display());
        let shell = script(d, "cp-sh", "#!/bin/sh\nexec true\n");
        let why = python(shell.to_str().unwrap()).unwrap_err();
        assert!(why.contains("no python next to"), "{why}");
        let neighbour = script(d, "python3", "");
        assert_eq!(python(shell.to_str().unwrap()), Ok(neighbour.clone()));
        assert_eq!(
            python(venv.to_str().unwrap()),
            Ok(neighbour),
            "the neighbour first"
        );
        assert!(python("/nonexistent/cellprofiler").is_err());
    }
}
