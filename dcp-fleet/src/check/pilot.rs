//! `dcp-fleet check --pilot`: one group of the job run on this machine through the
//! worker's own attempt ([`dcp_worker::attempt::Attempt`]: load check, images, CellProfiler
//! as CELLPROFILER names it, cold, publishing) — DCP's advice to "run one site by hand
//! first" (DCP issue #201), measured. The attempt reads the run's buckets but publishes
//! into a new local folder ([`PilotStore`]), named in the `pilot` finding and kept; the
//! run's DESTINATION_BUCKET is never written to.
//!
//! Findings: `pilot` (the group ran: its wall time, CPU time, peak memory and disk, and
//! where its results went; or a problem with the attempt's failure), then, when it ran,
//! `pilot-memory`, `pilot-disk` and `pilot-estimate` ([`estimate`]).

pub mod estimate;
mod store;

use std::fs::OpenOptions;
use std::time::Instant;

use dcp_common::loaddata::LoadDataCache;
use dcp_common::metadata::join_pairs;
use dcp_common::{Config, Store, Task};
use dcp_worker::attempt::Attempt;
use dcp_worker::load_check::LoadChecks;
use dcp_worker::warm::Launch;
use nix::sys::resource::{UsageWho, getrusage};
use serde_json::json;

pub use estimate::Measured;
pub use store::PilotStore;

use super::{Finding, Findings, first_few};

/// Runs the group named `group` (as `Key=Value,…`), or the first task's, into a new folder
/// under the system's temporary folder; reports it and returns what it measured, or
/// `None` when it did not run to success.
pub async fn check(
    config: &Config,
    run_store: &impl Store,
    tasks: &[Task],
    group: Option<&str>,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<Measured>> {
    let Some((task, pairs, prefix)) = choose(tasks, group, out)? else {
        return Ok(None);
    };
    let subject = join_pairs(&pairs);
    let results = tempfile::Builder::new()
        .prefix("dcp-pilot-")
        .tempdir()?
        .keep();
    let scratch = tempfile::Builder::new()
        .prefix("dcp-pilot-scratch-")
        .tempdir()?;
    let log_path = results.join("pilot.log");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut pilot_config = config.clone();
    pilot_config.check_if_done_bool = false;
    let store = PilotStore::new(run_store, &config.destination_bucket, &results);
    let mut launch = Launch::Cold(None);
    let (load_data, load_checks) = (LoadDataCache::default(), LoadChecks::default());
    let mut attempt = Attempt {
        config: &pilot_config,
        store: &store,
        scratch: scratch.path(),
        log: &mut log,
        log_path: &log_path,
        launch: &mut launch,
        load_data: &load_data,
        load_checks: &load_checks,
    };
    let before = Children::now()?;
    let started = Instant::now();
    let result = attempt.run(task, &subject, &pairs, &prefix).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let after = Children::now()?;
    let done = match result {
        Ok(done) => done,
        Err(failure) => {
            out.add(Finding::problem(
                "pilot",
                subject,
                format!(
                    "the group failed ({}): {}; its log is {}",
                    serde_json::to_value(failure.status)
                        .ok()
                        .and_then(|s| s.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    failure.detail,
                    log_path.display()
                ),
                "correct what the pilot's log names (pipeline, data, images or CELLPROFILER) \
                 and run the pilot again",
            ))?;
            return Ok(None);
        }
    };
    let (fetched, written) = store.bytes();
    let measured = Measured {
        wall_seconds,
        cpu_seconds: after.cpu_seconds - before.cpu_seconds,
        peak_memory_mib: after.max_rss_kib as f64 / 1024.0,
        disk_mib: (fetched + written) as f64 / (1024.0 * 1024.0),
    };
    let place = results.join(&prefix);
    out.add(
        Finding::ok(
            "pilot",
            subject,
            format!(
                "ran in {:.1} s ({:.1} s CPU), peak {:.0} MiB memory, {:.1} MiB disk; its {} \
                 results are in {} (a folder of the pilot's own, not DESTINATION_BUCKET), its \
                 log is {}",
                measured.wall_seconds,
                measured.cpu_seconds,
                measured.peak_memory_mib,
                measured.disk_mib,
                done.outputs.len(),
                place.display(),
                log_path.display()
            ),
        )
        .with_figures(json!({
            "wall_seconds": measured.wall_seconds,
            "cpu_seconds": measured.cpu_seconds,
            "peak_memory_mib": measured.peak_memory_mib,
            "disk_mib": measured.disk_mib,
            "outputs": done.outputs,
            "results": place,
            "log": log_path,
        })),
    )?;
    Ok(Some(measured))
}

/// A task with its group's key/value pairs and its output prefix.
type Chosen<'t> = (&'t Task, Vec<(String, String)>, String);

/// The task to run: the one whose group is `group`, or the first; `None` (reported) when
/// there is none.
fn choose<'t>(
    tasks: &'t [Task],
    group: Option<&str>,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<Chosen<'t>>> {
    let resolved: Vec<_> = tasks
        .iter()
        .filter_map(|t| t.resolve().ok().map(|(pairs, prefix)| (t, pairs, prefix)))
        .collect();
    let chosen = match group {
        None => resolved.into_iter().next(),
        Some(wanted) => {
            let names: Vec<String> = resolved.iter().map(|(_, p, _)| join_pairs(p)).collect();
            let found = resolved
                .into_iter()
                .find(|(_, p, _)| join_pairs(p) == wanted);
            if found.is_none() {
                out.add(Finding::problem(
                    "pilot",
                    wanted,
                    format!("no group of the job is `{wanted}`"),
                    format!("name one of the job's groups: {}", first_few(&names, 3)),
                ))?;
                return Ok(None);
            }
            found
        }
    };
    if chosen.is_none() && group.is_none() {
        out.add(Finding::skipped(
            "pilot",
            "",
            "no group to run: name a job with a valid group",
        ))?;
    }
    Ok(chosen)
}

/// The resources of this process's waited-for children so far (getrusage(2)).
struct Children {
    /// User plus system time, in seconds.
    cpu_seconds: f64,
    /// The largest child's peak resident set, in KiB (Linux's unit of `ru_maxrss`).
    max_rss_kib: i64,
}

impl Children {
    fn now() -> std::io::Result<Children> {
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(std::io::Error::from)?;
        let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        Ok(Children {
            cpu_seconds: seconds(usage.user_time()) + seconds(usage.system_time()),
            max_rss_kib: usage.max_rss(),
        })
    }
}
