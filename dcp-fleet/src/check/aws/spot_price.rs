//! The current Spot price of each MACHINE_TYPE, for the pilot's cost estimate: EC2's
//! DescribeSpotPriceHistory for Linux/UNIX from now, which gives the price in force in
//! each zone of the region (AWS: "Spot Instance pricing history", EC2 User Guide).

use std::collections::BTreeMap;
use std::time::SystemTime;

use dcp_common::Config;
use dcp_common::aws::spot_price_history::{SpotPriceQuery, spot_price_history};

use crate::check::pilot::estimate::{SpotPrice, SpotPrices};
use crate::check::{Finding, Findings};

/// Pages read at most (AWS gives up to 1,000 records a page).
const MAX_PAGES: usize = 10;

/// Reads the prices and reports them as a `spot-price` finding: `ok` with each type's
/// lowest and highest zone price, or `skipped` when the account cannot read the history
/// (or it names none of the types). `None` when there is no price.
pub async fn look_up(
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<Option<SpotPrices>> {
    let subject = config.machine_type.join(", ");
    let shared = dcp_common::aws::sdk_config(config).await;
    let ec2 = aws_sdk_ec2::Client::new(&shared);
    let prices = match history(&ec2, &config.machine_type).await {
        Ok(prices) => prices,
        Err(why) => {
            out.add(Finding::skipped(
                "spot-price",
                subject,
                format!("cannot read the Spot price history, so the estimate has no cost: {why}"),
            ))?;
            return Ok(None);
        }
    };
    if prices.is_empty() {
        out.add(Finding::skipped(
            "spot-price",
            subject,
            format!(
                "the Spot price history of {} has no Linux/UNIX price for these types: the \
                 estimate has no cost",
                config.aws_region
            ),
        ))?;
        return Ok(None);
    }
    let each: Vec<String> = prices
        .iter()
        .map(|(t, p)| {
            format!(
                "{t} ${}–${} per hour over {} zones",
                p.lowest, p.highest, p.zones
            )
        })
        .collect();
    out.add(
        Finding::ok("spot-price", subject, each.join("; "))
            .with_figures(serde_json::to_value(&prices).unwrap_or_default()),
    )?;
    Ok(Some(prices))
}

/// The latest Linux/UNIX price of each zone, gathered per type.
async fn history(ec2: &aws_sdk_ec2::Client, types: &[String]) -> Result<SpotPrices, String> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let query = SpotPriceQuery {
        types,
        zone: None,
        from: now,
        to: None,
        max_pages: Some(MAX_PAGES),
    };
    let records = spot_price_history(ec2, &query)
        .await
        .map_err(|e| e.to_string())?;
    // (type, zone) → (time, price): the latest record wins.
    let mut latest: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for record in records {
        let entry = latest
            .entry((record.instance_type, record.zone))
            .or_insert((record.at, record.dollars_per_hour));
        if record.at > entry.0 {
            *entry = (record.at, record.dollars_per_hour);
        }
    }
    let mut prices = SpotPrices::new();
    for ((kind, _), (_, price)) in latest {
        let entry = prices.entry(kind).or_insert(SpotPrice {
            lowest: price,
            highest: price,
            zones: 0,
        });
        entry.lowest = entry.lowest.min(price);
        entry.highest = entry.highest.max(price);
        entry.zones += 1;
    }
    Ok(prices)
}
