//! `ingest-lab report --compare RUN_A RUN_B`: the before/after of two run folders (e.g. two commits)
//! side by side — each run's provenance, each check's verdict, and every numeric figure both runs
//! recorded, with the change from A to B. Figures come from each folder's `checks.json` only.
//!
//! A figure is marked **changed** only by the rule the verdicts use (`crate::stats`): both runs give it
//! an interval — a statistical decision's confidence interval of the median, or a repeated figure's
//! `[min, max]` — the two intervals are disjoint, and the medians differ by at least [`MIN_FACTOR`]. A
//! figure measured once has no noise estimate, so it is shown and not judged: two runs of the same
//! commit compare as unchanged however far one-off figures wander. Which direction is better differs by
//! figure (items/s up, p99 down), so the page says "changed", not "better" or "worse".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::html::{esc, read_json, verdict_of};

/// The smallest change of a median marked as changed, even with disjoint intervals: a difference
/// too small to matter is not a change to act on (asv's `factor`).
pub const MIN_FACTOR: f64 = 0.05;

/// One figure both runs recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureDelta {
    /// `check.path.to.figure`.
    pub figure: String,
    /// Run A's value.
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// (b − a) / |a|; `None` when both are 0, infinite when only a is.
    pub change: Option<f64>,
    /// Run A's interval for it (`[lo, hi]`), when it has one.
    pub a_interval: Option<(f64, f64)>,
    /// Run B's interval.
    pub b_interval: Option<(f64, f64)>,
    /// Changed by the rule: `Some(true)`/`Some(false)` when both runs have intervals, `None` when a
    /// run measured it once (not judged).
    pub changed: Option<bool>,
}

/// The rule: both intervals known, disjoint, and the change at least [`MIN_FACTOR`].
pub fn changed(
    a_interval: Option<(f64, f64)>,
    b_interval: Option<(f64, f64)>,
    change: Option<f64>,
) -> Option<bool> {
    let ((alo, ahi), (blo, bhi)) = (a_interval?, b_interval?);
    let disjoint = ahi < blo || bhi < alo;
    Some(disjoint && change.is_some_and(|c| c.abs() >= MIN_FACTOR))
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run folders.
    pub run_a: String,
    /// Run folders.
    pub run_b: String,
    /// Commits (from provenance.json).
    pub commit_a: String,
    /// Commits (from provenance.json).
    pub commit_b: String,
    /// `(check, verdict in A, verdict in B)`: `PASS`, `FAIL` or `INCONCLUSIVE`; `None` where the run
    /// has no such check.
    pub verdicts: Vec<(String, Option<String>, Option<String>)>,
    /// Figures both runs have, by check then name.
    pub figures: Vec<FigureDelta>,
    /// Figures only one run has.
    pub only_in_one: usize,
}

/// A figure's value and, where the run gave it one, its interval.
type Leaves = BTreeMap<String, (f64, Option<(f64, f64)>)>;

fn finite(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// Numeric leaves of `v` under `prefix` (objects only: arrays are per-run series, not figures). A
/// spread (`median`, `min`, `max`, `n` ≥ 2) gives its median the interval `[min, max]`; a decision
/// (`interval` with finite `lo`/`hi`) gives its `interval.median` that interval.
fn flatten(prefix: &str, v: &Value, out: &mut Leaves) {
    match v {
        Value::Number(_) => {
            if let Some(x) = finite(v) {
                out.insert(prefix.to_string(), (x, None));
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
            let spread = (finite(&v["min"]), finite(&v["max"]), v["n"].as_u64());
            if let (Some(lo), Some(hi), Some(n)) = spread {
                // [min, max] of n runs covers the median with 1 - 2·0.5ⁿ: only from the verdicts'
                // run count on is it an interval at their level (3 runs: 75 %, not one).
                if n as usize >= crate::stats::min_runs_for(crate::stats::LEVEL) {
                    if let Some(e) = out.get_mut(&format!("{prefix}.median")) {
                        e.1 = Some((lo, hi));
                    }
                }
            }
            let iv = &v["interval"];
            if let (Some(lo), Some(hi)) = (finite(&iv["lo"]), finite(&iv["hi"])) {
                if let Some(e) = out.get_mut(&format!("{prefix}.interval.median")) {
                    e.1 = Some((lo, hi));
                }
            }
        }
        _ => {}
    }
}

/// A check's verdict word as its JSON gives it (`None` without a verdict).
fn verdict_word(c: &Value) -> Option<String> {
    c["pass"].as_bool()?;
    Some(verdict_of(c, "pass").2.to_string())
}

fn checks(run: &Path) -> Result<Vec<Value>, String> {
    let v = read_json(&run.join("checks.json"))?;
    v["checks"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("{}: no \"checks\" array", run.join("checks.json").display()))
}

fn commit(run: &Path) -> String {
    read_json(&run.join("provenance.json"))
        .ok()
        .and_then(|p| p["commit"].as_str().map(str::to_string))
        .unwrap_or_else(|| "(no provenance.json)".into())
}

/// Compare two run folders.
pub fn compare(a: &Path, b: &Path) -> Result<Comparison, String> {
    let (ca, cb) = (checks(a)?, checks(b)?);
    let mut names: Vec<String> = Vec::new();
    for c in ca.iter().chain(&cb) {
        if let Some(n) = c["check"].as_str() {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
    }
    let find = |list: &[Value], n: &str| list.iter().find(|c| c["check"] == n).cloned();
    let mut verdicts = Vec::new();
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    for n in &names {
        let (x, y) = (find(&ca, n), find(&cb, n));
        verdicts.push((
            n.clone(),
            x.as_ref().and_then(verdict_word),
            y.as_ref().and_then(verdict_word),
        ));
        if let Some(x) = x {
            flatten(n, &x["figures"], &mut fa);
        }
        if let Some(y) = y {
            flatten(n, &y["figures"], &mut fb);
        }
    }
    let mut figures = Vec::new();
    let mut only_in_one = 0;
    for (k, &(va, ia)) in &fa {
        match fb.get(k) {
            Some(&(vb, ib)) => {
                let change = if va != 0.0 {
                    Some((vb - va) / va.abs())
                } else if vb != 0.0 {
                    Some(f64::INFINITY.copysign(vb))
                } else {
                    None
                };
                figures.push(FigureDelta {
                    figure: k.clone(),
                    a: va,
                    b: vb,
                    change,
                    a_interval: ia,
                    b_interval: ib,
                    changed: changed(ia, ib, change),
                })
            }
            None => only_in_one += 1,
        }
    }
    only_in_one += fb.keys().filter(|k| !fa.contains_key(*k)).count();
    Ok(Comparison {
        run_a: a.display().to_string(),
        run_b: b.display().to_string(),
        commit_a: commit(a),
        commit_b: commit(b),
        verdicts,
        figures,
        only_in_one,
    })
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn verdict(v: &Option<String>) -> String {
    match v.as_deref() {
        Some("PASS") => "<span class=\"pass\">PASS</span>".into(),
        Some("FAIL") => "<span class=\"fail\">FAIL</span>".into(),
        Some(w) => format!("<span class=\"undecided\">{}</span>", esc(w)),
        None => "—".into(),
    }
}

fn interval(iv: Option<(f64, f64)>) -> String {
    iv.map_or("—".into(), |(lo, hi)| format!("{}–{}", num(lo), num(hi)))
}

/// The comparison as an HTML page.
pub fn render_html(c: &Comparison) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ingest-lab: {a} vs {b}</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}}\n\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}}\n\
         th,td{{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right}}\nth{{background:#f3f3f3}}\ntd:first-child{{text-align:left}}\n\
         .pass{{color:#176117}}\n.fail{{color:#a01515}}\n.undecided{{color:#8a5a00}}\n.big{{background:#fff3cd}}\n\
         </style></head><body>\n<h1>Run A vs run B</h1>\n<table>\n<tr><th></th><th>folder</th><th>commit</th></tr>\n\
         <tr><td>A</td><td>{a}</td><td>{ca}</td></tr>\n<tr><td>B</td><td>{b}</td><td>{cb}</td></tr>\n</table>\n",
        a = esc(&c.run_a),
        b = esc(&c.run_b),
        ca = esc(&c.commit_a),
        cb = esc(&c.commit_b)
    );
    s.push_str("<h2>Verdicts</h2>\n<table>\n<tr><th>check</th><th>A</th><th>B</th></tr>\n");
    for (n, a, b) in &c.verdicts {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(n),
            verdict(a),
            verdict(b)
        );
    }
    s.push_str("</table>\n");
    let _ = write!(
        s,
        "<h2>Figures both runs recorded</h2>\n<p>A figure is <b>changed</b> (shaded) only when both runs give it an \
         interval (a decision's confidence interval, or a repeated figure's min–max), the intervals are disjoint, \
         and the medians differ by at least {:.0} %. A figure measured once has no noise estimate and is not judged. \
         Which direction is better depends on the figure. {} figures were recorded by one run only.</p>\n<table>\n\
         <tr><th>figure</th><th>A</th><th>A interval</th><th>B</th><th>B interval</th><th>change</th><th>changed?</th></tr>\n",
        MIN_FACTOR * 100.0,
        c.only_in_one
    );
    for f in &c.figures {
        let big = f.changed == Some(true);
        let _ = writeln!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if big { " class=\"big\"" } else { "" },
            esc(&f.figure),
            num(f.a),
            interval(f.a_interval),
            num(f.b),
            interval(f.b_interval),
            f.change
                .map_or("—".into(), |x| format!("{:+.1} %", x * 100.0)),
            match f.changed {
                Some(true) => "changed",
                Some(false) => "no",
                None => "not judged",
            }
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, commit: &str, pass: bool, rate: f64) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("provenance.json"),
            format!(r#"{{"commit":"{commit}"}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("checks.json"),
            format!(
                r#"{{"checks":[{{"check":"ingest","pass":{pass},"figures":{{"rate":{{"median":{rate},"n":3}},"runs":[1,2],"zero":0}}}}]}}"#
            ),
        )
        .unwrap();
    }

    #[test]
    fn figures_of_both_runs_are_paired_with_their_change() {
        let d = crate::testutil::tempdir();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        run(&a, "aaa", false, 2_000_000.0);
        run(&b, "bbb", true, 3_000_000.0);
        let c = compare(&a, &b).unwrap();
        assert_eq!((c.commit_a.as_str(), c.commit_b.as_str()), ("aaa", "bbb"));
        assert_eq!(
            c.verdicts,
            vec![("ingest".into(), Some("FAIL".into()), Some("PASS".into()))]
        );
        let rate = c
            .figures
            .iter()
            .find(|f| f.figure == "ingest.rate.median")
            .unwrap();
        assert_eq!(rate.change, Some(0.5));
        assert_eq!(rate.changed, None, "no min/max: measured once, not judged");
        let zero = c
            .figures
            .iter()
            .find(|f| f.figure == "ingest.zero")
            .unwrap();
        assert_eq!(zero.change, None, "no ratio from a zero");
        assert!(
            !c.figures.iter().any(|f| f.figure.contains("runs")),
            "arrays are not figures"
        );
        let html = render_html(&c);
        assert!(html.contains("ingest.rate.median") && html.contains("+50.0 %"));
        assert!(
            !html.contains("class=\"big\""),
            "nothing judged, nothing shaded"
        );
    }

    fn spread_run(dir: &Path, median: f64, min: f64, max: f64, decision: (f64, f64, f64)) {
        std::fs::create_dir_all(dir).unwrap();
        let (m, lo, hi) = decision;
        std::fs::write(
            dir.join("checks.json"),
            format!(
                r#"{{"checks":[{{"check":"before-after","pass":false,"inconclusive":true,"figures":{{
                    "tput":{{"median":{median},"min":{min},"max":{max},"n":6}},
                    "p99":{{"outcome":"inconclusive","samples":[1,2],"interval":{{"median":{m},"lo":{lo},"hi":{hi},"n":6,"level":0.97}}}}}}}}]}}"#
            ),
        )
        .unwrap();
    }

    /// Two runs of one commit differ by noise: a 20 % move of the median inside overlapping
    /// intervals is not a change (the old rule shaded anything past 10 %); disjoint intervals with a
    /// large move are; disjoint intervals with a tiny move are not.
    #[test]
    fn two_runs_of_the_same_commit_compare_as_unchanged_and_a_real_shift_as_changed() {
        let d = crate::testutil::tempdir();
        let (a, b, c2) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
        spread_run(&a, 100.0, 80.0, 130.0, (5000.0, 4000.0, 7000.0));
        spread_run(&b, 120.0, 90.0, 140.0, (6200.0, 4500.0, 8000.0));
        spread_run(&c2, 200.0, 180.0, 230.0, (5100.0, 7001.0, 7002.0));
        let same = compare(&a, &b).unwrap();
        assert!(
            same.figures.iter().all(|f| f.changed != Some(true)),
            "{:?}",
            same.figures
        );
        assert_eq!(same.verdicts[0].1.as_deref(), Some("INCONCLUSIVE"));
        let shifted = compare(&a, &c2).unwrap();
        let by = |n: &str| {
            shifted
                .figures
                .iter()
                .find(|f| f.figure == n)
                .unwrap()
                .clone()
        };
        assert_eq!(by("before-after.tput.median").changed, Some(true));
        assert_eq!(
            by("before-after.p99.interval.median").changed,
            Some(false),
            "disjoint, but a 2 % move is below the factor"
        );
        assert!(render_html(&shifted).contains("class=\"big\""));
    }

    #[test]
    fn a_folder_without_checks_is_a_clear_error() {
        let d = crate::testutil::tempdir();
        let e = compare(d.path(), d.path()).unwrap_err();
        assert!(e.contains("checks.json"), "{e}");
    }

    /// A spread of 3 runs is no interval at the verdicts' level (its min–max covers 75 %), and a figure
    /// that leaves zero is an infinite change, not "no change" (review findings).
    #[test]
    fn three_runs_are_not_judged_and_a_figure_leaving_zero_is_a_change() {
        let d = crate::testutil::tempdir();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        for (dir, median, z) in [(&a, 100.0, 0.0), (&b, 500.0, 7.0)] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                dir.join("checks.json"),
                format!(
                    r#"{{"checks":[{{"check":"x","pass":true,"figures":{{
                        "t":{{"median":{median},"min":{median},"max":{median},"n":3}},"lost":{z}}}}}]}}"#
                ),
            )
            .unwrap();
        }
        let c = compare(&a, &b).unwrap();
        let by = |n: &str| c.figures.iter().find(|f| f.figure == n).unwrap().clone();
        assert_eq!(by("x.t.median").changed, None, "3 runs: not judged");
        assert_eq!(by("x.lost").change, Some(f64::INFINITY));
    }
}
