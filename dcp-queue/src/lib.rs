//! Library of dcp-queue: turning plate lists and CSVs of groups into validated tasks
//! (JSON Lines of message bodies are read by `dcp_common::job::task_lines`), writing the
//! tasks a failed push did not send, and the reports the commands print.

pub mod csv_groups;
pub mod layout;
pub mod notes;
#[cfg(feature = "aws")]
pub mod record;
pub mod report;
pub mod unsent;
