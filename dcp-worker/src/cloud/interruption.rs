//! What EC2 tells a Spot instance through the instance metadata before taking it back
//! (EC2 User Guide, "Spot Instance interruption notices" and "EC2 instance rebalance
//! recommendations"). Until there is something to tell, each path answers 404.
//! - `spot/instance-action`: the interruption notice, two minutes ahead, e.g.
//!   `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`.
//! - `events/recommendations/rebalance`: the rebalance recommendation, usually earlier,
//!   e.g. `{"noticeTime": "2020-10-27T08:22:00Z"}`: the instance is at elevated risk.

use std::time::Duration;

use aws_config::imds;

/// How often each path is looked at.
pub const POLL_PERIOD: Duration = Duration::from_secs(5);

/// The metadata path of the interruption notice.
pub const INTERRUPTION_PATH: &str = "/latest/meta-data/spot/instance-action";

/// The metadata path of the rebalance recommendation.
pub const REBALANCE_PATH: &str = "/latest/meta-data/events/recommendations/rebalance";

/// Whether a 200 answer of one of the paths is a notice: a JSON object.
pub fn is_notice(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
}

/// Polls `path` every [`POLL_PERIOD`] and returns the notice's text once there is one.
/// Any error — 404 (no notice), another status, no answer — counts as no notice.
pub async fn wait_for_notice(imds: &imds::Client, path: &str) -> String {
    let mut tick = tokio::time::interval(POLL_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Ok(body) = imds.get(path).await {
            let body: String = body.into();
            if is_notice(&body) {
                return body;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_object_is_a_notice() {
        assert!(is_notice(
            r#"{"action": "terminate", "time": "2017-09-18T08:22:00Z"}"#
        ));
        assert!(is_notice(r#"{"noticeTime": "2020-10-27T08:22:00Z"}"#));
        assert!(!is_notice(""));
        assert!(!is_notice("<html>Not Found</html>"));
        assert!(!is_notice("[]"));
    }
}
