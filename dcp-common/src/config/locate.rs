//! Where a tool finds its settings.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// The environment variable that may carry the settings themselves.
pub const SETTINGS_ENV: &str = "DCP_SETTINGS";

/// The settings file a tool falls back to in its working directory.
pub const DEFAULT_FILE: &str = "dcp.toml";

/// Finds a tool's settings, in this order:
/// 1. `explicit` (`--config FILE`; `-` is standard input);
/// 2. standard input, when `stdin_allowed`, it is not a terminal and holds text — so
///    `dcp-config | dcp-queue create` works;
/// 3. the settings themselves in the `DCP_SETTINGS` environment variable (TOML or JSON; how
///    `dcp-fleet setup` hands them to worker containers);
/// 4. the file named by the `DCP_CONFIG` environment variable;
/// 5. `./dcp.toml`.
pub fn locate(explicit: Option<&Path>, stdin_allowed: bool) -> Result<Config, ConfigError> {
    match explicit {
        Some(path) if path == Path::new("-") => return from_stdin()?.ok_or_else(empty_stdin),
        Some(path) => return Config::load(path),
        None => {}
    }
    if stdin_allowed
        && !std::io::stdin().is_terminal()
        && let Some(config) = from_stdin()?
    {
        return Ok(config);
    }
    if let Some(text) = std::env::var(SETTINGS_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Config::parse(&text, SETTINGS_ENV, Path::new("."));
    }
    if let Some(path) = std::env::var_os("DCP_CONFIG").filter(|p| !p.is_empty()) {
        return Config::load(&PathBuf::from(path));
    }
    let default = Path::new(DEFAULT_FILE);
    if default.exists() {
        return Config::load(default);
    }
    Err(ConfigError::NotFound(format!(
        "pass --config FILE, pipe dcp-config's JSON in, set DCP_CONFIG, or create ./{DEFAULT_FILE} \
         (`dcp-config init > {DEFAULT_FILE}`)"
    )))
}

fn from_stdin() -> Result<Option<Config>, ConfigError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|source| ConfigError::Read {
            path: "<stdin>".into(),
            source,
        })?;
    let text = crate::text::decode(bytes).map_err(|e| ConfigError::Syntax {
        origin: format!("<stdin>:{}", e.line),
        message: e.to_string(),
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Config::parse(&text, "<stdin>", Path::new(".")).map(Some)
}

fn empty_stdin() -> ConfigError {
    ConfigError::NotFound("--config - was given but standard input is empty".into())
}
