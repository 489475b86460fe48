//! Block format 2 dropped the per-record CRC. A store written before it (format 1: plain, zstd and
//! gzip blocks, position records and a dead-letter queue, written by commit b7ae6f0 — see
//! `tests/data/README.md`) must still verify, print the same records, take new format-2 blocks after
//! its old ones, and re-drive its old dead letters.

mod common;

use std::path::Path;
use std::process::Command;

fn bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = bin(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_format_1_store_verifies_prints_its_records_and_takes_format_2_blocks_after_them() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tmp = common::tempdir();
    let store = tmp.path().join("store");
    copy_dir(&data.join("format-1-store"), &store);
    let s = store.to_str().unwrap();
    let old = std::fs::read_to_string(data.join("format-1-store.cat")).unwrap();
    assert_eq!(old.lines().count(), 18);

    let v = common::ingest_lab_json(["verify", "--json", s]);
    assert_eq!(v["records"], 18, "{v}");
    assert_eq!(v["blocks"], 8, "{v}");
    assert_eq!(v["dlq_seq"], 3, "{v}");
    assert!(v["torn_tail"].is_null(), "{v}");
    assert_eq!(ok(&["cat", s]), old);

    // New records land in format-2 blocks after the old ones.
    let input = tmp.path().join("new.ndjson");
    std::fs::write(
        &input,
        "{\"ts\":1,\"msg\":\"new one\"}\n{\"ts\":2,\"msg\":\"new two\"}\n",
    )
    .unwrap();
    ok(&[
        "ingest",
        "--dir",
        s,
        "--compress",
        "zstd",
        input.to_str().unwrap(),
    ]);
    let after = ok(&["cat", s]);
    assert!(after.starts_with(&old), "old records first, unchanged");
    let new: Vec<&str> = after[old.len()..].lines().collect();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new[0].contains("new one") && new[1].contains("new two"));

    // The old dead letters (rfc3339 `ts` under v1) re-drive into format-2 blocks.
    ok(&["dlq", "redrive", "--schema", "v2", s]);
    let v = common::ingest_lab_json(["verify", "--json", s]);
    assert_eq!(v["records"], 18 + 2 + 3, "{v}");
    let all = ok(&["cat", s]);
    assert_eq!(all.matches("rfc3339 under v1").count(), 3);
}

#[test]
fn a_format_1_segment_with_a_flipped_byte_in_an_old_record_is_refused_not_cut() {
    // The block CRC covers an old block as it covers a new one; a flip with valid blocks after it is
    // corruption, so start-up refuses instead of cutting acknowledged records.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format-1-store");
    let tmp = common::tempdir();
    let store = tmp.path().join("store");
    copy_dir(&data, &store);
    let seg = store.join("seg-0000000000.log");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&seg, bytes).unwrap();
    let out = bin(&["verify", store.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seg-0000000000.log") && err.contains("not a torn tail"),
        "{err}"
    );
}
