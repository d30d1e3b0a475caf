//! Library of dcp-queue: turning plate lists, CSVs of groups and JSON Lines of message
//! bodies into validated tasks, writing the tasks a failed push did not send, and the
//! reports the commands print.

pub mod csv_groups;
pub mod layout;
pub mod report;
pub mod task_lines;
pub mod unsent;
