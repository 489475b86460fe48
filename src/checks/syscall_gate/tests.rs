use super::*;

const LOG: &str = r#"1200 openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</usr/lib/x86_64-linux-gnu/libc.so.6>
1200 openat(AT_FDCWD, "/w/sink/seg-00000000000000000000.log", O_WRONLY|O_CREAT|O_EXCL|O_APPEND|O_CLOEXEC, 0666) = 4</w/sink/seg-00000000000000000000.log>
1200 fsync(5</w/sink>) = 0
1201 write(4</w/sink/seg-00000000000000000000.log>, "\x01\x02", 2 <unfinished ...>
1200 write(1</dev/pts/0>, "{\"workload\":\"x\"}\n", 17) = 17
1201 <... write resumed>) = 2
1201 fdatasync(4</w/sink/seg-00000000000000000000.log>) = 0
1201 renameat2(AT_FDCWD, "/w/dlq/a.tmp", AT_FDCWD, "/w/dlq/a", 0) = 0
1201 rename("/w/dlq/b.tmp", "/w/dlq/b") = 0
1201 unlink("/elsewhere/x") = 0
1201 write(7</w2/sink/seg-1.log>, "x", 1) = 1
1201 openat(AT_FDCWD, "/w.strace", O_WRONLY) = 8</w.strace>
1200 write(1</dev/pts/0>, "{\"dir\":\"/w/sink\"}\n", 19) = 19
1201 +++ exited with 0 +++
"#;

fn calls(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(s, c)| (s.to_string(), *c)).collect()
}

fn measured(workload: &str, records: u64, pairs: &[(&str, u64)]) -> Measured {
    Measured {
        report: WorkloadReport {
            workload: workload.into(),
            records,
            ..WorkloadReport::default()
        },
        calls: calls(pairs),
    }
}

/// The gate with `budgeted` as its committed budget (rendered and parsed back, as the file is), as
/// a function of one measured workload.
fn gate(budgeted: Measured) -> impl Fn(Measured) -> Verdict {
    let (b, r) = parse_budgets(&render_budgets(&[budgeted], "test")).unwrap();
    move |m| compare(&[m], &b, &r)
}

/// Whether the verdict's first failure says `text`.
fn fails_with(v: &Verdict, text: &str) -> bool {
    v.failures.first().is_some_and(|f| f.contains(text))
}

/// Siblings sharing the directory's prefix (`/w2`, `/w.strace`) and a path quoted inside a write's
/// data are not the workload's calls (review finding: a plain substring match counted them).
#[test]
fn only_calls_on_the_workloads_own_files_are_counted_and_a_resumed_half_is_not_a_second_call() {
    let c = calls_under(LOG, "/w");
    assert_eq!(
        c,
        calls(&[
            ("fdatasync", 1),
            ("fsync", 1),
            ("openat", 1),
            ("rename", 2),
            ("write", 1)
        ])
    );
}

#[test]
fn the_gate_fails_on_one_more_fdatasync_and_passes_on_the_budget_itself() {
    let batched = |syncs| measured("batched", 50_000, &[("fdatasync", syncs), ("write", 100)]);
    let check = gate(batched(100));
    assert_eq!(check(batched(100)), Verdict::default());
    let v = check(batched(101));
    assert_eq!(v.failures.len(), 1, "{v:?}");
    assert!(fails_with(&v, "fdatasync rose from 100 to 101"), "{v:?}");
}

#[test]
fn fewer_calls_pass_with_a_note_but_a_syscall_that_vanished_fails() {
    let check = gate(measured("ingest", 10, &[("fdatasync", 20), ("write", 30)]));
    let fewer = check(measured("ingest", 10, &[("fdatasync", 19), ("write", 30)]));
    assert!(
        fewer.failures.is_empty() && fewer.notes.len() == 1,
        "{fewer:?}"
    );
    let gone = check(measured("ingest", 10, &[("write", 30)]));
    assert!(fails_with(&gone, "fdatasync budgeted at 20"), "{gone:?}");
}

#[test]
fn a_new_syscall_a_new_workload_or_a_changed_record_count_fails() {
    let check = gate(measured("redrive", 10, &[("write", 3)]));
    let new_call = check(measured("redrive", 10, &[("write", 3), ("fsync", 1)]));
    assert!(
        fails_with(&new_call, "fsync made 1 calls and has no budget"),
        "{new_call:?}"
    );
    let new_workload = check(measured("other", 10, &[("write", 3)]));
    assert!(!new_workload.failures.is_empty());
    let changed = check(measured("redrive", 11, &[("write", 3)]));
    assert!(fails_with(&changed, "the workload changed"), "{changed:?}");
}

#[test]
fn a_malformed_budget_line_is_an_error_naming_its_line() {
    let e = parse_budgets("# c\nbatched\twrite\tmany\t10\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("many"), "{e}");
    assert!(parse_budgets("batched write 1 2\n")
        .unwrap_err()
        .to_string()
        .contains("line 1"));
}

#[test]
fn the_sinks_counters_must_agree_with_what_strace_saw_on_segments() {
    let mut m = measured("batched", 1, &[]);
    (m.report.segment_writes, m.report.segment_fdatasyncs) = (1, 1);
    assert!(disagreements(&m, LOG, "/w").is_empty());
    m.report.segment_fdatasyncs = 2;
    assert_eq!(disagreements(&m, LOG, "/w").len(), 1);
}

/// The budgets compare exactly only if each workload makes the same calls on every run: windows that
/// close by size, a closed-loop load and seeded input. Run each twice and compare its own counters.
#[test]
fn every_workload_reports_the_same_counters_twice_and_batches_by_size() {
    let (a, b) = (crate::testutil::tempdir(), crate::testutil::tempdir());
    let mut first = Vec::new();
    for dir in [a.path(), b.path()] {
        let reports: Vec<_> = WORKLOADS
            .iter()
            .map(|w| {
                prepare(w, dir).unwrap();
                run_workload(w, dir).unwrap()
            })
            .collect();
        first.push(reports);
    }
    assert_eq!(first[0], first[1]);
    let by = |w: &str| first[0].iter().find(|r| r.workload == w).unwrap().clone();
    assert_eq!(by("unbatched").segment_fdatasyncs, UNBATCHED_ITEMS);
    assert_eq!(
        by("batched").segment_fdatasyncs,
        BATCHED_ITEMS.div_ceil(BATCH_ITEMS as u64)
    );
    assert!(by("ingest").records == INGEST_RECORDS && by("redrive").records > 0);
}
