//! Tests of the pure step's floor and stall rules: what a breach that reaches the floor, an idle
//! sink there, and a breach behind a stalled commit do (`check aimd`'s brownout and high-steady
//! traces of 2026-12-03).

use super::*;

/// `check aimd`'s 5× brownout, as its trace showed it (`reports/experiments/2026-12-03-aimd-two-looks`):
/// the breach at the onset halved the linger, the commits then foresaw a breach at any linger and
/// cut it to the floor, and the items queued behind the onset's slow commits breached once more
/// there. Before, reaching the floor re-armed slow start and lifted the ceiling whatever took it
/// there, so the next interval with headroom jumped the linger to the room two ~2 ms commits leave
/// under the setpoint (3.06 ms; the trace's jump was to 3.07 ms), straight back into the brownout.
/// Now growth from there is additive, one step an interval, up to the onset's ceiling. It still
/// climbs back: the prediction reads the mean commit, and where that underestimates the brownout's
/// tail the linger gets there about 20 intervals later instead of at once.
#[test]
fn a_brownout_that_cuts_the_linger_to_the_floor_does_not_rearm_slow_start_there() {
    let c = cfg();
    let five = AimdState::new(&c, Duration::from_millis(5));
    let (cut, mv) = aimd_step(&c, SLO, five, &obs(22.7, 10_000, 400.0));
    assert_eq!(mv, AimdMove::DecreaseBreach);
    let ceiling = Duration::from_millis(5).mul_f64(c.ceiling_factor);
    assert_eq!(cut.ceiling, ceiling);
    // Commits of 4.5 ms leave no room under the 8.5 ms bound: to the floor, foreseen.
    let mut o = obs(6.0, 10_000, 1_500.0);
    o.recent_commit = Duration::from_micros(4_500);
    let (floor, mv) = aimd_step(&c, SLO, cut, &o);
    assert_eq!(
        (floor.linger, mv),
        (c.min_linger, AimdMove::DecreaseForeseen)
    );
    assert!(
        !floor.slow_start,
        "a foreseen breach at the floor: no slow start"
    );
    assert_eq!(floor.ceiling, ceiling, "nor is the ceiling lifted");
    // The onset's queued items breach at the floor: no linger to blame, the ceiling stays.
    let (still, mv) = aimd_step(&c, SLO, floor, &obs(10.6, 10_000, 600.0));
    assert_eq!(mv, AimdMove::DecreaseBreach);
    assert_eq!(still, floor);
    // Headroom again with the trace's ~2 ms commits: one step, not slow start's jump to 3.06 ms.
    let mut o = obs(6.4, 10_000, 260.0);
    o.recent_commit = Duration::from_micros(1_970);
    // Each step changes the linger, so the history at the linger in force is never a whole one.
    o.fresh_intervals = 1;
    let (next, mv) = aimd_step(&c, SLO, still, &o);
    assert_eq!((next.linger, mv), (c.increase, AimdMove::Increase));
    // Then one step an interval, up to the onset's ceiling (under the 4.36 ms the bound leaves).
    let mut s = next;
    let mut steps = 1;
    while let (n, AimdMove::Increase) = aimd_step(&c, SLO, s, &o) {
        assert!(n.linger <= s.linger + c.increase);
        s = n;
        steps += 1;
    }
    assert_eq!((s.linger, steps), (ceiling, 20));
}

/// Before: a breach at a 50 µs linger cut it to 25 µs, which snaps to the floor, and set the ceiling
/// to 40 µs; with the floor no longer re-arming slow start after a breach, growth would stop at
/// 40 µs for a whole history (half a second of back-to-back fdatasyncs) and the ceiling shrink at
/// every breach there (review of 05d69de).
#[test]
fn a_breach_whose_cut_lands_on_the_floor_keeps_the_ceiling() {
    let c = cfg();
    let s = AimdState {
        linger: Duration::from_micros(50),
        slow_start: false,
        ceiling: c.max_linger,
    };
    let (cut, mv) = aimd_step(&c, SLO, s, &obs(12.0, 10_000, 100.0));
    assert_eq!(mv, AimdMove::DecreaseBreach);
    assert_eq!((cut.linger, cut.ceiling), (c.min_linger, c.max_linger));
    // Growth goes on additively past where the breach was, without waiting for a history.
    let mut o = obs(2.0, 10_000, 100.0);
    o.fresh_intervals = 0;
    let (up, mv) = aimd_step(&c, SLO, cut, &o);
    assert_eq!((up.linger, mv), (c.increase, AimdMove::Increase));
    let (up2, _) = aimd_step(&c, SLO, up, &o);
    assert_eq!(up2.linger, c.increase * 2);
}

/// A brownout's cut leaves the linger at the floor with slow start off; when the load then goes
/// quiet and comes back, it is a new load, and it gets slow start at once (before this, an idle sink
/// already at the floor held its state, so the step waited out additive growth; review of 05d69de).
#[test]
fn an_idle_sink_at_the_floor_rearms_slow_start_however_the_linger_got_there() {
    let c = cfg();
    let after_brownout = AimdState {
        linger: c.min_linger,
        slow_start: false,
        ceiling: Duration::from_millis(4),
    };
    let (idle, mv) = aimd_step(&c, SLO, after_brownout, &obs(1.0, 300, 0.05));
    assert_eq!(mv, AimdMove::Hold);
    assert!(idle.slow_start);
    assert_eq!(idle.ceiling, c.max_linger);
    let (up, mv) = aimd_step(&c, SLO, idle, &obs(1.0, 10_000, 100.0));
    assert_eq!(mv, AimdMove::SlowStart);
    assert!(up.linger > c.increase * 2, "{:?}", up.linger);
}

/// A breach behind a stalled commit (14 ms, more than half the SLO on its own) is the disk's: the
/// linger is not halved and no ceiling is set; the commit mean decides, through the foreseen rule.
/// Before, every such breach halved the linger and set the ceiling under it, and `check aimd`'s
/// high steady (`reports/runs/2026-12-03b-vm`) went from 5 ms to a linger of zero in 13 breaches.
#[test]
fn a_breach_a_stalled_commit_explains_is_left_to_the_commit_mean() {
    let c = cfg();
    let five = AimdState {
        linger: Duration::from_millis(5),
        slow_start: false,
        ceiling: c.max_linger,
    };
    let mut o = obs(14.2, 10_000, 250.0);
    o.slowest_commit = Duration::from_millis(14);
    // The mean of the last commits leaves room: hold, the ceiling untouched.
    o.recent_commit = Duration::from_micros(1_000);
    assert_eq!(aimd_step(&c, SLO, five, &o), (five, AimdMove::Hold));
    // A mean that stays high (2.75 ms: 5 + 5.5 > 8.5) cuts to the room it leaves, with no ceiling.
    o.recent_commit = Duration::from_micros(2_750);
    let (cut, mv) = aimd_step(&c, SLO, five, &o);
    assert_eq!(mv, AimdMove::DecreaseForeseen);
    assert_eq!(cut.linger, Duration::from_micros(2_800));
    assert_eq!(cut.ceiling, c.max_linger);
    // A 5.5 ms commit at a 5 ms linger, with a 1.74 ms recent mean: 7.24 ms at a linger of zero,
    // under the SLO — the linger's breach, halved (half the SLO for the slow commit alone took it
    // for the disk's; review of 1c6a38d).
    o.slowest_commit = Duration::from_micros(5_500);
    o.recent_commit = Duration::from_micros(1_740);
    assert_eq!(aimd_step(&c, SLO, five, &o).1, AimdMove::DecreaseBreach);
    // Commits that were all fast: the linger's breach, halved, as before.
    o.slowest_commit = Duration::from_micros(4_900);
    o.recent_commit = Duration::from_micros(1_000);
    let (half, mv) = aimd_step(&c, SLO, five, &o);
    assert_eq!(
        (half.linger, mv),
        (Duration::from_micros(2_500), AimdMove::DecreaseBreach)
    );
}
