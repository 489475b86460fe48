//! Criterion 3 of `check aimd`: every static window of the grid has a regime where AIMD is clearly
//! better than it, or where it breaches the SLO — counted only where AIMD's own SLO is decided to
//! hold there (a win bought with a breach, or with a p99 the runs could not place, is no win).

use super::CLEAR_WIN;
use crate::checks::common::Criterion;

/// "This static window is not as good everywhere": held where AIMD beat it in a regime whose AIMD SLO
/// is decided to hold; where it would have, but AIMD's SLO there was undecided, the claim is
/// undecided too, not false; so it is where the regime's premise was not met on this disk (the
/// regime is not judged at all there).
pub(super) fn beaten_criterion(label: &str, beaten: &[String], if_decided: &[String]) -> Criterion {
    let mut c = Criterion::timing(
        !beaten.is_empty(),
        format!(
            "{label} is not as good everywhere: a regime where AIMD (its SLO decided to hold) is ≥ {CLEAR_WIN}× better on the objective or it breaches the SLO: {}{}",
            if beaten.is_empty() { "none".to_string() } else { beaten.join(", ") },
            if beaten.is_empty() && !if_decided.is_empty() {
                format!(
                    " (it would be in {}, where AIMD's SLO or this window's breach was undecided, or the regime's premise not met)",
                    if_decided.join(", ")
                )
            } else {
                String::new()
            }
        ),
    );
    c.inconclusive = beaten.is_empty() && !if_decided.is_empty();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_static_window_beaten_only_where_aimds_slo_was_undecided_is_undecided_not_failed() {
        let c = beaten_criterion("smart", &[], &names(&["high steady"]));
        assert!(!c.held && c.inconclusive, "{}", c.what);
        let c = beaten_criterion(
            "smart",
            &names(&["ramp low to high"]),
            &names(&["high steady"]),
        );
        assert!(c.held && !c.inconclusive);
        // Beaten nowhere, and nowhere undecided: the claim fails.
        let c = beaten_criterion("static linger=5ms", &[], &[]);
        assert!(!c.held && !c.inconclusive);
    }
}
