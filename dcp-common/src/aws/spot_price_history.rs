//! EC2 DescribeSpotPriceHistory for Linux/UNIX, as the pilot's estimate and the run
//! report's cost read it (AWS: "Spot Instance pricing history", EC2 User Guide). A record
//! is a price change: the price holds from its time until the next record of its type and
//! zone.

use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types::InstanceType;

use super::{AwsError, failed};

/// One price change.
#[derive(Clone, Debug, PartialEq)]
pub struct SpotPriceRecord {
    /// The instance type (`m5.xlarge`).
    pub instance_type: String,
    /// The Availability Zone (`us-east-1a`).
    pub zone: String,
    /// When the price took effect, unix seconds.
    pub at: f64,
    /// The price, US dollars per instance-hour.
    pub dollars_per_hour: f64,
}

/// What to read: the types, one zone or all of the region's, and the time span (unix
/// seconds; from `from` alone, EC2 answers with the price in force then and later ones).
#[derive(Clone, Debug)]
pub struct SpotPriceQuery<'a> {
    /// The instance types.
    pub types: &'a [String],
    /// Only this zone, when given.
    pub zone: Option<&'a str>,
    /// The span's start.
    pub from: f64,
    /// The span's end; `None` for now.
    pub to: Option<f64>,
    /// Pages read at most (EC2 gives up to 1,000 records a page); `None` reads them all.
    pub max_pages: Option<usize>,
}

/// The Linux/UNIX records of the query, in EC2's order (newest first). Records of another
/// zone than the one asked for (a server that ignores the zone) and records lacking a
/// type, zone, time or price are left out.
///
/// # Errors
/// The call's error, naming DescribeSpotPriceHistory and the types.
pub async fn spot_price_history(
    ec2: &aws_sdk_ec2::Client,
    query: &SpotPriceQuery<'_>,
) -> Result<Vec<SpotPriceRecord>, AwsError> {
    let mut pages = ec2
        .describe_spot_price_history()
        .set_instance_types(Some(
            query
                .types
                .iter()
                .map(|t| InstanceType::from(t.as_str()))
                .collect(),
        ))
        .set_availability_zone(query.zone.map(str::to_owned))
        .product_descriptions("Linux/UNIX")
        .start_time(DateTime::from_secs_f64(query.from))
        .set_end_time(query.to.map(DateTime::from_secs_f64))
        .into_paginator()
        .send();
    let mut records = Vec::new();
    let mut read = 0;
    while query.max_pages.is_none_or(|max| read < max)
        && let Some(page) = pages.next().await
    {
        read += 1;
        let page = page.map_err(failed("DescribeSpotPriceHistory", query.types.join(", ")))?;
        records.extend(page.spot_price_history().iter().filter_map(|record| {
            // Linux/UNIX, or "Linux/UNIX (Amazon VPC)" as older accounts and moto name it.
            let linux = record
                .product_description()
                .is_some_and(|d| d.as_str().starts_with("Linux/UNIX"));
            let zone = record.availability_zone()?;
            if !linux || query.zone.is_some_and(|z| z != zone) {
                return None;
            }
            Some(SpotPriceRecord {
                instance_type: record.instance_type()?.as_str().to_owned(),
                zone: zone.to_owned(),
                at: record.timestamp()?.as_secs_f64(),
                dollars_per_hour: record.spot_price()?.parse().ok()?,
            })
        }));
    }
    Ok(records)
}
