//! Every value the README documents for an enumerated flag is accepted by the CLI, and any other is
//! refused (exit 2) with the list of values. Before the flags were typed, `--overflow spill` — in the
//! README and DESIGN.md §3 — was refused by a stale hand-written parser ("not built yet").

mod common;

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn run_takes_every_overflow_window_compress_and_payload_value() {
    let tmp = common::tempdir();
    let dir = tmp.path().join("run");
    let d = dir.to_str().unwrap();
    for (flag, values) in [
        (
            "--overflow",
            &["block", "drop-newest", "drop-oldest", "spill"][..],
        ),
        ("--window", &["static", "smart", "aimd"][..]),
        ("--compress", &["none", "zstd", "gzip"][..]),
        ("--payload", &["log", "random"][..]),
        ("--dlq-policy", &["drop-newer", "drop-older"][..]),
    ] {
        for v in values {
            let out = run(&[
                "run", "--dir", d, "--items", "200", "--rate", "20000", flag, v, "--json",
            ]);
            assert!(
                out.status.success(),
                "{flag} {v}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["offered"], 200, "{flag} {v}: {r}");
            let _ = std::fs::remove_dir_all(&dir);
        }
        let out = run(&["run", "--dir", d, "--items", "10", flag, "bogus"]);
        assert_eq!(out.status.code(), Some(2), "{flag} bogus");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("possible values") && values.iter().all(|v| err.contains(v)),
            "{flag}: {err}"
        );
    }
}

#[test]
fn ingest_and_dlq_take_both_schemas_and_both_actions() {
    let tmp = common::tempdir();
    let input = tmp.path().join("in.ndjson");
    std::fs::write(&input, "{\"ts\":\"2026-01-01T00:00:00Z\",\"msg\":\"m\"}\n").unwrap();
    let d = tmp.path().join("sink");
    let d = d.to_str().unwrap();
    let i = input.to_str().unwrap();
    let r = common::ingest_lab_json(["ingest", "--dir", d, "--schema", "v1", "--json", i]);
    assert_eq!(r["dead_lettered"], 1, "{r}");
    assert!(run(&["dlq", "list", d]).status.success());
    let r = common::ingest_lab_json(["dlq", "redrive", "--schema", "v2", "--json", d]);
    assert_eq!(r["redriven"], 1, "{r}");
    let out = run(&["dlq", "drain", d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn a_block_timeout_on_a_policy_that_never_blocks_is_refused_not_ignored() {
    // Before the policy carried its settings, `--overflow drop-newest --block-timeout-ms 5` set a
    // timeout no push ever read, and the run went ahead as if the flag meant something.
    let tmp = common::tempdir();
    let d = tmp.path().join("run");
    let d = d.to_str().unwrap();
    for policy in ["drop-newest", "drop-oldest", "spill"] {
        let out = run(&[
            "run",
            "--dir",
            d,
            "--items",
            "10",
            "--overflow",
            policy,
            "--block-timeout-ms",
            "5",
        ]);
        assert_eq!(out.status.code(), Some(2), "{policy}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--block-timeout-ms"),
            "{policy}"
        );
    }
    let out = run(&[
        "run",
        "--dir",
        d,
        "--items",
        "10",
        "--overflow",
        "block",
        "--block-timeout-ms",
        "5",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
