//! Library of dcp-config: the commented settings template and the importer of DCP's
//! config.py files.

pub mod pyconfig;

/// The commented `dcp.toml` that `dcp-config init` prints: the embedded default.
pub const TEMPLATE: &str = include_str!("dcp.toml");
