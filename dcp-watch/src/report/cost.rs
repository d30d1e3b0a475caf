//! The cost of a run on AWS, as far as the run's own records tell it: the machines' hours
//! by instance type times the Spot price charged over those hours (EC2's Spot price
//! history), their EBS volumes' GB-hours, and the requests the workers made to SQS and S3.
//! DCP has no cost figure; its users find it in the bill weeks later. Every assumption is
//! written into [`Cost::assumptions`], which the page prints under the figure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Counts;

/// EBS gp3 storage, US East (N. Virginia) list price: $0.08 per GB-month
/// (<https://aws.amazon.com/ebs/pricing/>), a month being 730 hours.
pub const EBS_DOLLARS_PER_GB_MONTH: f64 = 0.08;
/// SQS standard queue requests: $0.40 per million (<https://aws.amazon.com/sqs/pricing/>).
pub const SQS_DOLLARS_PER_MILLION: f64 = 0.40;
/// S3 Standard PUT, COPY, POST, LIST requests: $0.005 per 1,000
/// (<https://aws.amazon.com/s3/pricing/>).
pub const S3_DOLLARS_PER_THOUSAND_PUTS: f64 = 0.005;
/// S3 Standard GET requests: $0.0004 per 1,000.
pub const S3_DOLLARS_PER_THOUSAND_GETS: f64 = 0.0004;

/// One machine of the run, as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Machine {
    /// The instance id.
    pub id: String,
    /// Its instance type.
    pub instance_type: String,
    /// Its Availability Zone.
    pub zone: String,
    /// Whether it is a Spot instance (`InstanceLifecycle` = `spot`).
    pub spot: bool,
    /// When it was launched (unix seconds).
    pub launched: f64,
    /// When it stopped running, or the report's time if it still runs (unix seconds).
    pub ended: f64,
    /// Hours it ran.
    pub hours: f64,
    /// What it cost at the Spot price charged over its hours ($); `None` when no price
    /// is known (an On-Demand instance, or no Spot price history).
    pub dollars: Option<f64>,
}

/// A Spot price of EC2's price history: from `at` (unix seconds) until the next one.
#[derive(Clone, Debug, PartialEq)]
pub struct SpotPrice {
    /// When it took effect.
    pub at: f64,
    /// $ per instance-hour.
    pub dollars_per_hour: f64,
}

/// Hours and dollars of one instance type.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TypeCost {
    /// Machines of the type.
    pub machines: u64,
    /// Their hours.
    pub hours: f64,
    /// What they cost ($), of those with a price.
    pub dollars: f64,
}

/// The requests the workers made: lower bounds, see [`Cost::assumptions`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// To SQS.
    pub sqs: u64,
    /// S3 PUTs.
    pub s3_put: u64,
    /// S3 GETs.
    pub s3_get: u64,
}

/// The cost of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// Every machine, by launch.
    pub machines: Vec<Machine>,
    /// Hours and dollars per instance type.
    pub by_type: BTreeMap<String, TypeCost>,
    /// The machines' EBS volumes: EBS_VOL_SIZE GB each while it runs.
    pub ebs_gb_hours: f64,
    /// The requests to SQS and S3.
    pub requests: Requests,
    /// Dollars: `instances`, `ebs`, `sqs`, `s3` and their `total`.
    pub dollars: BTreeMap<&'static str, f64>,
    /// What the figures assume, in words.
    pub assumptions: Vec<String>,
}

/// Dollars for running from `from` to `to` (unix seconds) under `history` (any order):
/// each moment at the latest price that took effect before it; before the first, the
/// first. `None` without a price.
pub fn charged(history: &[SpotPrice], from: f64, to: f64) -> Option<f64> {
    let mut prices = history.to_vec();
    prices.sort_by(|a, b| a.at.total_cmp(&b.at));
    let first = prices.first()?;
    let in_effect = prices.iter().rev().find(|p| p.at <= from).unwrap_or(first);
    let (mut price, mut since, mut dollars) = (in_effect.dollars_per_hour, from, 0.0);
    for p in prices.iter().filter(|p| p.at > from && p.at < to) {
        dollars += price * (p.at - since) / 3600.0;
        (price, since) = (p.dollars_per_hour, p.at);
    }
    Some(dollars + price * (to - since).max(0.0) / 3600.0)
}

/// What the workers asked of SQS and S3, counted from the report: per attempt one
/// ReceiveMessage, one DeleteMessage or ChangeMessageVisibility, and one
/// ChangeMessageVisibility per third of the visibility timeout it ran; one
/// SendMessageBatch per 10 tasks pushed. Per attempt two S3 GETs (pipeline and load-data
/// file), per done attempt one PUT per output, and one PUT per filed log.
pub fn requests(counts: &Counts, spans: &[(f64, usize, bool)], visibility: u64) -> Requests {
    let heartbeat = (visibility as f64 / 3.0).max(1.0);
    let mut r = Requests {
        sqs: counts.tasks.div_ceil(10),
        ..Requests::default()
    };
    for &(seconds, outputs, logged) in spans {
        r.sqs += 2 + (seconds / heartbeat) as u64;
        r.s3_get += 2;
        r.s3_put += outputs as u64 + u64::from(logged);
    }
    r
}

/// The cost of `machines` (each priced with its type's and zone's Spot price history
/// from `history`), their `ebs_gb` volumes, and `requests`.
pub fn estimate(
    mut machines: Vec<Machine>,
    history: &BTreeMap<(String, String), Vec<SpotPrice>>,
    ebs_gb: u32,
    requests: Requests,
) -> Cost {
    machines.sort_by(|a, b| a.launched.total_cmp(&b.launched));
    let mut by_type = BTreeMap::<String, TypeCost>::new();
    let mut unpriced = 0;
    for m in &mut machines {
        m.hours = (m.ended - m.launched).max(0.0) / 3600.0;
        let key = (m.instance_type.clone(), m.zone.clone());
        m.dollars = m
            .spot
            .then(|| history.get(&key))
            .flatten()
            .and_then(|h| charged(h, m.launched, m.ended));
        unpriced += usize::from(m.dollars.is_none());
        let t = by_type.entry(m.instance_type.clone()).or_default();
        t.machines += 1;
        t.hours += m.hours;
        t.dollars += m.dollars.unwrap_or(0.0);
    }
    let hours: f64 = machines.iter().map(|m| m.hours).sum();
    let ebs_gb_hours = hours * f64::from(ebs_gb);
    let mut dollars = BTreeMap::new();
    dollars.insert("instances", by_type.values().map(|t| t.dollars).sum());
    dollars.insert("ebs", ebs_gb_hours / 730.0 * EBS_DOLLARS_PER_GB_MONTH);
    dollars.insert("sqs", requests.sqs as f64 / 1e6 * SQS_DOLLARS_PER_MILLION);
    dollars.insert(
        "s3",
        requests.s3_put as f64 / 1e3 * S3_DOLLARS_PER_THOUSAND_PUTS
            + requests.s3_get as f64 / 1e3 * S3_DOLLARS_PER_THOUSAND_GETS,
    );
    let total = dollars.values().sum();
    dollars.insert("total", total);
    let mut assumptions = vec![
        "Machines: the instances of the run's Spot Fleets and Auto Scaling group that EC2 \
         still describes, from launch to their end (or to the report, if still running)."
            .to_owned(),
        "Instances: each machine's hours at the Spot price EC2's price history gives for its \
         type and zone over those hours (per-second billing; the price before the first \
         entry is the first entry's)."
            .to_owned(),
        format!(
            "EBS: {ebs_gb} GB (EBS_VOL_SIZE) per machine while it runs, at gp3's \
             ${EBS_DOLLARS_PER_GB_MONTH} per GB-month (us-east-1 list price; 730 hours a month)."
        ),
        format!(
            "SQS: per attempt a receive, a delete or hand-back and a visibility extension every \
             third of the timeout, plus one send per 10 tasks; the workers' empty polls and the \
             monitor's calls are not counted. ${SQS_DOLLARS_PER_MILLION} per million."
        ),
        format!(
            "S3: per attempt 2 GETs (pipeline, load-data file), a PUT per output and per log; \
             images read are not counted. ${S3_DOLLARS_PER_THOUSAND_PUTS} per 1,000 PUTs, \
             ${S3_DOLLARS_PER_THOUSAND_GETS} per 1,000 GETs."
        ),
        "Not counted: data transfer, CloudWatch, ECS on EC2 (free), the free tier.".to_owned(),
    ];
    if unpriced > 0 {
        assumptions.push(format!(
            "{unpriced} machines have no Spot price (On-Demand, or no price history): \
             their hours are not priced."
        ));
    }
    Cost {
        machines,
        by_type,
        ebs_gb_hours,
        requests,
        dollars,
        assumptions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(at: f64, dollars_per_hour: f64) -> SpotPrice {
        SpotPrice {
            at,
            dollars_per_hour,
        }
    }

    #[test]
    fn the_price_in_effect_is_charged_for_each_part_of_the_hours() {
        // 0.10 from before the start, 0.40 from half an hour in; two hours in all.
        let history = [price(5400.0, 0.40), price(-100.0, 0.10)];
        let dollars = charged(&history, 0.0, 7200.0).unwrap();
        assert!(
            (dollars - (0.10 * 1.5 + 0.40 * 0.5)).abs() < 1e-9,
            "{dollars}"
        );
        // A history that starts after the launch: its first price back to the launch.
        let dollars = charged(&[price(1800.0, 0.2)], 0.0, 3600.0).unwrap();
        assert!((dollars - 0.2).abs() < 1e-9, "{dollars}");
        assert_eq!(charged(&[], 0.0, 3600.0), None);
    }

    #[test]
    fn machines_are_priced_by_type_and_zone_and_on_demand_is_left_out() {
        let machine = |id: &str, kind: &str, spot: bool| Machine {
            id: id.into(),
            instance_type: kind.into(),
            zone: "us-east-1a".into(),
            spot,
            launched: 0.0,
            ended: 7200.0,
            hours: 0.0,
            dollars: None,
        };
        let mut history = BTreeMap::new();
        history.insert(
            ("m5.xlarge".into(), "us-east-1a".into()),
            vec![price(0.0, 0.1)],
        );
        let requests = Requests {
            sqs: 1_000_000,
            s3_put: 1000,
            s3_get: 1000,
        };
        let cost = estimate(
            vec![
                machine("i-1", "m5.xlarge", true),
                machine("i-2", "m5.xlarge", true),
                machine("i-3", "c5.large", false),
            ],
            &history,
            30,
            requests,
        );
        assert_eq!(cost.by_type["m5.xlarge"].machines, 2);
        assert!((cost.by_type["m5.xlarge"].dollars - 0.4).abs() < 1e-9);
        assert_eq!(cost.by_type["c5.large"].dollars, 0.0);
        assert_eq!(cost.machines[2].dollars, None);
        assert!((cost.ebs_gb_hours - 180.0).abs() < 1e-9);
        let d = &cost.dollars;
        assert!((d["sqs"] - 0.40).abs() < 1e-9);
        assert!((d["s3"] - 0.0054).abs() < 1e-9);
        assert!((d["total"] - (d["instances"] + d["ebs"] + d["sqs"] + d["s3"])).abs() < 1e-12);
        assert!(cost.assumptions.last().unwrap().starts_with("1 machines"));
    }

    #[test]
    fn requests_count_each_attempt_and_its_heartbeats() {
        let counts = Counts {
            tasks: 11,
            ..Counts::default()
        };
        // Visibility 300 s: a heartbeat every 100 s; 250 s of work makes 2.
        let r = requests(&counts, &[(250.0, 3, true), (1.0, 0, false)], 300);
        assert_eq!(r.sqs, 2 + (2 + 2) + 2);
        assert_eq!((r.s3_get, r.s3_put), (4, 4));
    }
}
