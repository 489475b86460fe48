//! For the agreement tests: an exposition's samples by `name{labels}` as printed, the key the table
//! gives a series, and a report whose every counter holds a value of its own.

use super::{CounterDef, Label, Series};
use crate::summary::RunReport;
use std::collections::BTreeMap;

/// `name{labels} value` lines of an exposition, comments left out.
pub(crate) fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("name value");
            (k.to_string(), v.parse().expect("a number"))
        })
        .collect()
}

/// The key of series `s` of `d` in an exposition of a run with overflow policy `policy`.
pub(crate) fn key(d: &CounterDef, s: &Series, policy: &str) -> String {
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|l| match l {
            Label::Is(k, v) => format!("{k}=\"{v}\""),
            Label::Policy => format!("policy=\"{policy}\""),
        })
        .collect();
    if labels.is_empty() {
        d.name.to_string()
    } else {
        format!("{}{{{}}}", d.name, labels.join(","))
    }
}

/// The value at a table path (`a.b`) of a JSON document.
pub(crate) fn at<'a>(json: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    json.pointer(&format!("/{}", path.replace('.', "/")))
        .unwrap_or_else(|| panic!("no `{path}` in the JSON"))
}

/// A report whose every counter holds a value of its own (a test checks none is left zero).
pub(crate) fn distinct_report() -> RunReport {
    let mut r = RunReport::default();
    let mut next = 100;
    let mut n = || {
        next += 1;
        next
    };
    r.offered = n();
    r.committed = n();
    r.dead_lettered = n();
    r.dropped_by_reason.overflow = n();
    r.dropped_by_reason.dlq_full = n();
    r.dropped = r.dropped_by_reason.overflow + r.dropped_by_reason.dlq_full;
    r.rejected_by_reason.queue_closed = n();
    r.rejected_by_reason.sink_failed = n();
    r.rejected_by_reason.block_timeout = n();
    r.rejected = r.rejected_by_reason.queue_closed
        + r.rejected_by_reason.sink_failed
        + r.rejected_by_reason.block_timeout;
    r.batches = n();
    r.write_syscalls = n();
    r.fdatasyncs = n();
    r.bytes_written = n();
    r.dir_fsyncs = n();
    r.dlq_fdatasyncs = n();
    r.dlq_evicted = n();
    r.queue_depth_max = n();
    r.flush_reasons.items = n();
    r.flush_reasons.bytes = n();
    r.flush_reasons.deadline = n();
    r.flush_reasons.shutdown = n();
    r.flush_reasons.manual = n();
    r.behind_schedule = n();
    r.retry_attempts = n();
    r.settings.overflow = "drop-newer".into();
    r
}

/// Shared counters each holding a value of its own: the seven outcomes 1 to 7, in the order of
/// [`super::live`]'s list (a test adds what else it needs: `offered`, `fdatasyncs`).
pub(crate) fn distinct_live() -> super::live::Live {
    let live = super::live::Live::default();
    for (n, c) in [
        &live.committed,
        &live.dead_lettered,
        &live.dropped,
        &live.dropped_dlq_full,
        &live.lost,
        &live.timed_out,
        &live.rejected_queue_closed,
    ]
    .into_iter()
    .enumerate()
    {
        c.add(n as u64 + 1);
    }
    live
}
