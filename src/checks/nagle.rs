//! `check nagle`: the 40 ms stall of Nagle's algorithm meeting delayed ACKs on a request/response path,
//! on loopback. The client sends a 4-byte header and a small body as two writes, then waits for a
//! one-byte ack. Without `TCP_NODELAY` the body waits for the header's ACK, which the server delays; with
//! it, or with header and body in one `writev`, the stall is gone. Bounded: a fixed number of requests
//! to 127.0.0.1 on an ephemeral port.

use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::json;

use super::common::{write_csv_rows, CheckOptions, CheckResult, Criterion, Whole};
use super::error::CheckError;
use crate::codec::BlockBuilder;
use crate::metrics::LatencySummary;
use crate::sink::{AckServer, Sink, TcpSink, WriteMode};

/// Minimum ratio of p50s, Nagle on / off.
pub const MIN_RATIO: f64 = 20.0;

fn measure(nodelay: bool, mode: WriteMode, requests: u64) -> Result<Histogram<u64>, CheckError> {
    let server =
        AckServer::start(requests).map_err(|e| CheckError::io("start the ack server", e))?;
    let mut sink = TcpSink::connect(server.addr(), nodelay, mode)?;
    let mut b = BlockBuilder::with_capacity(256);
    b.push(&[b'x'; 100]);
    let block = b.seal().to_vec();
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
    for _ in 0..requests {
        let t0 = Instant::now();
        sink.commit(&block, 1)?;
        h.saturating_record((t0.elapsed().as_nanos() as u64).max(1));
    }
    drop(sink);
    server
        .join()
        .map_err(|e| CheckError::io("the ack server", e))?;
    Ok(h)
}

/// One case's latency percentiles, as a row of `nagle.csv`.
#[derive(Debug, Serialize)]
struct CaseRow {
    case: &'static str,
    requests: u64,
    p50_us: Whole,
    p90_us: Whole,
    p99_us: Whole,
    max_us: Whole,
}

/// One histogram bucket of one case, as a row of `nagle-histograms.csv`.
#[derive(Debug, Serialize)]
struct BucketRow {
    case: &'static str,
    latency_us_upper: Whole,
    count: u64,
}

/// Run the check.
pub fn nagle(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let n = if opts.quick { 40 } else { 200 };
    let cases = [
        ("two writes + Nagle", false, WriteMode::TwoWrites),
        ("two writes + TCP_NODELAY", true, WriteMode::TwoWrites),
        ("one writev + Nagle", false, WriteMode::Writev),
    ];
    let (mut rows, mut buckets) = (Vec::new(), Vec::new());
    let mut sums = Vec::new();
    for (name, nodelay, mode) in cases {
        opts.progress(format!("nagle: {n} requests, {name}"));
        let h = measure(nodelay, mode, n)?;
        let s = LatencySummary::from_ns(&h);
        rows.push(CaseRow {
            case: name,
            requests: n,
            p50_us: Whole(s.p50),
            p90_us: Whole(s.p90),
            p99_us: Whole(s.p99),
            max_us: Whole(s.max),
        });
        buckets.extend(
            h.iter_log(10_000, 2.0)
                .filter(|v| v.count_since_last_iteration() > 0)
                .map(|v| BucketRow {
                    case: name,
                    latency_us_upper: Whole(v.value_iterated_to() as f64 / 1e3),
                    count: v.count_since_last_iteration(),
                }),
        );
        sums.push((name, s));
    }
    let (slow, fast, vec) = (sums[0].1, sums[1].1, sums[2].1);
    let ratio = slow.p50 / fast.p50.max(1e-3);
    let criteria = vec![
        Criterion::timing(
            ratio >= MIN_RATIO,
            format!(
                "p50 with Nagle {:.1} ms vs TCP_NODELAY {:.3} ms: {ratio:.0}× (≥ {MIN_RATIO}×)",
                slow.p50 / 1e3,
                fast.p50 / 1e3
            ),
        ),
        Criterion::timing(
            fast.p50 < 1_000.0,
            format!(
                "TCP_NODELAY removes the floor: p50 {:.3} ms < 1 ms",
                fast.p50 / 1e3
            ),
        ),
        Criterion::timing(
            vec.p50 < 1_000.0,
            format!(
                "one writev of header + body avoids the stall with Nagle on: p50 {:.3} ms < 1 ms",
                vec.p50 / 1e3
            ),
        ),
    ];
    let figures = json!({
        "requests_per_case": n,
        "cases": sums.iter().map(|(n, s)| json!({"case": n, "latency_us": s})).collect::<Vec<_>>(),
        "p50_ratio": ratio,
    });
    let evidence = vec![
        write_csv_rows(&opts.out, "nagle.csv", &rows)?,
        write_csv_rows(&opts.out, "nagle-histograms.csv", &buckets)?,
    ];
    Ok(CheckResult::judge("nagle", criteria, figures, evidence))
}
