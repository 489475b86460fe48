//! The split-and-retry plan: a pure state machine over index ranges of a rejected batch. The driver asks
//! for the next range to attempt and reports whether it was accepted; the plan says what to try next and
//! which single records are isolated as bad. No I/O, no clock: tested exactly.

use std::ops::Range;

/// What the plan concluded from a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitStep {
    /// The range was split; its halves are queued.
    Split,
    /// A single record failed alone: it is bad. `attempts` counts the attempts that included it.
    Isolated {
        /// Index of the bad record in the batch.
        index: usize,
        /// Attempts that included this record (the original batch counts as the first).
        attempts: u32,
    },
}

/// Bisection over a batch of `n` records whose whole-batch attempt was rejected.
#[derive(Debug, Clone)]
pub struct SplitPlan {
    /// Ranges still to try, with their depth (0 = the whole batch); the last is tried next.
    pending: Vec<(Range<usize>, u32)>,
    attempts: u32,
    in_flight: Option<(Range<usize>, u32)>,
}

impl SplitPlan {
    /// A plan for a batch of `n` records whose first (whole-batch) attempt has just been rejected.
    pub fn after_rejected_batch(n: usize) -> Self {
        let mut p = SplitPlan {
            pending: Vec::new(),
            attempts: 1,
            in_flight: None,
        };
        p.split(0..n, 0);
        p
    }

    fn split(&mut self, r: Range<usize>, depth: u32) {
        let mid = r.start + (r.end - r.start) / 2;
        // Right half pushed first so the left half is tried first: commits stay in batch order.
        self.pending.push((mid..r.end, depth + 1));
        self.pending.push((r.start..mid, depth + 1));
    }

    /// The next range to attempt, or `None` when the plan is done.
    pub fn next_range(&mut self) -> Option<Range<usize>> {
        assert!(
            self.in_flight.is_none(),
            "report the previous attempt first"
        );
        let (r, d) = self.pending.pop()?;
        self.attempts += 1;
        self.in_flight = Some((r.clone(), d));
        Some(r)
    }

    /// The attempt on the last range was accepted: those records are committed.
    pub fn accepted(&mut self) {
        self.in_flight.take().expect("no attempt in flight");
    }

    /// The attempt on the last range was rejected.
    pub fn rejected(&mut self) -> SplitStep {
        let (r, d) = self.in_flight.take().expect("no attempt in flight");
        if r.len() == 1 {
            SplitStep::Isolated {
                index: r.start,
                attempts: d + 1,
            }
        } else {
            self.split(r, d);
            SplitStep::Split
        }
    }

    /// Attempts so far, including the original whole-batch attempt.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive a plan against a set of bad indexes; returns (committed in order, isolated, attempts).
    fn drive(n: usize, bad: &[usize]) -> (Vec<usize>, Vec<(usize, u32)>, u32) {
        let mut plan = SplitPlan::after_rejected_batch(n);
        let (mut committed, mut isolated) = (vec![], vec![]);
        while let Some(r) = plan.next_range() {
            if bad.iter().any(|b| r.contains(b)) {
                if let SplitStep::Isolated { index, attempts } = plan.rejected() {
                    isolated.push((index, attempts));
                }
            } else {
                committed.extend(r);
                plan.accepted();
            }
        }
        (committed, isolated, plan.attempts())
    }

    #[test]
    fn one_poison_record_is_isolated_in_log_n_attempts_and_the_rest_committed_in_order() {
        let (committed, isolated, attempts) = drive(1024, &[700]);
        assert_eq!(isolated, vec![(700, 11)], "depth log2(1024) + 1");
        let expect: Vec<usize> = (0..1024).filter(|&i| i != 700).collect();
        assert_eq!(committed, expect);
        // 1 whole + 2 per level for 10 levels.
        assert_eq!(attempts, 1 + 2 * 10);
    }

    #[test]
    fn several_bad_records_are_each_isolated_and_nothing_good_is_lost() {
        let bad = [0, 1, 63, 64, 99];
        let (committed, isolated, attempts) = drive(100, &bad);
        let mut iso: Vec<usize> = isolated.iter().map(|x| x.0).collect();
        iso.sort();
        assert_eq!(iso, bad);
        assert_eq!(committed.len(), 95);
        assert!(
            committed.windows(2).all(|w| w[0] < w[1]),
            "batch order kept"
        );
        assert!(attempts <= 1 + bad.len() as u32 * 2 * 7, "{attempts}");
    }

    #[test]
    fn a_batch_of_one_bad_record_is_isolated_at_once() {
        let (committed, isolated, attempts) = drive(1, &[0]);
        // The whole-batch attempt already was the single record: splitting 0..1 yields 0..0 and 0..1.
        assert!(committed.is_empty());
        assert_eq!(isolated.len(), 1);
        assert!(attempts <= 3);
    }
}
