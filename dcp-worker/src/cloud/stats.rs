//! The machine's disk, memory and CPU, logged every 30 s on EC2 as DCP's workers do, for
//! reading alongside a task that ran out of space or memory.

use std::path::Path;
use std::time::Duration;

/// How often the figures are logged.
pub const PERIOD: Duration = Duration::from_secs(30);

const GIB: f64 = (1u64 << 30) as f64;

/// CPU time counters of `/proc/stat`'s first line: (busy, total) jiffies.
fn cpu_times(stat: &str) -> Option<(u64, u64)> {
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// A `/proc/meminfo` field in bytes.
fn meminfo(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Free and total bytes of the file system holding `path` (or its nearest existing parent).
fn disk(path: &Path) -> Option<(u64, u64)> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let fs = nix::sys::statvfs::statvfs(existing).ok()?;
    let block = fs.fragment_size();
    Some((fs.blocks_available() * block, fs.blocks() * block))
}

/// Reads the figures as one line, keeping the CPU counters of the previous reading for
/// the CPU use since then.
#[derive(Debug, Default)]
pub struct Sampler {
    cpu: Option<(u64, u64)>,
}

impl Sampler {
    /// One line of figures: disk of `scratch`, memory, CPU use since the last line and
    /// the load averages.
    pub fn line(&mut self, scratch: &Path) -> String {
        let mut parts = vec![];
        if let Some((free, total)) = disk(scratch) {
            parts.push(format!(
                "disk {} {:.1} of {:.1} GiB free",
                scratch.display(),
                free as f64 / GIB,
                total as f64 / GIB
            ));
        }
        if let Ok(text) = std::fs::read_to_string("/proc/meminfo")
            && let (Some(available), Some(total)) =
                (meminfo(&text, "MemAvailable"), meminfo(&text, "MemTotal"))
        {
            parts.push(format!(
                "memory {:.1} of {:.1} GiB available",
                available as f64 / GIB,
                total as f64 / GIB
            ));
        }
        let now = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| cpu_times(&s));
        if let (Some((busy0, total0)), Some((busy1, total1))) = (self.cpu, now)
            && total1 > total0
        {
            let percent = 100.0 * (busy1.saturating_sub(busy0)) as f64 / (total1 - total0) as f64;
            parts.push(format!("cpu {percent:.0}%"));
        }
        self.cpu = now;
        if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
            let averages: Vec<&str> = load.split_whitespace().take(3).collect();
            parts.push(format!("load {}", averages.join(" ")));
        }
        format!("dcp-worker: machine: {}", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_figures_are_read() {
        let meminfo_text = "MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:   8000 kB\n";
        assert_eq!(meminfo(meminfo_text, "MemTotal"), Some(16_000 * 1024));
        assert_eq!(meminfo(meminfo_text, "MemAvailable"), Some(8_000 * 1024));
        let stat = "cpu  10 0 10 70 10 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(cpu_times(stat), Some((20, 100)));
    }

    #[test]
    fn a_line_names_disk_memory_and_load() {
        let mut sampler = Sampler::default();
        let scratch = std::env::temp_dir().join("dcp-no-such-folder/scratch");
        let first = sampler.line(&scratch);
        assert!(
            first.contains("disk ") && first.contains("GiB free"),
            "{first}"
        );
        assert!(
            first.contains("memory ") && first.contains("load "),
            "{first}"
        );
        std::thread::sleep(Duration::from_millis(20));
        let _ = sampler.line(&scratch);
    }
}
