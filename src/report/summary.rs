//! The report's first screen: every claim a run judged, its verdict, the figure it rests on (with its
//! interval when it was a statistical decision) and a link to its check's section — so a reader sees
//! what holds, what fails and what could not be decided before any provenance or table.

use std::fmt::Write as _;

use serde_json::Value;

use super::html::esc;

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

/// (class, word) of a verdict.
fn verdict(held: bool, inconclusive: bool) -> (&'static str, &'static str) {
    match (held, inconclusive) {
        (true, _) => ("pass", "PASS"),
        (false, true) => ("undecided", "INCONCLUSIVE"),
        (false, false) => ("fail", "FAIL"),
    }
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
    if let (Some(m), Some(n)) = (iv["median"].as_f64(), iv["n"].as_u64()) {
        let end = |v: &Value| v.as_f64().map_or("?".to_string(), |x| format!("{x:.0}"));
        return format!(
            "median {m:.0}, {:.0} % interval {}–{}, {n} runs",
            iv["level"].as_f64().unwrap_or(0.0) * 100.0,
            end(&iv["lo"]),
            end(&iv["hi"])
        );
    }
    let what = c["what"].as_str().unwrap_or("");
    let rest = what.split_once(": ").map_or("", |(_, r)| r);
    rest.chars().take(120).collect()
}

/// The summary table of `checks` (`checks.json`'s array): one row per criterion.
pub fn summary_section(checks: &[Value]) -> String {
    let (mut pass, mut fail, mut undecided) = (0, 0, 0);
    let mut rows = String::new();
    for c in checks {
        let name = c["check"].as_str().unwrap_or("?");
        let flag = |v: &Value, k: &str| v[k].as_bool().unwrap_or(false);
        let (class, word) = verdict(flag(c, "pass"), flag(c, "inconclusive"));
        match word {
            "PASS" => pass += 1,
            "FAIL" => fail += 1,
            _ => undecided += 1,
        }
        let criteria = c["criteria"].as_array().cloned().unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr><th rowspan=\"{}\"><a href=\"#{}\">{}</a><br><span class=\"{class}\">{word}</span></th>",
            criteria.len().max(1),
            anchor(name),
            esc(name)
        );
        if criteria.is_empty() {
            rows.push_str("<td colspan=\"3\"></td></tr>\n");
        }
        for (i, cr) in criteria.iter().enumerate() {
            let (class, word) = verdict(flag(cr, "held"), flag(cr, "inconclusive"));
            let _ = writeln!(
                rows,
                "{}<td class=\"{class}\">{word}</td><td class=\"claim\">{}</td><td class=\"claim\">{}</td></tr>",
                if i == 0 { "" } else { "<tr>" },
                esc(&claim(cr["what"].as_str().unwrap_or(""))),
                esc(&figure(cr))
            );
        }
    }
    format!(
        "<h2>Summary</h2>\n<p>{} checks: <span class=\"pass\">{pass} PASS</span>, <span class=\"fail\">{fail} FAIL</span>, \
         <span class=\"undecided\">{undecided} INCONCLUSIVE</span> (a timing claim whose runs could not decide it, or \
         whose premise this machine does not meet). Each check links to its section.</p>\n\
         <table class=\"summary\">\n<tr><th>check</th><th>verdict</th><th>claim</th><th>figure</th></tr>\n{rows}</table>\n",
        checks.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_criterion_gets_a_row_with_its_verdict_and_its_decisions_interval() {
        let checks: Vec<Value> = serde_json::from_str(
            r#"[{"check":"before-after","pass":false,"inconclusive":true,"criteria":[
                {"what":"saturation: batched ≥ 500×: holds","held":true,"inconclusive":false,
                 "decision":{"interval":{"median":1050,"lo":1010,"hi":1140,"n":6,"level":0.97}}},
                {"what":"p99 ≤ SLO: inconclusive","held":false,"inconclusive":true}]},
               {"check":"bomb","pass":false,"criteria":[{"what":"capped <b>: 3 MB","held":false}]}]"#,
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
        assert!(
            s.contains("median 1050, 97 % interval 1010–1140, 6 runs"),
            "{s}"
        );
        assert!(
            s.contains("capped &lt;b&gt;") && s.contains("3 MB"),
            "escaped: {s}"
        );
        assert_eq!(
            s.matches("<tr>").count(),
            4,
            "a header, one row per check, one more for its second criterion"
        );
    }
}
