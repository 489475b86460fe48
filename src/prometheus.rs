//! Prometheus text exposition (format 0.0.4) of the pipeline's metrics: `ingest_` prefix, base units
//! (seconds, bytes), `_total` for counters, losses broken down by reason in labels.
//!
//! Two sources: [`LiveCounters`], read from the running pipeline by the `--metrics-addr` endpoint
//! (counters and queue depth as they move), and a finished [`RunReport`], written at the end of a run
//! (`--metrics-file`) with the latency, fdatasync, batch-size and batch-age distributions as summaries.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::LatencySummary;
use crate::summary::{RunReport, RunSettings};

/// What the live endpoint can read while a run works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Items offered.
    pub offered: u64,
    /// Items committed.
    pub committed: u64,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// Items dropped by the overflow policy.
    pub dropped: u64,
    /// Items a full (drop-newer) dead-letter queue refused.
    pub dropped_dlq_full: u64,
    /// Items accepted but lost to a sink failure.
    pub lost: u64,
    /// Items refused because `Block` timed out.
    pub timed_out: u64,
    /// Items in the queue now.
    pub queue_depth: u64,
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]) {
    header(out, name, "counter", help);
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {v}");
}

/// A summary from a distribution recorded in `unit_per_base` units per base unit (µs → 1e6).
fn summary(out: &mut String, name: &str, help: &str, s: &LatencySummary, unit_per_base: f64) {
    header(out, name, "summary", help);
    for (q, v) in [
        ("0.5", s.p50),
        ("0.9", s.p90),
        ("0.99", s.p99),
        ("0.999", s.p999),
        ("1", s.max),
    ] {
        let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {}", v / unit_per_base);
    }
    let _ = writeln!(
        out,
        "{name}_sum {}",
        s.mean * s.count as f64 / unit_per_base
    );
    let _ = writeln!(out, "{name}_count {}", s.count);
}

/// The live exposition: the same series as the end-of-run one ([`render_report`]), from the batcher's
/// last published report (latency, fdatasync and batch metrics; `None` before its first), with the
/// counters the live atomics hold more freshly put over it, the run's settings (labels), and the
/// queue depth now.
pub fn render_live(
    published: Option<&RunReport>,
    settings: &RunSettings,
    c: &LiveCounters,
) -> String {
    let mut r = published.cloned().unwrap_or_default();
    r.settings = settings.clone();
    r.offered = c.offered;
    r.committed = c.committed;
    r.dead_lettered = c.dead_lettered;
    r.dropped_by_reason.overflow = c.dropped;
    r.dropped_by_reason.dlq_full = c.dropped_dlq_full;
    r.rejected_by_reason.sink_failed = c.lost;
    r.rejected_by_reason.block_timeout = c.timed_out;
    render(&r, c.queue_depth)
}

/// A finished run as an exposition (its queue is empty: what it held is committed or counted lost).
pub fn render_report(r: &RunReport) -> String {
    render(r, 0)
}

/// One exposition of every series, live or final: one list, so the two cannot drift apart.
fn render(r: &RunReport, queue_depth: u64) -> String {
    let mut out = String::new();
    let policy = format!("reason=\"overflow\",policy=\"{}\"", r.settings.overflow);
    counter(
        &mut out,
        "ingest_items_offered_total",
        "Items offered to the pipeline.",
        &[("", r.offered)],
    );
    counter(
        &mut out,
        "ingest_items_committed_total",
        "Items durable in the sink (fdatasync returned).",
        &[("", r.committed)],
    );
    counter(
        &mut out,
        "ingest_items_dead_lettered_total",
        "Items sent to the dead-letter queue.",
        &[("", r.dead_lettered)],
    );
    counter(
        &mut out,
        "ingest_items_dropped_total",
        "Items discarded: by the overflow policy, or refused by a full dead-letter queue.",
        &[
            (policy.as_str(), r.dropped_by_reason.overflow),
            ("reason=\"dlq_full\"", r.dropped_by_reason.dlq_full),
        ],
    );
    counter(
        &mut out,
        "ingest_items_rejected_total",
        "Items refused or lost, by reason.",
        &[
            ("reason=\"queue_closed\"", r.rejected_by_reason.queue_closed),
            ("reason=\"sink_failed\"", r.rejected_by_reason.sink_failed),
            (
                "reason=\"block_timeout\"",
                r.rejected_by_reason.block_timeout,
            ),
        ],
    );
    counter(
        &mut out,
        "ingest_batches_total",
        "Batches committed.",
        &[("", r.batches)],
    );
    let f = &r.flush_reasons;
    counter(
        &mut out,
        "ingest_flushes_total",
        "Batches flushed, by the bound that closed them.",
        &[
            ("reason=\"items\"", f.items),
            ("reason=\"bytes\"", f.bytes),
            ("reason=\"deadline\"", f.deadline),
            ("reason=\"shutdown\"", f.shutdown),
            ("reason=\"manual\"", f.manual),
        ],
    );
    counter(
        &mut out,
        "ingest_write_syscalls_total",
        "write(2) calls on segments.",
        &[("", r.write_syscalls)],
    );
    counter(
        &mut out,
        "ingest_fdatasyncs_total",
        "fdatasync(2) calls on segments.",
        &[("", r.fdatasyncs)],
    );
    counter(
        &mut out,
        "ingest_dlq_fdatasyncs_total",
        "fdatasync(2) calls on the dead-letter queue's files.",
        &[("", r.dlq_fdatasyncs)],
    );
    counter(
        &mut out,
        "ingest_dlq_evicted_total",
        "Dead letters a drop-older dead-letter queue evicted to stay within its byte bound.",
        &[("", r.dlq_evicted)],
    );
    counter(
        &mut out,
        "ingest_written_bytes_total",
        "Bytes written to segments.",
        &[("", r.bytes_written)],
    );
    gauge(
        &mut out,
        "ingest_queue_depth_items",
        "Items waiting in the queue.",
        queue_depth as f64,
    );
    gauge(
        &mut out,
        "ingest_queue_depth_max_items",
        "Largest queue depth the batcher saw.",
        r.queue_depth_max as f64,
    );
    summary(
        &mut out,
        "ingest_latency_seconds",
        "End-to-end latency, intended send time to fdatasync return.",
        &r.latency_us,
        1e6,
    );
    summary(
        &mut out,
        "ingest_fdatasync_seconds",
        "Duration of each fdatasync.",
        &r.fdatasync_us,
        1e6,
    );
    summary(
        &mut out,
        "ingest_batch_wait_seconds",
        "Age of each batch's first item at flush.",
        &r.batch_wait_us,
        1e6,
    );
    let b = &r.batch_size;
    header(
        &mut out,
        "ingest_batch_items",
        "summary",
        "Items per committed batch.",
    );
    for (q, v) in [
        ("0.5", b.p50 as f64),
        ("0.99", b.p99 as f64),
        ("1", b.max as f64),
    ] {
        let _ = writeln!(out, "ingest_batch_items{{quantile=\"{q}\"}} {v}");
    }
    let _ = writeln!(out, "ingest_batch_items_sum {}", r.committed);
    let _ = writeln!(out, "ingest_batch_items_count {}", r.batches);
    out
}

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 4;
/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);

/// A loopback HTTP endpoint answering every request with `render()`; stops when `stop` is set. Each
/// connection is served on a short-lived thread (at most [`MAX_CONNECTIONS`] at once) with read and
/// write timeouts, so one slow or silent client does not hold the endpoint for the others.
pub fn serve(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    render: impl Fn() -> String + Send + Sync + 'static,
) -> std::io::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let render = Arc::new(render);
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = std::thread::Builder::new()
        .name("ingest-metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if busy.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                match listener.accept() {
                    Ok((mut s, _)) => {
                        busy.fetch_add(1, Ordering::AcqRel);
                        let (render, done) = (Arc::clone(&render), Arc::clone(&busy));
                        let spawned = std::thread::Builder::new()
                            .name("ingest-metrics-conn".into())
                            .spawn(move || {
                                let _ = s.set_nonblocking(false);
                                let _ = s.set_read_timeout(Some(CLIENT_TIMEOUT));
                                let _ = s.set_write_timeout(Some(CLIENT_TIMEOUT));
                                let mut req = [0u8; 1024];
                                let _ = s.read(&mut req);
                                let body = render();
                                let _ = write!(
                                    s,
                                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                    body.len()
                                );
                                done.fetch_sub(1, Ordering::AcqRel);
                            });
                        if spawned.is_err() {
                            busy.fetch_sub(1, Ordering::AcqRel);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
    Ok((bound, h))
}
