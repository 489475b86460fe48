//! Crash safety end to end: ingest two inputs (plain and zstd), `kill -9` the process at random points
//! at least 20 times, re-run the same command each time, then check by id that every valid record is
//! committed exactly once and in order per input, and every invalid one is in the dead-letter queue
//! exactly once. Positions are committed inside the blocks (`ingest/checkpoint.rs`), so there is no
//! window where data is durable but its position is not, or the other way round.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use ingest_lab::{
    ingest::record_id, ingest::write_ndjson, ingest::LineKind, ingest::Mix, retry::DeadLetterQueue,
    rng::SplitMix64,
};

const PER_INPUT: u64 = 150_000;
const KILLS: usize = 20;
/// Give up (and fail) when this many kills have not spread over `KILLS / 2` commit points.
const MAX_KILLS: usize = 4 * KILLS;

fn ingest_cmd(sink: &Path, inputs: &[&Path]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ingest-lab"));
    c.args([
        "ingest",
        "--max-record-bytes",
        "4096",
        "--max-items",
        "256",
        "--dir",
    ])
    .arg(sink)
    .args(inputs)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

#[test]
fn ingest_resumes_exactly_once_across_kill_9() {
    let dir = common::tempdir();
    let mix = Mix::default();
    let mut kinds: HashMap<u64, LineKind> = HashMap::new();
    let (plain, packed) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson.zst"));
    for (i, path) in [&plain, &packed].into_iter().enumerate() {
        let first = 1 + i as u64 * PER_INPUT;
        let mut raw = Vec::new();
        let k = write_ndjson(&mut raw, first, PER_INPUT, &mix, 9 + i as u64).unwrap();
        kinds.extend(
            k.into_iter()
                .enumerate()
                .map(|(j, k)| (first + j as u64, k)),
        );
        let bytes = if i == 0 {
            raw
        } else {
            zstd::encode_all(&raw[..], 3).unwrap()
        };
        std::fs::File::create(path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
    }
    let inputs = [plain.as_path(), packed.as_path()];

    // How long one uninterrupted ingest takes here (debug and release builds differ ~10×).
    let calib = dir.path().join("calibrate");
    let t0 = Instant::now();
    assert!(ingest_cmd(&calib, &inputs).status().unwrap().success());
    let full = t0.elapsed();
    std::fs::remove_dir_all(&calib).unwrap();

    // Cycles: ingest into a fresh sink, killing each run at a random point within one full ingest
    // time, until a run completes; then check that sink. Repeat until at least KILLS kills have
    // landed at no fewer than KILLS / 2 distinct commit points. A resumed run first re-verifies the
    // sink and skips its inputs to the committed positions, so some kills land before its first new
    // commit (killing recovery itself, which is worth doing) and repeat a point. How many do depends
    // on this machine's speed, so the loop goes on until the spread is there, up to MAX_KILLS.
    let mut rng = SplitMix64::new(2026);
    let (mut kills, mut cycles, mut torn) = (0usize, 0, 0);
    let mut points = BTreeSet::new();
    while kills < KILLS || points.len() < KILLS / 2 {
        cycles += 1;
        // The kills landed mid-ingest at many different points, not all before the first commit.
        assert!(
            kills < MAX_KILLS && cycles <= 40,
            "{kills} kills in {cycles} cycles landed at only {} distinct commit points: {points:?}",
            points.len()
        );
        let sink = dir.path().join(format!("sink-{cycles}"));
        for run in 0.. {
            assert!(run < 200, "no progress after {run} runs");
            let mut child = ingest_cmd(&sink, &inputs).spawn().unwrap();
            std::thread::sleep(full.mul_f64(0.05 + 0.6 * rng.next_f64()));
            let killed = child.try_wait().unwrap().is_none();
            if killed {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            let out = child.wait_with_output().unwrap();
            if String::from_utf8_lossy(&out.stderr).contains("torn tail") {
                torn += 1;
            }
            if !killed {
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                break;
            }
            let mut n = 0u64;
            ingest_lab::ingest::scan(&sink, false, &mut |_| n += 1).unwrap();
            points.insert(n);
        }
        check_exactly_once(&sink, &kinds);
    }
    eprintln!(
        "{kills} kills in {cycles} cycles (one ingest: {:.2} s), {torn} torn tails cut, {} distinct commit points",
        full.as_secs_f64(),
        points.len()
    );
}

/// Committed: exactly the v1-valid ids, once each, in order within each input. Dead letters: exactly
/// the invalid ids, once each.
fn check_exactly_once(sink: &Path, kinds: &HashMap<u64, LineKind>) {
    let cat = Command::new(env!("CARGO_BIN_EXE_ingest-lab"))
        .arg("cat")
        .arg(sink)
        .output()
        .unwrap();
    assert!(cat.status.success());
    let ids: Vec<u64> = cat
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| record_id(l).expect("committed record has an id"))
        .collect();
    let want: BTreeSet<u64> = kinds
        .iter()
        .filter(|(_, k)| k.valid_v1())
        .map(|(id, _)| *id)
        .collect();
    let got: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), got.len(), "duplicates in the committed stream");
    assert_eq!(got, want, "committed ids differ from the valid ids");
    for input in 0..2u64 {
        let range = (1 + input * PER_INPUT)..(1 + (input + 1) * PER_INPUT);
        let seq: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| range.contains(id))
            .collect();
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "input {input} out of order"
        );
    }
    let dead = DeadLetterQueue::read_all(&sink.join("dlq").join("dead-letter.jsonl")).unwrap();
    let sources: BTreeSet<&str> = dead.iter().map(|d| d.source.as_str()).collect();
    assert_eq!(sources.len(), dead.len(), "a dead letter appears twice");
    let invalid = kinds.values().filter(|k| !k.valid_v1()).count();
    assert_eq!(dead.len(), invalid);
}
