//! Contention: what else used the CPU and the disk during a check's measured runs, recorded per run
//! and judged per check, so a timing verdict under a competing process says so instead of failing.

use serde::Serialize;

/// CPU competition during a check's measured runs: each run's `other_cores` (machine busy time not
/// explained by the measuring process — another process, or kernel threads) against a threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Contention {
    /// Measured runs whose CPU use was recorded.
    pub runs: usize,
    /// Of those, runs where others used more than `threshold_cores`.
    pub contended: usize,
    /// The largest `other_cores` seen.
    pub max_other_cores: f64,
    /// The threshold.
    pub threshold_cores: f64,
    /// The largest share of a run's wall time in which some task waited for I/O
    /// (`/proc/pressure/io`). Recorded, not judged: the run's own fdatasyncs count toward it.
    #[serde(default)]
    pub max_io_pressure: f64,
    /// The largest share in which some task waited for a CPU (`/proc/pressure/cpu`).
    #[serde(default)]
    pub max_cpu_pressure: f64,
    /// Runs during which other processes wrote more than `threshold_io_bytes_per_s` to storage.
    #[serde(default)]
    pub io_contended: usize,
    /// The largest rate at which other processes wrote to storage during a run (bytes/s).
    #[serde(default)]
    pub max_others_write_bytes_per_s: f64,
    /// The I/O threshold.
    #[serde(default)]
    pub threshold_io_bytes_per_s: f64,
}

/// A share as a percentage, or "n/a" when it could not be read.
fn pct(share: f64) -> String {
    if share.is_finite() {
        format!("{:.0} %", share * 100.0)
    } else {
        "n/a".into()
    }
}

/// A run where others used more than this many cores is flagged: on two cores that is a quarter of
/// the machine, enough to move fdatasync latency several-fold (the guide says so for this machine).
pub const CONTENDED_OTHER_CORES: f64 = 0.5;

/// A run during which other processes wrote more than this many bytes per second to storage is
/// flagged: a competing writer whose flushes share the disk's queue with our fdatasyncs. (A page-cache
/// flusher writing a few hundred KiB/s of logs is background; a process appending and syncing is not.)
pub const CONTENDED_OTHERS_WRITE_BYTES_PER_S: f64 = 1e6;

/// Per measured run: other processes' cores, CPU pressure, I/O pressure, others' write bytes/s.
static CPU_LOG: std::sync::Mutex<Vec<(f64, f64, f64, f64)>> = std::sync::Mutex::new(Vec::new());

/// Record one measured run's CPU competition and pressure for the running check's [`Contention`].
pub fn note_cpu(cpu: &crate::host::CpuUse) {
    if cpu.other_cores.is_finite() {
        CPU_LOG.lock().unwrap_or_else(|p| p.into_inner()).push((
            cpu.other_cores,
            cpu.cpu_pressure,
            cpu.io_pressure,
            cpu.others_write_bytes_per_s,
        ));
    }
}

impl Contention {
    /// Forget what was recorded (at the start of a check).
    pub fn reset() {
        CPU_LOG.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// What was recorded since the last reset.
    pub fn collect() -> Contention {
        let log = CPU_LOG.lock().unwrap_or_else(|p| p.into_inner());
        // NaN (no /proc/pressure on this kernel) stays NaN: unknown, not 0.
        let max = |f: fn(&(f64, f64, f64, f64)) -> f64| {
            log.iter()
                .map(f)
                .filter(|v| v.is_finite())
                .fold(f64::NAN, f64::max)
        };
        Contention {
            runs: log.len(),
            contended: log.iter().filter(|c| c.0 > CONTENDED_OTHER_CORES).count(),
            max_other_cores: log.iter().map(|c| c.0).fold(0.0, f64::max),
            threshold_cores: CONTENDED_OTHER_CORES,
            max_cpu_pressure: max(|c| c.1),
            max_io_pressure: max(|c| c.2),
            io_contended: log
                .iter()
                .filter(|c| c.3 > CONTENDED_OTHERS_WRITE_BYTES_PER_S)
                .count(),
            max_others_write_bytes_per_s: max(|c| c.3),
            threshold_io_bytes_per_s: CONTENDED_OTHERS_WRITE_BYTES_PER_S,
        }
    }

    /// Whether enough runs were contended to excuse a timing failure: at least one in five (on the
    /// CPU or on the disk). One contended run among a hundred does not make the others' failure
    /// noise.
    pub fn substantial(&self) -> bool {
        let worst = self.contended.max(self.io_contended);
        worst > 0 && worst * 5 >= self.runs
    }

    /// A sentence for the check's output when any run was contended.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.contended > 0 {
            parts.push(format!(
                "CPU contention: in {} of {} measured runs other processes used more than {} cores (max {:.2}; CPU pressure up to {}, I/O pressure up to {})",
                self.contended,
                self.runs,
                self.threshold_cores,
                self.max_other_cores,
                pct(self.max_cpu_pressure),
                pct(self.max_io_pressure)
            ));
        }
        if self.io_contended > 0 {
            parts.push(format!(
                "I/O contention: in {} of {} measured runs other processes wrote more than {:.0} MB/s to storage (max {:.1} MB/s; I/O pressure up to {})",
                self.io_contended,
                self.runs,
                self.threshold_io_bytes_per_s / 1e6,
                self.max_others_write_bytes_per_s / 1e6,
                pct(self.max_io_pressure)
            ));
        }
        (!parts.is_empty()).then(|| format!("{}: timing figures may be low", parts.join("; ")))
    }
}
