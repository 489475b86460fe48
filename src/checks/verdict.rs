//! What a check concludes: each criterion held, failed, or could not be decided (a statistical
//! decision whose interval straddles its limit, or a claim whose premise this machine does not meet),
//! and the check's verdict and exit code from them.

use serde::Serialize;

use super::contention::Contention;
use crate::stats::{Decision, Outcome};

/// The outcome of a check: DESIGN.md §3's `{"check", "pass", "figures", "evidence"}`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Check name.
    pub check: String,
    /// True only when every criterion held.
    pub pass: bool,
    /// True when a criterion of kind [`CriterionKind::Exact`] failed: a defect, not a slow run.
    pub exact_failed: bool,
    /// True when nothing failed but some criterion could not be decided: neither PASS nor FAIL.
    pub inconclusive: bool,
    /// The measured figures the verdict rests on.
    pub figures: serde_json::Value,
    /// Paths of evidence files written.
    pub evidence: Vec<String>,
    /// Each criterion, stated with its measured value and whether it held.
    pub criteria: Vec<Criterion>,
    /// Whether other processes competed for the CPU during the check's measured runs.
    pub cpu: Contention,
    /// Wall-clock seconds the check took (what `make bench`'s time budget is spent on).
    pub seconds: f64,
}

/// The exit code of `check` for these results: 0 when all passed; 1 when an exact criterion failed,
/// or a timing criterion failed on a full run; 3 when what did not pass was only undecided (the runs
/// could not tell: neither a pass nor a fail), or on a `--quick` run where only timing criteria failed
/// (a short run cannot show speed: `make bench` judges it).
pub fn exit_code(results: &[CheckResult], quick: bool) -> u8 {
    let undecided_only = results.iter().all(|r| r.pass || r.inconclusive);
    if results.iter().all(|r| r.pass) {
        0
    } else if undecided_only || (quick && !results.iter().any(|r| r.exact_failed)) {
        3
    } else {
        1
    }
}

impl CheckResult {
    /// `PASS`, `FAIL` or `INCONCLUSIVE`.
    pub fn verdict(&self) -> &'static str {
        if self.pass {
            "PASS"
        } else if self.inconclusive {
            "INCONCLUSIVE"
        } else {
            "FAIL"
        }
    }

    /// Under contention (another process on the CPU or the disk during the measured runs) a timing
    /// criterion that failed is not judged: it becomes inconclusive and says why, so a competing
    /// process never turns into a silent FAIL. Exact criteria are judged as before.
    pub fn undecided_under_contention(&mut self) {
        for c in &mut self.criteria {
            if !c.held && !c.inconclusive && c.kind == CriterionKind::Timing {
                c.inconclusive = true;
                c.what
                    .push_str(" [not judged: measured under contention, see the note]");
            }
        }
        let failed = self.criteria.iter().any(|c| !c.held && !c.inconclusive);
        self.inconclusive = !self.pass && !failed;
    }

    /// A result that passes exactly when every criterion held.
    pub fn judge(
        check: &str,
        criteria: Vec<Criterion>,
        figures: serde_json::Value,
        evidence: Vec<String>,
    ) -> CheckResult {
        let failed = |c: &&Criterion| !c.held && !c.inconclusive;
        CheckResult {
            check: check.to_string(),
            pass: criteria.iter().all(|c| c.held),
            inconclusive: criteria.iter().any(|c| c.inconclusive)
                && !criteria.iter().any(|c| failed(&c)),
            exact_failed: criteria
                .iter()
                .any(|c| failed(&c) && c.kind == CriterionKind::Exact),
            figures,
            evidence,
            criteria,
            cpu: Contention::default(),
            seconds: 0.0,
        }
    }
}

/// What a criterion's verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CriterionKind {
    /// Counts, ids, sizes, bounds: the same on any machine and on a short run. A failure is a defect,
    /// whatever the run's length (`check --quick` fails on it).
    Exact,
    /// Speed or latency: needs full runs on a quiet machine to judge (`check --quick` reports it and
    /// exits 3 when only such criteria failed).
    Timing,
}

/// One criterion of a check: it held, it failed, or (a statistical decision) it could not be decided.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    /// What must hold, in words with the measured numbers.
    pub what: String,
    /// Whether it held.
    pub held: bool,
    /// Not held, and not failed either: the runs could not decide ([`crate::stats::Outcome`]).
    pub inconclusive: bool,
    /// Exact or timing.
    pub kind: CriterionKind,
    /// The statistical decision it rests on (the median's interval, every run's figure), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl Criterion {
    /// A criterion on counts, ids, sizes or bounds.
    pub fn exact(held: bool, what: impl Into<String>) -> Self {
        Criterion {
            what: what.into(),
            held,
            inconclusive: false,
            kind: CriterionKind::Exact,
            decision: None,
        }
    }

    /// A criterion on speed or latency, judged on one figure.
    pub fn timing(held: bool, what: impl Into<String>) -> Self {
        Criterion {
            what: what.into(),
            held,
            inconclusive: false,
            kind: CriterionKind::Timing,
            decision: None,
        }
    }

    /// A timing criterion decided statistically: `what` is followed by the decision, its interval and
    /// its run count.
    pub fn decided(d: Decision, what: impl Into<String>) -> Self {
        let what = format!(
            "{}: {} ({})",
            what.into(),
            d.outcome.as_str(),
            d.interval.describe()
        );
        Criterion {
            what,
            held: d.outcome == Outcome::Holds,
            inconclusive: d.outcome == Outcome::Inconclusive,
            kind: CriterionKind::Timing,
            decision: Some(d),
        }
    }

    /// What a timing claim presumes of the machine (a disk fast enough that the claim can be tested
    /// here). When it does not hold the claim is not judged: the criterion is inconclusive, and says
    /// which premise and figure, so "this machine cannot test it" never reads as "the claim is false".
    pub fn premise(held: bool, what: impl Into<String>) -> Self {
        let what = what.into();
        Criterion {
            what: if held {
                format!("premise: {what}")
            } else {
                format!("premise not met on this machine, so the claims resting on it are not judged: {what}")
            },
            held,
            inconclusive: !held,
            kind: CriterionKind::Timing,
            decision: None,
        }
    }

    /// This criterion, undecided when `premise` does not hold (a failed claim whose premise failed
    /// says nothing about the claim).
    pub fn resting_on(mut self, premise: bool) -> Self {
        if !premise && !self.held && self.kind == CriterionKind::Timing {
            self.inconclusive = true;
        }
        self
    }

    /// `PASS`, `FAIL`, `FAIL (timing)` or `INCONCLUSIVE`.
    pub fn verdict(&self) -> &'static str {
        match (self.held, self.inconclusive, self.kind) {
            (true, _, _) => "PASS",
            (false, true, _) => "INCONCLUSIVE",
            (false, false, CriterionKind::Exact) => "FAIL",
            (false, false, CriterionKind::Timing) => "FAIL (timing)",
        }
    }
}
