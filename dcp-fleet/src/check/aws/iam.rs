//! The fleet file's IAM fleet role and instance profile, and TASK_ROLE_ARN: each exists,
//! trusts the service that assumes it, and carries the managed policy that service needs
//! (AWS's "Amazon ECS container instance IAM role" and "Spot Fleet permissions" pages).

use serde_json::Value;

use super::{Clients, arn_name, said, unserved};
use crate::check::{Finding, Findings};

/// The policy ECS container instances need to join their cluster.
const CONTAINER_INSTANCE_POLICY: &str = "AmazonEC2ContainerServiceforEC2Role";

/// The policy a Spot Fleet role needs to launch, tag and terminate instances.
const SPOT_FLEET_POLICY: &str = "AmazonEC2SpotFleetTaggingRole";

/// The fleet file's `IamFleetRole`: trusts spotfleet.amazonaws.com and carries
/// AmazonEC2SpotFleetTaggingRole.
pub async fn fleet_role(
    clients: &Clients,
    request: &Value,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let Some(arn) = request["IamFleetRole"].as_str() else {
        return out.add(Finding::problem(
            "iam-fleet-role",
            "IamFleetRole",
            "the fleet file names no IamFleetRole",
            "set IamFleetRole to the ARN of a role that trusts spotfleet.amazonaws.com \
             (AWS's aws-ec2-spot-fleet-tagging-role)",
        ));
    };
    let finding = role(
        clients,
        "iam-fleet-role",
        arn,
        "spotfleet.amazonaws.com",
        Some(SPOT_FLEET_POLICY),
    )
    .await;
    out.add(finding)
}

/// Each launch specification's `IamInstanceProfile.Arn`: exists, and its role trusts
/// ec2.amazonaws.com and carries AmazonEC2ContainerServiceforEC2Role.
pub async fn instance_profiles(
    clients: &Clients,
    request: &Value,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let mut arns: Vec<&str> = super::launch_specifications(request)
        .iter()
        .filter_map(|spec| spec["IamInstanceProfile"]["Arn"].as_str())
        .collect();
    arns.sort_unstable();
    arns.dedup();
    if arns.is_empty() {
        return out.add(Finding::problem(
            "instance-profile",
            "LaunchSpecifications[].IamInstanceProfile",
            "no launch specification names an instance profile: instances get no role and \
             never join the ECS cluster",
            "set IamInstanceProfile.Arn to the ARN of ecsInstanceRole's instance profile",
        ));
    }
    for arn in arns {
        let name = arn_name(arn);
        let found = clients
            .iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await;
        let finding = match found {
            Err(e) if unserved(&e) => Finding::skipped(
                "instance-profile",
                arn,
                format!("GetInstanceProfile: {}", said(&e)),
            ),
            Err(e) => Finding::problem(
                "instance-profile",
                arn,
                format!("GetInstanceProfile: {}", said(&e)),
                "create the instance profile (ecsInstanceRole) or correct IamInstanceProfile.Arn in the fleet file",
            ),
            Ok(found) => {
                let roles = found
                    .instance_profile()
                    .map(|p| p.roles())
                    .unwrap_or_default();
                match roles.first() {
                    None => Finding::problem(
                        "instance-profile",
                        arn,
                        "the instance profile holds no role",
                        "add ecsInstanceRole to the instance profile (aws iam add-role-to-instance-profile)",
                    ),
                    Some(held) => {
                        let checked = role(
                            clients,
                            "instance-profile",
                            held.arn(),
                            "ec2.amazonaws.com",
                            Some(CONTAINER_INSTANCE_POLICY),
                        )
                        .await;
                        Finding {
                            subject: arn.to_owned(),
                            ..checked
                        }
                    }
                }
            }
        };
        out.add(finding)?;
    }
    Ok(())
}

/// TASK_ROLE_ARN, when set: trusts ecs-tasks.amazonaws.com.
pub async fn task_role(
    clients: &Clients,
    config: &dcp_common::Config,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    if config.task_role_arn.is_empty() {
        return out.add(Finding::skipped(
            "iam-task-role",
            "TASK_ROLE_ARN",
            "not set: the containers use the instance profile's role for SQS, S3 and logs",
        ));
    }
    let finding = role(
        clients,
        "iam-task-role",
        &config.task_role_arn,
        "ecs-tasks.amazonaws.com",
        None,
    )
    .await;
    out.add(finding)
}

/// Checks the role `arn`: it exists, its trust policy lets `service` assume it, and it
/// carries the managed policy `policy`.
async fn role(
    clients: &Clients,
    check: &'static str,
    arn: &str,
    service: &str,
    policy: Option<&str>,
) -> Finding {
    let name = arn_name(arn);
    let found = match clients.iam.get_role().role_name(name).send().await {
        Ok(found) => found,
        Err(e) if unserved(&e) => {
            return Finding::skipped(check, arn, format!("GetRole: {}", said(&e)));
        }
        Err(e) => {
            return Finding::problem(
                check,
                arn,
                format!("GetRole: {}", said(&e)),
                format!("create the role `{name}` trusting {service}, or correct its ARN"),
            );
        }
    };
    let document = found
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .unwrap_or_default();
    if !trusts(document, service) {
        return Finding::problem(
            check,
            arn,
            format!("the role's trust policy does not let {service} assume it"),
            format!(
                "add {service} as a trusted service to the role `{name}` (its Trust relationships)"
            ),
        );
    }
    let Some(policy) = policy else {
        return Finding::ok(check, arn, format!("exists and trusts {service}"));
    };
    match clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Err(e) if unserved(&e) => Finding::skipped(
            check,
            arn,
            format!("ListAttachedRolePolicies: {}", said(&e)),
        ),
        Err(e) => Finding::problem(
            check,
            arn,
            format!("ListAttachedRolePolicies: {}", said(&e)),
            "let the caller read the role's policies (iam:ListAttachedRolePolicies)",
        ),
        Ok(listed)
            if listed
                .attached_policies()
                .iter()
                .any(|p| p.policy_name() == Some(policy)) =>
        {
            Finding::ok(
                check,
                arn,
                format!("exists, trusts {service} and carries {policy}"),
            )
        }
        Ok(_) => Finding::problem(
            check,
            arn,
            format!("trusts {service} but does not carry the managed policy {policy}"),
            format!("attach {policy} to the role `{name}`"),
        ),
    }
}

/// Whether a trust policy (JSON, URL-encoded as IAM returns it, or plain) allows `service`
/// to assume the role.
fn trusts(document: &str, service: &str) -> bool {
    let text = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        dcp_common::loaddata::percent_decode(document)
    };
    let Ok(policy) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let statements = match &policy["Statement"] {
        Value::Array(all) => all.iter().collect(),
        one => vec![one],
    };
    statements.iter().any(|statement| {
        statement["Effect"] == "Allow"
            && match &statement["Principal"]["Service"] {
                Value::String(one) => one == service,
                Value::Array(many) => many.iter().any(|s| s == service),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::trusts;

    #[test]
    fn a_trust_policy_names_its_services() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        assert!(trusts(policy, "ec2.amazonaws.com"));
        assert!(!trusts(policy, "ecs-tasks.amazonaws.com"));
        let encoded = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22spotfleet.amazonaws.com%22%7D%7D%7D";
        assert!(trusts(encoded, "spotfleet.amazonaws.com"));
    }
}
