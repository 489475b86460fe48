//! AIMD's window trace, one row per interval of a run, as `check aimd` writes it: the report draws
//! each regime's first run; every run is kept, so a move one run of several made is still there.

use serde::Serialize;

use crate::summary::RunReport;

/// One row of `aimd-trace.csv` (the first AIMD run of each regime, drawn in the report) and of
/// `aimd-traces.csv` (every AIMD run, numbered in the order they ran, the added ones last): a move
/// that one run of several made shows only in the second, with the inputs the step judged.
#[derive(Debug, Clone, Serialize)]
pub(super) struct TraceRow {
    regime: String,
    /// Numbered in the order the runs ran.
    pub(super) run: usize,
    t_s: f64,
    linger_ms: f64,
    p99_us: f64,
    items: u64,
    items_per_s: f64,
    arrivals_per_commit: f64,
    history_arrivals_per_commit: f64,
    recent_arrivals_per_commit: f64,
    recent_commit_us: f64,
    slowest_commit_us: f64,
    #[serde(rename = "move")]
    mv: &'static str,
}

pub(super) fn trace_rows<'a>(
    regime: &'a str,
    runs: impl Iterator<Item = &'a RunReport> + 'a,
) -> impl Iterator<Item = TraceRow> + 'a {
    runs.enumerate().flat_map(move |(run, r)| {
        r.aimd_trace.iter().map(move |p| TraceRow {
            regime: regime.into(),
            run,
            t_s: p.t_s,
            linger_ms: p.linger_ms,
            p99_us: p.p99_us,
            items: p.items,
            items_per_s: p.items_per_s,
            arrivals_per_commit: p.arrivals_per_commit,
            history_arrivals_per_commit: p.history_arrivals_per_commit,
            recent_arrivals_per_commit: p.recent_arrivals_per_commit,
            recent_commit_us: p.recent_commit_us,
            slowest_commit_us: p.slowest_commit_us,
            mv: p.mv.as_str(),
        })
    })
}
