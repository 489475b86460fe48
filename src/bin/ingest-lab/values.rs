//! The enumerated flag values, typed (clap `ValueEnum`): clap lists them in `--help` and refuses any
//! other value with the list. Each maps onto the library's own type, which knows nothing of the CLI.

use std::time::Duration;

use clap::ValueEnum;
use ingest_lab::{
    batch::AimdConfig, codec::Codec, config::WindowMode, ingest::Schema, payload::PayloadKind,
    queue::OverflowPolicy, retry::DlqPolicy,
};

/// `--schema`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum SchemaArg {
    /// Integer `ts` (Unix ms) and string `msg`.
    V1,
    /// v1, or `ts` an RFC 3339 string.
    V2,
}

impl From<SchemaArg> for Schema {
    fn from(s: SchemaArg) -> Schema {
        match s {
            SchemaArg::V1 => Schema::V1,
            SchemaArg::V2 => Schema::V2,
        }
    }
}

/// `--window`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum WindowKind {
    /// The size+time window as configured.
    Static,
    /// No timer: take everything queued when the sink is free.
    Smart,
    /// The linger follows p99 against 0.8 × --slo-ms (the controller's aim); --linger-ms is where it starts.
    Aimd,
}

impl From<WindowKind> for WindowMode {
    fn from(k: WindowKind) -> WindowMode {
        match k {
            WindowKind::Static => WindowMode::Static,
            WindowKind::Smart => WindowMode::Smart,
            WindowKind::Aimd => WindowMode::Aimd(AimdConfig::default()),
        }
    }
}

/// `--compress`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum CompressArg {
    /// Blocks as they are.
    None,
    /// zstd per block.
    Zstd,
    /// gzip per block.
    Gzip,
}

impl From<CompressArg> for Codec {
    fn from(c: CompressArg) -> Codec {
        match c {
            CompressArg::None => Codec::None,
            CompressArg::Zstd => Codec::Zstd,
            CompressArg::Gzip => Codec::Gzip,
        }
    }
}

/// `--dlq-policy`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DlqPolicyArg {
    /// Refuse new dead letters (counted dropped).
    DropNewer,
    /// Evict the oldest dead letters (counted evicted).
    DropOlder,
}

impl From<DlqPolicyArg> for DlqPolicy {
    fn from(p: DlqPolicyArg) -> DlqPolicy {
        match p {
            DlqPolicyArg::DropNewer => DlqPolicy::DropNewer,
            DlqPolicyArg::DropOlder => DlqPolicy::DropOlder,
        }
    }
}

/// `--overflow`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OverflowArg {
    /// The producer waits for room (with --block-timeout-ms: at most that long).
    Block,
    /// Refuse the new item (counted dropped).
    DropNewest,
    /// Evict the oldest queued item (counted dropped).
    DropOldest,
    /// Spill to a file under the sink directory when the queue is full; order is kept.
    Spill,
}

impl OverflowArg {
    /// The policy with its settings; `--block-timeout-ms` belongs to `block` alone (on another policy
    /// it would be silently ignored, so it is refused).
    pub(crate) fn policy(self, block_timeout_ms: Option<f64>) -> Result<OverflowPolicy, String> {
        if block_timeout_ms.is_some() && !matches!(self, OverflowArg::Block) {
            return Err("--block-timeout-ms applies to --overflow block only".into());
        }
        Ok(match self {
            OverflowArg::Block => OverflowPolicy::Block {
                timeout: block_timeout_ms.map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1e3)),
            },
            OverflowArg::DropNewest => OverflowPolicy::DropNewest,
            OverflowArg::DropOldest => OverflowPolicy::DropOldest,
            OverflowArg::Spill => OverflowPolicy::SPILL,
        })
    }
}

/// `--payload`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum PayloadArg {
    /// Seeded log-like lines.
    Log,
    /// Seeded random bytes.
    Random,
}

impl From<PayloadArg> for PayloadKind {
    fn from(p: PayloadArg) -> PayloadKind {
        match p {
            PayloadArg::Log => PayloadKind::Log,
            PayloadArg::Random => PayloadKind::Random,
        }
    }
}

/// `dlq ACTION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DlqAction {
    /// Print the pending entries and the re-drive generations.
    List,
    /// Replay the pending entries with --schema.
    Redrive,
}
