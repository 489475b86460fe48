//! Control records: the positions of the inputs a block's records came from, committed in the same
//! block as those records.
//!
//! Each block that carries ingested records ends with one **control record**: a NUL byte, `ILCK`, then
//! JSON `{"p": [[key, line, offset, fp_len, fp_crc, ino, dev], ...], "dlq": seq}` — for every input
//! with records in the block, the line number and decompressed byte offset just past its last record
//! there, the fingerprint of the input's content up to there (CRC32 of its first `fp_len` bytes, at
//! most `ingest`'s `FINGERPRINT_BYTES`) and the file's inode: a resume checks that the input
//! still begins with what was committed, so a file replaced, rotated or truncated at the same path is
//! detected, never silently skipped; and the highest dead-letter sequence number the block
//! acknowledges (see [`crate::retry::cut_unacknowledged_dead_letters`]). Older control records — a bare array of
//! three or five fields — still decode. A record and the position that says it
//! was consumed reach the disk in the same `write` + `fdatasync`, under the same block CRC: after a crash
//! either both are durable or neither is. Re-running the same command resumes each input after its last
//! committed position: nothing twice, nothing lost. NDJSON lines cannot start with NUL, so a control
//! record is never mistaken for data; `cat` skips them.
//!

use serde::Serialize;

/// Prefix of a control record.
pub const CONTROL_PREFIX: &[u8; 5] = b"\0ILCK";

/// Where an input has been consumed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Position {
    /// Lines consumed (1-based number of the last line consumed).
    pub line: u64,
    /// Decompressed bytes consumed.
    pub offset: u64,
    /// Bytes of the input's beginning that `fp_crc` covers: `min(offset, FINGERPRINT_BYTES)`.
    #[serde(skip_serializing_if = "is_zero")]
    pub fp_len: u32,
    /// CRC32 of the input's first `fp_len` decompressed bytes.
    #[serde(skip_serializing_if = "is_zero")]
    pub fp_crc: u32,
    /// The file's inode and device when it was read (0: a stream, or from before they were kept):
    /// what recognises a renamed file that is too short for a full fingerprint.
    #[serde(skip_serializing_if = "is_zero64")]
    pub ino: u64,
    /// See `ino`.
    #[serde(skip_serializing_if = "is_zero64")]
    pub dev: u64,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero64(v: &u64) -> bool {
    *v == 0
}

impl Position {
    /// Line and offset with no fingerprint (a stream's, or a test's).
    pub fn at(line: u64, offset: u64) -> Position {
        Position {
            line,
            offset,
            ..Position::default()
        }
    }
}

/// One input's entry in a control record: with a fingerprint, or (older segments) without.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ControlEntry {
    WithInode(String, u64, u64, u32, u32, u64, u64),
    Fingerprinted(String, u64, u64, u32, u32),
    Plain(String, u64, u64),
}

/// True for a control record (not data).
pub fn is_control(record: &[u8]) -> bool {
    record.starts_with(CONTROL_PREFIX)
}

/// Encode a control record for these positions, acknowledging every dead letter up to sequence
/// number `dlq_seq` (0: none tracked).
pub fn encode_control(positions: &[(&str, Position)], dlq_seq: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(CONTROL_PREFIX);
    let p: Vec<(&str, u64, u64, u32, u32, u64, u64)> = positions
        .iter()
        .map(|(k, p)| (*k, p.line, p.offset, p.fp_len, p.fp_crc, p.ino, p.dev))
        .collect();
    serde_json::to_writer(&mut *out, &serde_json::json!({ "p": p, "dlq": dlq_seq }))
        .expect("serializable");
}

/// A decoded control record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Control {
    /// Each input's position after this block.
    pub positions: Vec<(String, Position)>,
    /// The highest dead-letter sequence number this block acknowledges (0: none tracked).
    pub dlq_seq: u64,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum ControlJson {
    Current {
        p: Vec<ControlEntry>,
        dlq: u64,
    },
    /// Before dead-letter sequence numbers: the positions alone.
    Plain(Vec<ControlEntry>),
}

/// Decode a control record.
pub fn decode_control(record: &[u8]) -> Result<Control, String> {
    let json = record
        .strip_prefix(CONTROL_PREFIX)
        .ok_or("not a control record")?;
    let (entries, dlq_seq) =
        match serde_json::from_slice(json).map_err(|e| format!("bad control record: {e}"))? {
            ControlJson::Current { p, dlq } => (p, dlq),
            ControlJson::Plain(p) => (p, 0),
        };
    let positions = entries
        .into_iter()
        .map(|e| match e {
            ControlEntry::WithInode(k, line, offset, fp_len, fp_crc, ino, dev) => (
                k,
                Position {
                    line,
                    offset,
                    fp_len,
                    fp_crc,
                    ino,
                    dev,
                },
            ),
            ControlEntry::Fingerprinted(k, line, offset, fp_len, fp_crc) => (
                k,
                Position {
                    line,
                    offset,
                    fp_len,
                    fp_crc,
                    ..Position::default()
                },
            ),
            ControlEntry::Plain(k, line, offset) => (k, Position::at(line, offset)),
        })
        .collect();
    Ok(Control { positions, dlq_seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_records_round_trip_and_are_never_data() {
        let mut c = Vec::new();
        let p = Position::at(17, 999);
        encode_control(&[("a.ndjson", p), ("b", Position::default())], 7, &mut c);
        assert!(is_control(&c));
        assert!(!is_control(br#"{"ts":1,"msg":"x"}"#));
        let back = decode_control(&c).unwrap();
        assert_eq!(back.dlq_seq, 7);
        let back = back.positions;
        assert_eq!(back[0], ("a.ndjson".to_string(), p));
        assert_eq!(back.len(), 2);
        let fp = Position {
            fp_len: 1024,
            fp_crc: 0xdead_beef,
            ..p
        };
        encode_control(&[("a", fp)], 0, &mut c);
        assert_eq!(decode_control(&c).unwrap().positions[0].1, fp);
        // A control record from before fingerprints.
        let old = [&CONTROL_PREFIX[..], br#"[["a",17,999]]"#].concat();
        assert_eq!(decode_control(&old).unwrap().positions[0].1, p);
    }
}
