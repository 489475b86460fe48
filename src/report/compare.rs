//! `ingest-lab report --compare RUN_A RUN_B`: the before/after of two run folders (e.g. two commits)
//! side by side — each run's provenance, each check's verdict, and every numeric figure both runs
//! recorded, with the change from A to B. Figures come from each folder's `checks.json` only.
//!
//! Which direction is better differs by figure (items/s up, p99 down), so the page states the change
//! and marks large ones (beyond [`NOTABLE`]) without calling them good or bad; the verdict columns
//! say whether each check's own criteria held.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::html::{esc, read_json};

/// A change larger than this fraction is marked on the page and listed first in the summary.
pub const NOTABLE: f64 = 0.10;

/// One figure both runs recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureDelta {
    /// `check.path.to.figure`.
    pub figure: String,
    /// Run A's value.
    pub a: f64,
    /// Run B's value.
    pub b: f64,
    /// (b − a) / |a|; `None` when a is 0.
    pub change: Option<f64>,
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
    /// `(check, pass in A, pass in B)`; `None` where the run has no such check.
    pub verdicts: Vec<(String, Option<bool>, Option<bool>)>,
    /// Figures both runs have, by check then name.
    pub figures: Vec<FigureDelta>,
    /// Figures only one run has.
    pub only_in_one: usize,
}

/// Numeric leaves of `v` under `prefix` (objects only: arrays are per-run series, not figures).
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, f64>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|x| x.is_finite()) {
                out.insert(prefix.to_string(), x);
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        _ => {}
    }
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
            x.as_ref().and_then(|c| c["pass"].as_bool()),
            y.as_ref().and_then(|c| c["pass"].as_bool()),
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
    for (k, &va) in &fa {
        match fb.get(k) {
            Some(&vb) => figures.push(FigureDelta {
                figure: k.clone(),
                a: va,
                b: vb,
                change: (va != 0.0).then(|| (vb - va) / va.abs()),
            }),
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

fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "<span class=\"pass\">PASS</span>",
        Some(false) => "<span class=\"fail\">FAIL</span>",
        None => "—",
    }
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
         .pass{{color:#176117}}\n.fail{{color:#a01515}}\n.big{{background:#fff3cd}}\n\
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
            verdict(*a),
            verdict(*b)
        );
    }
    s.push_str("</table>\n");
    let _ = write!(
        s,
        "<h2>Figures both runs recorded</h2>\n<p>Changes beyond {:.0} % are shaded; which direction is better depends on the figure. \
         {} figures were recorded by one run only.</p>\n<table>\n<tr><th>figure</th><th>A</th><th>B</th><th>change</th></tr>\n",
        NOTABLE * 100.0,
        c.only_in_one
    );
    for f in &c.figures {
        let big = f.change.is_some_and(|x| x.abs() > NOTABLE);
        let _ = writeln!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if big { " class=\"big\"" } else { "" },
            esc(&f.figure),
            num(f.a),
            num(f.b),
            f.change
                .map_or("—".into(), |x| format!("{:+.1} %", x * 100.0))
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
        assert_eq!(c.verdicts, vec![("ingest".into(), Some(false), Some(true))]);
        let rate = c
            .figures
            .iter()
            .find(|f| f.figure == "ingest.rate.median")
            .unwrap();
        assert_eq!(rate.change, Some(0.5));
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
        assert!(html.contains("class=\"big\""));
    }

    #[test]
    fn a_folder_without_checks_is_a_clear_error() {
        let d = crate::testutil::tempdir();
        let e = compare(d.path(), d.path()).unwrap_err();
        assert!(e.contains("checks.json"), "{e}");
    }
}
