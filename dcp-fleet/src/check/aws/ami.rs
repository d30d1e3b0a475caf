//! The fleet file's AMIs: each is in the settings' region and is a current ECS-optimized
//! AMI. AWS publishes the current IDs as the SSM parameters
//! `/aws/service/ecs/optimized-ami/…/recommended/image_id` ("Retrieving Amazon
//! ECS-optimized AMI metadata"); an instance from another AMI has no ECS agent (or an old
//! one) and never joins the cluster (DCP issues #60, #126).

use std::collections::BTreeSet;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use serde_json::Value;

use super::{Clients, said};
use crate::check::{Finding, Findings};

/// The SSM parameters of the current ECS-optimized AMIs (x86_64, arm64, GPU; Amazon
/// Linux 2 and 2023).
const CURRENT_ECS_AMIS: [&str; 6] = [
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
    "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
    "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id",
    "/aws/service/ecs/optimized-ami/amazon-linux-2/arm64/recommended/image_id",
    "/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended/image_id",
];

/// Each launch specification's `ImageId`: in the region, and the current ECS-optimized AMI.
pub async fn images(
    clients: &Clients,
    specs: &[&Value],
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let ids: BTreeSet<&str> = specs.iter().filter_map(|s| s["ImageId"].as_str()).collect();
    let current = match clients
        .ssm
        .get_parameters()
        .set_names(Some(CURRENT_ECS_AMIS.map(String::from).to_vec()))
        .send()
        .await
    {
        Ok(found) => Ok(found
            .parameters()
            .iter()
            .filter_map(|p| Some((p.value()?.to_owned(), p.name()?.to_owned())))
            .collect::<Vec<_>>()),
        Err(e) => Err(said(&e)),
    };
    for id in ids {
        let described = clients.ec2.describe_images().image_ids(id).send().await;
        let image = match described {
            Ok(found) => found.images().first().cloned(),
            Err(e)
                if e.code() == Some("InvalidAMIID.NotFound")
                    || e.code() == Some("InvalidAMIID.Malformed") =>
            {
                None
            }
            Err(e) => {
                out.add(Finding::skipped(
                    "ami",
                    id,
                    format!("DescribeImages: {}", said(&e)),
                ))?;
                continue;
            }
        };
        let recommended = match &current {
            Ok(current) => current
                .iter()
                .find(|(_, name)| {
                    name.starts_with("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended")
                })
                .or(current.first())
                .map(|(id, name)| format!("{id} ({name})")),
            Err(_) => None,
        };
        let use_current = match &recommended {
            Some(current) => format!("set ImageId to the current ECS-optimized AMI {current}"),
            None => "set ImageId to the current ECS-optimized AMI (SSM parameter /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id)".to_owned(),
        };
        let Some(image) = image else {
            out.add(Finding::problem(
                "ami",
                id,
                "no such AMI in this region (AWS_REGION)",
                use_current,
            ))?;
            continue;
        };
        let name = image.name().unwrap_or_default();
        let finding = match &current {
            Ok(current) => match current.iter().find(|(current, _)| current == id) {
                Some((_, parameter)) => Finding::ok(
                    "ami",
                    id,
                    format!("the current ECS-optimized AMI ({parameter}): {name}"),
                ),
                None if looks_ecs_optimized(name) => Finding::problem(
                    "ami",
                    id,
                    format!(
                        "an ECS-optimized AMI ({name}), but not a current one: an old ECS agent may not join the cluster"
                    ),
                    use_current,
                ),
                None => Finding::problem(
                    "ami",
                    id,
                    format!(
                        "`{name}` is not an ECS-optimized AMI: its instances would not join the ECS cluster"
                    ),
                    use_current,
                ),
            },
            Err(e) if looks_ecs_optimized(name) => Finding::skipped(
                "ami",
                id,
                format!(
                    "an ECS-optimized AMI by its name ({name}); whether it is current was not checked: GetParameters: {e}"
                ),
            ),
            Err(_) => Finding::problem(
                "ami",
                id,
                format!("`{name}` is not an ECS-optimized AMI by its name"),
                use_current,
            ),
        };
        out.add(finding)?;
    }
    Ok(())
}

/// Whether an AMI's name is one of Amazon's ECS-optimized ones (`al2023-ami-ecs-hvm-…`,
/// `amzn2-ami-ecs-hvm-…`, `amzn-ami-…-amazon-ecs-optimized`).
fn looks_ecs_optimized(name: &str) -> bool {
    name.contains("-ami-ecs-") || name.contains("amazon-ecs-optimized")
}
