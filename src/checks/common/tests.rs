use super::*;

/// A result of `criteria` alone (no figures, no evidence).
fn judged(criteria: Vec<Criterion>) -> CheckResult {
    CheckResult::judge("x", criteria, serde_json::Value::Null, vec![])
}

#[test]
fn a_quick_check_fails_on_an_exact_criterion_and_exits_3_on_timing_ones_only() {
    // Before, ci/test.sh turned every failed quick check of eight checks into a timing warning,
    // exact criteria (ids, reconciliation, RSS bounds) included.
    let r = judged;
    let ok = r(vec![
        Criterion::exact(true, "a"),
        Criterion::timing(true, "b"),
    ]);
    let slow = r(vec![
        Criterion::exact(true, "a"),
        Criterion::timing(false, "b"),
    ]);
    let wrong = r(vec![
        Criterion::exact(false, "a"),
        Criterion::timing(true, "b"),
    ]);
    assert_eq!(exit_code(std::slice::from_ref(&ok), true), 0);
    assert_eq!(exit_code(&[ok.clone(), slow.clone()], true), 3);
    assert_eq!(
        exit_code(std::slice::from_ref(&slow), false),
        1,
        "a full run judges timing"
    );
    assert_eq!(exit_code(&[slow, wrong.clone()], true), 1);
    assert_eq!(exit_code(&[wrong], false), 1);
}

#[test]
fn contention_is_flagged_only_past_the_threshold() {
    let quiet = Contention {
        runs: 4,
        contended: 0,
        max_other_cores: 0.2,
        threshold_cores: CONTENDED_OTHER_CORES,
        max_cpu_pressure: 0.1,
        max_io_pressure: 0.4,
        io_contended: 0,
        max_others_write_bytes_per_s: 2e5,
        threshold_io_bytes_per_s: CONTENDED_OTHERS_WRITE_BYTES_PER_S,
    };
    assert_eq!(quiet.note(), None);
    let busy = Contention {
        contended: 1,
        max_other_cores: 1.7,
        ..quiet
    };
    let n = busy.note().unwrap();
    assert!(
        n.contains("in 1 of 4 measured runs")
            && n.contains("max 1.70")
            && n.contains("I/O pressure up to 40 %"),
        "{n}"
    );
}

#[test]
fn spread_of_odd_and_even_samples() {
    assert_eq!(Spread::of(&[3.0, 1.0, 2.0]).median, 2.0);
    let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]);
    assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
}

#[test]
fn effective_max_is_the_tighter_bound() {
    let w = WindowConfig {
        max_items: 16384,
        max_bytes: 1 << 20,
        linger: Duration::ZERO,
    };
    assert_eq!(effective_max_items(&w, 100), (1 << 20) / 105);
    let w = WindowConfig { max_items: 64, ..w };
    assert_eq!(effective_max_items(&w, 100), 64);
}

#[test]
fn an_undecided_criterion_is_neither_pass_nor_fail_and_exits_3_on_a_full_run() {
    let r = judged;
    let undecided =
        crate::stats::judge_samples(vec![9.0, 11.0], 0.95, |iv| crate::stats::at_most(iv, 10.0));
    let c = Criterion::decided(undecided, "p99 ≤ 10");
    assert!(
        !c.held && c.inconclusive && c.verdict() == "INCONCLUSIVE",
        "{c:?}"
    );
    assert!(
        c.what.contains("inconclusive") && c.what.contains("2 runs"),
        "{}",
        c.what
    );
    let res = r(vec![Criterion::exact(true, "a"), c.clone()]);
    assert!(!res.pass && res.inconclusive && res.verdict() == "INCONCLUSIVE");
    assert_eq!(exit_code(std::slice::from_ref(&res), false), 3);
    // A decided failure beside it makes the check fail.
    let failed = r(vec![c, Criterion::timing(false, "b")]);
    assert!(!failed.inconclusive && failed.verdict() == "FAIL");
    assert_eq!(exit_code(&[failed], false), 1);
}

#[test]
fn a_claim_whose_premise_is_not_met_here_is_undecided_not_failed() {
    let claim = Criterion::timing(false, "p99 ≤ SLO");
    assert_eq!(claim.clone().resting_on(true).verdict(), "FAIL (timing)");
    assert_eq!(claim.resting_on(false).verdict(), "INCONCLUSIVE");
    let premise = Criterion::premise(false, "2 × fdatasync p99 ≤ SLO");
    assert!(premise.inconclusive && premise.what.starts_with("premise not met"));
    assert!(Criterion::timing(true, "held").resting_on(false).held);
}

#[test]
fn a_competing_writer_is_flagged_and_turns_a_timing_failure_into_an_undecided_verdict() {
    let quiet = Contention {
        runs: 6,
        threshold_cores: CONTENDED_OTHER_CORES,
        threshold_io_bytes_per_s: CONTENDED_OTHERS_WRITE_BYTES_PER_S,
        ..Contention::default()
    };
    let writer = Contention {
        io_contended: 2,
        max_others_write_bytes_per_s: 12e6,
        ..quiet.clone()
    };
    assert!(!quiet.substantial() && writer.substantial());
    // One contended run in six does not excuse the other five; two do (one in five or more).
    let one = Contention {
        io_contended: 1,
        ..writer.clone()
    };
    assert!(!one.substantial());
    let n = writer.note().unwrap();
    assert!(
        n.contains("I/O contention: in 2 of 6") && n.contains("12.0 MB/s"),
        "{n}"
    );
    let mut r = judged(vec![
        Criterion::exact(true, "ids"),
        Criterion::timing(false, "p99 ≤ SLO"),
    ]);
    r.undecided_under_contention();
    assert!(r.inconclusive && r.verdict() == "INCONCLUSIVE");
    assert!(r.criteria[1].what.contains("under contention"));
    assert_eq!(exit_code(&[r], false), 3);
    // An exact failure stays a failure, contention or not.
    let mut e = judged(vec![
        Criterion::exact(false, "ids"),
        Criterion::timing(false, "p99"),
    ]);
    e.undecided_under_contention();
    assert!(!e.inconclusive && e.verdict() == "FAIL" && e.exact_failed);
}

#[test]
fn a_run_without_the_figure_is_left_out_of_the_spread_not_sorted_anywhere() {
    // Before, NaN compared equal to everything, so where it landed (and whether the median of
    // three was NaN) depended on the runs' order.
    for v in [
        [f64::NAN, 1.0, 3.0],
        [1.0, f64::NAN, 3.0],
        [3.0, 1.0, f64::NAN],
    ] {
        let s = Spread::of(&v);
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 2));
    }
    let none = Spread::of(&[f64::NAN]);
    assert!(none.median.is_nan() && none.n == 0);
}

#[test]
fn a_field_holding_a_comma_quote_and_newline_survives_the_round_trip() {
    // Before, the checks joined cells with commas by hand: a text like this one cut its row into
    // extra columns and extra rows for the report's reader.
    #[derive(Serialize)]
    struct Row {
        case: &'static str,
        #[serde(rename = "p99 µs")]
        p99_us: f64,
        n: u64,
        spare: Option<u64>,
    }
    let tricky = "a, \"quoted\" case\nover two lines";
    let d = crate::testutil::tempdir();
    let rows = [
        Row {
            case: tricky,
            p99_us: rounded(1.50, 2),
            n: 12,
            spare: None,
        },
        Row {
            case: "plain",
            p99_us: f64::NAN,
            n: 3,
            spare: Some(4),
        },
    ];
    let p = write_csv_rows(d.path(), "t.csv", &rows).unwrap();
    let c = crate::report::Csv::read(std::path::Path::new(&p)).unwrap();
    assert_eq!(c.header, ["case", "p99 µs", "n", "spare"]);
    assert_eq!(c.rows.len(), 2);
    assert_eq!(c.text(&c.rows[0], "case"), Some(tricky));
    assert_eq!(c.num(&c.rows[0], "p99 µs"), Some(1.5));
    // An integer stays an integer; an empty cell is no number.
    assert_eq!(c.text(&c.rows[0], "n"), Some("12"));
    assert_eq!(c.text(&c.rows[0], "spare"), Some(""));
    assert_eq!(c.num(&c.rows[0], "spare"), None);
    assert_eq!(c.text(&c.rows[1], "case"), Some("plain"));
    assert_eq!(c.num(&c.rows[1], "p99 µs"), None);
    assert_eq!(c.num(&c.rows[1], "spare"), Some(4.0));
}

#[test]
fn a_whole_figure_is_written_as_an_integer_and_a_missing_one_as_nan() {
    #[derive(Serialize)]
    struct Row {
        items_per_s: Whole,
    }
    let d = crate::testutil::tempdir();
    let rows = [12.0, 5604.6, -0.4, f64::NAN].map(|x| Row {
        items_per_s: Whole(x),
    });
    let p = write_csv_rows(d.path(), "w.csv", &rows).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text, "items_per_s\n12\n5605\n0\nNaN\n");
    let c = crate::report::Csv::parse(&text).unwrap();
    assert_eq!(c.num(&c.rows[1], "items_per_s"), Some(5605.0));
    assert_eq!(c.num(&c.rows[3], "items_per_s"), None);
}
