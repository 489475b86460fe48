//! One dead-letter entry: the record, why it was refused, where it came from, and its history.

use serde::{Deserialize, Serialize};

/// One dead-lettered record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record's id (its sequence number in the source).
    pub id: u64,
    /// Why it was refused.
    pub reason: String,
    /// Where it came from (e.g. `generator seq 123`, `file.ndjson:17`).
    pub source: String,
    /// Attempts that included it.
    pub attempts: u32,
    /// The record bytes as UTF-8 (lossily when they are not UTF-8: then `payload_hex` has them exactly).
    pub payload: String,
    /// The exact record bytes in hex, when they are not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
    /// True when only a prefix of the record was kept (it broke the record-size cap): such an entry
    /// can be inspected but never re-driven.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Earlier failures of this record (reasons of previous attempts, oldest first): a re-drive that
    /// fails again keeps them, so a record's whole story travels with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
    /// Sequence number in the DLQ (1, 2, ... across runs; 0: untracked). A block's control record
    /// names the highest one it acknowledges, so a start-up knows exactly which entries a crash
    /// left unacknowledged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl DeadLetter {
    /// What makes an entry the same entry again (a re-drive re-run after a crash pushes its put-back
    /// entries again): its source and sequence number. The source alone is not enough: a file
    /// replaced at the same path yields a different record with the same `path:line` (review finding:
    /// the second such entry was taken for a duplicate and silently not written).
    pub fn dedup_key(&self) -> String {
        if self.seq == 0 {
            self.source.clone()
        } else {
            format!("{}#{}", self.source, self.seq)
        }
    }

    /// `payload` (and `payload_hex`, `truncated`) for these record bytes, keeping at most `keep` bytes.
    pub fn with_payload(mut self, bytes: &[u8], keep: usize) -> Self {
        let kept = &bytes[..bytes.len().min(keep)];
        self.truncated |= kept.len() < bytes.len();
        match std::str::from_utf8(kept) {
            Ok(s) => self.payload = s.to_string(),
            Err(_) => {
                self.payload = String::from_utf8_lossy(kept).into_owned();
                self.payload_hex = Some(kept.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
        self
    }

    /// The exact record bytes, or `None` when the entry kept only a prefix.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        if self.truncated {
            return None;
        }
        match &self.payload_hex {
            None => Some(self.payload.as_bytes().to_vec()),
            Some(h) => (0..h.len() / 2)
                .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
        }
    }
}
