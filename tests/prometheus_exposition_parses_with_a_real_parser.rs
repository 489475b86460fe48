//! The metrics exposition, live (`--metrics-addr`, scraped mid-run over HTTP) and final
//! (`--metrics-file`), parsed by the Prometheus project's own Python client parser — not by string
//! matching — and the parsed final counters reconcile: offered = committed + dead-lettered + dropped +
//! rejected. The live and the final exposition have exactly the same series (before, a scrape saw 6 of
//! the final file's: no latency, fdatasync or batch metrics, the very ones to alert on). `make test`
//! installs prometheus_client (ci/tools.sh promparser).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        key = s.name + json.dumps(s.labels, sort_keys=True)
        out[key] = s.value
    out["type:" + fam.name] = fam.type
print(json.dumps(out))
"#;

fn parse(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", PARSE])
        .arg(path)
        .output()
        .expect("python3 is needed for this test");
    assert!(
        out.status.success(),
        "the Prometheus parser rejected {}: {} (is prometheus_client installed? `bash ci/tools.sh promparser`)",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn prometheus_exposition_parses_with_a_real_parser() {
    let dir = common::tempdir();
    let final_file = dir.path().join("metrics.prom");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
        .args([
            "run",
            "--rate",
            "5000",
            "--duration",
            "2",
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-file",
        ])
        .arg(&final_file)
        .arg("--dir")
        .arg(dir.path().join("sink"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The bound address is the first stderr line.
    let mut err = child.stderr.take().unwrap();
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while err.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        first.push(b[0]);
    }
    let line = String::from_utf8(first).unwrap();
    let addr = line
        .strip_prefix("metrics: http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in: {line}"));
    std::thread::sleep(Duration::from_millis(800));
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let body = resp.split("\r\n\r\n").nth(1).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let live_file = dir.path().join("live.prom");
    std::fs::write(&live_file, body).unwrap();
    let live = parse(&live_file);
    let offered_live = live["ingest_items_offered_total{}"].as_f64().unwrap();
    assert!(offered_live > 100.0, "mid-run offered {offered_live}");
    assert_eq!(live["type:ingest_queue_depth_items"], "gauge");
    assert!(child.wait().unwrap().success());

    let m = parse(&final_file);
    let series = |j: &serde_json::Value| -> std::collections::BTreeSet<String> {
        j.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        series(&live),
        series(&m),
        "the live and final expositions must have the same series"
    );
    let live_latency = live["ingest_latency_seconds_count{}"].as_f64().unwrap();
    assert!(live_latency > 100.0, "mid-run latency count {live_latency}");
    assert!(live["ingest_fdatasyncs_total{}"].as_f64().unwrap() > 0.0);
    let v = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {m}"));
    assert_eq!(m["type:ingest_items_offered"], "counter", "{m}");
    assert_eq!(m["type:ingest_latency_seconds"], "summary");
    let offered = v("ingest_items_offered_total{}");
    let lost = v(r#"ingest_items_rejected_total{"reason": "queue_closed"}"#)
        + v(r#"ingest_items_rejected_total{"reason": "sink_failed"}"#);
    assert_eq!(
        offered,
        v("ingest_items_committed_total{}")
            + v("ingest_items_dead_lettered_total{}")
            + v(r#"ingest_items_dropped_total{"policy": "block", "reason": "overflow"}"#)
            + v(r#"ingest_items_dropped_total{"reason": "dlq_full"}"#)
            + lost
    );
    assert!(offered >= offered_live);
    let p99 = v(r#"ingest_latency_seconds{"quantile": "0.99"}"#);
    assert!(p99 > 0.0 && p99 < 1.0, "p99 {p99} s");
    assert_eq!(
        v("ingest_latency_seconds_count{}"),
        v("ingest_items_committed_total{}")
    );
}
