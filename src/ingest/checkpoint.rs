//! Input positions committed atomically with the data, and the start-up scan that reads them back.
//!
//! Each block that carries ingested records ends with one control record of the inputs' positions
//! ([`crate::codec::control`]): re-running the same command resumes each input after its last
//! committed position — nothing twice, nothing lost.
//!
//! A torn tail — the last block of the last segment cut short by a crash — fails its length or CRC
//! check. It was never acknowledged (its fdatasync did not return), so [`recover`] cuts it off and says
//! so. A crash tears at most the one write that was in flight, so a torn tail is at most one block,
//! is the last thing in its segment, and nothing valid follows it: a bad stretch longer than the
//! largest block, a bad block that a valid block follows, or a bad block in a segment that newer data
//! follows is **corruption** (a flipped byte, a bad sector). Corruption is never cut: the scan refuses
//! with an error naming the segment and the byte, because the bytes after it had been acknowledged.
//! (The bad block's own header proves nothing either way: a write torn at sector boundaries can keep
//! its magic and lose its length, so a header that "ends early" is no sign of corruption.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use std::io::{BufReader, Read};

use crate::codec::control::{decode_control, is_control, Position};
use crate::codec::{
    claimed_payload_len, BlockReader, BlockView, BLOCK_HEADER_BYTES, BLOCK_MAGIC, MAX_BLOCK_BYTES,
};
use crate::error::SysError;
use crate::sink::parse_segment_index;
use crate::storage::{read_at_most, OpenMode, Storage};

/// What the start-up scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovery {
    /// Segments read.
    pub segments: usize,
    /// Good blocks.
    pub blocks: u64,
    /// Data records in good blocks.
    pub records: u64,
    /// Control records in good blocks.
    pub control_records: u64,
    /// `fdatasync` calls recovery made on segments (the newest made durable, a torn tail cut): beside
    /// the sink's own, so every sync of a segment is counted somewhere.
    pub fdatasyncs: u64,
    /// The last committed position of every input key seen.
    pub positions: HashMap<String, Position>,
    /// The highest dead-letter sequence number a committed block acknowledges: entries of the DLQ
    /// past it belong to a batch whose block never became durable.
    pub dlq_seq: u64,
    /// A torn tail found (and cut, if the scan was allowed to repair).
    pub torn_tail: Option<TornTail>,
}

/// A cut-off last block.
#[derive(Debug, Clone, Serialize)]
pub struct TornTail {
    /// The segment.
    pub segment: PathBuf,
    /// Offset of the first byte not part of a good block.
    pub good_bytes: u64,
    /// Bytes after it (cut when repairing).
    pub torn_bytes: u64,
    /// Why the block there is bad.
    pub error: String,
}

/// The segment files of `dir`, in append order.
pub fn segments(dir: &Path) -> Result<Vec<PathBuf>, SysError> {
    segments_in(&Storage::os(), dir)
}

/// [`segments`] on `storage`.
pub fn segments_in(storage: &Storage, dir: &Path) -> Result<Vec<PathBuf>, SysError> {
    let mut segs: Vec<PathBuf> = storage
        .list_or_empty(dir)
        .map_err(|e| SysError::new("readdir", dir, e))?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| parse_segment_index(n).is_some())
        })
        .collect();
    segs.sort();
    Ok(segs)
}

/// Scan every segment of `dir`: count blocks and records, collect the last position of each input, and
/// find a torn tail. With `repair`, cut the torn tail off (truncate + fdatasync). A bad block before
/// the last segment's tail is an error naming the segment and offset.
pub fn recover(dir: &Path, repair: bool) -> Result<Recovery, String> {
    scan(dir, repair, &mut |_| {})
}

/// The start-up scan of `ingest` and `dlq redrive`: [`recover`] with repair on `storage`, saying on
/// stderr when a torn tail was cut.
pub fn start_up(storage: &Storage, dir: &Path, who: &str) -> Result<Recovery, String> {
    let rec = scan_in(storage, dir, true, &mut |_| {})?;
    if let Some(t) = &rec.torn_tail {
        eprintln!(
            "{who}: cut a torn tail of {} bytes from {} ({}): it was never acknowledged",
            t.torn_bytes,
            t.segment.display(),
            t.error
        );
    }
    Ok(rec)
}

/// [`recover`], handing every committed data record (not control records, not a torn tail) to
/// `on_record` in commit order: what `cat` prints and `verify` counts.
pub fn scan(
    dir: &Path,
    repair: bool,
    on_record: &mut dyn FnMut(&[u8]),
) -> Result<Recovery, String> {
    scan_in(&Storage::os(), dir, repair, on_record)
}

/// [`scan`] on `storage`.
pub fn scan_in(
    storage: &Storage,
    dir: &Path,
    repair: bool,
    on_record: &mut dyn FnMut(&[u8]),
) -> Result<Recovery, String> {
    let segs = segments_in(storage, dir).map_err(|e| e.to_string())?;
    let mut syncs = 0u64;
    if repair {
        // The newest non-empty segment may end in a block whose fdatasync failed in an earlier
        // process: its bytes can still be readable from the page cache without being durable.
        // Make them durable before positions in them are trusted (or fail here); older segments
        // were synced before a later one got data. (Found by the crash simulation: seed 1741.)
        for seg in segs.iter().rev() {
            let len = storage
                .len(seg)
                .map_err(|e| format!("stat {}: {e}", seg.display()))?;
            storage
                .open(seg, OpenMode::AppendOrCreate)
                .and_then(|mut f| f.sync_data())
                .map_err(|e| format!("fdatasync {}: {e}", seg.display()))?;
            syncs += 1;
            if len > 0 {
                break;
            }
        }
    }
    let mut rec = Recovery {
        fdatasyncs: syncs,
        segments: segs.len(),
        ..Recovery::default()
    };
    for (i, seg) in segs.iter().enumerate() {
        let (good_bytes, file_len, bad) = for_each_block(storage, seg, &mut |block| {
            rec.blocks += 1;
            for r in block.records() {
                let r = r.map_err(|e| format!("{}: {e}", seg.display()))?;
                if is_control(r) {
                    rec.control_records += 1;
                    let c = decode_control(r)
                        .map_err(|e| format!("{} block at {}: {e}", seg.display(), block.offset))?;
                    rec.dlq_seq = rec.dlq_seq.max(c.dlq_seq);
                    for (k, p) in c.positions {
                        rec.positions.insert(k, p);
                    }
                } else {
                    rec.records += 1;
                    on_record(r);
                }
            }
            Ok(())
        })?;
        if let Some(error) = bad {
            // Only the newest non-empty segment can hold a crash's torn write; segments after it are
            // the empty ones later runs opened.
            let later_data = segs[i + 1..]
                .iter()
                .any(|s| storage.len(s).map(|n| n > 0).unwrap_or(true));
            if later_data {
                return Err(format!(
                    "{}: corrupt block at byte {good_bytes} ({error}) followed by newer segments: not a torn tail; refusing to continue",
                    seg.display()
                ));
            }
            if let Err(why) = torn_not_corrupt(storage, seg, good_bytes, file_len) {
                return Err(format!(
                    "{}: corrupt block at byte {good_bytes} ({error}): {why}: not a torn tail (a crash tears only the last write, at most one block, with nothing valid after it); refusing to continue",
                    seg.display()
                ));
            }
            let torn = TornTail {
                segment: seg.clone(),
                good_bytes,
                torn_bytes: file_len - good_bytes,
                error,
            };
            if repair {
                storage
                    .open(seg, OpenMode::AppendOrCreate)
                    .and_then(|mut f| {
                        f.set_len(good_bytes)?;
                        f.sync_data()
                    })
                    .map_err(|e| format!("truncate {}: {e}", seg.display()))?;
                rec.fdatasyncs += 1;
            }
            rec.torn_tail = Some(torn);
        }
    }
    Ok(rec)
}

/// `Ok` when the bad stretch from `at` to `file_len` of `seg` can be a torn last write; else why not.
fn torn_not_corrupt(storage: &Storage, seg: &Path, at: u64, file_len: u64) -> Result<(), String> {
    let io = |e: std::io::Error| format!("read {}: {e}", seg.display());
    if file_len - at > MAX_BLOCK_BYTES {
        return Err(format!(
            "{} bad bytes, more than the largest block ({MAX_BLOCK_BYTES} bytes)",
            file_len - at
        ));
    }
    // Any valid block after the bad one means the bad one was not the last write.
    let finder = memchr::memmem::Finder::new(&BLOCK_MAGIC);
    let mut chunk = vec![0u8; 1 << 20];
    let mut pos = at + 1;
    while pos < file_len {
        let n = read_at_most(storage, seg, &mut chunk, pos).map_err(io)?;
        if n == 0 {
            break;
        }
        for hit in finder.find_iter(&chunk[..n]) {
            let cand = pos + hit as u64;
            let mut header = [0u8; BLOCK_HEADER_BYTES];
            let got = read_at_most(storage, seg, &mut header, cand).map_err(io)?;
            if let Some(len) = claimed_payload_len(&header[..got]) {
                let end = cand + BLOCK_HEADER_BYTES as u64 + len;
                if end <= file_len {
                    let mut block = vec![0u8; (end - cand) as usize];
                    read_at_most(storage, seg, &mut block, cand).map_err(io)?;
                    let whole = match BlockReader::new(&block).next() {
                        Some(Ok(_)) => true,
                        Some(Err(e)) => e.is_whole_block(),
                        None => false,
                    };
                    if whole {
                        return Err(format!("a valid block follows at byte {cand}"));
                    }
                }
            }
        }
        if n < BLOCK_MAGIC.len() {
            break;
        }
        // Overlap by the magic's length less one, so a magic across two chunks is found.
        pos += (n - (BLOCK_MAGIC.len() - 1)) as u64;
    }
    Ok(())
}

/// Walk the blocks of one segment file, one block in memory at a time (a start-up scan of many
/// 64 MiB segments must not hold a segment, let alone all of them). Returns the bytes of good blocks,
/// the file length, and the error at the first bad or torn block, if any.
fn for_each_block(
    storage: &Storage,
    seg: &Path,
    f: &mut dyn FnMut(&BlockView<'_>) -> Result<(), String>,
) -> Result<(u64, u64, Option<String>), String> {
    let io = |e: std::io::Error| format!("read {}: {e}", seg.display());
    let file_len = storage.len(seg).map_err(io)?;
    let mut r = BufReader::with_capacity(1 << 20, storage.reader(seg, 0));
    let mut buf = Vec::new();
    let mut pos = 0u64;
    loop {
        buf.clear();
        let got = (&mut r)
            .take(BLOCK_HEADER_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(io)?;
        if got == 0 {
            return Ok((pos, file_len, None));
        }
        if got == BLOCK_HEADER_BYTES {
            let payload = u32::from_le_bytes(buf[12..16].try_into().expect("4 bytes")) as u64;
            // A length past the end of the file is a torn (or corrupt) header: do not allocate it.
            let want = payload.min(file_len.saturating_sub(pos + BLOCK_HEADER_BYTES as u64));
            (&mut r).take(want).read_to_end(&mut buf).map_err(io)?;
        }
        let block = match BlockReader::new(&buf).next() {
            Some(Ok(b)) => b,
            // Its CRC holds: written whole, so not a torn write that start-up may cut.
            Some(Err(e)) if e.is_whole_block() => {
                return Err(format!(
                    "{}: {}; its CRC holds, so it is not a torn tail and nothing is cut; refusing to continue",
                    seg.display(),
                    e.offset_by(pos)
                ))
            }
            Some(Err(e)) => return Ok((pos, file_len, Some(format!("at byte {pos}: {e}")))),
            None => return Ok((pos, file_len, None)),
        };
        let view = BlockView {
            offset: pos,
            ..block
        };
        f(&view)?;
        pos += buf.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::control::encode_control;
    use crate::testutil::sealed_block;

    #[test]
    fn recovery_keeps_the_last_position_and_cuts_a_torn_tail() {
        let dir = crate::testutil::tempdir();
        let mut ck = Vec::new();
        let mut seg = Vec::new();
        encode_control(&[("in", Position::at(2, 20))], 0, &mut ck);
        seg.extend(sealed_block(&[b"r1", b"r2", &ck]));
        encode_control(&[("in", Position::at(3, 30))], 0, &mut ck);
        seg.extend(sealed_block(&[b"r3", &ck]));
        let good = seg.len() as u64;
        encode_control(&[("in", Position::at(4, 40))], 0, &mut ck);
        let torn = sealed_block(&[b"r4", &ck]);
        seg.extend(&torn[..torn.len() - 3]);
        let path = dir.path().join("seg-0000000000.log");
        std::fs::write(&path, &seg).unwrap();
        std::fs::write(dir.path().join("seg-0000000001.log"), b"").unwrap();

        let r = recover(dir.path(), false).unwrap();
        assert_eq!((r.blocks, r.records, r.control_records), (2, 3, 2));
        assert_eq!(r.positions["in"], Position::at(3, 30));
        let t = r.torn_tail.unwrap();
        assert_eq!((t.good_bytes, t.torn_bytes), (good, torn.len() as u64 - 3));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), seg.len() as u64);

        let r = recover(dir.path(), true).unwrap();
        assert!(r.torn_tail.is_some());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        assert!(recover(dir.path(), true).unwrap().torn_tail.is_none());
    }

    #[test]
    fn a_bad_block_before_newer_data_is_corruption_not_a_torn_tail() {
        let dir = crate::testutil::tempdir();
        let mut seg = sealed_block(&[b"r1"]);
        seg[21] ^= 0xff;
        std::fs::write(dir.path().join("seg-0000000000.log"), &seg).unwrap();
        std::fs::write(
            dir.path().join("seg-0000000001.log"),
            sealed_block(&[b"r2"]),
        )
        .unwrap();
        let e = recover(dir.path(), true).unwrap_err();
        assert!(
            e.contains("seg-0000000000.log") && e.contains("not a torn tail"),
            "{e}"
        );
    }

    #[test]
    fn a_whole_block_of_an_unknown_format_at_the_tail_is_refused_not_cut() {
        // Before: the codec byte was read before the CRC, so a whole block this build cannot decode (a
        // newer format or codec) at a segment's tail was an error like a torn write's, and cut.
        for (byte, value) in [(5usize, 3u8), (4, 7)] {
            let dir = crate::testutil::tempdir();
            let first = sealed_block(&[b"r1"]);
            let mut newer = sealed_block(&[b"r2"]);
            newer[byte] = value;
            crate::testutil::recompute_block_crc(&mut newer);
            let seg = [first.clone(), newer].concat();
            let path = dir.path().join("seg-0000000000.log");
            std::fs::write(&path, &seg).unwrap();
            let e = recover(dir.path(), true).unwrap_err();
            assert!(
                e.contains(&format!("block at byte {}", first.len()))
                    && e.contains("not a torn tail"),
                "{e}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), seg, "nothing cut");
        }
    }

    fn segment_of(blocks: &[Vec<u8>]) -> Vec<u8> {
        blocks.concat()
    }

    #[test]
    fn one_flipped_byte_mid_segment_is_corruption_not_a_torn_tail() {
        // Before: the bad block and every acknowledged block after it were reported as a "torn tail"
        // and cut on the next start.
        let dir = crate::testutil::tempdir();
        let blocks: Vec<Vec<u8>> = (0..5u8).map(|i| sealed_block(&[&[i; 100]])).collect();
        let mut seg = segment_of(&blocks);
        let mid = blocks[0].len() + blocks[1].len() + 30;
        seg[mid] ^= 0x01;
        let path = dir.path().join("seg-0000000000.log");
        std::fs::write(&path, &seg).unwrap();
        let e = recover(dir.path(), true).unwrap_err();
        assert!(
            e.contains("corrupt block at byte") && e.contains("not a torn tail"),
            "{e}"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            seg.len() as u64,
            "nothing cut"
        );
    }

    #[test]
    fn a_flipped_length_in_the_header_is_corruption_when_valid_blocks_follow() {
        let dir = crate::testutil::tempdir();
        let blocks: Vec<Vec<u8>> = (0..4u8).map(|i| sealed_block(&[&[i; 50]])).collect();
        let mut seg = segment_of(&blocks);
        let at = blocks[0].len() + 14; // high byte of block 1's payload length: claims past EOF
        seg[at] = 0x7f;
        std::fs::write(dir.path().join("seg-0000000000.log"), &seg).unwrap();
        let e = recover(dir.path(), true).unwrap_err();
        assert!(e.contains("a valid block follows at byte"), "{e}");
    }

    #[test]
    fn a_bad_last_block_with_nothing_after_it_is_a_torn_tail() {
        // The in-flight write: cut short, zero-filled, or with a bad byte — and nothing valid after.
        for damage in 0..4 {
            let dir = crate::testutil::tempdir();
            let blocks: Vec<Vec<u8>> = (0..3u8).map(|i| sealed_block(&[&[i; 64]])).collect();
            let mut seg = segment_of(&blocks);
            let last = seg.len() - blocks[2].len();
            match damage {
                0 => seg.truncate(seg.len() - 5),
                1 => seg[last..].fill(0),
                // Torn at a sector boundary inside the header (found by the crash simulation):
                // the magic survives, the length reads 0 and "ends" before the file does.
                2 => seg[last + 4..last + 20].fill(0),
                _ => seg[last + 40] ^= 0x10,
            }
            std::fs::write(dir.path().join("seg-0000000000.log"), &seg).unwrap();
            let r = recover(dir.path(), true).unwrap();
            let t = r.torn_tail.expect("torn tail");
            assert_eq!(t.good_bytes, last as u64, "damage {damage}");
            assert_eq!(r.records, 2);
        }
    }
}
