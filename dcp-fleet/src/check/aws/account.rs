//! The caller, the buckets, the worker image in ECR and the Spot vCPU quota.

use std::collections::BTreeMap;

use dcp_common::Config;

use super::{Clients, said, unserved};
use crate::check::{Finding, Findings};

/// The Service Quotas code of "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance
/// Requests", in vCPUs (EC2 On-Demand and Spot quotas, AWS documentation).
const SPOT_VCPU_QUOTA: &str = "L-34B43A08";

/// Who the caller is, in which region.
pub async fn identity(
    clients: &Clients,
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let finding = match clients.sts.get_caller_identity().send().await {
        Ok(me) => Finding::ok(
            "identity",
            me.arn().unwrap_or_default(),
            format!(
                "account {} in AWS_REGION {}",
                me.account().unwrap_or_default(),
                config.aws_region
            ),
        ),
        Err(e) => Finding::problem(
            "identity",
            "",
            format!("GetCallerIdentity: {}", said(&e)),
            "give this shell credentials (AWS_PROFILE, or aws sso login) for the run's account",
        ),
    };
    out.add(finding)
}

/// Each bucket exists and the caller can list it; where the run writes (AWS_BUCKET,
/// DESTINATION_BUCKET) a probe object is written and removed.
pub async fn buckets(
    clients: &Clients,
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let mut settings: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, bucket) in [
        ("AWS_BUCKET", &config.aws_bucket),
        ("SOURCE_BUCKET", &config.source_bucket),
        ("WORKSPACE_BUCKET", &config.workspace_bucket),
        ("DESTINATION_BUCKET", &config.destination_bucket),
    ] {
        settings.entry(bucket.as_str()).or_default().push(name);
    }
    for (bucket, names) in settings {
        let subject = format!("{bucket} ({})", names.join(", "));
        let listed = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .max_keys(1)
            .send()
            .await;
        if let Err(e) = listed {
            out.add(Finding::problem(
                "bucket",
                subject,
                format!("ListObjectsV2: {}", said(&e)),
                format!("create the bucket `{bucket}` in AWS_REGION, or let the caller list it (s3:ListBucket)"),
            ))?;
            continue;
        }
        let writes = names
            .iter()
            .any(|n| ["AWS_BUCKET", "DESTINATION_BUCKET"].contains(n));
        if !writes {
            out.add(Finding::ok("bucket", subject, "exists and can be listed"))?;
            continue;
        }
        let finding = match write_probe(clients, config, bucket).await {
            Ok(key) => Finding::ok(
                "bucket",
                subject,
                format!(
                    "exists, can be listed and written (probe object {key} written and removed)"
                ),
            ),
            Err(e) => Finding::problem(
                "bucket",
                subject,
                e,
                format!(
                    "let the caller (and the workers' role) write to `{bucket}` (s3:PutObject, s3:DeleteObject)"
                ),
            ),
        };
        out.add(finding)?;
    }
    Ok(())
}

/// Writes an empty object under `.dcp-check/` as the workers write (with UPLOAD_FLAGS, which
/// a bucket's policy may require) and removes it; returns its key.
async fn write_probe(clients: &Clients, config: &Config, bucket: &str) -> Result<String, String> {
    use dcp_common::Store;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let key = format!(".dcp-check/{}-{stamp}", std::process::id());
    let store = dcp_common::store::S3Store::new(clients.s3.clone(), config.upload_flags.clone());
    store
        .write(bucket, &key, Vec::new())
        .await
        .map_err(|e| e.to_string())?;
    clients
        .s3
        .delete_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DeleteObject {key} (the probe object is left): {}",
                said(&e)
            )
        })?;
    Ok(key)
}

/// The worker image DOCKERHUB_TAG names, when it is in ECR (`ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG`).
pub async fn worker_image(
    clients: &Clients,
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    let image = &config.dockerhub_tag;
    let Some((registry, rest)) = image.split_once('/') else {
        return out.add(Finding::skipped(
            "worker-image",
            image,
            "not in ECR: only ECR images are checked",
        ));
    };
    if !registry.contains(".dkr.ecr.") {
        return out.add(Finding::skipped(
            "worker-image",
            image,
            "not in ECR: only ECR images are checked",
        ));
    }
    let (repository, id) = match rest.split_once('@') {
        Some((repository, digest)) => (
            repository,
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build(),
        ),
        None => {
            let (repository, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
            (
                repository,
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
        }
    };
    let account = registry.split('.').next().unwrap_or_default();
    let found = clients
        .ecr
        .describe_images()
        .registry_id(account)
        .repository_name(repository)
        .image_ids(id)
        .send()
        .await;
    let finding = match found {
        Ok(found) if !found.image_details().is_empty() => {
            Finding::ok("worker-image", image, "in ECR")
        }
        Ok(_) => missing_image(image, "not in the repository"),
        Err(e) if unserved(&e) => Finding::skipped(
            "worker-image",
            image,
            format!("DescribeImages: {}", said(&e)),
        ),
        Err(e) => missing_image(image, &format!("DescribeImages: {}", said(&e))),
    };
    out.add(finding)
}

fn missing_image(image: &str, detail: &str) -> Finding {
    Finding::problem(
        "worker-image",
        image,
        detail,
        "build and push the worker image (README, The worker image), or correct DOCKERHUB_TAG",
    )
}

/// The Spot vCPU quota covers CLUSTER_MACHINES × the largest MACHINE_TYPE's vCPUs.
pub async fn spot_quota(
    clients: &Clients,
    config: &Config,
    out: &mut Findings<'_>,
) -> std::io::Result<()> {
    const CHECK: &str = "spot-vcpu-quota";
    let types: Vec<aws_sdk_ec2::types::InstanceType> = config
        .machine_type
        .iter()
        .map(|t| t.as_str().into())
        .collect();
    let vcpus = match clients
        .ec2
        .describe_instance_types()
        .set_instance_types(Some(types))
        .send()
        .await
    {
        Ok(found) => found
            .instance_types()
            .iter()
            .filter_map(|t| t.v_cpu_info()?.default_v_cpus())
            .max(),
        Err(e) => {
            return out.add(Finding::problem(
                CHECK,
                "MACHINE_TYPE",
                format!("DescribeInstanceTypes: {}", said(&e)),
                "set MACHINE_TYPE to instance types EC2 offers in AWS_REGION",
            ));
        }
    };
    let Some(vcpus) = vcpus else {
        return out.add(Finding::skipped(
            CHECK,
            "MACHINE_TYPE",
            "EC2 gave no vCPU count for MACHINE_TYPE",
        ));
    };
    let needed = f64::from(config.cluster_machines) * f64::from(vcpus);
    let quota = clients
        .quotas
        .get_service_quota()
        .service_code("ec2")
        .quota_code(SPOT_VCPU_QUOTA)
        .send()
        .await;
    let finding = match quota {
        Ok(found) => match found.quota().and_then(|q| q.value()) {
            Some(value) if value >= needed => Finding::ok(
                CHECK,
                SPOT_VCPU_QUOTA,
                format!(
                    "{value} vCPUs cover CLUSTER_MACHINES {} × {vcpus} vCPUs",
                    config.cluster_machines
                ),
            ),
            Some(value) => Finding::problem(
                CHECK,
                SPOT_VCPU_QUOTA,
                format!(
                    "the account may run {value} Spot vCPUs; CLUSTER_MACHINES {} × {vcpus} vCPUs need {needed}",
                    config.cluster_machines
                ),
                "lower CLUSTER_MACHINES or MACHINE_TYPE, or ask for a higher Spot quota in Service Quotas (L-34B43A08)",
            ),
            None => Finding::skipped(CHECK, SPOT_VCPU_QUOTA, "Service Quotas gave no value"),
        },
        Err(e) => Finding::skipped(
            CHECK,
            SPOT_VCPU_QUOTA,
            format!(
                "the quota could not be read (GetServiceQuota: {}); CLUSTER_MACHINES {} × \
                 {vcpus} vCPUs need {needed}",
                said(&e),
                config.cluster_machines
            ),
        ),
    };
    out.add(finding)
}
