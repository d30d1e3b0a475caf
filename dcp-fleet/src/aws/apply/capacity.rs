//! Sending the requests that make, resize and remove a run's machines and its dashboard.

use aws_sdk_autoscaling::types::{
    InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
    MixedInstancesPolicy, Tag,
};
use dcp_common::aws::{ProvideErrorMetadata, Settled, failed, settle};

use super::super::plan::Request;
use super::super::{AwsFleet, dashboard, group, spot};
use crate::FleetError;

/// EC2: the launch template is unknown.
const LAUNCH_TEMPLATE_GONE: &[&str] = &[
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.NotFound",
];

/// Whether an Auto Scaling error says the group is not there (the service answers with the
/// general `ValidationError` code, so its message tells).
fn group_gone(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ValidationError")
        && e.message()
            .is_some_and(|m| m.to_lowercase().contains("not found"))
}

impl AwsFleet {
    /// Sends a request of the run's capacity; the second value is the id of the Spot
    /// Fleet it made. `new_fleet` is the id of the Spot Fleet requested before it, which a
    /// dashboard's body names.
    pub(super) async fn send_capacity(
        &self,
        request: &Request,
        new_fleet: Option<&str>,
    ) -> Result<(Settled, Option<String>), FleetError> {
        let settled = match request {
            Request::CreateLaunchTemplate {
                launch_template_name,
                launch_template_data,
            } => {
                let data = group::sdk::launch_template_data(launch_template_data)?;
                self.ec2
                    .create_launch_template()
                    .launch_template_name(launch_template_name)
                    .launch_template_data(data)
                    .send()
                    .await
                    .map_err(failed("CreateLaunchTemplate", launch_template_name))?;
                Settled::Done
            }
            Request::CreateAutoScalingGroup { .. } => self.create_group(request).await?,
            Request::UpdateAutoScalingGroup {
                auto_scaling_group_name,
                min_size,
                max_size,
                desired_capacity,
            } => {
                let sent = self
                    .autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(auto_scaling_group_name)
                    .min_size(*min_size)
                    .max_size(*max_size)
                    .desired_capacity(*desired_capacity)
                    .send()
                    .await;
                match sent {
                    Err(e) if group_gone(&e) => Settled::Gone,
                    sent => settle("UpdateAutoScalingGroup", auto_scaling_group_name, sent, &[])?,
                }
            }
            Request::DeleteAutoScalingGroup {
                auto_scaling_group_name,
                force_delete,
            } => {
                let sent = self
                    .autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(auto_scaling_group_name)
                    .force_delete(*force_delete)
                    .send()
                    .await;
                match sent {
                    Err(e) if group_gone(&e) => Settled::Gone,
                    sent => settle("DeleteAutoScalingGroup", auto_scaling_group_name, sent, &[])?,
                }
            }
            Request::DeleteLaunchTemplate {
                launch_template_name,
            } => {
                let sent = self
                    .ec2
                    .delete_launch_template()
                    .launch_template_name(launch_template_name)
                    .send()
                    .await;
                settle(
                    "DeleteLaunchTemplate",
                    launch_template_name,
                    sent,
                    LAUNCH_TEMPLATE_GONE,
                )?
            }
            Request::RequestSpotFleet {
                spot_fleet_request_config,
            } => {
                let id = spot::request(&self.ec2, spot_fleet_request_config).await?;
                return Ok((Settled::Done, Some(id)));
            }
            Request::PutDashboard {
                dashboard_name,
                dashboard_body,
            } => {
                let mut body = dashboard_body.to_string();
                if let Some(id) = new_fleet {
                    body = body.replace(dashboard::NEW_FLEET, id);
                }
                self.cloudwatch
                    .put_dashboard()
                    .dashboard_name(dashboard_name)
                    .dashboard_body(body)
                    .send()
                    .await
                    .map_err(failed("PutDashboard", dashboard_name))?;
                Settled::Done
            }
            other => unreachable!("not a capacity request: {other:?}"),
        };
        Ok((settled, None))
    }

    async fn create_group(&self, request: &Request) -> Result<Settled, FleetError> {
        let Request::CreateAutoScalingGroup {
            auto_scaling_group_name: name,
            launch_template_name,
            instance_types,
            vpc_zone_identifier,
            availability_zones,
            min_size,
            max_size,
            desired_capacity,
            on_demand_base_capacity,
            on_demand_percentage_above_base_capacity,
            spot_allocation_strategy,
            spot_max_price,
            new_instances_protected_from_scale_in,
            tag_name,
        } = request
        else {
            unreachable!("called with a group");
        };
        let template = LaunchTemplateSpecification::builder()
            .launch_template_name(launch_template_name)
            .version("$Default")
            .build();
        let mut launch_template = LaunchTemplate::builder().launch_template_specification(template);
        for instance_type in instance_types {
            launch_template = launch_template.overrides(
                LaunchTemplateOverrides::builder()
                    .instance_type(instance_type)
                    .build(),
            );
        }
        let distribution = InstancesDistribution::builder()
            .on_demand_base_capacity(*on_demand_base_capacity)
            .on_demand_percentage_above_base_capacity(*on_demand_percentage_above_base_capacity)
            .spot_allocation_strategy(spot_allocation_strategy)
            .spot_max_price(spot_max_price)
            .build();
        let policy = MixedInstancesPolicy::builder()
            .launch_template(launch_template.build())
            .instances_distribution(distribution)
            .build();
        let tag = Tag::builder()
            .key("Name")
            .value(tag_name)
            .propagate_at_launch(true)
            .resource_id(name)
            .resource_type("auto-scaling-group")
            .build();
        let mut group = self
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name);
        group = if vpc_zone_identifier.is_empty() {
            group.set_availability_zones(Some(availability_zones.clone()))
        } else {
            group.vpc_zone_identifier(vpc_zone_identifier)
        };
        group
            .mixed_instances_policy(policy)
            .min_size(*min_size)
            .max_size(*max_size)
            .desired_capacity(*desired_capacity)
            .new_instances_protected_from_scale_in(*new_instances_protected_from_scale_in)
            .tags(tag)
            .send()
            .await
            .map_err(failed("CreateAutoScalingGroup", name))?;
        Ok(Settled::Done)
    }
}
