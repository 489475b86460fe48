//! Facts about the machine a figure came from: kernel, CPU, load, our own CPU time and memory. A figure
//! without these is not reported (DESIGN.md rule 11), and every latency figure carries the CPU load it was
//! measured under, because on 2 cores a busy neighbour changes fdatasync latency several-fold.

use serde::Serialize;

/// CPU time used by this process so far (user, system), seconds.
pub fn process_cpu_seconds() -> (f64, f64) {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF);
    match u {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            (tv(u.user_time()), tv(u.system_time()))
        }
        Err(_) => (0.0, 0.0),
    }
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
    /// This process's user CPU seconds.
    pub user_s: f64,
    /// This process's system CPU seconds.
    pub sys_s: f64,
    /// This process's CPU seconds / wall seconds (2.0 = both cores of a 2-core machine).
    pub process_cores: f64,
    /// Whole machine busy fraction (all processes), 0..1.
    pub machine_busy: f64,
    /// Machine busy cores not explained by this process (another process competing).
    pub other_cores: f64,
    /// 1-minute load average at the end.
    pub loadavg_1m: f64,
    /// Online CPUs.
    pub cpus: usize,
}

/// Start of a CPU measurement.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    user: f64,
    sys: f64,
    jiffies: (u64, u64),
    wall: std::time::Instant,
}

impl CpuMeter {
    /// Start measuring.
    pub fn start() -> Self {
        let (user, sys) = process_cpu_seconds();
        CpuMeter {
            user,
            sys,
            jiffies: cpu_jiffies(),
            wall: std::time::Instant::now(),
        }
    }

    /// CPU use since `start`.
    pub fn stop(&self) -> CpuUse {
        let (u, s) = process_cpu_seconds();
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
        CpuUse {
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
