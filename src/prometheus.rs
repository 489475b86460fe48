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

use crate::counters::{self, Label, COUNTERS, DISTRIBUTIONS};
use crate::metrics::LatencySummary;
use crate::summary::{RunReport, RunSettings};

use crate::counters::LiveCounters;

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
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
    render(&r, Some(c))
}

/// A finished run as an exposition.
pub fn render_report(r: &RunReport) -> String {
    render(r, None)
}

/// One exposition of every series, live or final: from one table, so the two cannot drift apart.
/// Each counter and gauge series is [`COUNTERS`]' entry, its value the live counters' where they
/// hold it (`live`), else the report's.
fn render(r: &RunReport, live: Option<&LiveCounters>) -> String {
    let mut out = String::new();
    for d in COUNTERS {
        header(&mut out, d.name, d.kind.as_str(), d.help);
        for s in d.series {
            out.push_str(d.name);
            for (i, l) in s.labels.iter().enumerate() {
                out.push(if i == 0 { '{' } else { ',' });
                let _ = match l {
                    Label::Is(k, v) => write!(out, "{k}=\"{v}\""),
                    Label::Policy => write!(out, "policy=\"{}\"", r.settings.overflow),
                };
            }
            if !s.labels.is_empty() {
                out.push('}');
            }
            let _ = writeln!(out, " {}", counters::value(s, r, live));
        }
    }
    for d in DISTRIBUTIONS {
        summary(&mut out, d.name, d.help, (d.read)(r), 1e6);
    }
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
/// connection is served on a short-lived thread (at most `MAX_CONNECTIONS` at once) with read and
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

#[cfg(test)]
mod tests;
