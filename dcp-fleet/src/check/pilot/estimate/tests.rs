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
    assert!(fix.contains("at least 4400 MiB"), "{fix}");
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

#[test]
fn a_huge_fleet_is_counted_without_overflow_and_zero_is_taken_as_one() {
    let c = config("CLUSTER_MACHINES = 100000\nTASKS_PER_MACHINE = 1024\nDOCKER_CORES = 1024");
    let figures = run(&c, &measured(), 3, None).figures.unwrap();
    assert_eq!(figures["groups_at_once"], 100_000u64 * 1024 * 1024);
    assert_eq!(figures["rounds"], 1);
    let zero = run(
        &config("CLUSTER_MACHINES = 0\nDOCKER_CORES = 4"),
        &measured(),
        3,
        None,
    );
    assert!(
        zero.detail.contains(
            "(CLUSTER_MACHINES 1 × TASKS_PER_MACHINE 1 × DOCKER_CORES 4; \
             CLUSTER_MACHINES 0 taken as 1), 1 round of"
        ),
        "{}",
        zero.detail
    );
}

#[test]
fn a_machine_type_without_a_price_is_named_and_left_out_of_the_cost() {
    let c = config("MACHINE_TYPE = [\"m5.xlarge\", \"x9.huge\"]");
    let prices = SpotPrices::from([(
        "m5.xlarge".into(),
        SpotPrice {
            lowest: 0.1,
            highest: 0.2,
            zones: 3,
        },
    )]);
    let finding = run(&c, &measured(), 1, Some(&prices));
    assert!(
        finding
            .detail
            .ends_with("(no Spot price for MACHINE_TYPE x9.huge: the cost range leaves it out)"),
        "{}",
        finding.detail
    );
    let figures = finding.figures.unwrap();
    assert_eq!(figures["unpriced_machine_types"], json!(["x9.huge"]));
    assert!(figures["spot_cost_usd"]["low"].as_f64().unwrap() > 0.0);
}
