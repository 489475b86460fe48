//! Resume identifies an input by its content (a fingerprint of its first bytes), not by its path and a
//! line count. Before: a file replaced at the same path silently skipped its first N lines (a 3-line
//! file replaced by a 4-line one committed only the 4th line, "3 lines resumed past"); a rotated
//! (renamed) file was read again whole; a pipe given as `/dev/fd/N` skipped as many lines as an
//! earlier pipe at that number had; the same file given twice was committed twice.

mod common;

use std::path::Path;
use std::process::Command;

fn lines(tag: &str, n: u64) -> String {
    (1..=n)
        .map(|i| format!("{{\"ts\":{i},\"msg\":\"{tag} {i} GET /api/items/{i}\"}}\n"))
        .collect()
}

fn ingest(sink: &Path, inputs: &[&Path]) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["ingest".as_ref(), "--json".as_ref(), "--dir".as_ref()];
    args.push(sink.as_os_str());
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    common::ingest_lab_json(args)
}

fn committed(sink: &Path) -> Vec<String> {
    let mut v = Vec::new();
    ingest_lab::ingest::scan(sink, false, &mut |r| {
        v.push(String::from_utf8_lossy(r).into_owned())
    })
    .unwrap();
    v
}

fn change(r: &serde_json::Value) -> Vec<String> {
    r["changed_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_file_replaced_at_the_same_path_is_read_whole_and_reported() {
    let dir = common::tempdir();
    let (sink, f) = (dir.path().join("sink"), dir.path().join("app.ndjson"));
    std::fs::write(&f, lines("old", 3)).unwrap();
    assert_eq!(ingest(&sink, &[&f])["committed"], 3);
    std::fs::write(&f, lines("new", 4)).unwrap();
    let r = ingest(&sink, &[&f]);
    assert_eq!(r["committed"], 4);
    assert_eq!(change(&r), ["replaced"]);
    assert_eq!(committed(&sink).len(), 7);
}

#[test]
fn an_appended_file_resumes_with_only_the_new_lines() {
    let dir = common::tempdir();
    let (sink, f) = (dir.path().join("sink"), dir.path().join("app.ndjson"));
    std::fs::write(&f, lines("a", 50)).unwrap();
    ingest(&sink, &[&f]);
    std::fs::write(&f, lines("a", 53)).unwrap();
    let r = ingest(&sink, &[&f]);
    assert_eq!(
        (r["committed"].as_u64(), r["resumed_lines"].as_u64()),
        (Some(3), Some(50))
    );
    assert!(change(&r).is_empty());
    assert_eq!(committed(&sink), lines("a", 53).lines().collect::<Vec<_>>());
}

#[test]
fn a_rotated_file_resumes_under_its_new_name_and_the_new_file_is_read_whole() {
    let dir = common::tempdir();
    let sink = dir.path().join("sink");
    let (live, rotated) = (dir.path().join("app.log"), dir.path().join("app.log.1"));
    std::fs::write(&live, lines("first", 100)).unwrap();
    ingest(&sink, &[&live]);
    // logrotate: rename, the writer appends its last lines to the old file, a new file starts.
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::write(&rotated, lines("first", 104)).unwrap();
    std::fs::write(&live, lines("second", 10)).unwrap();
    let r = ingest(&sink, &[&rotated, &live]);
    assert_eq!(r["committed"], 14, "{r}");
    let mut seen = change(&r);
    seen.sort();
    assert_eq!(seen, ["renamed", "replaced"]);
    let got = committed(&sink);
    assert_eq!(got.len(), 114);
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 114, "nothing twice");
}

#[test]
fn a_short_file_rotated_with_nothing_new_is_not_read_again_after_its_name_is_reused() {
    // Found by the crash simulation (seed 9, no fault): a renamed file with no new lines never had
    // its position committed under its new name; once the new file at the old name committed its own
    // position there, the next run read the renamed file from its start: every line twice. And a file
    // under 1 KiB could not be recognised under a new name at all.
    let dir = common::tempdir();
    let sink = dir.path().join("sink");
    let (live, rotated) = (dir.path().join("app.log"), dir.path().join("app.log.1"));
    std::fs::write(&live, lines("first", 3)).unwrap();
    ingest(&sink, &[&live]);
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::write(&live, lines("second", 2)).unwrap();
    let r = ingest(&sink, &[&rotated, &live]);
    assert_eq!(r["committed"], 2, "{r}");
    std::fs::write(&live, lines("second", 4)).unwrap();
    let r = ingest(&sink, &[&rotated, &live]);
    assert_eq!(r["committed"], 2, "{r}");
    assert_eq!(committed(&sink).len(), 7);
}

#[test]
fn a_truncated_file_is_reported_and_nothing_is_read_twice() {
    let dir = common::tempdir();
    let (sink, f) = (dir.path().join("sink"), dir.path().join("app.ndjson"));
    std::fs::write(&f, lines("a", 100)).unwrap();
    ingest(&sink, &[&f]);
    // Still longer than the fingerprint: still known by it.
    std::fs::write(&f, lines("a", 60)).unwrap();
    let r = ingest(&sink, &[&f]);
    assert_eq!(r["committed"], 0);
    assert_eq!(change(&r), ["truncated"]);
    assert_eq!(committed(&sink).len(), 100);
}

#[test]
fn a_file_cut_below_its_fingerprint_is_read_again_rather_than_risk_losing_new_lines() {
    // Truncated or replaced by shorter content: a fingerprint cannot tell; losing new lines would be
    // worse than committing surviving ones again, and the report says which was chosen.
    let dir = common::tempdir();
    let (sink, f) = (dir.path().join("sink"), dir.path().join("app.ndjson"));
    std::fs::write(&f, lines("a", 10)).unwrap();
    ingest(&sink, &[&f]);
    std::fs::write(&f, lines("b", 2)).unwrap();
    let r = ingest(&sink, &[&f]);
    assert_eq!(r["committed"], 2);
    assert_eq!(change(&r), ["replaced"]);
    let detail = r["changed_inputs"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("truncated or replaced"), "{detail}");
}

#[test]
fn the_same_file_given_twice_is_read_once() {
    let dir = common::tempdir();
    let (sink, f) = (dir.path().join("sink"), dir.path().join("app.ndjson"));
    std::fs::write(&f, lines("a", 5)).unwrap();
    let link = dir.path().join("hard-link.ndjson");
    std::fs::hard_link(&f, &link).unwrap();
    let r = ingest(&sink, &[&f, &link, &f]);
    assert_eq!(r["committed"], 5);
    assert_eq!(change(&r), ["given_twice", "given_twice"]);
}

#[test]
fn a_pipe_given_by_dev_fd_path_is_never_resumed() {
    let dir = common::tempdir();
    let sink = dir.path().join("sink");
    for tag in ["first", "second"] {
        let script = format!(
            "exec {bin} ingest --json --dir {sink} <(printf '%s' '{text}')",
            bin = env!("CARGO_BIN_EXE_ingest-lab"),
            sink = sink.display(),
            text = lines(tag, 3)
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (r["committed"].as_u64(), r["resumed_lines"].as_u64()),
            (Some(3), Some(0)),
            "{tag}"
        );
    }
    assert_eq!(committed(&sink).len(), 6);
}
