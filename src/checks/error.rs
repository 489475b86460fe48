//! Why a check could not run to a verdict (a failed criterion is a verdict, not an error). One variant
//! per kind of failure, each naming what failed and where; the underlying error is kept as the
//! `source()`, so a caller walking the chain reaches the OS, JSON or CSV error itself. As in
//! `crate::error`, a message embeds its cause's text: printing `to_string()` alone says everything,
//! and printing the chain as well would say the cause twice.

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};

use crate::error::{FrameError, LoadError, SinkError, SysError};
use crate::summary::RunError;

/// Lines of a failed child's stderr an error keeps: what a process says last is why it died
/// (a panic message, an allocation failure, a usage error); the earlier lines are progress.
pub const STDERR_TAIL_LINES: usize = 10;

/// Why a check stopped without a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A pipeline, ingest or re-drive run failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A sink the check drives itself (outside a pipeline run) failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A system call on a file, directory or program failed (`SysError` names the call and path).
    #[error(transparent)]
    Sys(#[from] SysError),
    /// An I/O operation on no one file failed (an encoder into memory, a signal, a socket).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// JSON that does not parse as expected (a child's report), or a value that does not serialize.
    #[error("{what}: {source}")]
    Json {
        /// Whose JSON, or which evidence file.
        what: String,
        /// The parser's or serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// An evidence CSV could not be written.
    #[error("write {}: {source}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The writer's error.
        #[source]
        source: csv::Error,
    },
    /// A block or record read back from a segment is not valid.
    #[error("{}: {source}", path.display())]
    Frame {
        /// The segment file.
        path: PathBuf,
        /// What is wrong with the bytes.
        #[source]
        source: FrameError,
    },
    /// The start-up scan of a sink directory refused it (its error is text: see `ingest::scan`).
    #[error("scan {}: {reason}", dir.display())]
    Scan {
        /// The sink directory.
        dir: PathBuf,
        /// What the scan said.
        reason: String,
    },
    /// A child process the check ran exited unsuccessfully.
    #[error("{what} failed ({status}): {stderr_tail}")]
    Child {
        /// The child (`"run under strace"`, `"fio"`, ...).
        what: String,
        /// How it exited.
        status: ExitStatus,
        /// The last lines of its stderr (at most [`STDERR_TAIL_LINES`]), trimmed.
        stderr_tail: String,
    },
    /// An external tool the check runs could not be started.
    #[error("cannot run {tool} ({source}): install it ({install})")]
    MissingTool {
        /// The tool (`"strace"`, `"fio"`).
        tool: &'static str,
        /// How to install it.
        install: &'static str,
        /// Why it did not start.
        #[source]
        source: io::Error,
    },
    /// The check runs the `ingest-lab` binary as a child and was not told where it is.
    #[error("check {check} needs the ingest-lab binary (run it from the CLI)")]
    NoExe {
        /// The check.
        check: String,
    },
    /// A binary the check runs is not where it should be.
    #[error("check {check} needs {} (cargo build --release builds it beside ingest-lab)", path.display())]
    MissingBinary {
        /// The check.
        check: String,
        /// Where the binary was looked for.
        path: PathBuf,
    },
    /// An input file another step writes is not there.
    #[error("{}: missing ({made_by} writes it)", path.display())]
    MissingInput {
        /// The file.
        path: PathBuf,
        /// What writes it.
        made_by: &'static str,
    },
    /// Too little free space for the check to run safely.
    #[error("only {} MiB free in {}: {needs} needs at least {} MiB", free >> 20, dir.display(), needed >> 20)]
    NoSpace {
        /// The directory.
        dir: PathBuf,
        /// Bytes free there.
        free: u64,
        /// Bytes the check needs.
        needed: u64,
        /// What needs the space.
        needs: &'static str,
    },
    /// No check by that name.
    #[error("unknown check '{name}' (built: {known})")]
    UnknownCheck {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// No workload by that name.
    #[error("no workload {name:?} (one of {known})")]
    UnknownWorkload {
        /// The name asked for.
        name: String,
        /// The workloads there are.
        known: String,
    },
    /// A result, a tool's output or a file's contents is not what the check can work with.
    #[error("{what}: {reason}")]
    Invalid {
        /// What it is (a counter set, fio's report, a line of a file).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A schedule a check builds itself fails as a run's would: one home for a load error.
impl From<LoadError> for CheckError {
    fn from(e: LoadError) -> Self {
        CheckError::Run(RunError::Load(e))
    }
}

impl CheckError {
    /// An I/O error of `what`, on no one path.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        CheckError::Io {
            what: what.into(),
            source,
        }
    }

    /// JSON of `what` that did not parse or serialize.
    pub fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        CheckError::Json {
            what: what.into(),
            source,
        }
    }

    /// `what` is not usable, because `reason`.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        CheckError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Run `cmd`, an external `tool`, to its end: a tool that cannot start is `MissingTool` (with
    /// how to `install` it), one that exits unsuccessfully is `Child` named `what`.
    pub fn output_of(
        cmd: &mut Command,
        tool: &'static str,
        install: &'static str,
        what: impl Into<String>,
    ) -> Result<Output, Self> {
        let out = cmd.output().map_err(|source| CheckError::MissingTool {
            tool,
            install,
            source,
        })?;
        if !out.status.success() {
            return Err(CheckError::child(what, out.status, &out.stderr));
        }
        Ok(out)
    }

    /// The child `what` exited with `status`, having written `stderr`: the error keeps its last
    /// [`STDERR_TAIL_LINES`] lines.
    pub fn child(what: impl Into<String>, status: ExitStatus, stderr: &[u8]) -> Self {
        let text = String::from_utf8_lossy(stderr);
        let lines: Vec<&str> = text.trim().lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
        CheckError::Child {
            what: what.into(),
            status,
            stderr_tail: tail,
        }
    }
}

#[cfg(test)]
#[path = "error/tests.rs"]
mod tests;
