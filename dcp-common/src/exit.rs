//! The exit codes every dcp tool shares.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | the work failed (queue, file system, backend); see the message on stderr |
//! | 2 | bad usage or invalid input (settings, job file, CSV): nothing was changed |
//! | 3 | `dcp-watch`: the run drained, but tasks ended in the dead-letter queue |

use std::error::Error;
use std::process::ExitCode;

use crate::{ConfigError, JobErrors};

/// The work failed after the input was accepted.
pub const FAILURE: u8 = 1;
/// The arguments, settings or job were refused before any work was done.
pub const BAD_INPUT: u8 = 2;

/// Picks the exit code for an error: [`BAD_INPUT`] when any error in its chain is an
/// input error (settings or job validation), [`FAILURE`] otherwise.
pub fn code_for(err: &(dyn Error + 'static)) -> u8 {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<ConfigError>() || e.is::<JobErrors>() {
            return BAD_INPUT;
        }
        cause = e.source();
    }
    FAILURE
}

/// The run drained, but tasks ended in the dead-letter queue (dcp-watch).
pub const DEAD_LETTERS: u8 = 3;

/// Whether the error is a write to a closed stdout (EPIPE, as when the reader is
/// `head`): the reader went away, which ends a tool normally, as in ripgrep.
pub fn is_closed_pipe(err: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        let kind = e
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| e.downcast_ref::<serde_json::Error>()?.io_error_kind());
        if kind == Some(std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Prints `tool: error: …` with every cause on stderr and returns the matching exit code;
/// a closed stdout ([`is_closed_pipe`]) is a quiet success.
pub fn report(tool: &str, err: &(dyn Error + 'static)) -> ExitCode {
    if is_closed_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        message.push_str(": ");
        message.push_str(&e.to_string());
        cause = e.source();
    }
    eprintln!("{tool}: error: {message}");
    ExitCode::from(code_for(err))
}
