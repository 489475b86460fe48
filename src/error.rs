//! Errors, one enum per operation. A syscall error always carries the operation and the path, so a
//! message read in a log says what failed where without a debugger.
//!
//! Each message embeds its cause's text, and `source()` returns the cause as well: a user reads one
//! complete line from `to_string()` (which the CLI prints, and which the checks' evidence records), and a
//! program walks the typed chain (to the `io::Error` and its kind). A printer that joins the chain itself
//! (anyhow's `{:#}`) would show a cause twice; nothing here does, and the CLI prints `Display` alone.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failed system call on a file or directory: which call, on what path, and what the OS said.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct SysError {
    /// The call (`"write"`, `"fdatasync"`, `"open"`, ...).
    pub op: &'static str,
    /// The file or directory it was made on.
    pub path: PathBuf,
    /// The OS error.
    pub source: io::Error,
}

impl SysError {
    /// Wrap `source` with the operation and path it came from.
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SysError {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why a sink refused or failed a commit.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The downstream refused the batch because of its *content* (a record failed validation), like a
    /// bulk API answering 400 for the whole request. Not an I/O failure: the sink is not poisoned, and
    /// the batch may be split and retried (see `RetryStrategy`).
    #[error("batch rejected by the sink: {reason}")]
    Rejected {
        /// What the downstream said.
        reason: String,
    },
    /// A syscall failed during this commit. The sink is now poisoned.
    #[error("sink failed: {0}")]
    Io(#[source] SysError),
    /// An earlier `write` or `fdatasync` failed, so this sink refuses all further work (fail-stop, as
    /// PostgreSQL does since 2018 and fjall does): after a failed fsync the kernel may have dropped the
    /// dirty pages and cleared the error, so a retry that "succeeds" would claim durability it lacks.
    #[error("sink is poisoned: an earlier {op} on {} failed ({cause}); nothing after it is accepted", path.display())]
    Poisoned {
        /// The call that failed first.
        op: &'static str,
        /// The file it failed on.
        path: PathBuf,
        /// The OS error text of that first failure.
        cause: String,
    },
}

/// A configuration value that cannot work, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ConfigError {
    /// The field, as the CLI flag or struct path names it (e.g. `window.max_items`).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// `Err` naming `field` and `reason` unless `ok`: one line per rule in each `validate`.
    pub fn unless(ok: bool, field: &'static str, reason: impl Into<String>) -> Result<(), Self> {
        if ok {
            Ok(())
        } else {
            Err(Self {
                field,
                reason: reason.into(),
            })
        }
    }
}

/// A push the queue refused. The item is handed back, never dropped silently.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The queue is at capacity (only from `try_push`, or from a policy that refuses).
    Full(T),
    /// The queue was closed; nothing more is accepted.
    Closed(T),
}

impl<T> PushError<T> {
    /// The refused item.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(t) | PushError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("queue is full"),
            PushError::Closed(_) => f.write_str("queue is closed"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for PushError<T> {}

/// Why bytes read back from a segment are not a valid block or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes remain than the header or the stated length needs (a torn tail, if at the end).
    Truncated {
        /// Byte offset of the frame or block.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes there are.
        available: u64,
    },
    /// The block does not start with the block magic.
    BadMagic {
        /// Byte offset of the block.
        offset: u64,
    },
    /// The stored CRC32 does not match the bytes.
    BadCrc {
        /// Byte offset of the block or record.
        offset: u64,
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the bytes read.
        computed: u32,
    },
    /// A codec this build does not know.
    UnknownCodec {
        /// Byte offset of the block.
        offset: u64,
        /// The codec byte.
        codec: u8,
    },
    /// A compressed block's payload does not decode.
    BadPayload {
        /// Byte offset of the block.
        offset: u64,
        /// The decoder's error.
        reason: String,
    },
    /// A whole block (its CRC holds) of a format or layout this build does not read.
    UnsupportedFormat {
        /// Byte offset of the block.
        offset: u64,
        /// The header's format byte.
        format: u8,
        /// The header's layout byte.
        layout: u8,
    },
    /// The block says it holds N records but its payload holds a different number.
    RecordCount {
        /// Byte offset of the block.
        offset: u64,
        /// Count in the header.
        stated: u32,
        /// Records found.
        found: u32,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "truncated at byte {offset}: needs {needed} bytes, {available} remain"
            ),
            FrameError::BadMagic { offset } => write!(f, "no block magic at byte {offset}"),
            FrameError::BadCrc {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "CRC mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}"
            ),
            FrameError::BadPayload { offset, reason } => {
                write!(f, "block at byte {offset} does not decode: {reason}")
            }
            FrameError::UnknownCodec { offset, codec } => {
                write!(f, "unknown codec {codec} in block at byte {offset}")
            }
            FrameError::UnsupportedFormat {
                offset,
                format,
                layout,
            } => write!(
                f,
                "block at byte {offset} has format byte {format}, layout byte {layout}: this build reads block formats 1 and 2 (layouts 0 and 1); was it written by a newer ingest-lab?"
            ),
            FrameError::RecordCount {
                offset,
                stated,
                found,
            } => write!(
                f,
                "block at byte {offset} states {stated} records but holds {found}"
            ),
        }
    }
}

impl FrameError {
    /// The same error with its offset moved by `base` (an error from a reader over one block copied out
    /// of its file, told where the block sits).
    pub fn offset_by(mut self, base: u64) -> FrameError {
        match &mut self {
            FrameError::Truncated { offset, .. }
            | FrameError::BadMagic { offset }
            | FrameError::BadCrc { offset, .. }
            | FrameError::UnknownCodec { offset, .. }
            | FrameError::BadPayload { offset, .. }
            | FrameError::UnsupportedFormat { offset, .. }
            | FrameError::RecordCount { offset, .. } => *offset += base,
        }
        self
    }

    /// True when the block's bytes passed their CRC and it still cannot be read (a format, codec or
    /// payload this build does not decode): such a block was written whole, so it is never a torn tail.
    pub fn is_whole_block(&self) -> bool {
        matches!(
            self,
            FrameError::UnsupportedFormat { .. }
                | FrameError::UnknownCodec { .. }
                | FrameError::BadPayload { .. }
        )
    }
}

impl std::error::Error for FrameError {}

/// Why a load schedule could not be built (e.g. a bad replay trace).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The trace file could not be read.
    #[error("cannot read trace: {0}")]
    Io(#[source] SysError),
    /// A line of the trace is not a valid offset.
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A stepped or ramped load whose factor is not a positive number.
    #[error("invalid load profile {0}: its factor must be positive and finite")]
    Profile(String),
}
