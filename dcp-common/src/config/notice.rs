//! Settings dcp accepts but that do not do there what they did in DCP: each is reported
//! with what dcp does instead, so no setting is silently ignored.

use std::fmt;

use super::{Backend, Config};

/// One setting that has no effect, or a different one than in DCP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The setting.
    pub key: &'static str,
    /// What dcp does instead.
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Config {
    /// The settings given a value dcp does not act on, each with what dcp does instead.
    /// `dcp-config` prints them as warnings; they never make settings invalid.
    pub fn notices(&self) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut note = |key: &'static str, message: String| notices.push(Notice { key, message });
        if !self.download_files {
            note(
                "DOWNLOAD_FILES",
                "false asks DCP to mount SOURCE_BUCKET with s3fs; dcp mounts nothing and \
                 always downloads exactly the files of each task's group"
                    .into(),
            );
        }
        if self.auto_monitor && self.backend == Backend::Embedded {
            note(
                "AUTO_MONITOR",
                "the embedded backend has no automatic monitor: run `dcp-watch` to stop the \
                 fleet and write the report when the queue drains"
                    .into(),
            );
        } else if self.auto_monitor && self.monitor_role_arn.is_empty() {
            note(
                "AUTO_MONITOR",
                "needs MONITOR_ROLE_ARN (the role the schedule and the monitor task run as): \
                 without it `dcp-fleet start` schedules no monitor; run `dcp-watch --once` from \
                 cron to shrink the fleet and tear the run down when the queue drains"
                    .into(),
            );
        }
        self.plugin_notices(&mut note);
        if self.backend == Backend::Embedded {
            if !self.ssh_key_name.is_empty() {
                note(
                    "SSH_KEY_NAME",
                    "is unused by the embedded backend: its fleet is local worker processes".into(),
                );
            }
            if !self.upload_flags.is_empty() {
                note(
                    "UPLOAD_FLAGS",
                    "has no effect on the embedded backend: results are files in local folders"
                        .into(),
                );
            }
        }
        notices
    }

    fn plugin_notices(&self, note: &mut impl FnMut(&'static str, String)) {
        let preparations = [
            ("UPDATE_PLUGINS", self.update_plugins),
            ("PLUGINS_COMMIT", !self.plugins_commit.is_empty()),
            ("INSTALL_REQUIREMENTS", self.install_requirements),
        ];
        if !self.use_plugins {
            for (key, _) in preparations.iter().filter(|(_, given)| *given) {
                note(
                    key,
                    "has no effect: USE_PLUGINS is false (as in DCP)".into(),
                );
            }
            return;
        }
        if self.plugins_directory.is_empty() {
            note(
                "USE_PLUGINS",
                "is true but PLUGINS_DIRECTORY is empty, so CellProfiler runs without \
                 --plugins-directory and the plugins are not prepared; set PLUGINS_DIRECTORY to \
                 the CellProfiler-plugins checkout (DCP's image had /home/ubuntu/CellProfiler-plugins)"
                    .into(),
            );
        } else if !self.install_requirements && !self.requirements.is_empty() {
            note(
                "REQUIREMENTS",
                "has no effect: INSTALL_REQUIREMENTS is false (as in DCP)".into(),
            );
        }
    }
}
