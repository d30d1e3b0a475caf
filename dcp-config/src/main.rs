//! dcp-config: prints a run's settings resolved as JSON, a commented dcp.toml to start
//! from, or the dcp.toml equivalent of a DCP config.py.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use dcp_common::{config, exit};

/// Print, start or import the settings of a dcp run.
///
/// Without a command, prints the settings resolved (defaults filled in, derived names,
/// absolute paths) as one JSON object, which every dcp tool accepts on stdin or as --config.
/// Settings are found in --config FILE, stdin, $DCP_CONFIG, or ./dcp.toml, in that order.
///
/// Settings dcp accepts but does not act on as DCP did (DOWNLOAD_FILES = false,
/// AUTO_MONITOR, plugin settings without USE_PLUGINS, …) are reported on stderr as
/// warnings, with what dcp does instead; `import` also warns of obsolete and renamed
/// settings.
///
/// Exit codes: 0 success, 1 failure (I/O), 2 invalid settings, config.py or usage.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Settings file (TOML, or JSON as printed by dcp-config); `-` reads stdin.
    #[arg(long, short = 'c', visible_alias = "file", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print a commented dcp.toml for the embedded backend: `dcp-config init > dcp.toml`.
    Init,
    /// Convert a Distributed-CellProfiler config.py into the equivalent dcp.toml.
    Import {
        /// The config.py to convert.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    if let Some(code) = dcp_cli::generate_if_asked(Cli::command) {
        return code;
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report("dcp-config", err.as_ref(), &[]),
    }
}

/// Prints each warning on stderr as `dcp-config: warning: …`.
fn warn(warnings: &[String]) {
    for warning in warnings {
        eprintln!("dcp-config: warning: {warning}");
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Init) => write!(std::io::stdout().lock(), "{}", dcp_config::TEMPLATE)?,
        Some(Command::Import { file }) => {
            let text = dcp_common::text::read(&file)?;
            let imported = dcp_config::pyconfig::import(&text, &file.display().to_string())
                .map_err(|e| {
                    let setting = e.name.map(|n| format!("{n}: ")).unwrap_or_default();
                    config::ConfigError::Syntax {
                        origin: format!("{}:{}", e.origin, e.line),
                        message: setting + &e.message,
                    }
                })?;
            warn(&imported.warnings);
            write!(std::io::stdout().lock(), "{}", imported.toml)?;
        }
        None => {
            let config = config::locate(cli.config.as_deref(), true)?;
            let notices: Vec<String> = config.notices().iter().map(ToString::to_string).collect();
            warn(&notices);
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&config)?
            )?;
        }
    }
    Ok(())
}
