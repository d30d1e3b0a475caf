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
mod usage;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
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

/// The problems that stop the pilot before anything runs: a file named that is not a
/// readable job (the pilot would run some other group), an unreadable queue, or a pipeline
/// writing outside the Default Output Folder (CellProfiler would write into the run's
/// buckets). Other problems (a missing image, a bad load-data file) are what the pilot
/// shows in its own run.
const REFUSED_BY: [&str; 4] = ["input", "job", "queue", "pipeline-output"];

/// The `pilot` problem that refuses it when a check before it found one of [`REFUSED_BY`].
pub fn refusal(out: &Findings<'_>) -> Option<Finding> {
    let found: Vec<&str> = out
        .problem_checks()
        .iter()
        .copied()
        .filter(|c| REFUSED_BY.contains(c))
        .collect();
    (!found.is_empty()).then(|| {
        Finding::problem(
            "pilot",
            "",
            format!(
                "not run: the {} check found a problem (above), so no group runs",
                found.join(" and ")
            ),
            "correct what those checks name and run the pilot again",
        )
    })
}

/// Runs the group named `group` (as `Key=Value,…`), or the first task's, into a new folder
/// under the system's temporary folder; reports it and returns what it measured, or
/// `None` when it did not run to success. `pipelines` are the pipeline files the checks
/// fetched (key → local path): the chosen task's is load-checked first, timed apart.
pub async fn check(
    config: &Config,
    run_store: &impl Store,
    tasks: &[Task],
    pipelines: &BTreeMap<String, PathBuf>,
    group: Option<&str>,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<Measured>> {
    let Some((task, pairs, prefix)) = choose(tasks, group, out)? else {
        return Ok(None);
    };
    let subject = join_pairs(&pairs);
    // Removed if the pilot is stopped (SIGTERM) before its group ends; kept after.
    let kept = tempfile::Builder::new().prefix("dcp-pilot-").tempdir()?;
    let results = kept.path().to_owned();
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
    let load_check_seconds =
        load_check_first(&pilot_config, &load_checks, pipelines.get(&task.pipeline)).await;
    let before = Children::now()?;
    let peak = usage::GroupPeak::start();
    let started = Instant::now();
    let result = attempt.run(task, &subject, &pairs, &prefix).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    let peak_kib = peak.stop().await;
    let _ = kept.keep();
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
        peak_memory_mib: peak_kib as f64 / 1024.0,
        disk_mib: (fetched + written) as f64 / (1024.0 * 1024.0),
    };
    let place = results.join(&prefix);
    out.add(
        Finding::ok(
            "pilot",
            subject,
            format!(
                "ran in {:.1} s ({:.1} s CPU), CellProfiler's peak {:.0} MiB memory, {:.1} MiB \
                 disk{}; its {} results are in {} (a folder of the pilot's own, not \
                 DESTINATION_BUCKET), its log is {}",
                measured.wall_seconds,
                measured.cpu_seconds,
                measured.peak_memory_mib,
                measured.disk_mib,
                load_check_seconds
                    .map(|s| format!(
                        " (the pipeline load check before it, {s:.1} s, is made once per \
                         worker and not counted)"
                    ))
                    .unwrap_or_default(),
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
            "load_check_seconds": load_check_seconds,
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
                .find(|(_, p, _)| names_group(wanted, p));
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
        out.add(Finding::problem(
            "pilot",
            "",
            "no group to run: no job named and no task queued, or none of them valid",
            "name a job file with a valid group (dcp-fleet check --pilot job.json)",
        ))?;
    }
    Ok(chosen)
}

/// Whether `wanted` (`Key=Value,…`) names the group of `pairs`: the same pairs, in any
/// order.
fn names_group(wanted: &str, pairs: &[(String, String)]) -> bool {
    let sorted = |pairs: &[(String, String)]| {
        let mut pairs = pairs.to_vec();
        pairs.sort();
        pairs
    };
    dcp_common::metadata::Metadata::Text(wanted.to_owned())
        .pairs()
        .is_ok_and(|w| sorted(&w) == sorted(pairs))
}

/// Makes the worker's pipeline load check of `pipeline` (fetched by the checks) before the
/// attempt, which then takes its kept answer: a worker checks a pipeline once, not once
/// per group. Its wall time in seconds; `None` when the pipeline was not fetched (the
/// attempt then checks it, inside its time).
async fn load_check_first(
    config: &Config,
    load_checks: &LoadChecks,
    pipeline: Option<&PathBuf>,
) -> Option<f64> {
    let pipeline: &Path = pipeline?;
    let started = Instant::now();
    load_checks.ask(config, pipeline).await.ok()?;
    Some(started.elapsed().as_secs_f64())
}

/// The CPU time of this process's waited-for children so far (getrusage(2)).
struct Children {
    /// User plus system time, in seconds.
    cpu_seconds: f64,
}

impl Children {
    fn now() -> std::io::Result<Children> {
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(std::io::Error::from)?;
        let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        Ok(Children {
            cpu_seconds: seconds(usage.user_time()) + seconds(usage.system_time()),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_group_is_named_by_its_pairs_in_any_order() {
        let pairs = [("Metadata_Plate", "P1"), ("Metadata_Well", "A01")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert!(super::names_group(
            "Metadata_Plate=P1,Metadata_Well=A01",
            &pairs
        ));
        assert!(super::names_group(
            "Metadata_Well=A01,Metadata_Plate=P1",
            &pairs
        ));
        assert!(!super::names_group("Metadata_Well=A01", &pairs));
        assert!(!super::names_group(
            "Metadata_Well=A01,Metadata_Plate=P2",
            &pairs
        ));
        assert!(!super::names_group("Metadata_Well", &pairs));
    }
}
