//! The matrix of `check aimd`: its regimes, derived from the machine's unbatched ceiling and batched
//! peak, and its contenders (smart batching, fixed lingers, AIMD), all with the same size caps.

use std::time::Duration;

use super::{Objective, MAX_BYTES, MAX_ITEMS};
use crate::batch::{AimdConfig, WindowConfig};
use crate::config::WindowMode;
use crate::load::{LoadShape, Profile};
use crate::sink::Brownout;

/// One regime of the matrix.
#[derive(Debug, Clone)]
pub(super) struct Regime {
    pub(super) name: &'static str,
    pub(super) objective: Objective,
    /// Load shape and base rate.
    pub(super) shape: LoadShape,
    pub(super) rate: f64,
    pub(super) brownout: Option<Brownout>,
    /// Where the objective starts counting: where the offered rate first reaches the unbatched
    /// ceiling (a load only batching can carry). Zero for the regimes that are high throughout; the
    /// low half of a step and the foot of a ramp are the low steady regime's question (p99), scored
    /// there, not charged to fdatasyncs per item here.
    pub(super) scored_from: Duration,
    /// How long each run of the regime offers load.
    pub(super) secs: Duration,
}

impl Regime {
    /// A steady load at `rate` for `secs`, scored whole, on a healthy disk.
    pub(super) fn steady(
        name: &'static str,
        objective: Objective,
        rate: f64,
        secs: Duration,
    ) -> Self {
        Regime {
            name,
            objective,
            shape: LoadShape::Steady,
            rate,
            brownout: None,
            scored_from: Duration::ZERO,
            secs,
        }
    }
}

/// One contender.
#[derive(Debug, Clone, Copy)]
pub(super) struct Contender {
    pub(super) mode: WindowMode,
    pub(super) linger_ms: f64,
}

impl Contender {
    pub(super) fn label(&self) -> String {
        match self.mode {
            WindowMode::Static => format!("static linger={}ms", self.linger_ms),
            WindowMode::Smart => "smart".into(),
            WindowMode::Aimd(_) => "aimd".into(),
        }
    }

    pub(super) fn window(&self) -> WindowConfig {
        WindowConfig {
            max_items: MAX_ITEMS,
            max_bytes: MAX_BYTES,
            linger: Duration::from_secs_f64(self.linger_ms / 1e3),
        }
    }

    pub(super) fn is_static(&self) -> bool {
        !matches!(self.mode, WindowMode::Aimd(_))
    }
}

pub(super) fn contenders(quick: bool) -> Vec<Contender> {
    let lingers: &[f64] = if quick { &[1.0, 5.0] } else { &[1.0, 2.0, 5.0] };
    let mut v = vec![Contender {
        mode: WindowMode::Smart,
        linger_ms: 0.0,
    }];
    v.extend(lingers.iter().map(|&l| Contender {
        mode: WindowMode::Static,
        linger_ms: l,
    }));
    v.push(Contender {
        mode: WindowMode::Aimd(AimdConfig::default()),
        linger_ms: 0.0,
    });
    v
}

pub(super) fn regimes(
    low: f64,
    high: f64,
    unbatched: f64,
    secs: Duration,
    brownout: u32,
) -> Vec<Regime> {
    let steady = |name, objective, rate| Regime::steady(name, objective, rate, secs);
    let factor = high / low;
    // The ramp's rate is low × (1 + (factor − 1) t / secs): it reaches `unbatched` at this fraction
    // of the run. A ramp that never reaches it (a machine whose high load is below its unbatched
    // ceiling) is scored whole: there is no part that needs batching to single out.
    let at = (unbatched / low - 1.0) / (factor - 1.0);
    let ramp_reaches_unbatched = if factor > 1.0 && (0.0..1.0).contains(&at) {
        secs.mul_f64(at)
    } else {
        Duration::ZERO
    };
    vec![
        steady("low steady", Objective::P99, low),
        steady("high steady", Objective::FdatasyncsPerItem, high),
        Regime {
            name: "10x bursts",
            objective: Objective::FdatasyncsPerItem,
            shape: LoadShape::Replay(crate::load::standard_trace_path()),
            rate: high,
            brownout: None,
            scored_from: Duration::ZERO,
            secs,
        },
        Regime {
            name: "step low to high",
            objective: Objective::FdatasyncsPerItem,
            shape: LoadShape::Profile(Profile::Step {
                at: secs / 2,
                factor,
            }),
            rate: low,
            brownout: None,
            scored_from: secs / 2,
            secs,
        },
        Regime {
            name: "ramp low to high",
            objective: Objective::FdatasyncsPerItem,
            shape: LoadShape::Profile(Profile::Ramp { over: secs, factor }),
            rate: low,
            brownout: None,
            scored_from: ramp_reaches_unbatched,
            secs,
        },
        Regime {
            brownout: Some(Brownout {
                from: secs / 3,
                until: secs * 2 / 3,
                factor: brownout,
            }),
            ..steady("disk brownout", Objective::FdatasyncsPerItem, high)
        },
    ]
}
