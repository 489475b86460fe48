//! The report's first screen: every claim a run judged, its verdict, the figure it rests on (with its
//! interval when it was a statistical decision) and a link to its check's section — so a reader sees
//! what holds, what fails and what could not be decided before any provenance or table.

use std::fmt::Write as _;

use serde_json::Value;

use super::html::{esc, verdict_of};
use crate::stats::Interval;

/// `id` of a check's section, for links.
pub fn anchor(check: &str) -> String {
    format!(
        "check-{}",
        check
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}

/// A criterion's sentence cut at its first colon (the claim without its figures), at most 110
/// characters.
fn claim(what: &str) -> String {
    let head = what.split(": ").next().unwrap_or(what);
    let mut s: String = head.chars().take(110).collect();
    if head.chars().count() > 110 {
        s.push('…');
    }
    s
}

/// The figure a criterion rests on: its decision's median and interval, or the rest of its sentence.
fn figure(c: &Value) -> String {
    let iv = &c["decision"]["interval"];
    if let (Some(median), Some(n)) = (iv["median"].as_f64(), iv["n"].as_u64()) {
        // An unbounded end is written as null in JSON.
        return Interval {
            median,
            lo: iv["lo"].as_f64().unwrap_or(f64::NEG_INFINITY),
            hi: iv["hi"].as_f64().unwrap_or(f64::INFINITY),
            n: n as usize,
            level: iv["level"].as_f64().unwrap_or(0.0),
        }
        .describe();
    }
    let what = c["what"].as_str().unwrap_or("");
    let rest = what.split_once(": ").map_or("", |(_, r)| r);
    rest.chars().take(120).collect()
}

/// The summary table of `checks` (`checks.json`'s array): one row per check — its verdict, how many
/// of its criteria held, failed or were undecided, and its headline: the first criterion that failed,
/// else the first undecided one, else its first (what a reader must look at first).
pub fn summary_section(checks: &[Value]) -> String {
    let (mut pass, mut fail, mut undecided) = (0, 0, 0);
    let mut rows = String::new();
    let flag = |v: &Value, k: &str| v[k].as_bool().unwrap_or(false);
    for c in checks {
        let name = c["check"].as_str().unwrap_or("?");
        let (class, _, word) = verdict_of(c, "pass");
        match word {
            "PASS" => pass += 1,
            "FAIL" => fail += 1,
            _ => undecided += 1,
        }
        let criteria = c["criteria"].as_array().cloned().unwrap_or_default();
        let held = criteria.iter().filter(|x| flag(x, "held")).count();
        let open = criteria
            .iter()
            .filter(|x| !flag(x, "held") && flag(x, "inconclusive"))
            .count();
        let failed = criteria.len() - held - open;
        let headline = criteria
            .iter()
            .find(|x| !flag(x, "held") && !flag(x, "inconclusive"))
            .or_else(|| criteria.iter().find(|x| !flag(x, "held")))
            .or(criteria.first());
        let (hclass, hword, text, fig) = match headline {
            Some(h) => {
                let (hc, _, hw) = verdict_of(h, "held");
                (hc, hw, claim(h["what"].as_str().unwrap_or("")), figure(h))
            }
            None => ("", "", String::new(), String::new()),
        };
        let _ = writeln!(
            rows,
            "<tr><th><a href=\"#{}\">{}</a></th><td class=\"{class}\">{word}</td>\
             <td>{held} held, {failed} failed, {open} undecided</td>\
             <td class=\"claim\"><span class=\"{hclass}\">{hword}</span> {}</td><td class=\"claim\">{}</td></tr>",
            anchor(name),
            esc(name),
            esc(&text),
            esc(&fig)
        );
    }
    format!(
        "<h2>Summary</h2>\n<p>{} checks: <span class=\"pass\">{pass} PASS</span>, <span class=\"fail\">{fail} FAIL</span>, \
         <span class=\"undecided\">{undecided} INCONCLUSIVE</span> (a timing claim whose runs could not decide it, or \
         whose premise this machine does not meet). A check's headline is its first criterion that failed, else its \
         first undecided one, else its first; each check links to its section.</p>\n\
         <table class=\"summary\">\n<tr><th>check</th><th>verdict</th><th>criteria</th><th>headline</th><th>figure</th></tr>\n\
         {rows}</table>\n",
        checks.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_check_with_its_counts_and_the_criterion_to_look_at_first() {
        let checks: Vec<Value> = serde_json::from_str(
            r#"[{"check":"before-after","pass":false,"inconclusive":true,"criteria":[
                {"what":"saturation: batched ≥ 500×: holds","held":true,"inconclusive":false},
                {"what":"p99 ≤ SLO: inconclusive","held":false,"inconclusive":true,
                 "decision":{"interval":{"median":9000,"lo":7000,"hi":12000,"n":10,"level":0.98}}}]},
               {"check":"bomb","pass":false,"criteria":[{"what":"ok: fine","held":true},
                {"what":"capped <b>: 3 MB","held":false}]}]"#,
        )
        .unwrap();
        let s = summary_section(&checks);
        assert!(
            s.contains("2 checks")
                && s.contains("0 PASS")
                && s.contains("1 FAIL")
                && s.contains("1 INCONCLUSIVE")
        );
        assert!(s.contains("href=\"#check-before-after\""));
        assert!(s.contains("1 held, 0 failed, 1 undecided"), "{s}");
        assert!(
            s.contains("INCONCLUSIVE</span> p99 ≤ SLO"),
            "the undecided one is the headline: {s}"
        );
        assert!(
            s.contains("median 9000, 98 % interval 7000–12000, 10 runs"),
            "{s}"
        );
        assert!(
            s.contains("FAIL</span> capped &lt;b&gt;") && s.contains("3 MB"),
            "the failed one, escaped: {s}"
        );
        assert_eq!(
            s.matches("<tr>").count(),
            3,
            "a header and one row per check"
        );
    }
}
