//! Spot interruption notices: EC2 announces, two minutes ahead, that it will take a spot
//! instance back by answering `spot/instance-action` in the instance metadata; until then
//! that path is 404.

use std::time::Duration;

use aws_config::imds;

/// How often the notice is looked for.
pub const POLL_PERIOD: Duration = Duration::from_secs(5);

/// The metadata path of the notice.
const NOTICE_PATH: &str = "/latest/meta-data/spot/instance-action";

/// Whether a 200 answer of `spot/instance-action` is a notice: a JSON object, such as
/// `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`.
pub fn is_notice(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v.is_object())
}

/// Polls the notice every [`POLL_PERIOD`] and returns the notice's text once there is one.
/// Any error — 404 (no notice), another status, no answer — counts as no notice.
pub async fn wait_for_notice(imds: &imds::Client) -> String {
    let mut tick = tokio::time::interval(POLL_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Ok(body) = imds.get(NOTICE_PATH).await {
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
        assert!(!is_notice(""));
        assert!(!is_notice("<html>Not Found</html>"));
        assert!(!is_notice("[]"));
    }
}
