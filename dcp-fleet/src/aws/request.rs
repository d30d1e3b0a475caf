//! The mutating AWS calls of every command, as the APIs name and shape them: `--dry-run`
//! prints them, [`super::AwsFleet::apply`] sends them.

use serde::Serialize;
use serde_json::Value;

/// One mutating AWS call, named and shaped as the API's request (PascalCase fields).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "Request", rename_all_fields = "PascalCase")]
pub enum Request {
    /// SQS: the dead-letter queue and the task queue with its redrive policy, as
    /// `dcp-queue create` makes them (CreateQueue; SetQueueAttributes on a task queue that
    /// exists, whose attributes then follow the settings).
    CreateQueues {
        /// SQS_QUEUE_NAME.
        queue_name: String,
        /// SQS_DEAD_LETTER_QUEUE.
        dead_letter_queue_name: String,
        /// SQS_MESSAGE_VISIBILITY, seconds.
        visibility_timeout: u64,
        /// JOB_RETRIES: receives before a task goes to the dead-letter queue.
        max_receive_count: u32,
    },
    /// ECS: make the cluster (ECS returns one that exists as it is).
    CreateCluster {
        /// ECS_CLUSTER.
        cluster_name: String,
    },
    /// CloudWatch Logs: make a log group (one that exists is kept: `found`).
    CreateLogGroup {
        /// LOG_GROUP_NAME, or its `_perInstance` group.
        log_group_name: String,
    },
    /// CloudWatch Logs: how long a group keeps its logs.
    PutRetentionPolicy {
        /// The group.
        log_group_name: String,
        /// Days ([`super::setup::LOG_RETENTION_DAYS`], as DCP sets it).
        retention_in_days: i32,
    },
    /// ECS: register a revision of the worker's task definition ([`super::setup`]); its
    /// result's note is `family:revision`.
    RegisterTaskDefinition {
        /// APP_NAME + "Task".
        family: String,
        /// The worker container.
        container: super::setup::Container,
        /// TASK_ROLE_ARN; empty: the containers use the instance profile's role.
        #[serde(skip_serializing_if = "String::is_empty")]
        task_role_arn: String,
    },
    /// ECS: make the service with `desired_count` tasks of the revision registered before
    /// it; a service that exists is moved to that revision instead (`found`).
    CreateService {
        /// ECS_CLUSTER.
        cluster: String,
        /// APP_NAME + "Service".
        service_name: String,
        /// The task definition family.
        task_definition: String,
        /// Always 0: `start` sets it.
        desired_count: i32,
    },
    /// EC2: make the run's launch template ([`super::group`]).
    CreateLaunchTemplate {
        /// APP_NAME.
        launch_template_name: String,
        /// EC2's RequestLaunchTemplateData.
        launch_template_data: Value,
    },
    /// Auto Scaling: make the run's group with a mixed-instances policy ([`super::group`]).
    CreateAutoScalingGroup {
        /// APP_NAME.
        auto_scaling_group_name: String,
        /// The launch template (APP_NAME, its default version).
        launch_template_name: String,
        /// MACHINE_TYPE: the policy's overrides, one per type.
        instance_types: Vec<String>,
        /// The subnets of the fleet file's launch specifications, comma-separated.
        #[serde(rename = "VPCZoneIdentifier", skip_serializing_if = "String::is_empty")]
        vpc_zone_identifier: String,
        /// Without subnets: the specifications' Availability Zones (none: every zone of the
        /// region, looked up when the group is made).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        availability_zones: Vec<String>,
        /// Always 0.
        min_size: i32,
        /// CLUSTER_MACHINES.
        max_size: i32,
        /// CLUSTER_MACHINES.
        desired_capacity: i32,
        /// ON_DEMAND_BASE.
        on_demand_base_capacity: i32,
        /// Always 0: above the base, every machine is Spot.
        on_demand_percentage_above_base_capacity: i32,
        /// `price-capacity-optimized`.
        spot_allocation_strategy: String,
        /// MACHINE_PRICE, per instance-hour.
        spot_max_price: String,
        /// Always true: lowering the capacity stops no busy machine.
        new_instances_protected_from_scale_in: bool,
        /// The Name tag (APP_NAME) of the group and, propagated, of its instances.
        tag_name: String,
    },
    /// Auto Scaling: set the group's size.
    UpdateAutoScalingGroup {
        /// The group.
        auto_scaling_group_name: String,
        /// Machines at least.
        min_size: i32,
        /// Machines at most.
        max_size: i32,
        /// Machines wanted.
        desired_capacity: i32,
    },
    /// Auto Scaling: delete the group and terminate its instances.
    DeleteAutoScalingGroup {
        /// The group.
        auto_scaling_group_name: String,
        /// Always true: instances are terminated, protected or not.
        force_delete: bool,
    },
    /// EC2: delete the run's launch template.
    DeleteLaunchTemplate {
        /// APP_NAME.
        launch_template_name: String,
    },
    /// EC2: request a Spot Fleet (FLEET_API = "spot-fleet"; [`super::spot`]).
    RequestSpotFleet {
        /// DCP's fleet file with DCP's overrides.
        spot_fleet_request_config: Value,
    },
    /// ECS: register the monitor's Fargate task definition ([`super::monitor`]).
    RegisterMonitorTaskDefinition {
        /// APP_NAME + "Monitor".
        family: String,
        /// DOCKERHUB_TAG, the worker image.
        image: String,
        /// `dcp-watch` (the image's entry point is the worker).
        entry_point: Vec<String>,
        /// `--once`.
        command: Vec<String>,
        /// The resolved settings in DCP_SETTINGS.
        environment: Vec<(String, String)>,
        /// Fargate CPU units.
        cpu: String,
        /// Fargate memory, MB.
        memory: String,
        /// MONITOR_ROLE_ARN, the task's role and its execution role.
        task_role_arn: String,
        /// LOG_GROUP_NAME: the monitor's log streams (`monitor/…`).
        log_group: String,
        /// AWS_REGION of the logs.
        region: String,
    },
    /// EventBridge Scheduler: run the monitor task every minute ([`super::monitor`]).
    CreateSchedule {
        /// APP_NAME + "Monitor".
        name: String,
        /// `rate(1 minute)`.
        schedule_expression: String,
        /// ECS_CLUSTER (the target; its ARN is looked up when sent).
        cluster: String,
        /// The monitor's task definition family (its latest revision when sent).
        task_definition: String,
        /// MONITOR_ROLE_ARN, which the schedule assumes to run the task.
        role_arn: String,
        /// The fleet file's subnets.
        subnets: Vec<String>,
        /// The fleet file's security groups.
        security_groups: Vec<String>,
        /// ASSIGN_IP.
        assign_public_ip: bool,
    },
    /// EventBridge Scheduler: delete the monitor's schedule.
    DeleteSchedule {
        /// APP_NAME + "Monitor".
        name: String,
    },
    /// CloudWatch: make the run's dashboard (CREATE_DASHBOARD).
    PutDashboard {
        /// APP_NAME.
        dashboard_name: String,
        /// The dashboard; [`super::dashboard::NEW_FLEET`] stands for the id of the Spot
        /// Fleet requested before it.
        dashboard_body: Value,
    },
    /// ECS: set the service's desired task count.
    UpdateService {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// Tasks wanted.
        desired_count: i32,
    },
    /// EC2: change a fleet's target capacity; a lower target terminates no instance (the
    /// idle alarm reaps machines that run out of work).
    ModifySpotFleetRequest {
        /// The fleet.
        spot_fleet_request_id: String,
        /// Instances wanted.
        target_capacity: i32,
        /// Always `noTermination`.
        excess_capacity_termination_policy: String,
    },
    /// EC2: cancel fleets and terminate their instances.
    CancelSpotFleetRequests {
        /// The fleets.
        spot_fleet_request_ids: Vec<String>,
        /// Always true.
        terminate_instances: bool,
    },
    /// CloudWatch: delete instance alarms (up to 100 per request).
    DeleteAlarms {
        /// The alarms.
        alarm_names: Vec<String>,
    },
    /// ECS: delete the service (its desired count is 0 by then).
    DeleteService {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// Delete even with tasks still draining.
        force: bool,
    },
    /// ECS: deregister a task definition revision.
    DeregisterTaskDefinition {
        /// `family:revision`.
        task_definition: String,
    },
    /// SQS: delete a queue.
    DeleteQueue {
        /// Its URL.
        queue_url: String,
    },
    /// ECS: delete the cluster.
    DeleteCluster {
        /// The cluster.
        cluster: String,
    },
    /// CloudWatch Logs: export a log group to S3 (and wait for the export to finish).
    CreateExportTask {
        /// The group.
        log_group_name: String,
        /// From (unix milliseconds).
        from: i64,
        /// To (unix milliseconds).
        to: i64,
        /// The bucket.
        destination: String,
        /// The key prefix.
        destination_prefix: String,
    },
    /// CloudWatch: delete the run's dashboard.
    DeleteDashboards {
        /// The dashboards.
        dashboard_names: Vec<String>,
    },
    /// CloudWatch Logs: delete a log group (only once its export has finished).
    DeleteLogGroup {
        /// The group.
        log_group_name: String,
    },
}

impl Request {
    /// The API's name of the call (`CreateLaunchTemplate`, …), as `--dry-run` prints it.
    pub fn name(&self) -> String {
        let tagged = serde_json::to_value(self).expect("a request is JSON");
        tagged["Request"].as_str().unwrap_or_default().to_owned()
    }
}
