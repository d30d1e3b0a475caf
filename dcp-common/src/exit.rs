//! The exit codes every dcp tool shares, and the one place that maps errors to them.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | the work failed (queue, file system, backend); see the message on stderr |
//! | 2 | bad usage or invalid input (settings, job file, CSV, fleet file): nothing was changed |
//! | 3 | `dcp-watch`: the run drained, but tasks ended in the dead-letter queue |
//!
//! Every library error type of dcp says which [`Kind`] it is ([`Classify`]); [`report`]
//! walks an error's chain and exits with the code of the first error that says.

use std::error::Error;
use std::process::ExitCode;

use crate::backend::BackendError;
use crate::prefix::PrefixError;
use crate::task::TaskError;
use crate::text::{InputFileError, NotUtf8};
use crate::{ConfigError, JobErrors, MetadataError, QueueError, SendError, StoreError};

/// The work failed after the input was accepted.
pub const FAILURE: u8 = 1;
/// The arguments, settings or job were refused before any work was done.
pub const BAD_INPUT: u8 = 2;
/// The run drained, but tasks ended in the dead-letter queue (dcp-watch).
pub const DEAD_LETTERS: u8 = 3;

/// Which kind of fault an error is; the kind decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Arguments, settings or an input file were refused before anything changed: exit 2.
    BadInput,
    /// The work failed after its input was accepted: exit 1.
    Failure,
}

impl Kind {
    /// The exit code of this kind: [`BAD_INPUT`] or [`FAILURE`].
    pub fn code(self) -> u8 {
        match self {
            Kind::BadInput => BAD_INPUT,
            Kind::Failure => FAILURE,
        }
    }
}

/// An error type that knows its [`Kind`]. Every library error type of dcp implements it.
pub trait Classify: Error + 'static {
    /// The kind of this error.
    fn kind(&self) -> Kind;
}

/// Finds the kind of one link of an error chain, when the link is of a known type.
pub type Classifier = fn(&(dyn Error + 'static)) -> Option<Kind>;

/// The [`Classifier`] for the error type `E`; a tool passes one for each error type of its
/// own crate to [`report`].
pub fn kind_of<E: Classify>(err: &(dyn Error + 'static)) -> Option<Kind> {
    err.downcast_ref::<E>().map(Classify::kind)
}

/// dcp-common's error types, which every tool knows.
const COMMON: &[Classifier] = &[
    kind_of::<ConfigError>,
    kind_of::<JobErrors>,
    kind_of::<BackendError>,
    kind_of::<QueueError>,
    kind_of::<SendError>,
    kind_of::<StoreError>,
    kind_of::<TaskError>,
    kind_of::<PrefixError>,
    kind_of::<MetadataError>,
    kind_of::<NotUtf8>,
    kind_of::<InputFileError>,
];

/// The kind of an error: that of the outermost link of its chain whose type is one of
/// dcp-common's or of `own` (a tool's own error types); [`Kind::Failure`] when none is.
pub fn kind(err: &(dyn Error + 'static), own: &[Classifier]) -> Kind {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(kind) = COMMON.iter().chain(own).find_map(|classify| classify(e)) {
            return kind;
        }
        cause = e.source();
    }
    Kind::Failure
}

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

/// Prints `tool: error: …` with every cause on stderr and returns the exit code of the
/// error's [`kind`] (`own`: the tool's own error types); a closed stdout
/// ([`is_closed_pipe`]) is a quiet success.
pub fn report(tool: &str, err: &(dyn Error + 'static), own: &[Classifier]) -> ExitCode {
    if is_closed_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("{tool}: error: {}", message(err));
    ExitCode::from(kind(err, own).code())
}

/// The error and its causes joined by `: `; a cause an error already ends with (one that
/// shows its source in its own text) is not said twice.
fn message(err: &(dyn Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = e.source();
    }
    message
}

mod kinds;

#[cfg(test)]
mod tests;
