//! Reading what a run has on AWS ([`AwsFleet::discover`]): read-only calls only.

use aws_sdk_ec2::types::Filter;
use dcp_common::aws::{ProvideErrorMetadata, codes, failed};

use super::{Alarm, AwsFleet, Found, Group, Service, SpotFleet, monitor};
use crate::FleetError;

impl AwsFleet {
    /// Finds everything the run has on AWS.
    pub async fn discover(&self) -> Result<Found, FleetError> {
        let (cluster, other_services) = self.cluster().await?;
        let service = if cluster { self.service().await? } else { None };
        let (queue, dead_letter_queue) = self.queue.found().await?;
        Ok(Found {
            groups: self.groups().await?,
            launch_templates: self.launch_templates().await?,
            fleets: self.fleets().await?,
            alarms: self.alarms().await?,
            service,
            task_definitions: self.task_definitions().await?,
            cluster,
            other_services,
            queue,
            dead_letter_queue,
            log_groups: self.log_groups().await?,
            dashboard: self.dashboard().await?,
            schedule: self.schedule().await?,
        })
    }

    /// The Auto Scaling group APP_NAME, when it is tagged `Name = APP_NAME` and not being
    /// deleted.
    pub async fn groups(&self) -> Result<Vec<Group>, FleetError> {
        let name = &self.config.app_name;
        let described = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(failed("DescribeAutoScalingGroups", name))?;
        Ok(described
            .auto_scaling_groups()
            .iter()
            .filter(|g| g.status().is_none_or(|s| !s.starts_with("Delete")))
            .filter(|g| {
                g.tags()
                    .iter()
                    .any(|t| t.key() == Some("Name") && t.value() == Some(name))
            })
            .map(|g| Group {
                name: g.auto_scaling_group_name().unwrap_or_default().to_owned(),
                desired_capacity: g.desired_capacity().unwrap_or(0),
                min_size: g.min_size().unwrap_or(0),
                max_size: g.max_size().unwrap_or(0),
                created: g.created_time().map(|t| t.secs()),
                instances: g
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_owned))
                    .collect(),
            })
            .collect())
    }

    /// The id of the launch template APP_NAME, when it exists.
    async fn launch_templates(&self) -> Result<Vec<String>, FleetError> {
        let name = &self.config.app_name;
        let filter = Filter::builder()
            .name("launch-template-name")
            .values(name)
            .build();
        let described = self
            .ec2
            .describe_launch_templates()
            .filters(filter)
            .send()
            .await
            .map_err(failed("DescribeLaunchTemplates", name))?;
        Ok(described
            .launch_templates()
            .iter()
            .filter_map(|t| t.launch_template_id().map(str::to_owned))
            .collect())
    }

    /// Spot Fleet requests tagged `Name = APP_NAME`, not cancelled, with their instances.
    pub async fn fleets(&self) -> Result<Vec<SpotFleet>, FleetError> {
        let mut fleets = Vec::new();
        let mut pages = self
            .ec2
            .describe_spot_fleet_requests()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed("DescribeSpotFleetRequests", "(all)"))?;
            for request in page.spot_fleet_request_configs() {
                let ours = request
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some("Name") && t.value() == Some(&self.config.app_name));
                let state = request
                    .spot_fleet_request_state()
                    .map_or("", |s| s.as_str())
                    .to_owned();
                if !ours || state.starts_with("cancelled") && state != "cancelled_running" {
                    continue;
                }
                let id = request
                    .spot_fleet_request_id()
                    .unwrap_or_default()
                    .to_owned();
                let data = request.spot_fleet_request_config();
                fleets.push(SpotFleet {
                    instances: self.fleet_instances(&id).await?,
                    id,
                    state,
                    target_capacity: data.and_then(|d| d.target_capacity()).unwrap_or(0),
                    fulfilled_capacity: data.and_then(|d| d.fulfilled_capacity()).unwrap_or(0.0),
                    created: request.create_time().map(|t| t.secs()),
                });
            }
        }
        Ok(fleets)
    }

    async fn fleet_instances(&self, fleet_id: &str) -> Result<Vec<String>, FleetError> {
        let mut instances = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .ec2
                .describe_spot_fleet_instances()
                .spot_fleet_request_id(fleet_id)
                .set_next_token(token)
                .send()
                .await
                .map_err(failed("DescribeSpotFleetInstances", fleet_id))?;
            instances.extend(
                page.active_instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_owned)),
            );
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(instances);
            }
        }
    }

    /// The instance alarms of the run (`APP_NAME_i-…`).
    pub async fn alarms(&self) -> Result<Vec<Alarm>, FleetError> {
        let prefix = self.config.instance_alarm_name("i-");
        let mut alarms = Vec::new();
        let mut pages = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed("DescribeAlarms", &prefix))?;
            for alarm in page.metric_alarms() {
                let name = alarm.alarm_name().unwrap_or_default().to_owned();
                let instance = name[prefix.len() - 2..].to_owned();
                alarms.push(Alarm { name, instance });
            }
        }
        Ok(alarms)
    }

    /// Of `instances`, those EC2 reports terminated, shutting down, or no longer knows.
    pub async fn gone_instances(&self, instances: &[&str]) -> Result<Vec<String>, FleetError> {
        if instances.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter::builder()
            .name("instance-id")
            .set_values(Some(instances.iter().map(|i| i.to_string()).collect()))
            .build();
        let mut alive = Vec::new();
        let mut pages = self
            .ec2
            .describe_instances()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(failed("DescribeInstances", self.config.instance_name_tag()))?;
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str());
                if !matches!(state, Some("terminated" | "shutting-down")) {
                    alive.extend(instance.instance_id().map(str::to_owned));
                }
            }
        }
        Ok(instances
            .iter()
            .filter(|i| !alive.iter().any(|a| a == *i))
            .map(|i| i.to_string())
            .collect())
    }

    /// Whether the cluster is active, and how many services it has besides the run's.
    async fn cluster(&self) -> Result<(bool, u32), FleetError> {
        let described = self
            .ecs
            .describe_clusters()
            .clusters(&self.config.ecs_cluster)
            .send()
            .await
            .map_err(failed("DescribeClusters", &self.config.ecs_cluster))?;
        if !described
            .clusters()
            .iter()
            .any(|c| c.status() == Some("ACTIVE"))
        {
            return Ok((false, 0));
        }
        let suffix = format!("/{}", self.config.ecs_service_name);
        let mut others = 0;
        let mut pages = self
            .ecs
            .list_services()
            .cluster(&self.config.ecs_cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed("ListServices", &self.config.ecs_cluster))?;
            others += page
                .service_arns()
                .iter()
                .filter(|arn| !arn.ends_with(&suffix))
                .count();
        }
        Ok((true, others as u32))
    }

    async fn service(&self) -> Result<Option<Service>, FleetError> {
        let described = self
            .ecs
            .describe_services()
            .cluster(&self.config.ecs_cluster)
            .services(&self.config.ecs_service_name)
            .send()
            .await
            .map_err(failed(
                "DescribeServices",
                format!(
                    "{}/{}",
                    self.config.ecs_cluster, self.config.ecs_service_name
                ),
            ))?;
        Ok(described
            .services()
            .iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .map(|s| Service {
                desired: s.desired_count(),
                running: s.running_count(),
            }))
    }

    /// Active revisions of the run's task definition families: the workers' and the
    /// monitor's.
    async fn task_definitions(&self) -> Result<Vec<String>, FleetError> {
        let mut found = Vec::new();
        for family in [
            self.config.ecs_task_family.clone(),
            monitor::name(&self.config),
        ] {
            let mut pages = self
                .ecs
                .list_task_definitions()
                .family_prefix(&family)
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(failed("ListTaskDefinitions", &family))?;
                for arn in page.task_definition_arns() {
                    let name = arn.rsplit('/').next().unwrap_or(arn);
                    if name.rsplit_once(':').is_some_and(|(f, _)| f == family) {
                        found.push(name.to_owned());
                    }
                }
            }
        }
        Ok(found)
    }

    /// Whether the monitor's schedule exists.
    async fn schedule(&self) -> Result<bool, FleetError> {
        let name = monitor::name(&self.config);
        match self.scheduler.get_schedule().name(&name).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code().is_some_and(|c| codes::SCHEDULE_GONE.contains(&c)) => Ok(false),
            Err(e) => Err(failed("GetSchedule", &name)(e).into()),
        }
    }

    /// Whether the dashboard APP_NAME exists.
    async fn dashboard(&self) -> Result<bool, FleetError> {
        let name = &self.config.app_name;
        let mut pages = self
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(failed("ListDashboards", name))?;
            if page
                .dashboard_entries()
                .iter()
                .any(|d| d.dashboard_name() == Some(name))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The run's two log groups that exist.
    async fn log_groups(&self) -> Result<Vec<String>, FleetError> {
        let mut found = Vec::new();
        for group in self.config.log_groups() {
            let page = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&group)
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code().is_some_and(|c| codes::LOGS_GONE.contains(&c)) => continue,
                Err(e) => return Err(failed("DescribeLogGroups", &group)(e).into()),
            };
            if page
                .log_groups()
                .iter()
                .any(|g| g.log_group_name() == Some(&group))
            {
                found.push(group);
            }
        }
        Ok(found)
    }
}
