//! Pass/fail checks: each turns one claim into measured runs, writes its evidence (CSV/JSON) into an
//! output folder, and passes only when the measurements say so. One file per check:
//! `physical` (sink vs fio), `window` (tune the window from data), `before-after` (what batching buys),
//! `strace` (counters agree with strace), `sigstop` (no coordinated omission), `poison`
//! (split-and-retry with a dead-letter queue vs abort-whole-batch), `overflow` (each overflow policy
//! under overload, and an unbounded queue's death for contrast), `bomb` (decompression caps), `nagle`
//! (the 40 ms Nagle/delayed-ACK stall and its two fixes), `compression` (only filled batches pay),
//! `aimd` (an adaptive window vs every fixed one, at low and high load), `redrive` (a schema fix replays
//! the dead-letter queue with zero loss, proven over ids), `ingest` (a 512 MiB NDJSON file at ≥ 80 % of
//! batched saturation, in bounded memory).

mod aimd;
mod before_after;
mod bomb;
mod common;
mod compression;
mod contention;
mod error;
mod ingest;
mod nagle;
mod overflow;
mod physical;
mod poison;
mod real_logs;
mod redrive;
mod sigstop;
mod strace;
pub mod syscall_gate;
mod verdict;
mod window;

pub use before_after::before_after;
pub use common::{
    exit_code, note_cpu, CheckOptions, CheckResult, Contention, Criterion, CriterionKind,
};
pub use error::{CheckError, STDERR_TAIL_LINES};
pub use physical::{physical, run_fio, FioResult};
pub use window::{window, WindowChoice};

/// A check: its name and the function that runs it.
pub type CheckFn = fn(&CheckOptions) -> Result<CheckResult, CheckError>;

/// Every check, in the order `check all` runs them (window before before-after: it uses its choice).
/// One table, so the list `check all` runs and the names `check NAME` accepts cannot drift apart.
pub const CHECKS: [(&str, CheckFn); 13] = [
    ("physical", physical),
    ("window", |o| window(o).map(|(r, _)| r)),
    ("aimd", aimd::aimd),
    ("before-after", before_after),
    ("strace", strace::strace),
    ("sigstop", sigstop::sigstop),
    ("poison", poison::poison),
    ("overflow", overflow::overflow),
    ("bomb", bomb::bomb),
    ("nagle", nagle::nagle),
    ("compression", compression::compression),
    ("redrive", redrive::redrive_check),
    ("ingest", ingest::ingest_check),
];

/// Every check name, in `check all` order.
pub fn names() -> Vec<&'static str> {
    CHECKS.iter().map(|(n, _)| *n).collect()
}

/// Run one check by name.
pub fn run_check(name: &str, opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    match CHECKS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => {
            Contention::reset();
            let started = std::time::Instant::now();
            let mut r = f(opts)?;
            r.seconds = started.elapsed().as_secs_f64();
            r.cpu = Contention::collect();
            if let Some(n) = r.cpu.note() {
                opts.progress(format!("{name}: {n}"));
            }
            if r.cpu.substantial() {
                r.undecided_under_contention();
            }
            Ok(r)
        }
        None => Err(CheckError::UnknownCheck {
            name: name.to_string(),
            known: names().join(", "),
        }),
    }
}
