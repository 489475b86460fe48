//! Loads whose rate changes during a run — a step and a ramp — for regimes a fixed window is tuned
//! for at one rate and must live with at another (`check aimd`). Open-loop like every schedule: each
//! item's intended time follows from the rate at the previous one, whatever the pipeline does.

use std::time::Duration;

use crate::clock::Nanos;

/// How the rate moves from the run's base rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// The base rate until `at`, then `factor` times it.
    Step {
        /// When the rate changes (offset from the start of the run).
        at: Duration,
        /// The rate after, as a multiple of the base rate.
        factor: f64,
    },
    /// From the base rate to `factor` times it, linearly over `over`, then steady.
    Ramp {
        /// How long the ramp takes.
        over: Duration,
        /// The rate at its end, as a multiple of the base rate.
        factor: f64,
    },
}

impl Profile {
    /// The rate at offset `t_ns` for base rate `rate`.
    pub fn rate_at(&self, rate: f64, t_ns: f64) -> f64 {
        match *self {
            Profile::Step { at, factor } => {
                if t_ns < at.as_nanos() as f64 {
                    rate
                } else {
                    rate * factor
                }
            }
            Profile::Ramp { over, factor } => {
                let x = (t_ns / over.as_nanos().max(1) as f64).min(1.0);
                rate * (1.0 + (factor - 1.0) * x)
            }
        }
    }

    /// Whether the profile can be scheduled: a factor in [1e-6, 1e6] (a factor that makes the rate
    /// underflow to 0 would schedule the next item at infinity).
    pub fn is_valid(&self) -> bool {
        let f = match *self {
            Profile::Step { factor, .. } | Profile::Ramp { factor, .. } => factor,
        };
        (1e-6..=1e6).contains(&f)
    }
}

/// A schedule following a profile from a base rate.
#[derive(Debug, Clone)]
pub struct Profiled {
    profile: Profile,
    rate: f64,
    t_ns: f64,
}

impl Profiled {
    /// Items at `rate` (items/s) shaped by `profile`.
    pub fn new(profile: Profile, rate: f64) -> Self {
        Profiled {
            profile,
            rate,
            t_ns: 0.0,
        }
    }

    /// The next intended offset.
    pub fn next_offset(&mut self) -> Nanos {
        let t = self.t_ns;
        self.t_ns += 1e9 / self.profile.rate_at(self.rate, t);
        t as Nanos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(p: Profile, rate: f64, from_s: f64, to_s: f64) -> usize {
        let mut s = Profiled::new(p, rate);
        let (a, b) = ((from_s * 1e9) as Nanos, (to_s * 1e9) as Nanos);
        let mut n = 0;
        loop {
            let t = s.next_offset();
            if t >= b {
                return n;
            }
            if t >= a {
                n += 1;
            }
        }
    }

    #[test]
    fn a_step_holds_the_base_rate_then_the_stepped_one() {
        let p = Profile::Step {
            at: Duration::from_secs(1),
            factor: 10.0,
        };
        assert_eq!(count(p, 1000.0, 0.0, 1.0), 1000);
        let after = count(p, 1000.0, 1.0, 2.0);
        assert!((9_999..=10_001).contains(&after), "{after}");
    }

    #[test]
    fn a_ramp_rises_linearly_and_then_stays() {
        let p = Profile::Ramp {
            over: Duration::from_secs(2),
            factor: 5.0,
        };
        assert_eq!(p.rate_at(100.0, 0.0), 100.0);
        assert_eq!(p.rate_at(100.0, 1e9), 300.0);
        assert_eq!(p.rate_at(100.0, 5e9), 500.0);
        // Over the ramp the mean is (100 + 500) / 2 = 300 items/s: 600 items in 2 s, give or take.
        let n = count(p, 100.0, 0.0, 2.0);
        assert!((560..=640).contains(&n), "{n}");
        assert!(!Profile::Step {
            at: Duration::ZERO,
            factor: 0.0
        }
        .is_valid());
        assert!(!Profile::Ramp {
            over: Duration::ZERO,
            factor: 1e-300
        }
        .is_valid());
    }
}
