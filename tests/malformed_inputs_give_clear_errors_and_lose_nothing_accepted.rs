//! Bad input never panics and never loses what was accepted: each malformed input gives a clear error
//! naming it (rejected) or a dead-letter entry naming file and line, and the counters add up exactly.

mod common;

use std::io::Write;

use ingest_lab::{
    ingest::ingest, ingest::record_id, ingest::scan, ingest::write_ndjson, ingest::IngestConfig,
    ingest::Mix, retry::DeadLetterQueue, rng::SplitMix64,
};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn clean(n: u64, first: u64) -> Vec<u8> {
    let mix = Mix::clean(4096);
    let mut v = Vec::new();
    write_ndjson(&mut v, first, n, &mix, first).unwrap();
    v
}

#[test]
fn malformed_inputs_give_clear_errors_and_lose_nothing_accepted() {
    case(false);
}

/// The same inputs through the three-thread layout (reader, validator, batcher): the same outcome.
#[test]
fn malformed_inputs_give_the_same_outcome_with_a_validator_thread() {
    case(true);
}

fn case(validator_thread: bool) {
    let dir = common::tempdir();
    let p = |name: &str| dir.path().join(name);
    std::fs::write(p("good.ndjson"), clean(1000, 1)).unwrap();
    let gz = gzip(&clean(20_000, 100_001));
    std::fs::write(p("cut.ndjson.gz"), &gz[..gz.len() * 6 / 10]).unwrap();
    let zs = zstd::encode_all(&clean(20_000, 200_001)[..], 3).unwrap();
    std::fs::write(p("cut.ndjson.zst"), &zs[..zs.len() * 6 / 10]).unwrap();
    let mut rng = SplitMix64::new(5);
    let garbage: Vec<u8> = (0..65_536).map(|_| rng.below(256) as u8).collect();
    std::fs::write(p("garbage.bin"), &garbage).unwrap();
    let mut mixed = Vec::new();
    mixed.extend_from_slice(b"{\"id\":300001,\"ts\":1,\"msg\":\"crlf\"}\r\n");
    mixed.extend_from_slice(b"\n   \n");
    mixed.extend_from_slice(b"{\"id\":300002,\"ts\":1,\"msg\":\"bad \xff utf8\"}\n");
    mixed.extend_from_slice(
        format!(
            "{{\"id\":300003,\"ts\":1,\"msg\":\"{}\"}}\n",
            "x".repeat(10_000)
        )
        .as_bytes(),
    );
    mixed.extend_from_slice(b"{\"id\":300004,\"ts\":1,\"msg\":\"last, no newline\"}");
    std::fs::write(p("mixed.ndjson"), &mixed).unwrap();
    let bomb = zstd::encode_all(&vec![0u8; 8 << 20][..], 3).unwrap();
    std::fs::write(p("bomb.zst"), &bomb).unwrap();
    std::fs::create_dir(p("a-directory")).unwrap();

    let names = [
        "good.ndjson",
        "cut.ndjson.gz",
        "cut.ndjson.zst",
        "garbage.bin",
        "mixed.ndjson",
        "missing.ndjson",
        "a-directory",
        "bomb.zst",
    ];
    let sink = p("sink");
    let mut cfg = IngestConfig::new(&sink, names.iter().map(|n| p(n)).collect());
    cfg.max_record_bytes = 4096;
    cfg.max_decompressed_bytes = 4 << 20;
    cfg.validator_thread = validator_thread;
    let r = ingest(&cfg).expect("bad inputs are reported, not fatal");

    assert_eq!(r.unaccounted(), 0, "{r:?}");
    assert_eq!(r.records_in, r.run.offered);
    let rejected: Vec<(&str, &str)> = r
        .rejected
        .iter()
        .map(|x| (x.input.as_str(), x.error.as_str()))
        .collect();
    let why = |name: &str| {
        rejected
            .iter()
            .find(|(i, _)| i.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not rejected: {rejected:?}"))
            .1
    };
    assert_eq!(r.rejected_inputs, 5, "{rejected:?}");
    for name in ["cut.ndjson.gz", "cut.ndjson.zst"] {
        assert!(why(name).contains(name), "{name}: {}", why(name));
    }
    assert!(
        why("missing.ndjson").contains("cannot open"),
        "{}",
        why("missing.ndjson")
    );
    assert!(
        why("a-directory").to_lowercase().contains("directory"),
        "{}",
        why("a-directory")
    );
    assert!(why("bomb.zst").contains("ratio cap"), "{}", why("bomb.zst"));
    let by = |k: &str| r.rejected_by_reason.get(k).copied().unwrap_or(0);
    assert_eq!(
        (by("corrupt"), by("unreadable"), by("ratio_cap")),
        (2, 2, 1),
        "{:?}",
        r.rejected_by_reason
    );

    // The absolute cap catches it too when the ratio cap is off, and is counted as such.
    let mut cfg2 = IngestConfig::new(p("sink2"), vec![p("bomb.zst")]);
    cfg2.max_decompressed_bytes = 4 << 20;
    cfg2.max_ratio = None;
    let r2 = ingest(&cfg2).unwrap();
    assert_eq!(
        r2.rejected_by_reason.get("decompressed_cap"),
        Some(&1),
        "{:?}",
        r2.rejected
    );

    // A bounded DLQ (4 KiB, drop-newer): the garbage's bad lines overflow it; what it refuses is
    // counted as dropped{dlq_full}, and the counts still add up.
    let mut cfg3 = IngestConfig::new(p("sink3"), vec![p("garbage.bin")]);
    cfg3.run.dlq_limit = Some(ingest_lab::retry::DlqLimit {
        max_bytes: 4096,
        policy: ingest_lab::retry::DlqPolicy::DropNewer,
    });
    let r3 = ingest(&cfg3).unwrap();
    assert_eq!(r3.unaccounted(), 0, "{r3:?}");
    assert!(r3.dropped_dlq_full > 0 && r3.dead_lettered > 0, "{r3:?}");
    let dlq3 = p("sink3").join("dlq").join("dead-letter.jsonl");
    assert!(std::fs::metadata(&dlq3).unwrap().len() <= 4096);
    assert_eq!(
        DeadLetterQueue::read_all(&dlq3).unwrap().len() as u64,
        r3.dead_lettered
    );

    // What each input yielded is committed or dead-lettered; the truncated ones up to their cut, in order.
    let mut ids = Vec::new();
    scan(&sink, false, &mut |rec| {
        assert!(!rec.ends_with(b"\r"), "CR kept in a record");
        ids.push(record_id(rec).expect("id"));
    })
    .unwrap();
    assert_eq!(ids.len() as u64, r.committed);
    let in_range = |lo: u64, hi: u64| ids.iter().filter(|&&i| (lo..hi).contains(&i)).count() as u64;
    assert_eq!(in_range(1, 1001), 1000, "every good record");
    for (lo, name) in [(100_001u64, "gzip"), (200_001, "zstd")] {
        let n = in_range(lo, lo + 20_000);
        assert!(n > 1000 && n < 20_000, "{name}: {n} records before the cut");
        let seq: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|i| (lo..lo + 20_000).contains(i))
            .collect();
        assert_eq!(
            seq,
            (lo..lo + n).collect::<Vec<_>>(),
            "{name}: a prefix, in order"
        );
    }
    assert_eq!(
        in_range(300_001, 300_005),
        2,
        "crlf and the unterminated last line"
    );

    let dead = DeadLetterQueue::read_all(&sink.join("dlq").join("dead-letter.jsonl")).unwrap();
    assert_eq!(dead.len() as u64, r.dead_lettered);
    let entry = |suffix: &str| {
        dead.iter()
            .find(|d| d.source.ends_with(suffix))
            .unwrap_or_else(|| panic!("no dead letter for {suffix}"))
    };
    assert!(entry("mixed.ndjson:4").reason.contains("invalid UTF-8"));
    let long = entry("mixed.ndjson:5");
    assert!(
        long.reason.contains("--max-record-bytes") && long.truncated,
        "{long:?}"
    );
    assert!(
        entry("mixed.ndjson:4").bytes().unwrap().contains(&0xff),
        "bad bytes kept exactly"
    );
    assert!(
        dead.iter()
            .filter(|d| d.source.contains("garbage.bin"))
            .count()
            > 10
    );
    // Two in mixed.ndjson; random bytes make a few more (runs of newlines and spaces).
    assert!(r.blank_lines >= 2, "{}", r.blank_lines);
}
