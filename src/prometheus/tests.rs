//! The exposition against the counter table and the JSON report: every counter the table defines is
//! printed once, under its labels, with the value the report's JSON holds in the field the table
//! names — so a counter added to the report and not the table, or the other way round, fails here.

use std::collections::BTreeSet;

use super::{render_live, render_report, LiveCounters};
use crate::counters::testing::{at, distinct_report, key, parse};
use crate::counters::{COUNTERS, DISTRIBUTIONS, NOT_EXPOSED};

#[test]
fn every_counter_in_the_table_is_in_the_json_report_and_the_exposition_with_the_same_value() {
    let r = distinct_report();
    let json = serde_json::to_value(&r).unwrap();
    let expo = parse(&render_report(&r));
    let policy = &r.settings.overflow;
    let mut named = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for d in COUNTERS {
        let mut sum = 0;
        for s in d.series {
            let k = key(d, s, policy);
            let printed = *expo.get(&k).unwrap_or_else(|| panic!("{k} not printed"));
            let v = (s.read)(&r);
            assert_eq!(printed, v as f64, "{k}");
            sum += v;
            match s.json {
                Some(path) => {
                    assert!(v > 0, "{k}: distinct_report leaves `{path}` zero");
                    assert_eq!(at(&json, path), v, "{k} against the JSON's `{path}`");
                    named.insert(path.to_string());
                }
                None => assert_eq!(v, 0, "{k}: not in the report, so empty when it ends"),
            }
            assert!(seen.insert(k.clone()), "{k} twice");
        }
        if let Some(path) = d.json_total {
            assert_eq!(at(&json, path), sum, "{}: the JSON's `{path}`", d.name);
            named.insert(path.to_string());
        }
    }
    // Every counter and gauge sample printed is a table series (the rest are the summaries).
    let summaries: Vec<&str> = DISTRIBUTIONS
        .iter()
        .map(|d| d.name)
        .chain(["ingest_batch_items"])
        .collect();
    let printed: BTreeSet<String> = expo
        .keys()
        .filter(|k| !summaries.iter().any(|s| k.starts_with(s)))
        .cloned()
        .collect();
    assert_eq!(printed, seen);
    // Every integer field of the report's JSON (outside the distributions, the settings and the CPU
    // use) is a table counter or deliberately not exposed.
    let skip: Vec<&str> = DISTRIBUTIONS
        .iter()
        .map(|d| d.json)
        .chain(["batch_size", "settings", "cpu"])
        .collect();
    let mut fields = BTreeSet::new();
    for (k, v) in json.as_object().unwrap() {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match v {
            serde_json::Value::Number(n) if n.is_u64() => {
                fields.insert(k.clone());
            }
            serde_json::Value::Object(o) => {
                for (sub, v) in o {
                    if v.is_u64() {
                        fields.insert(format!("{k}.{sub}"));
                    }
                }
            }
            _ => {}
        }
    }
    let quiet: BTreeSet<String> = NOT_EXPOSED.iter().map(|(f, _)| f.to_string()).collect();
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !named.contains(*f) && !quiet.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "in the JSON, not in the table: {missing:?}"
    );
    let stale: Vec<&String> = named
        .union(&quiet)
        .filter(|f| !fields.contains(*f))
        .collect();
    assert!(stale.is_empty(), "in the table, not in the JSON: {stale:?}");
}

#[test]
fn the_live_exposition_takes_each_counter_the_live_counters_hold_from_them() {
    let published = distinct_report();
    let c = LiveCounters {
        committed: 1,
        dead_lettered: 2,
        dropped: 3,
        dropped_dlq_full: 4,
        lost: 5,
        timed_out: 6,
        rejected_queue_closed: 9,
        offered: 7,
        queue_depth: 8,
    };
    let expo = parse(&render_live(Some(&published), &published.settings, &c));
    let mut live = 0;
    for d in COUNTERS {
        for s in d.series {
            let k = key(d, s, &published.settings.overflow);
            let want = match s.live {
                Some(f) => {
                    live += 1;
                    f(&c)
                }
                None => (s.read)(&published),
            };
            assert_eq!(expo[&k], want as f64, "{k}");
        }
    }
    assert_eq!(live, 9, "every live counter is shown");
}

#[test]
fn a_scrape_sums_and_counts_the_batch_size_summary_over_the_same_batches() {
    // Before, the live exposition put the live committed count over the published report's, and the
    // batch-size summary's sum (committed items) came from the live atomics while its count
    // (batches) came from the batcher's last report: a scrape's mean batch size mixed two instants.
    let published = distinct_report();
    let c = LiveCounters {
        committed: published.committed * 3,
        ..LiveCounters::default()
    };
    let expo = parse(&render_live(Some(&published), &published.settings, &c));
    assert_eq!(expo["ingest_batch_items_sum"], published.committed as f64);
    assert_eq!(expo["ingest_batch_items_count"], published.batches as f64);
    assert_eq!(expo["ingest_items_committed_total"], c.committed as f64);
}
