//! The fleet file's key pair, subnets and security groups, in the settings' region. With
//! ASSIGN_IP false an instance reaches ECS, ECR, CloudWatch Logs, S3 and SQS only through
//! a NAT gateway (a default route `nat-…`) or VPC endpoints for each ("Amazon ECS
//! interface VPC endpoints"; DCP issue #184).

use std::collections::BTreeSet;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use serde_json::Value;

use super::{Clients, said, unserved};
use crate::check::{Finding, Findings};

/// The services a private subnet needs VPC endpoints for, by their endpoint names.
const ENDPOINT_SERVICES: [&str; 8] = [
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "ecr.api",
    "ecr.dkr",
    "logs",
    "s3",
    "sqs",
];

/// The key pair: the fleet file's `KeyName`, else SSH_KEY_NAME without `.pem`.
pub async fn key_pairs(
    clients: &Clients,
    config: &dcp_common::Config,
    specs: &[&Value],
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let mut names: BTreeSet<String> = specs
        .iter()
        .filter_map(|s| s["KeyName"].as_str().map(String::from))
        .collect();
    if names.is_empty() && !config.ssh_key_name.is_empty() {
        names.insert(config.ssh_key_name.trim_end_matches(".pem").to_owned());
    }
    for name in names {
        let finding = match clients
            .ec2
            .describe_key_pairs()
            .key_names(&name)
            .send()
            .await
        {
            Ok(found) if !found.key_pairs().is_empty() => {
                Finding::ok("key-pair", &name, "exists in this region")
            }
            Ok(_) => missing_key(&name, "not found"),
            Err(e) if e.code() == Some("InvalidKeyPair.NotFound") => missing_key(&name, &said(&e)),
            Err(e) => {
                Finding::skipped("key-pair", &name, format!("DescribeKeyPairs: {}", said(&e)))
            }
        };
        out.add(finding)?;
    }
    Ok(())
}

fn missing_key(name: &str, detail: &str) -> Finding {
    Finding::problem(
        "key-pair",
        name,
        format!("no key pair of this name in this region: {detail}"),
        "create or import the key pair in AWS_REGION, or correct KeyName (SSH_KEY_NAME)",
    )
}

/// The subnets and security groups of every launch specification: they exist, each
/// specification's groups are in its subnet's VPC, and with ASSIGN_IP false each subnet
/// has a way out.
pub async fn subnets(
    clients: &Clients,
    config: &dcp_common::Config,
    specs: &[&Value],
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    for spec in specs {
        let interface = &spec["NetworkInterfaces"][0];
        let subnet_ids: Vec<&str> = [interface["SubnetId"].as_str(), spec["SubnetId"].as_str()]
            .into_iter()
            .flatten()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .collect();
        let mut groups: Vec<&str> = interface["Groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        groups.extend(
            spec["SecurityGroups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g["GroupId"].as_str()),
        );
        for subnet_id in subnet_ids {
            let vpc = match clients
                .ec2
                .describe_subnets()
                .subnet_ids(subnet_id)
                .send()
                .await
            {
                Ok(found) => found
                    .subnets()
                    .first()
                    .and_then(|s| s.vpc_id().map(String::from)),
                Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => None,
                Err(e) => {
                    out.add(Finding::skipped(
                        "subnet",
                        subnet_id,
                        format!("DescribeSubnets: {}", said(&e)),
                    ))?;
                    continue;
                }
            };
            let Some(vpc) = vpc else {
                out.add(Finding::problem(
                    "subnet",
                    subnet_id,
                    "no such subnet in this region",
                    "correct SubnetId in the fleet file to a subnet of AWS_REGION",
                ))?;
                continue;
            };
            out.add(Finding::ok(
                "subnet",
                subnet_id,
                format!("exists, in {vpc}"),
            ))?;
            for group in &groups {
                out.add(security_group(clients, group, subnet_id, &vpc).await)?;
            }
            if !config.assign_ip {
                out.add(way_out(clients, config, subnet_id, &vpc).await)?;
            }
        }
    }
    Ok(())
}

async fn security_group(clients: &Clients, group: &str, subnet: &str, vpc: &str) -> Finding {
    match clients
        .ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
    {
        Ok(found) => match found.security_groups().first().and_then(|g| g.vpc_id()) {
            Some(own) if own == vpc => Finding::ok(
                "security-group",
                group,
                format!("exists, in {vpc} with subnet {subnet}"),
            ),
            Some(own) => Finding::problem(
                "security-group",
                group,
                format!("is in {own}, but subnet {subnet} is in {vpc}"),
                format!("use a security group of {vpc} with subnet {subnet}"),
            ),
            None => Finding::problem(
                "security-group",
                group,
                "no such security group",
                "correct the security group IDs in the fleet file",
            ),
        },
        Err(e) if e.code() == Some("InvalidGroup.NotFound") => Finding::problem(
            "security-group",
            group,
            "no such security group in this region",
            "correct the security group IDs in the fleet file",
        ),
        Err(e) => Finding::skipped(
            "security-group",
            group,
            format!("DescribeSecurityGroups: {}", said(&e)),
        ),
    }
}

/// With no public address, a subnet needs a default route through a NAT gateway, or VPC
/// endpoints for ECS, ECR, Logs and S3.
async fn way_out(
    clients: &Clients,
    config: &dcp_common::Config,
    subnet: &str,
    vpc: &str,
) -> Finding {
    const CHECK: &str = "private-subnet-route";
    let by = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let explicit = clients
        .ec2
        .describe_route_tables()
        .filters(by("association.subnet-id", subnet))
        .send()
        .await;
    let tables = match explicit {
        Ok(found) if !found.route_tables().is_empty() => found.route_tables().to_vec(),
        Ok(_) => match clients
            .ec2
            .describe_route_tables()
            .filters(by("vpc-id", vpc))
            .filters(by("association.main", "true"))
            .send()
            .await
        {
            Ok(found) => found.route_tables().to_vec(),
            Err(e) => {
                return Finding::skipped(
                    CHECK,
                    subnet,
                    format!("DescribeRouteTables: {}", said(&e)),
                );
            }
        },
        Err(e) => {
            return Finding::skipped(CHECK, subnet, format!("DescribeRouteTables: {}", said(&e)));
        }
    };
    let nat = tables
        .iter()
        .flat_map(|t| t.routes())
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.nat_gateway_id().is_some());
    if let Some(route) = nat {
        return Finding::ok(
            CHECK,
            subnet,
            format!(
                "ASSIGN_IP false; default route through {}",
                route.nat_gateway_id().unwrap_or_default()
            ),
        );
    }
    let endpoints = match clients
        .ec2
        .describe_vpc_endpoints()
        .filters(by("vpc-id", vpc))
        .send()
        .await
    {
        Ok(found) => found
            .vpc_endpoints()
            .iter()
            .filter_map(|e| e.service_name().map(String::from))
            .collect::<BTreeSet<_>>(),
        Err(e) if unserved(&e) => {
            return Finding::skipped(CHECK, subnet, format!("DescribeVpcEndpoints: {}", said(&e)));
        }
        Err(e) => {
            return Finding::skipped(CHECK, subnet, format!("DescribeVpcEndpoints: {}", said(&e)));
        }
    };
    let region = &config.aws_region;
    let missing: Vec<String> = ENDPOINT_SERVICES
        .iter()
        .map(|s| format!("com.amazonaws.{region}.{s}"))
        .filter(|s| !endpoints.contains(s))
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            CHECK,
            subnet,
            "ASSIGN_IP false; VPC endpoints for ECS, ECR, Logs, S3 and SQS",
        );
    }
    Finding::problem(
        CHECK,
        subnet,
        format!(
            "ASSIGN_IP is false, and the subnet has no default route through a NAT gateway nor VPC endpoints for {}: instances cannot reach ECS, pull the image or read the queue",
            missing.join(", ")
        ),
        "add a NAT gateway route (0.0.0.0/0) to the subnet's route table, or set ASSIGN_IP = true in a public subnet",
    )
}
