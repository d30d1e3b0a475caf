//! From the pilot's figures to the run's: whether MEMORY and the disk share hold what a
//! container's copies need, and the run's wall time, instance-hours and Spot cost for the
//! configured fleet.

use std::collections::BTreeMap;

use dcp_common::Config;
use serde::Serialize;
use serde_json::json;

use crate::check::Finding;

/// What the pilot measured of its one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// Wall time of the whole attempt (fetching, CellProfiler, publishing), in seconds;
    /// the pipeline load check, made once per worker, is timed apart.
    pub wall_seconds: f64,
    /// CPU time (user + system) of the processes the attempt ran, in seconds (the pipeline
    /// load check not included).
    pub cpu_seconds: f64,
    /// Peak resident memory of CellProfiler's process group, in MiB (the sum of its
    /// processes' `VmHWM`, sampled from /proc; the pipeline load check not included).
    pub peak_memory_mib: f64,
    /// Disk the attempt used, in MiB: the bytes it fetched (pipeline, data file, images)
    /// plus the bytes it wrote (results), all on a worker's disk at once.
    pub disk_mib: f64,
}

/// The current Spot price of one instance type (the latest of each zone's history), in
/// US dollars per instance-hour.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpotPrice {
    /// The cheapest zone's price.
    pub lowest: f64,
    /// The dearest zone's price.
    pub highest: f64,
    /// The zones priced.
    pub zones: usize,
}

/// Spot prices by instance type.
pub type SpotPrices = BTreeMap<String, SpotPrice>;

/// MiB per GiB.
const MIB_PER_GIB: f64 = 1024.0;

/// What a container's disk share keeps for the image and the system, in GiB.
pub const SYSTEM_GIB: f64 = 2.0;

/// Whether MEMORY (MiB per container, ECS's hard limit) holds DOCKER_CORES copies at the
/// pilot's peak: `DOCKER_CORES × peak_memory_mib ≤ MEMORY`. The fix asks for 10% more.
/// Skipped when no peak was sampled (CellProfiler ended within one sampling interval).
pub fn memory(config: &Config, measured: &Measured) -> Finding {
    if measured.peak_memory_mib <= 0.0 {
        return Finding::skipped(
            "pilot-memory",
            "MEMORY",
            "CellProfiler ended before its memory could be sampled (in less than 0.1 s)",
        );
    }
    let cores = f64::from(config.docker_cores.max(1));
    let need = cores * measured.peak_memory_mib;
    let have = f64::from(config.memory);
    let figures = json!({
        "peak_memory_mib": measured.peak_memory_mib,
        "docker_cores": config.docker_cores,
        "needed_mib": need,
        "memory_mib": config.memory,
    });
    let detail = format!(
        "DOCKER_CORES {} × the pilot's peak {:.0} MiB = {need:.0} MiB {} MEMORY {} MiB",
        config.docker_cores,
        measured.peak_memory_mib,
        if need <= have { "fits" } else { "exceeds" },
        config.memory
    );
    if need <= have {
        return Finding::ok("pilot-memory", "MEMORY", detail).with_figures(figures);
    }
    let copies = (have / measured.peak_memory_mib).floor() as u32;
    let fix = match copies {
        0 => format!(
            "raise MEMORY to at least {:.0} MiB (one copy needs {:.0} MiB) and choose a \
             MACHINE_TYPE with that much memory per container",
            (need * 1.1).ceil(),
            measured.peak_memory_mib
        ),
        n => format!(
            "raise MEMORY to at least {:.0} MiB, or lower DOCKER_CORES to {n}",
            (need * 1.1).ceil()
        ),
    };
    Finding::problem("pilot-memory", "MEMORY", detail, fix).with_figures(figures)
}

/// Whether a container's disk share, `EBS_VOL_SIZE / TASKS_PER_MACHINE − 2` GiB (the
/// 2 GiB [`SYSTEM_GIB`] for the image and the system), holds DOCKER_CORES copies using the
/// pilot's disk each: `DOCKER_CORES × disk_mib / 1024 ≤ share`.
pub fn disk(config: &Config, measured: &Measured) -> Finding {
    let tasks = f64::from(config.tasks_per_machine.max(1));
    let share = f64::from(config.ebs_vol_size) / tasks - SYSTEM_GIB;
    let need = f64::from(config.docker_cores.max(1)) * measured.disk_mib / MIB_PER_GIB;
    let figures = json!({
        "disk_mib": measured.disk_mib,
        "needed_gib": need,
        "share_gib": share,
    });
    let detail = format!(
        "DOCKER_CORES {} × the pilot's {:.1} MiB = {need:.3} GiB {} the disk share \
         EBS_VOL_SIZE {} / TASKS_PER_MACHINE {} − 2 = {share:.1} GiB",
        config.docker_cores,
        measured.disk_mib,
        if need <= share { "fits" } else { "exceeds" },
        config.ebs_vol_size,
        config.tasks_per_machine
    );
    if need <= share {
        return Finding::ok("pilot-disk", "EBS_VOL_SIZE", detail).with_figures(figures);
    }
    let size = ((need + SYSTEM_GIB) * tasks).ceil();
    Finding::problem(
        "pilot-disk",
        "EBS_VOL_SIZE",
        detail,
        format!("raise EBS_VOL_SIZE to at least {size} GB, or lower TASKS_PER_MACHINE"),
    )
    .with_figures(figures)
}

/// The run on the configured fleet, taking every group to last as long as the pilot's:
/// `CLUSTER_MACHINES × TASKS_PER_MACHINE × DOCKER_CORES` groups run at once, so the wall
/// time is `⌈groups / at once⌉ × wall_seconds`, the instance-hours `CLUSTER_MACHINES ×`
/// that in hours, and the Spot cost the instance-hours × each MACHINE_TYPE's current
/// price (`low` at the cheapest type's cheapest zone, `high` at the dearest's dearest).
/// Machines' start-up and copies slowing each other are not counted. `prices` is `None`
/// when none could be read (the `spot-price` finding says why).
pub fn run(
    config: &Config,
    measured: &Measured,
    groups: usize,
    prices: Option<&SpotPrices>,
) -> Finding {
    let machines = u64::from(config.cluster_machines.max(1));
    let tasks = u64::from(config.tasks_per_machine.max(1));
    let cores = u64::from(config.docker_cores.max(1));
    let at_once = machines.saturating_mul(tasks).saturating_mul(cores);
    let rounds = (groups as u64).div_ceil(at_once);
    let wall_hours = rounds as f64 * measured.wall_seconds / 3600.0;
    let instance_hours = machines as f64 * wall_hours;
    let (priced, unpriced): (Vec<_>, Vec<_>) = config
        .machine_type
        .iter()
        .map(|t| (t, prices.and_then(|p| p.get(t))))
        .partition(|(_, price)| price.is_some());
    let priced: Vec<&SpotPrice> = priced.into_iter().filter_map(|(_, p)| p).collect();
    let unpriced: Vec<&String> = unpriced.into_iter().map(|(t, _)| t).collect();
    let cost = (!priced.is_empty()).then(|| {
        let low = priced
            .iter()
            .map(|p| p.lowest)
            .fold(f64::INFINITY, f64::min);
        let high = priced.iter().map(|p| p.highest).fold(0.0, f64::max);
        (instance_hours * low, instance_hours * high)
    });
    let mut detail = format!(
        "{groups} groups, {at_once} at once (CLUSTER_MACHINES {machines} × TASKS_PER_MACHINE \
         {tasks} × DOCKER_CORES {cores}{}), {rounds} {} of the pilot's {:.1} s: about \
         {wall_hours:.2} h wall time and {instance_hours:.2} instance-hours",
        taken_as_one(config),
        if rounds == 1 { "round" } else { "rounds" },
        measured.wall_seconds
    );
    match cost {
        Some((low, high)) => detail.push_str(&format!(
            ", ${low:.4}–${high:.4} at the current Spot prices"
        )),
        None => detail.push_str("; no Spot price, so no cost"),
    }
    if prices.is_some() && !unpriced.is_empty() {
        let names: Vec<&str> = unpriced.iter().map(|t| t.as_str()).collect();
        detail.push_str(&format!(
            " (no Spot price for MACHINE_TYPE {}: the cost range leaves {} out)",
            names.join(", "),
            if names.len() == 1 { "it" } else { "them" }
        ));
    }
    Finding::ok("pilot-estimate", "run", detail).with_figures(json!({
        "groups": groups,
        "groups_at_once": at_once,
        "rounds": rounds,
        "wall_hours": wall_hours,
        "instance_hours": instance_hours,
        "spot_price_usd_per_hour": prices,
        "unpriced_machine_types": unpriced,
        "spot_cost_usd": cost.map(|(low, high)| json!({"low": low, "high": high})),
    }))
}

/// `; CLUSTER_MACHINES 0 taken as 1` for each of the three settings set to 0 (a fleet
/// starts at least one of each).
fn taken_as_one(config: &Config) -> String {
    [
        ("CLUSTER_MACHINES", config.cluster_machines),
        ("TASKS_PER_MACHINE", config.tasks_per_machine),
        ("DOCKER_CORES", config.docker_cores),
    ]
    .iter()
    .filter(|(_, n)| *n == 0)
    .map(|(name, _)| format!("; {name} 0 taken as 1"))
    .collect()
}

#[cfg(test)]
mod tests;
