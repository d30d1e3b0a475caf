//! `setup` and `start` on AWS through the run's clients ([`super::setup`], [`super::spot`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use dcp_common::aws::failed;

use super::{AwsFleet, dashboard, setup, spot};
use crate::FleetError;

impl AwsFleet {
    /// `setup`: what it did (or, with `dry_run`, would do) as JSON.
    pub async fn setup(&self, dry_run: bool) -> Result<Value, FleetError> {
        let plan = setup::plan(&self.config)?;
        let report = if dry_run {
            json!({ "dry_run": true, "requests": plan })
        } else {
            let done = setup::apply(plan, &self.ecs, &self.logs).await?;
            serde_json::to_value(done).expect("a setup report is JSON")
        };
        Ok(report)
    }

    /// `start FLEET.json`: the Spot Fleet request for DCP's fleet file, the dashboard (with
    /// CREATE_DASHBOARD), the ECS service's desired count, then up to `wait` for the
    /// instances; returns the run record DCP
    /// keeps in its monitor file (or, with `dry_run`, the requests).
    pub async fn start(
        &self,
        fleet_file: &Value,
        dry_run: bool,
        wait: Duration,
    ) -> Result<Value, FleetError> {
        let config = &self.config;
        let request = spot::fleet_request(fleet_file, config, SystemTime::now())?;
        let tasks = config.cluster_machines * config.tasks_per_machine;
        if dry_run {
            let mut requests = json!({
                "RequestSpotFleet": request,
                "UpdateService": {
                    "cluster": config.ecs_cluster,
                    "service": config.ecs_service_name,
                    "desiredCount": tasks,
                },
            });
            if config.create_dashboard {
                requests["PutDashboard"] = json!({
                    "DashboardName": config.app_name,
                    "DashboardBody": dashboard::body(config, "<the new fleet's id>"),
                });
            }
            return Ok(json!({ "dry_run": true, "requests": requests }));
        }
        let fleet_id = spot::request(&self.ec2, &request).await?;
        if config.create_dashboard {
            self.cloudwatch
                .put_dashboard()
                .dashboard_name(&config.app_name)
                .dashboard_body(dashboard::body(config, &fleet_id).to_string())
                .send()
                .await
                .map_err(failed("PutDashboard", &config.app_name))?;
        }
        self.ecs
            .update_service()
            .cluster(&config.ecs_cluster)
            .service(&config.ecs_service_name)
            .desired_count(tasks as i32)
            .send()
            .await
            .map_err(failed(
                "UpdateService",
                format!("{}/{}", config.ecs_cluster, config.ecs_service_name),
            ))?;
        let target = config.cluster_machines as usize;
        let running = spot::wait_for_capacity(&self.ec2, &fleet_id, target, wait).await?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(json!({
            "fleet_id": fleet_id,
            "app": config.app_name,
            "cluster": config.ecs_cluster,
            "queue": config.sqs_queue_name,
            "bucket": config.aws_bucket,
            "log_group": config.log_group_name,
            "desired_tasks": tasks,
            "instances_running": running,
            "started": started,
        }))
    }
}
