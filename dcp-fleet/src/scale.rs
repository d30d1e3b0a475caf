//! How far `dcp-fleet scale N` may go: N is checked against the settings before anything
//! changes. Above the count the settings plan for (CLUSTER_MACHINES machines on AWS, the
//! LOCAL_WORKERS workers of an embedded start) a warning says so, on stderr and in the
//! report; above the most that setting may hold itself (100,000 machines; 1,024 workers,
//! `dcp_common::config::validate`) N is refused (exit 2), as a typo that would cost
//! machines or swamp this one.

use dcp_common::{Backend, Config};

use crate::FleetError;

/// The most machines (AWS) or workers (embedded) `scale` takes: the bound of
/// CLUSTER_MACHINES or LOCAL_WORKERS in the settings' checks.
pub fn most(backend: Backend) -> (&'static str, u32) {
    match backend {
        Backend::Aws => ("CLUSTER_MACHINES", 100_000),
        Backend::Embedded => ("LOCAL_WORKERS", 1024),
    }
}

/// Checks `wanted` for `scale`: refused above [`most`]; a warning (also printed on
/// stderr) above the count the settings plan for.
pub fn check(config: &Config, wanted: u32) -> Result<Option<String>, FleetError> {
    let (setting, most) = most(config.backend);
    if wanted > most {
        return Err(FleetError::ScaleAbove {
            wanted,
            setting,
            most,
        });
    }
    let planned = match config.backend {
        Backend::Aws => config.cluster_machines,
        Backend::Embedded => config.local_worker_count(),
    };
    let what = match config.backend {
        Backend::Aws => "machines",
        Backend::Embedded => "workers",
    };
    let warning = (wanted > planned).then(|| {
        format!(
            "{wanted} {what} is above the {planned} the settings plan for ({setting}); \
             each runs (and, on AWS, is paid for) until scaled down or stopped"
        )
    });
    if let Some(w) = &warning {
        eprintln!("dcp-fleet: warning: {w}");
    }
    Ok(warning)
}
