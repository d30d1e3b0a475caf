//! Library of dcp-queue: turning plate lists and CSVs of groups into validated tasks, and
//! the reports the commands print.

pub mod csv_groups;
pub mod layout;
pub mod report;
