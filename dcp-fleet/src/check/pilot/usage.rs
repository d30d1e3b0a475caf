//! The peak memory of the pilot's CellProfiler alone. The worker runs CellProfiler in a
//! process group of its own (`dcp_worker::cellprofiler::run`); a sampler reads, every
//! [`EVERY`], `/proc` for the groups led by a child of this process and adds up the peak
//! resident set (`VmHWM`, the kernel's high-water mark, proc(5)) of each group's
//! processes. The pipeline-load probe (a group of its own too) runs before the sampler
//! starts, its answer kept for the attempt; the batch-file helper runs in this process's
//! group and is not counted. A peak reached in a process that lives less than [`EVERY`]
//! may be missed.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often `/proc` is read.
pub const EVERY: Duration = Duration::from_millis(100);

/// A running sampler; [`GroupPeak::stop`] gives its peak.
pub struct GroupPeak {
    stop: oneshot::Sender<()>,
    task: JoinHandle<u64>,
}

impl GroupPeak {
    /// Starts sampling the process groups this process's children lead.
    pub fn start() -> GroupPeak {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut peaks = HashMap::new();
            loop {
                sample(&mut peaks);
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(EVERY) => {}
                }
            }
            peaks.values().sum()
        });
        GroupPeak { stop, task }
    }

    /// Stops sampling; the sum of the peak resident sets seen of the groups' processes,
    /// in KiB (0 when none ran).
    pub async fn stop(self) -> u64 {
        let _ = self.stop.send(());
        self.task.await.unwrap_or(0)
    }
}

/// Records each group process's `VmHWM` (KiB), by pid.
fn sample(peaks: &mut HashMap<i32, u64>) {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let stats: Vec<(i32, Stat)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect();
    let leaders: Vec<i32> = stats
        .iter()
        .filter(|(pid, s)| s.ppid == me && s.pgrp == *pid)
        .map(|(pid, _)| *pid)
        .collect();
    for (pid, s) in &stats {
        if leaders.contains(&s.pgrp)
            && let Some(hwm) = high_water_kib(*pid)
        {
            let peak = peaks.entry(*pid).or_default();
            *peak = (*peak).max(hwm);
        }
    }
}

/// What `/proc/PID/stat` says of a process's parent and group.
struct Stat {
    ppid: i32,
    pgrp: i32,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state, ppid, pgrp, …
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace().skip(1);
    Some(Stat {
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

fn high_water_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_child_in_its_own_group_is_measured_and_one_in_ours_is_not() {
        // python allocates ~200 MiB and holds it; the same in our group is not counted.
        let script = "b = bytearray(200 * 1024 * 1024); import time; time.sleep(0.5)";
        let peak = GroupPeak::start();
        let ours = tokio::process::Command::new("python3")
            .args(["-c", script])
            .status()
            .await
            .unwrap();
        assert!(ours.success());
        // Other tests of this process may run small children in groups of their own.
        let kib = peak.stop().await;
        assert!(kib < 100 * 1024, "{kib} KiB");

        let peak = GroupPeak::start();
        let own = tokio::process::Command::new("python3")
            .args(["-c", script])
            .process_group(0)
            .status()
            .await
            .unwrap();
        assert!(own.success());
        let kib = peak.stop().await;
        assert!((200 * 1024..400 * 1024).contains(&kib), "{kib} KiB");
    }
}
