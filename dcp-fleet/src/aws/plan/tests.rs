use std::time::{Duration, UNIX_EPOCH};

use dcp_common::Config;
use serde_json::json;

use super::*;
use dcp_common::queue::{DeadLetterQueueState, QueueState};

use crate::aws::{Alarm, Service, SpotFleet};

fn config() -> Config {
    let text = json!({
        "APP_NAME": "Fly", "BACKEND": "aws", "AWS_BUCKET": "logs-bucket",
        "ECS_CLUSTER": "dcp", "TASKS_PER_MACHINE": 2,
    });
    Config::parse(&text.to_string(), "test", std::path::Path::new(".")).unwrap()
}

fn fleet(id: &str, state: &str, target: i32) -> SpotFleet {
    SpotFleet {
        id: id.into(),
        state: state.into(),
        target_capacity: target,
        fulfilled_capacity: target as f64,
        created: None,
        instances: vec![format!("i-{id}")],
    }
}

fn queue(url: &str, visible: u64) -> Option<QueueState> {
    Some(QueueState {
        url: url.into(),
        visible,
        in_flight: 0,
    })
}

fn dead_letter_queue(letters: u64, other_sources: &[&str]) -> Option<DeadLetterQueueState> {
    Some(DeadLetterQueueState {
        url: "dlq".into(),
        letters,
        dead: letters,
        other_sources: other_sources.iter().map(|s| s.to_string()).collect(),
    })
}

fn found() -> Found {
    Found {
        groups: Vec::new(),
        launch_templates: Vec::new(),
        fleets: vec![fleet("a", "active", 4), fleet("b", "cancelled_running", 2)],
        alarms: vec![Alarm {
            name: "Fly_i-a".into(),
            instance: "i-a".into(),
        }],
        service: Some(Service {
            desired: 8,
            running: 8,
        }),
        task_definitions: vec!["FlyTask:1".into(), "FlyTask:2".into()],
        cluster: true,
        other_services: 0,
        queue: queue("q", 0),
        dead_letter_queue: dead_letter_queue(0, &[]),
        log_groups: config().log_groups().to_vec(),
        dashboard: true,
        schedule: false,
    }
}

#[test]
fn scale_sets_open_fleets_and_the_service() {
    let plan = scale(&config(), &found(), 3).unwrap();
    assert_eq!(
        plan.requests,
        vec![set_target("a", 3), update_service(&config(), 6),]
    );
}

#[test]
fn scale_without_an_open_fleet_is_refused() {
    let mut found = found();
    found.fleets.retain(|f| !f.is_open());
    let err = scale(&config(), &found, 3).unwrap_err().to_string();
    assert!(
        err.contains("no Auto Scaling group or open Spot Fleet tagged Name = Fly"),
        "{err}"
    );
}

#[test]
fn shrink_lowers_only_fleets_above_the_target() {
    let mut found = found();
    found.fleets.push(fleet("c", "active", 1));
    assert_eq!(shrink(&found, 2), vec![set_target("a", 2)]);
}

#[test]
fn stale_alarms_are_those_of_gone_instances() {
    assert_eq!(stale_alarms(&found(), &["i-b".into()]), vec![]);
    assert_eq!(
        stale_alarms(&found(), &["i-a".into()]),
        vec![Request::DeleteAlarms {
            alarm_names: vec!["Fly_i-a".into()]
        }]
    );
}

#[test]
fn teardown_removes_everything_in_order() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let plan = teardown(&config(), &found(), false, now);
    let names: Vec<String> = plan
        .requests
        .iter()
        .map(|r| {
            serde_json::to_value(r).unwrap()["Request"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "UpdateService",
            "CancelSpotFleetRequests",
            "DeleteAlarms",
            "DeleteService",
            "DeregisterTaskDefinition",
            "DeregisterTaskDefinition",
            "DeleteQueue",
            "DeleteQueue",
            "DeleteCluster",
            "DeleteDashboards",
            "CreateExportTask",
            "DeleteLogGroup",
            "CreateExportTask",
            "DeleteLogGroup",
        ]
    );
    assert!(plan.kept.is_empty());
    assert_eq!(
        serde_json::to_value(&plan.requests[10]).unwrap(),
        json!({"Request": "CreateExportTask", "LogGroupName": "Fly", "From": 0,
               "To": 1_700_000_000_000_i64, "Destination": "logs-bucket",
               "DestinationPrefix": "exportedlogs/Fly"})
    );
}

#[test]
fn teardown_keeps_dead_letters_the_default_cluster_the_dashboard_and_logs_when_asked() {
    let mut found = found();
    found.dead_letter_queue = dead_letter_queue(3, &[]);
    let mut config = config();
    config.ecs_cluster = "default".into();
    config.clean_dashboard = false;
    let plan = teardown(&config, &found, true, UNIX_EPOCH);
    assert!(!plan.requests.contains(&Request::DeleteQueue {
        queue_url: "dlq".into()
    }));
    assert!(!plan.requests.iter().any(|r| matches!(
        r,
        Request::DeleteCluster { .. }
            | Request::DeleteDashboards { .. }
            | Request::CreateExportTask { .. }
    )));
    assert_eq!(plan.kept.len(), 5, "{:?}", plan.kept);
    assert!(plan.kept[0].contains("holds 3 task(s)"));
}

#[test]
fn teardown_keeps_a_dead_letter_queue_another_queue_names() {
    let mut found = found();
    found.dead_letter_queue = dead_letter_queue(0, &["illum_Queue"]);
    let plan = teardown(&config(), &found, false, UNIX_EPOCH);
    assert!(!plan.requests.contains(&Request::DeleteQueue {
        queue_url: "dlq".into()
    }));
    assert!(plan.requests.contains(&Request::DeleteQueue {
        queue_url: "q".into()
    }));
    assert_eq!(
        plan.kept,
        ["dead-letter queue FlyDeadMessages: the redrive policy of illum_Queue names it"]
    );
}

fn group(desired: i32) -> Group {
    Group {
        name: "Fly".into(),
        desired_capacity: desired,
        min_size: 0,
        max_size: 4,
        created: Some(0),
        instances: vec!["i-g".into()],
    }
}

#[test]
fn the_group_is_resized_by_scale_lowered_by_shrink_and_deleted_by_stop() {
    let mut found = found();
    found.fleets.clear();
    found.groups.push(group(4));
    found.launch_templates.push("lt-1".into());
    let plan = scale(&config(), &found, 6).unwrap();
    assert_eq!(plan.requests[0], resize(&group(4), 6, 6));
    assert_eq!(shrink(&found, 1), vec![resize(&group(4), 1, 4)]);
    assert!(shrink(&found, 4).is_empty(), "never raised");
    let plan = teardown(&config(), &found, true, SystemTime::now());
    let names: Vec<&str> = plan
        .requests
        .iter()
        .map(|r| match r {
            Request::DeleteAutoScalingGroup { .. } => "group",
            Request::DeleteLaunchTemplate { .. } => "template",
            _ => "",
        })
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(names, ["group", "template"]);
    let err = start(
        &config(),
        &found,
        &serde_json::json!({}),
        &[],
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(matches!(err, FleetError::AlreadyStarted { .. }), "{err}");
}

#[test]
fn teardown_removes_the_monitors_schedule_last() {
    let mut found = found();
    found.schedule = true;
    for keep_logs in [false, true] {
        let plan = teardown(&config(), &found, keep_logs, SystemTime::now());
        assert_eq!(
            plan.requests.last(),
            Some(&Request::DeleteSchedule {
                name: "FlyMonitor".into()
            })
        );
    }
    let plan = stop(&config(), &found);
    assert!(
        !plan
            .requests
            .iter()
            .any(|r| matches!(r, Request::DeleteSchedule { .. })),
        "stop keeps the monitor"
    );
}
