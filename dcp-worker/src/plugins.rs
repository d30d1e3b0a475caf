//! CellProfiler-plugins, prepared once before the worker takes its first task, as DCP's
//! run-worker.sh does (step 5) when USE_PLUGINS is set: UPDATE_PLUGINS fetches and pulls the
//! checkout PLUGINS_DIRECTORY, PLUGINS_COMMIT checks out a commit, branch or tag, and
//! INSTALL_REQUIREMENTS installs the plugins into CellProfiler's own Python: `pip install -e
//! CHECKOUT[REQUIREMENTS]` for the current layout (an `active_plugins` folder; REQUIREMENTS
//! names the package's extras, e.g. `cellpose`), `pip install -r CHECKOUT/REQUIREMENTS` for
//! the layout before CellProfiler-plugins 1.0 (REQUIREMENTS is a requirements file in it).
//! A failure names the setting; the worker then stops before it receives any task.

use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use dcp_common::Config;

/// Why the plugins could not be prepared: the setting and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct PluginError {
    /// The setting whose step failed.
    pub setting: &'static str,
    /// What went wrong, with the failed command's last lines of output.
    pub message: String,
}

fn fail(setting: &'static str, message: impl Into<String>) -> PluginError {
    PluginError {
        setting,
        message: message.into(),
    }
}

/// Prepares the plugins as the settings ask; nothing when USE_PLUGINS is false or no
/// PLUGINS_DIRECTORY is set (`dcp-config` warns of that). Worker processes of one machine
/// take turns, holding a lock file in the system's temporary folder.
pub fn prepare(config: &Config) -> Result<(), PluginError> {
    if !config.use_plugins || config.plugins_directory.is_empty() {
        return Ok(());
    }
    let dir = Path::new(&config.plugins_directory);
    if !dir.is_dir() {
        return Err(fail(
            "PLUGINS_DIRECTORY",
            format!("'{}' is not a folder", dir.display()),
        ));
    }
    let wanted =
        config.update_plugins || !config.plugins_commit.is_empty() || config.install_requirements;
    if !wanted {
        return Ok(());
    }
    let _turn = lock(dir)?;
    let git_setting = if config.update_plugins {
        "UPDATE_PLUGINS"
    } else {
        "PLUGINS_COMMIT"
    };
    let checkout = if config.update_plugins || !config.plugins_commit.is_empty() {
        let top = run(
            git_setting,
            Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["rev-parse", "--show-toplevel"]),
        )
        .map_err(|e| {
            fail(
                git_setting,
                format!("'{}' is not a git checkout: {}", dir.display(), e.message),
            )
        })?;
        PathBuf::from(top.trim_end())
    } else {
        dir.to_owned()
    };
    let git = |setting: &'static str, args: &[&str]| {
        run(
            setting,
            Command::new("git").arg("-C").arg(&checkout).args(args),
        )
    };
    if config.update_plugins {
        git("UPDATE_PLUGINS", &["fetch", "--all", "--tags", "--quiet"])?;
        if config.plugins_commit.is_empty() {
            git("UPDATE_PLUGINS", &["pull", "--ff-only", "--quiet"])?;
        }
    }
    if !config.plugins_commit.is_empty() {
        let commit = &config.plugins_commit;
        if commit.starts_with('-') {
            return Err(fail(
                "PLUGINS_COMMIT",
                format!("'{commit}' is not a commit, branch or tag"),
            ));
        }
        git("PLUGINS_COMMIT", &["checkout", "--quiet", commit, "--"])?;
    }
    if config.install_requirements {
        install(config, &checkout)?;
    }
    Ok(())
}

/// INSTALL_REQUIREMENTS: the plugins (or their requirements file) into CellProfiler's Python.
fn install(config: &Config, checkout: &Path) -> Result<(), PluginError> {
    let python = cellprofiler_python(&config.cellprofiler)?;
    let requirements = config.requirements.trim();
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--quiet"]);
    if checkout.join("active_plugins").is_dir() {
        let extras = requirements.trim_start_matches('[').trim_end_matches(']');
        let valid = extras
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | '-' | '_' | '.'));
        if !valid {
            return Err(fail(
                "REQUIREMENTS",
                format!(
                    "'{requirements}' is not a list of the plugins package's extras (e.g. \
                     'cellpose' or 'cellpose,stardist'), as CellProfiler-plugins 1.0 takes them"
                ),
            ));
        }
        let mut target = checkout.as_os_str().to_owned();
        if !extras.is_empty() {
            target.push(format!("[{extras}]"));
        }
        pip.arg("-e").arg(target);
    } else {
        let relative = Path::new(requirements);
        let inside = !requirements.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(fail(
                "REQUIREMENTS",
                format!(
                    "'{requirements}' must be a requirements file within the plugins checkout \
                     '{}' (it has no active_plugins folder, the layout before \
                     CellProfiler-plugins 1.0)",
                    checkout.display()
                ),
            ));
        }
        pip.arg("-r").arg(checkout.join(relative));
    }
    run("INSTALL_REQUIREMENTS", &mut pip)?;
    Ok(())
}

/// CellProfiler's own Python ([`dcp_common::cellprofiler::python`]); the error names
/// INSTALL_REQUIREMENTS, the setting that needs it.
pub fn cellprofiler_python(cellprofiler: &str) -> Result<PathBuf, PluginError> {
    dcp_common::cellprofiler::python(cellprofiler).map_err(|why| {
        fail(
            "INSTALL_REQUIREMENTS",
            format!("cannot find CellProfiler's Python: {why}"),
        )
    })
}

/// Waits for this machine's other workers to finish preparing the same folder.
fn lock(dir: &Path) -> Result<File, PluginError> {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let name: String = canonical
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = std::env::temp_dir().join(format!("dcp-plugins{name}.lock"));
    let file = File::create(&path).map_err(|e| {
        fail(
            "USE_PLUGINS",
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    file.lock().map_err(|e| {
        fail(
            "USE_PLUGINS",
            format!("cannot lock {}: {e}", path.display()),
        )
    })?;
    Ok(file)
}

/// Runs `command`; its stdout on success, else an error for `setting` with the command and
/// the last lines it printed.
fn run(setting: &'static str, command: &mut Command) -> Result<String, PluginError> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = command
        .output()
        .map_err(|e| fail(setting, format!("cannot run `{shown}`: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let printed = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = printed.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(fail(
        setting,
        format!("`{shown}` failed ({}): {}", out.status, tail.join(" | ")),
    ))
}
