//! Pass/fail checks: each turns one claim into measured runs, writes its evidence (CSV/JSON) into an
//! output folder, and passes only when the measurements say so. One file per check:
//! `physical` (sink vs fio), `window` (tune the window from data), `before-after` (what batching buys),
//! `strace` (counters agree with strace), `sigstop` (no coordinated omission), `poison`
//! (split-and-retry with a dead-letter queue vs abort-whole-batch), `overflow` (each overflow policy
//! under overload, and an unbounded queue's death for contrast), `bomb` (decompression caps), `nagle`
//! (the 40 ms Nagle/delayed-ACK stall and its two fixes).

mod before_after;
mod bomb;
mod common;
mod nagle;
mod overflow;
mod physical;
mod poison;
mod sigstop;
mod strace;
mod window;

pub use before_after::before_after;
pub use common::{CheckOptions, CheckResult, Criterion};
pub use physical::{physical, run_fio, FioResult};
pub use window::{window, WindowChoice};

/// Every check name, in the order `check all` runs them (window first: before-after uses its choice).
pub const ALL: [&str; 6] = [
    "physical",
    "window",
    "before-after",
    "strace",
    "sigstop",
    "poison",
];

/// Run one check by name.
pub fn run_check(name: &str, opts: &CheckOptions) -> Result<CheckResult, String> {
    match name {
        "window" => window(opts).map(|(r, _)| r),
        "before-after" => before_after(opts),
        "physical" => physical(opts),
        "strace" => strace::strace(opts),
        "sigstop" => sigstop::sigstop(opts),
        "poison" => poison::poison(opts),
        "overflow" => overflow::overflow(opts),
        "bomb" => bomb::bomb(opts),
        "nagle" => nagle::nagle(opts),
        other => Err(format!(
            "unknown check '{other}' (built so far: {}; aimd, compression and redrive are not built yet)",
            ALL.join(", ")
        )),
    }
}
