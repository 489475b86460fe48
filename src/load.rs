//! Open-loop load: *when* each item should be sent, decided in advance, independent of how fast the
//! pipeline takes items. A generator that falls behind still stamps each item with its intended time, so
//! a stall anywhere shows up in latency instead of silently slowing the offered rate (coordinated
//! omission, as HdrHistogram's docs call it).
//!
//! Schedules yield intended offsets in nanoseconds from the run's start:
//! - `steady`: item i at i / rate;
//! - `bursty`: an on/off process ([`BurstyParams`]) — quiet phases and short bursts at a multiple of the
//!   mean rate, each phase's length exponential, arrivals within a phase Poisson;
//! - `replay`: a recorded arrival trace (one offset in µs per line). Replaying at a rate other than the
//!   trace's own keeps its *time structure* (a 2 ms burst stays 2 ms long) and scales its *density*: each
//!   recorded arrival becomes `rate / trace_rate` items spread evenly up to the next arrival. The trace
//!   loops.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Nanos;
use crate::error::{LoadError, SysError};
use crate::rng::SplitMix64;

mod profile;
pub use profile::{Profile, Profiled};

/// The shape of the offered load over time.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadShape {
    /// Constant rate: item i intended at i / rate.
    Steady,
    /// Seeded on/off bursts around the mean rate (see [`crate::load::BurstyParams`]).
    Bursty {
        /// PRNG seed.
        seed: u64,
    },
    /// Replay of a recorded arrival trace, time-scaled so its mean rate equals the asked rate, looped.
    Replay(PathBuf),
    /// A rate that steps or ramps from the asked rate (see [`Profile`]).
    Profile(Profile),
}

/// Parameters of the bursty on/off process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstyParams {
    /// Rate during a burst, as a multiple of the mean rate.
    pub burst_factor: f64,
    /// Mean length of a burst.
    pub mean_burst: Duration,
    /// Fraction of time spent in bursts (`burst_factor * burst_fraction < 1`).
    pub burst_fraction: f64,
}

impl Default for BurstyParams {
    /// 10× the mean rate in bursts of 2 ms on average, 5 % of the time (a burst every ~40 ms):
    /// half of all items arrive inside bursts, the other half in quiet phases at 0.53× the mean.
    fn default() -> Self {
        BurstyParams {
            burst_factor: 10.0,
            mean_burst: Duration::from_millis(2),
            burst_fraction: 0.05,
        }
    }
}

impl BurstyParams {
    fn quiet_factor(&self) -> f64 {
        (1.0 - self.burst_factor * self.burst_fraction) / (1.0 - self.burst_fraction)
    }
    fn mean_quiet_ns(&self) -> f64 {
        self.mean_burst.as_nanos() as f64 * (1.0 - self.burst_fraction) / self.burst_fraction
    }
}

/// The seeded on/off arrival process.
#[derive(Debug, Clone)]
pub struct Bursty {
    rng: SplitMix64,
    params: BurstyParams,
    mean_gap_ns: f64,
    t: f64,
    phase_end: f64,
    in_burst: bool,
}

impl Bursty {
    /// A bursty process with mean `rate` items/s.
    pub fn new(rate: f64, seed: u64, params: BurstyParams) -> Self {
        assert!(
            params.burst_factor * params.burst_fraction < 1.0,
            "bursts alone would exceed the mean rate"
        );
        let mut rng = SplitMix64::new(seed);
        let first_quiet = rng.exp(params.mean_quiet_ns());
        Bursty {
            rng,
            params,
            mean_gap_ns: 1e9 / rate,
            t: 0.0,
            phase_end: first_quiet,
            in_burst: false,
        }
    }

    /// Next arrival offset in ns.
    pub fn next_offset(&mut self) -> Nanos {
        loop {
            let factor = if self.in_burst {
                self.params.burst_factor
            } else {
                self.params.quiet_factor()
            };
            let candidate = self.t + self.rng.exp(self.mean_gap_ns / factor);
            if candidate < self.phase_end {
                self.t = candidate;
                return self.t as Nanos;
            }
            // Memoryless: restart the draw from the phase boundary at the new phase's rate.
            self.t = self.phase_end;
            self.in_burst = !self.in_burst;
            let mean = if self.in_burst {
                self.params.mean_burst.as_nanos() as f64
            } else {
                self.params.mean_quiet_ns()
            };
            self.phase_end = self.t + self.rng.exp(mean);
        }
    }
}

/// A parsed arrival trace: offsets in ns and the span it covers (its loop period).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Non-decreasing arrival offsets, ns.
    pub offsets: Vec<Nanos>,
    /// Loop period, ns (from `# span_us N`, else the last offset plus the mean gap).
    pub span: Nanos,
}

impl Trace {
    /// Mean arrivals per second over the span.
    pub fn rate(&self) -> f64 {
        self.offsets.len() as f64 / (self.span as f64 / 1e9)
    }

    /// Read a trace file: `#` lines are comments (`# span_us N` sets the span); every other non-empty line
    /// is an integer offset in microseconds, non-decreasing.
    pub fn load(path: &Path) -> Result<Trace, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Io(SysError::new("read", path, e)))?;
        Self::parse(&text, path)
    }

    /// Parse trace text (see [`Trace::load`]); `path` names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Trace, LoadError> {
        let err = |line: usize, reason: String| LoadError::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut offsets = Vec::new();
        let mut span = None;
        let mut last = 0u64;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(c) = line.strip_prefix('#') {
                if let Some(v) = c.trim().strip_prefix("span_us") {
                    let us: u64 = v
                        .trim()
                        .parse()
                        .map_err(|_| err(i + 1, format!("bad span_us value '{}'", v.trim())))?;
                    span = Some(us * 1_000);
                }
                continue;
            }
            let us: u64 = line.parse().map_err(|_| {
                err(
                    i + 1,
                    format!("'{line}' is not an offset in whole microseconds"),
                )
            })?;
            let ns = us * 1_000;
            if ns < last {
                return Err(err(
                    i + 1,
                    format!(
                        "offset {us} µs goes back in time (previous {} µs)",
                        last / 1_000
                    ),
                ));
            }
            last = ns;
            offsets.push(ns);
        }
        if offsets.is_empty() {
            return Err(err(0, "the trace has no arrivals".into()));
        }
        let mean_gap = last / offsets.len() as u64;
        let span = span.unwrap_or(last + mean_gap.max(1));
        if span <= last {
            return Err(err(
                0,
                format!("span_us {} does not cover the last offset", span / 1_000),
            ));
        }
        Ok(Trace { offsets, span })
    }

    /// Write `n` arrivals of a bursty process at mean `rate`/s as a trace file, with a header saying how
    /// it was made (so it can be regenerated and checked byte for byte).
    pub fn write_bursty(
        out: &mut impl Write,
        rate: f64,
        seconds: u64,
        seed: u64,
        params: BurstyParams,
    ) -> std::io::Result<()> {
        let span_ns = seconds * 1_000_000_000;
        writeln!(
            out,
            "# ingest-lab arrival trace v1: one intended offset per line, whole µs"
        )?;
        writeln!(
            out,
            "# made by: ingest-lab trace --rate {rate} --seconds {seconds} --seed {seed} \
             (bursty: x{} bursts, mean {} ms, {} of the time; SplitMix64)",
            params.burst_factor,
            params.mean_burst.as_secs_f64() * 1e3,
            params.burst_fraction
        )?;
        writeln!(out, "# span_us {}", span_ns / 1_000)?;
        let mut b = Bursty::new(rate, seed, params);
        loop {
            let t = b.next_offset();
            if t >= span_ns {
                break;
            }
            writeln!(out, "{}", t / 1_000)?;
        }
        Ok(())
    }
}

/// Replays a trace at a chosen mean rate (see the module docs), looping.
#[derive(Debug, Clone)]
pub struct Replay {
    trace: Arc<Trace>,
    per_arrival: f64,
    idx: usize,
    base: Nanos,
    carry: f64,
    pending: u64,
    pending_total: u64,
    pending_from: Nanos,
    pending_gap: Nanos,
}

impl Replay {
    /// Replay `trace` so that its mean rate becomes `rate`.
    pub fn new(trace: Arc<Trace>, rate: f64) -> Self {
        let per_arrival = rate / trace.rate();
        Replay {
            trace,
            per_arrival,
            idx: 0,
            base: 0,
            carry: 0.0,
            pending: 0,
            pending_total: 0,
            pending_from: 0,
            pending_gap: 0,
        }
    }

    /// Next intended offset, ns.
    pub fn next_offset(&mut self) -> Nanos {
        while self.pending == 0 {
            let offs = &self.trace.offsets;
            let t = self.base + offs[self.idx];
            let next = if self.idx + 1 < offs.len() {
                self.base + offs[self.idx + 1]
            } else {
                self.base + self.trace.span + offs[0]
            };
            self.idx += 1;
            if self.idx == offs.len() {
                self.idx = 0;
                self.base += self.trace.span;
            }
            self.carry += self.per_arrival;
            let k = self.carry.floor();
            self.carry -= k;
            self.pending = k as u64;
            self.pending_total = self.pending;
            self.pending_from = t;
            self.pending_gap = next - t;
        }
        let j = self.pending_total - self.pending;
        self.pending -= 1;
        self.pending_from + self.pending_gap * j / self.pending_total
    }
}

/// A schedule of intended send offsets.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Push as fast as accepted; every item is stamped when its push starts (closed loop).
    Saturate,
    /// Constant rate.
    Steady {
        /// ns between items.
        gap_ns: f64,
        /// Items issued.
        i: u64,
    },
    /// On/off bursts.
    Bursty(Bursty),
    /// A stepped or ramped rate.
    Profile(Profiled),
    /// Trace replay.
    Replay(Replay),
}

impl Schedule {
    /// Build the schedule for a shape at `rate` items/s (`None` = saturation).
    pub fn new(shape: &LoadShape, rate: Option<f64>) -> Result<Schedule, LoadError> {
        let Some(rate) = rate else {
            return Ok(Schedule::Saturate);
        };
        Ok(match shape {
            LoadShape::Steady => Schedule::Steady {
                gap_ns: 1e9 / rate,
                i: 0,
            },
            LoadShape::Bursty { seed } => {
                Schedule::Bursty(Bursty::new(rate, *seed, BurstyParams::default()))
            }
            LoadShape::Replay(path) => {
                Schedule::Replay(Replay::new(Arc::new(Trace::load(path)?), rate))
            }
            LoadShape::Profile(p) if !p.is_valid() => {
                return Err(LoadError::Profile(format!("{p:?}")))
            }
            LoadShape::Profile(p) => Schedule::Profile(Profiled::new(*p, rate)),
        })
    }

    /// The next intended offset, or `None` for saturation (send now).
    pub fn next_offset(&mut self) -> Option<Nanos> {
        match self {
            Schedule::Saturate => None,
            Schedule::Steady { gap_ns, i } => {
                let t = (*i as f64 * *gap_ns) as Nanos;
                *i += 1;
                Some(t)
            }
            Schedule::Bursty(b) => Some(b.next_offset()),
            Schedule::Replay(r) => Some(r.next_offset()),
            Schedule::Profile(p) => Some(p.next_offset()),
        }
    }
}

/// The standard bursty replay committed in the repository.
pub fn standard_trace_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reports/traces/bursty-v1.trace")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in(s: &mut Schedule, until: Nanos) -> u64 {
        let mut n = 0;
        while s.next_offset().unwrap() < until {
            n += 1;
        }
        n
    }

    #[test]
    fn steady_spaces_items_evenly() {
        let mut s = Schedule::new(&LoadShape::Steady, Some(1000.0)).unwrap();
        let v: Vec<_> = (0..3).map(|_| s.next_offset().unwrap()).collect();
        assert_eq!(v, vec![0, 1_000_000, 2_000_000]);
    }

    #[test]
    fn bursty_keeps_the_mean_rate_and_is_bursty() {
        let mut b = Bursty::new(10_000.0, 3, BurstyParams::default());
        let span = 20_000_000_000u64; // 20 s
        let mut per_10ms = vec![0u32; (span / 10_000_000) as usize];
        let mut n = 0;
        loop {
            let t = b.next_offset();
            if t >= span {
                break;
            }
            per_10ms[(t / 10_000_000) as usize] += 1;
            n += 1;
        }
        let mean = n as f64 / 20.0;
        assert!((mean / 10_000.0 - 1.0).abs() < 0.1, "mean rate {mean}");
        let peak = *per_10ms.iter().max().unwrap() as f64 * 100.0;
        assert!(peak > 4.0 * mean, "peak 10 ms rate {peak} vs mean {mean}");
    }

    #[test]
    fn same_seed_same_arrivals() {
        let mut a = Bursty::new(1000.0, 9, BurstyParams::default());
        let mut b = Bursty::new(1000.0, 9, BurstyParams::default());
        for _ in 0..1000 {
            assert_eq!(a.next_offset(), b.next_offset());
        }
    }

    #[test]
    fn replay_scales_density_not_time_and_loops() {
        let trace = Trace::parse("# span_us 1000\n0\n500\n", Path::new("t")).unwrap();
        assert_eq!(trace.rate(), 2000.0);
        // 4x the trace rate: 4 items per arrival, spread over the gap to the next one.
        let mut s = Schedule::Replay(Replay::new(Arc::new(trace), 8000.0));
        let v: Vec<_> = (0..10).map(|_| s.next_offset().unwrap() / 1000).collect();
        assert_eq!(v, vec![0, 125, 250, 375, 500, 625, 750, 875, 1000, 1125]);
        let trace = Trace::parse("# span_us 1000000\n0\n", Path::new("t")).unwrap();
        let mut s = Schedule::Replay(Replay::new(Arc::new(trace), 10.0));
        assert_eq!(count_in(&mut s, 1_000_000_000), 10);
    }

    #[test]
    fn replay_below_the_trace_rate_thins_arrivals() {
        let text: String = (0..100).map(|i| format!("{}\n", i * 10)).collect();
        let trace = Trace::parse(&format!("# span_us 1000\n{text}"), Path::new("t")).unwrap();
        let mut s = Schedule::Replay(Replay::new(Arc::new(trace), 25_000.0)); // quarter of 100k/s
        assert_eq!(count_in(&mut s, 1_000_000), 25);
    }

    #[test]
    fn bad_trace_lines_name_file_and_line() {
        let e = Trace::parse("10\n5\n", Path::new("x.trace"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.trace:2:") && e.contains("back in time"),
            "{e}"
        );
        let e = Trace::parse("# c\nabc\n", Path::new("x.trace"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.trace:2:") && e.contains("'abc'"), "{e}");
    }

    #[test]
    fn committed_standard_trace_is_exactly_what_its_header_says_made_it() {
        let committed = std::fs::read_to_string(standard_trace_path()).unwrap();
        let mut regenerated = Vec::new();
        Trace::write_bursty(&mut regenerated, 5000.0, 10, 42, BurstyParams::default()).unwrap();
        assert!(
            committed == String::from_utf8(regenerated).unwrap(),
            "reports/traces/bursty-v1.trace differs from `ingest-lab trace --rate 5000 --seconds 10 --seed 42`"
        );
    }
}
