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
    /// Wall time of the whole attempt (fetching, CellProfiler, publishing), in seconds.
    pub wall_seconds: f64,
    /// CPU time (user + system) of the processes the attempt ran, in seconds.
    pub cpu_seconds: f64,
    /// Peak resident memory, in MiB: the largest `ru_maxrss` among the processes the
    /// check waited for (getrusage(2), `RUSAGE_CHILDREN`) — CellProfiler's run of the
    /// group, or its load of the pipeline when that was larger.
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
pub fn memory(config: &Config, measured: &Measured) -> Finding {
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
            "raise MEMORY to at least {:.0} MB (one copy needs {:.0} MiB) and choose a \
             MACHINE_TYPE with that much memory per container",
            (need * 1.1).ceil(),
            measured.peak_memory_mib
        ),
        n => format!(
            "raise MEMORY to at least {:.0} MB, or lower DOCKER_CORES to {n}",
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
    let at_once = config.cluster_machines.max(1)
        * config.tasks_per_machine.max(1)
        * config.docker_cores.max(1);
    let rounds = groups.div_ceil(at_once as usize);
    let wall_hours = rounds as f64 * measured.wall_seconds / 3600.0;
    let instance_hours = f64::from(config.cluster_machines.max(1)) * wall_hours;
    let priced: Vec<&SpotPrice> = prices
        .map(|p| {
            config
                .machine_type
                .iter()
                .filter_map(|t| p.get(t))
                .collect()
        })
        .unwrap_or_default();
    let cost = (!priced.is_empty()).then(|| {
        let low = priced
            .iter()
            .map(|p| p.lowest)
            .fold(f64::INFINITY, f64::min);
        let high = priced.iter().map(|p| p.highest).fold(0.0, f64::max);
        (instance_hours * low, instance_hours * high)
    });
    let mut detail = format!(
        "{groups} groups, {at_once} at once (CLUSTER_MACHINES {} × TASKS_PER_MACHINE {} × \
         DOCKER_CORES {}), {rounds} rounds of the pilot's {:.1} s: about {wall_hours:.2} h \
         wall time and {instance_hours:.2} instance-hours",
        config.cluster_machines,
        config.tasks_per_machine,
        config.docker_cores,
        measured.wall_seconds
    );
    match cost {
        Some((low, high)) => detail.push_str(&format!(
            ", ${low:.4}–${high:.4} at the current Spot prices"
        )),
        None => detail.push_str("; no Spot price, so no cost"),
    }
    Finding::ok("pilot-estimate", "run", detail).with_figures(json!({
        "groups": groups,
        "groups_at_once": at_once,
        "rounds": rounds,
        "wall_hours": wall_hours,
        "instance_hours": instance_hours,
        "spot_price_usd_per_hour": prices,
        "spot_cost_usd": cost.map(|(low, high)| json!({"low": low, "high": high})),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Outcome;

    fn config(extra: &str) -> Config {
        let text = format!("APP_NAME = \"T\"\nAWS_BUCKET = \"b\"\n{extra}");
        Config::parse(&text, "dcp.toml", std::path::Path::new("/")).unwrap()
    }

    fn measured() -> Measured {
        Measured {
            wall_seconds: 60.0,
            cpu_seconds: 50.0,
            peak_memory_mib: 1000.0,
            disk_mib: 2048.0,
        }
    }

    #[test]
    fn memory_holds_every_copy_or_says_how_much_more() {
        let fits = memory(&config("DOCKER_CORES = 4\nMEMORY = 4000"), &measured());
        assert_eq!(fits.status, Outcome::Ok, "{fits:?}");
        let short = memory(&config("DOCKER_CORES = 4\nMEMORY = 3000"), &measured());
        assert_eq!(short.status, Outcome::Problem);
        let fix = short.fix.unwrap();
        assert!(fix.contains("at least 4400 MB"), "{fix}");
        assert!(fix.contains("DOCKER_CORES to 3"), "{fix}");
    }

    #[test]
    fn the_disk_share_leaves_two_gib_per_container() {
        // 4 copies × 2 GiB = 8 GiB; 30 / 3 − 2 = 8 GiB fits, 29 / 3 − 2 does not.
        let settings = "DOCKER_CORES = 4\nTASKS_PER_MACHINE = 3\nEBS_VOL_SIZE = ";
        let fits = disk(&config(&format!("{settings}30")), &measured());
        assert_eq!(fits.status, Outcome::Ok, "{fits:?}");
        let short = disk(&config(&format!("{settings}29")), &measured());
        assert_eq!(short.status, Outcome::Problem);
        assert!(short.fix.unwrap().contains("at least 30 GB"));
    }

    #[test]
    fn the_run_takes_rounds_of_the_pilot_on_every_machine() {
        let c = config(
            "CLUSTER_MACHINES = 2\nTASKS_PER_MACHINE = 1\nDOCKER_CORES = 4\n\
             MACHINE_TYPE = [\"m5.xlarge\", \"c5.xlarge\"]",
        );
        let prices = SpotPrices::from([
            (
                "m5.xlarge".into(),
                SpotPrice {
                    lowest: 0.1,
                    highest: 0.2,
                    zones: 3,
                },
            ),
            (
                "c5.xlarge".into(),
                SpotPrice {
                    lowest: 0.05,
                    highest: 0.3,
                    zones: 2,
                },
            ),
            (
                "r5.xlarge".into(),
                SpotPrice {
                    lowest: 0.01,
                    highest: 0.9,
                    zones: 1,
                },
            ),
        ]);
        // 20 groups, 8 at once: 3 rounds of a minute, on 2 machines.
        let finding = run(&c, &measured(), 20, Some(&prices));
        let figures = finding.figures.unwrap();
        assert_eq!(figures["rounds"], 3);
        assert_eq!(figures["wall_hours"], 0.05);
        assert_eq!(figures["instance_hours"], 0.1);
        let cost = &figures["spot_cost_usd"];
        assert!(
            (cost["low"].as_f64().unwrap() - 0.005).abs() < 1e-12,
            "{cost}"
        );
        assert!(
            (cost["high"].as_f64().unwrap() - 0.03).abs() < 1e-12,
            "{cost}"
        );
        let unpriced = run(&c, &measured(), 20, None);
        assert!(unpriced.detail.contains("no Spot price"));
        assert!(unpriced.figures.unwrap()["spot_cost_usd"].is_null());
    }
}
