//! What every dcp tool's command line shares beyond its own arguments: the hidden first
//! argument `--generate KIND`, which prints the tool's shell completions (KIND = `bash`,
//! `zsh`, `fish`, `elvish` or `powershell`) or its man page (KIND = `man`, roff) on stdout
//! and exits. `scripts/install-completions PREFIX` installs them all.

use std::io::Write;
use std::process::ExitCode;

use clap::ValueEnum;
use clap_complete::Shell;

/// What `--generate` prints.
pub const KINDS: &str = "bash, zsh, fish, elvish, powershell or man";

/// When the tool was run as `TOOL --generate KIND`, prints what KIND asks for from the
/// tool's `command` and returns the exit code (0; 2 for an unknown KIND); `None` otherwise,
/// and the tool parses its arguments as usual.
pub fn generate_if_asked(command: impl FnOnce() -> clap::Command) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).take(3).collect();
    if args.first().map(String::as_str) != Some("--generate") {
        return None;
    }
    let mut command = command();
    let name = command.get_name().to_owned();
    let kind = match args.as_slice() {
        [_, kind] => kind.as_str(),
        _ => return Some(refuse(&name, "--generate takes one KIND")),
    };
    let mut out = std::io::stdout().lock();
    let written = if kind == "man" {
        clap_mangen::Man::new(command).render(&mut out)
    } else if let Ok(shell) = Shell::from_str(kind, false) {
        clap_complete::generate(shell, &mut command, &name, &mut out);
        Ok(())
    } else {
        return Some(refuse(&name, &format!("--generate: unknown KIND `{kind}`")));
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Some(ExitCode::SUCCESS),
        // A closed stdout ends the tool quietly, as any other output does.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("{name}: error: {e}");
            Some(ExitCode::from(1))
        }
    }
}

fn refuse(name: &str, message: &str) -> ExitCode {
    eprintln!("{name}: error: {message} ({KINDS})");
    ExitCode::from(2)
}

/// Reads a non-negative number of seconds, e.g. `10` or `0.5` (for options such as
/// `--grace`, `--wait` and `--interval`).
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{text}` is not a number of seconds ≥ 0"))
}
