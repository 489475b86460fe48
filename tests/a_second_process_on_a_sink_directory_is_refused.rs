//! One process per sink directory. Before the lock, two `ingest` processes on one directory ran at
//! once: one failed mid-run ("open seg-0000000000.log: File exists") and the store mixed both runs'
//! segments, positions and dead letters. Now the second is refused at start, naming the directory
//! and the holder's pid, and the first finishes untouched. The lock dies with its process, so a
//! `kill -9` leaves nothing stale.

mod common;

use common::{ingest_lab_json, wait_until};

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
}

#[test]
fn a_second_ingest_or_run_on_a_locked_directory_is_refused_and_the_first_finishes() {
    let dir = common::tempdir();
    let sink = dir.path().join("sink");
    let input = dir.path().join("in.ndjson");
    std::fs::write(
        &input,
        "{\"ts\":1,\"msg\":\"a\"}\n{\"ts\":2,\"msg\":\"b\"}\n",
    )
    .unwrap();
    // The first process holds the directory while it waits on its stdin.
    let mut first = bin()
        .args(["ingest", "--json", "--dir"])
        .arg(&sink)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = sink.join(ingest_lab::storage::LOCK_FILE);
    wait_until("the first process to take the lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == first.id().to_string())
    });
    for args in [
        vec!["ingest", "--json", "--dir"],
        vec!["run", "--items", "10", "--rate", "1000", "--json", "--dir"],
    ] {
        let out = bin()
            .args(&args)
            .arg(&sink)
            .args(if args[0] == "ingest" {
                vec![input.as_os_str()]
            } else {
                vec![]
            })
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", args[0]);
        assert!(
            err.contains("in use")
                && err.contains(&sink.canonicalize().unwrap().display().to_string())
                && err.contains(&format!("process {}", first.id())),
            "{}: {err}",
            args[0]
        );
    }
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(b"{\"ts\":3,\"msg\":\"c\"}\n").unwrap();
    drop(stdin);
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["committed"], 1);
    // Released: the next process takes the directory.
    ingest_lab_json([
        OsStr::new("ingest"),
        OsStr::new("--json"),
        OsStr::new("--dir"),
        sink.as_os_str(),
        input.as_os_str(),
    ]);
}

#[test]
fn a_lock_held_by_a_killed_process_is_released() {
    let dir = common::tempdir();
    let sink = dir.path().join("sink");
    let mut first = bin()
        .args(["ingest", "--dir"])
        .arg(&sink)
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = sink.join(ingest_lab::storage::LOCK_FILE);
    wait_until("the lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == first.id().to_string())
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let input = dir.path().join("in.ndjson");
    std::fs::write(&input, "{\"ts\":1,\"msg\":\"a\"}\n").unwrap();
    ingest_lab_json([
        OsStr::new("ingest"),
        OsStr::new("--json"),
        OsStr::new("--dir"),
        sink.as_os_str(),
        input.as_os_str(),
    ]);
}

#[test]
fn ingest_refuses_segment_retention_because_positions_live_in_the_segments() {
    // Before: `--retain-segments` reaped segments whose control records held the only copy of an
    // input's position, so a re-run ingested those inputs again.
    let dir = common::tempdir();
    let input = dir.path().join("in.ndjson");
    std::fs::write(&input, "{\"ts\":1,\"msg\":\"a\"}\n").unwrap();
    let out = bin()
        .args(["ingest", "--retain-segments", "2", "--dir"])
        .arg(dir.path().join("sink"))
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("retain_segments") && err.contains("positions"),
        "{err}"
    );
}
