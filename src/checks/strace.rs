//! `check strace`: the sink's own syscall counters agree exactly with what `strace` saw on the same run.
//! The run is this binary's `run --json` under `strace -f -y -C`: `-y` names each fd's file, so writes to
//! segment files are told apart from writes to stdout; `-C` appends strace's `-c` summary table, whose
//! fdatasync total must equal the sink's (nothing else in the process calls fdatasync).

use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_json::{json, Value};

use super::common::{write_csv_rows, CheckOptions, CheckResult, Criterion};
use super::error::CheckError;
use crate::error::SysError;

/// One case's counts from the run's JSON and from strace, as a row of `strace.csv`.
#[derive(Debug, Serialize)]
struct CaseRow {
    case: String,
    json_write_syscalls: u64,
    strace_segment_writes: u64,
    json_fdatasyncs: u64,
    strace_segment_fdatasyncs: u64,
    strace_c_fdatasyncs: u64,
    strace_c_writes_all_fds: u64,
    // Empty when the run's JSON did not hold the count.
    committed: Option<u64>,
    agree: bool,
}

/// Counts read from an strace log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StraceCounts {
    /// `write`/`writev`/`pwrite64` calls on segment files of the sink directory.
    pub segment_writes: u64,
    /// `fdatasync` calls on segment files.
    pub segment_fdatasyncs: u64,
    /// `write` calls in strace's `-c` summary (all fds: includes stdout/stderr).
    pub summary_writes: u64,
    /// `fdatasync` calls in strace's `-c` summary.
    pub summary_fdatasyncs: u64,
}

/// A call line of an `strace -f` log, "PID name(args" (complete, or `<unfinished ...>`), as
/// (name, args); `None` for anything else: a resumed half (not a second call), a signal, an exit, a
/// `-c` summary row.
pub fn call_of(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    let rest = t.split_once(' ').map_or(t, |(_, r)| r).trim_start();
    let (name, args) = rest.split_once('(')?;
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_name.then_some((name, args))
}

/// The path `strace -y` shows for a call's first argument when it is a file descriptor
/// (`3</dir/seg-0.log>`): the file a write or a sync was made on, whatever its data holds.
pub fn fd_path(args: &str) -> Option<&str> {
    let first = args.split(", ").next()?;
    first.split_once('<')?.1.split_once('>').map(|(p, _)| p)
}

/// Parse an `strace -f -y -C -o LOG` log, counting calls on files under `dir` named `seg-*.log`.
pub fn parse_strace(log: &str, dir: &str) -> StraceCounts {
    let mut c = StraceCounts::default();
    for line in log.lines() {
        let t = line.trim_start();
        // Summary table rows: "% time seconds usecs/call calls errors syscall".
        let cols: Vec<&str> = t.split_whitespace().collect();
        if cols.len() >= 5 && cols[0].parse::<f64>().is_ok() && !t.contains('(') {
            let name = *cols.last().unwrap();
            let calls = cols[3].parse().unwrap_or(0);
            match name {
                "write" => c.summary_writes += calls,
                "fdatasync" => c.summary_fdatasyncs += calls,
                _ => {}
            }
            continue;
        }
        let Some((name, args)) = call_of(t) else {
            continue;
        };
        let on_segment = fd_path(args).is_some_and(|path| {
            // By components: `/d2/seg-…` is not under `/d`.
            Path::new(path).starts_with(dir)
                && Path::new(path)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".log"))
        });
        if !on_segment {
            continue;
        }
        match name {
            "write" | "writev" | "pwrite64" => c.segment_writes += 1,
            "fdatasync" => c.segment_fdatasyncs += 1,
            _ => {}
        }
    }
    c
}

/// Run the check.
pub fn strace(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let exe = opts.binary("strace")?;
    let cases: [(&str, &[&str]); 2] = [
        (
            "unbatched",
            &["--rate", "2000", "--max-items", "1", "--linger-ms", "0"],
        ),
        (
            "batched",
            &[
                "--rate",
                "200000",
                "--max-items",
                "4096",
                "--linger-ms",
                "1",
            ],
        ),
    ];
    let secs = if opts.quick { "1" } else { "3" };
    let mut rows = Vec::new();
    let (mut criteria, mut runs) = (Vec::new(), Vec::new());
    for (name, args) in cases {
        let dir = opts.dir.join(format!("strace-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| SysError::new("mkdir", &dir, e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| SysError::new("canonicalize", &dir, e))?;
        let log = opts.dir.join(format!("strace-{name}.log"));
        opts.progress(format!("strace: {name} run under strace"));
        let mut traced = Command::new("strace");
        traced
            .args([
                "-f",
                "-y",
                "-C",
                "-qq",
                "-e",
                "trace=write,writev,pwrite64,fdatasync",
            ])
            .arg("-o")
            .arg(&log)
            .arg(&exe)
            .args(["run", "--json", "--duration", secs, "--dir"])
            .arg(&dir)
            .args(args);
        let out = CheckError::output_of(
            &mut traced,
            "strace",
            "`apt-get install strace`",
            "run under strace",
        );
        let _ = std::fs::remove_dir_all(&dir);
        let out = out?;
        let r: Value =
            serde_json::from_slice(&out.stdout).map_err(|e| CheckError::json("run JSON", e))?;
        let text = std::fs::read_to_string(&log).map_err(|e| SysError::new("read", &log, e))?;
        let _ = std::fs::remove_file(&log);
        let c = parse_strace(&text, &dir.display().to_string());
        let (jw, jf) = (
            r["write_syscalls"].as_u64().unwrap_or(0),
            r["fdatasyncs"].as_u64().unwrap_or(0),
        );
        let agree =
            jw == c.segment_writes && jf == c.segment_fdatasyncs && jf == c.summary_fdatasyncs;
        rows.push(CaseRow {
            case: name.to_string(),
            json_write_syscalls: jw,
            strace_segment_writes: c.segment_writes,
            json_fdatasyncs: jf,
            strace_segment_fdatasyncs: c.segment_fdatasyncs,
            strace_c_fdatasyncs: c.summary_fdatasyncs,
            strace_c_writes_all_fds: c.summary_writes,
            committed: r["committed"].as_u64(),
            agree,
        });
        criteria.push(Criterion::exact(
            agree && jf > 0,
            format!(
                "{name}: sink counted {jw} writes / {jf} fdatasyncs; strace saw {} / {} on segment files and {} \
                 fdatasyncs in its -c table",
                c.segment_writes, c.segment_fdatasyncs, c.summary_fdatasyncs
            ),
        ));
        runs.push(json!({ "case": name, "run": r, "strace": c }));
    }
    let evidence = vec![write_csv_rows(&opts.out, "strace.csv", &rows)?];
    Ok(CheckResult::judge(
        "strace",
        criteria,
        json!({ "runs": runs }),
        evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_segment_calls_and_the_summary_table() {
        let log = "\
101 write(3</d/seg-0000000000.log>, \"ILB1\"..., 128) = 128
101 fdatasync(3</d/seg-0000000000.log>) = 0
102 write(1</dev/pts/0>, \"{\"..., 10) = 10
101 write(3</d/seg-0000000000.log>, \"ILB1\"..., 128 <unfinished ...>
102 write(2</dev/pts/0>, \"x\", 1) = 1
101 <... write resumed>) = 128
101 fdatasync(3</d/seg-0000000000.log>) = 0
101 write(4</other/seg-0000000000.log>, \"x\", 1) = 1
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 90.00    0.000900         450         2           fdatasync
 10.00    0.000100          20         5           write
------ ----------- ----------- --------- --------- ----------------
100.00    0.001000          14         7           total
";
        let c = parse_strace(log, "/d");
        assert_eq!(
            c,
            StraceCounts {
                segment_writes: 2,
                segment_fdatasyncs: 2,
                summary_writes: 5,
                summary_fdatasyncs: 2
            }
        );
    }
}
