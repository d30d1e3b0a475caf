//! The [`Kind`] of each of dcp-common's error types.

use super::{Classify, Kind};
use crate::backend::BackendError;
use crate::prefix::PrefixError;
use crate::task::TaskError;
use crate::text::{InputFileError, NotUtf8};
use crate::{ConfigError, JobErrors, MetadataError, QueueError, SendError, StoreError};

/// Settings that cannot be read, parsed or used, or that were not found.
impl Classify for ConfigError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

/// A job, CSV of groups or task lines refused.
impl Classify for JobErrors {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

/// A backend the settings ask for but this build lacks is bad input; otherwise the kind
/// of the queue's or the store's error.
impl Classify for BackendError {
    fn kind(&self) -> Kind {
        match self {
            BackendError::NotBuilt => Kind::BadInput,
            BackendError::Queue(e) => e.kind(),
            BackendError::Store(e) => e.kind(),
        }
    }
}

/// The queue's errors are failures of the work (a missing queue included: the input was
/// fine, the run's state is not).
impl Classify for QueueError {
    fn kind(&self) -> Kind {
        Kind::Failure
    }
}

impl Classify for SendError {
    fn kind(&self) -> Kind {
        Kind::Failure
    }
}

/// A key that would leave its bucket (by its text or through a symbolic link) is bad
/// input; the rest happens while working.
impl Classify for StoreError {
    fn kind(&self) -> Kind {
        match self {
            StoreError::BadKey { .. } | StoreError::LinkOutside { .. } => Kind::BadInput,
            StoreError::Missing { .. }
            | StoreError::Occupied { .. }
            | StoreError::Service { .. }
            | StoreError::Io { .. } => Kind::Failure,
        }
    }
}

impl Classify for TaskError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

impl Classify for PrefixError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

impl Classify for MetadataError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

impl Classify for NotUtf8 {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

/// An input file the user named that cannot be read: nothing was done yet.
impl Classify for InputFileError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}
