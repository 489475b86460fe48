//! Facts about the machine a figure came from: kernel, CPU, load, our own CPU time and memory. A figure
//! without these is not reported (DESIGN.md rule 11), and every latency figure carries the CPU load it was
//! measured under, because on 2 cores a busy neighbour changes fdatasync latency several-fold.

use serde::Serialize;

/// User and system CPU seconds of this process plus its reaped children (a check's fio, a measured
/// child): what the measurement itself spent, so that only other processes count as competition.
fn own_cpu_seconds() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let mut total = (0.0, 0.0);
    for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
        if let Ok(u) = getrusage(who) {
            total.0 += tv(u.user_time());
            total.1 += tv(u.system_time());
        }
    }
    total
}

/// High-water mark of this process image's resident set, bytes (`VmHWM` in `/proc/self/status`).
///
/// Unlike `ru_maxrss`, it starts afresh at `exec`: Linux carries `ru_maxrss` across `fork` + `exec`, so a
/// child spawned by a large parent would report the parent's RSS, not its own.
pub fn peak_rss_of_image() -> u64 {
    proc_kib_field("/proc/self/status", "VmHWM:").unwrap_or(0)
}

/// A `Key:   N kB` field of a /proc file, in bytes.
fn proc_kib_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Peak resident set size of this process, bytes (`ru_maxrss`; includes a parent's, across exec).
pub fn peak_rss_bytes() -> u64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss() as u64 * 1024)
        .unwrap_or(0)
}

/// Resident set size of this process now, bytes (from `/proc/self/statm`).
pub fn current_rss_bytes() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

/// The 1-minute load average.
pub fn loadavg_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Total and idle jiffies of all CPUs (from `/proc/stat`), to measure machine-wide busy time.
pub fn cpu_jiffies() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = s.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total, idle)
}

/// CPU use over one measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuUse {
    /// This process's user CPU seconds (with its reaped children's).
    pub user_s: f64,
    /// This process's system CPU seconds (with its reaped children's).
    pub sys_s: f64,
    /// This process's CPU seconds (with its reaped children's) / wall seconds (2.0 = both cores of a
    /// 2-core machine).
    pub process_cores: f64,
    /// Whole machine busy fraction (all processes), 0..1.
    pub machine_busy: f64,
    /// Machine busy cores not explained by this process (another process competing).
    pub other_cores: f64,
    /// 1-minute load average at the end.
    pub loadavg_1m: f64,
    /// Online CPUs.
    pub cpus: usize,
    /// Share of the run's wall time in which some task waited for a CPU (`/proc/pressure/cpu`,
    /// "some"), 0..1; NaN where the kernel has no pressure stall information.
    pub cpu_pressure: f64,
    /// Share of the run's wall time in which some task waited for I/O (`/proc/pressure/io`, "some").
    pub io_pressure: f64,
    /// Share in which all non-idle tasks waited for I/O at once (`/proc/pressure/io`, "full").
    pub io_pressure_full: f64,
    /// Bytes per second that other processes (not this one or its children) caused to be written to
    /// storage during the run (`/proc/PID/io`): a competing writer on the disk. NaN when unreadable.
    pub others_write_bytes_per_s: f64,
}

/// The `total=` stall microseconds of one line ("some" or "full") of a `/proc/pressure/*` file.
fn pressure_total_us(resource: &str, line: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/pressure/{resource}")).ok()?;
    parse_pressure_total(&text, line)
}

fn parse_pressure_total(text: &str, line: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(line))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The three stall counters a run's pressure is measured from.
fn pressure_now() -> [Option<u64>; 3] {
    [
        pressure_total_us("cpu", "some"),
        pressure_total_us("io", "some"),
        pressure_total_us("io", "full"),
    ]
}

/// Bytes each other process has caused to be written to storage so far (`write_bytes` of
/// `/proc/PID/io`), by pid: every process but this one and its descendants (a check's own children —
/// fio, a measured child, and what they fork — are part of the measurement). A process whose counters
/// cannot be read (not permitted: in a sandbox, its init) is left out: a writer among those would be
/// invisible, but giving up on all of them made every competing writer invisible. `None` only when
/// `/proc` cannot be listed.
fn others_write_bytes() -> Option<std::collections::HashMap<u32, u64>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    let mut procs = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(ppid) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            })
        else {
            continue; // exited meanwhile
        };
        // Unreadable (not permitted) or exited meanwhile: no figure.
        let bytes = std::fs::read_to_string(format!("/proc/{pid}/io"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("write_bytes:"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            });
        procs.push((pid, ppid, bytes));
    }
    Some(others_of(&procs, std::process::id()))
}

/// Of `(pid, ppid, write_bytes)`, the readable processes that are neither `me` nor descended from it.
fn others_of(procs: &[(u32, u32, Option<u64>)], me: u32) -> std::collections::HashMap<u32, u64> {
    let mut ours = std::collections::HashSet::from([me]);
    loop {
        let before = ours.len();
        for &(pid, ppid, _) in procs {
            if ours.contains(&ppid) {
                ours.insert(pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    procs
        .iter()
        .filter(|(pid, _, _)| !ours.contains(pid))
        .filter_map(|&(pid, _, b)| Some((pid, b?)))
        .collect()
}

/// Start of a CPU measurement.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    user: f64,
    sys: f64,
    jiffies: (u64, u64),
    pressure: [Option<u64>; 3],
    others_written: Option<std::collections::HashMap<u32, u64>>,
    wall: std::time::Instant,
}

impl CpuMeter {
    /// Start measuring.
    pub fn start() -> Self {
        let (user, sys) = own_cpu_seconds();
        CpuMeter {
            user,
            sys,
            jiffies: cpu_jiffies(),
            pressure: pressure_now(),
            others_written: others_write_bytes(),
            wall: std::time::Instant::now(),
        }
    }

    /// CPU use since `start`.
    pub fn stop(&self) -> CpuUse {
        let (u, s) = own_cpu_seconds();
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let (t1, i1) = cpu_jiffies();
        let (dt, di) = (
            t1.saturating_sub(self.jiffies.0),
            i1.saturating_sub(self.jiffies.1),
        );
        let machine_busy = if dt > 0 {
            1.0 - di as f64 / dt as f64
        } else {
            f64::NAN
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let process_cores = (u - self.user + s - self.sys) / wall;
        let now = pressure_now();
        let share = |i: usize| match (self.pressure[i], now[i]) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e6 / wall,
            _ => f64::NAN,
        };
        let others_bytes = match (&self.others_written, others_write_bytes()) {
            (Some(before), Some(now)) => Some(
                now.iter()
                    .map(|(pid, b)| b.saturating_sub(before.get(pid).copied().unwrap_or(0)))
                    .sum::<u64>(),
            ),
            _ => None,
        };
        CpuUse {
            others_write_bytes_per_s: others_bytes.map_or(f64::NAN, |b| b as f64 / wall),
            cpu_pressure: share(0),
            io_pressure: share(1),
            io_pressure_full: share(2),
            user_s: u - self.user,
            sys_s: s - self.sys,
            process_cores,
            machine_busy,
            other_cores: (machine_busy * cpus as f64 - process_cores).max(0.0),
            loadavg_1m: loadavg_1m(),
            cpus,
        }
    }
}

/// Where a run happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostInfo {
    /// Hostname.
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// CPU model name.
    pub cpu: String,
    /// Online CPUs.
    pub cpus: usize,
    /// Total memory, bytes.
    pub mem_bytes: u64,
}

impl HostInfo {
    /// Read this machine's facts.
    pub fn current() -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        let mem_bytes = proc_kib_field("/proc/meminfo", "MemTotal:").unwrap_or(0);
        HostInfo {
            hostname: uts
                .as_ref()
                .map(|u| u.nodename().to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel: uts
                .as_ref()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_competing_writer_is_seen_though_another_process_cannot_be_read() {
        // Before, one unreadable /proc/PID/io (here: the sandbox's init, pid 1) made the whole
        // figure unknown, so fio writing beside a check was never flagged.
        let procs = [
            (1, 0, None),             // init: not permitted
            (50, 1, Some(4_096_000)), // a competing writer
            (70, 1, Some(10)),        // this process
            (71, 70, Some(999_999)),  // its child (fio run by the check): part of the measurement
        ];
        let others = others_of(&procs, 70);
        assert_eq!(others.get(&50), Some(&4_096_000));
        assert!(!others.contains_key(&1) && !others.contains_key(&70) && !others.contains_key(&71));
    }

    #[test]
    fn pressure_totals_are_read_from_the_some_and_full_lines() {
        let text = "some avg10=9.43 avg60=6.21 avg300=3.67 total=447635381\nfull avg10=5.02 avg60=3.07 avg300=1.84 total=332350752\n";
        assert_eq!(parse_pressure_total(text, "some"), Some(447_635_381));
        assert_eq!(parse_pressure_total(text, "full"), Some(332_350_752));
        assert_eq!(parse_pressure_total("", "some"), None);
    }

    #[test]
    fn a_measured_stretch_has_its_pressure_as_a_share_of_wall_time() {
        let m = CpuMeter::start();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let u = m.stop();
        for p in [u.cpu_pressure, u.io_pressure, u.io_pressure_full] {
            // NaN only where the kernel has no /proc/pressure.
            assert!(p.is_nan() || (0.0..=2.0).contains(&p), "{u:?}");
        }
    }
}
