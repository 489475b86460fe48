//! What an input is, and where a re-run resumes it.
//!
//! An input is identified by its **content**, not its path: a committed position carries the CRC32 of
//! the input's first bytes up to it (at most `FINGERPRINT_BYTES`, as Filebeat's `fingerprint` file
//! identity does). A re-run resumes an input only where it still begins with what was committed:
//! - same path, same beginning: resume after the committed line (an input appended to since resumes
//!   with the new lines);
//! - same path, different beginning: the file was **replaced** (rotated away and a new one created, or
//!   rewritten): it is read from its start, and the report says so;
//! - a new path whose first `FINGERPRINT_BYTES` match a committed input's: the file was **renamed**
//!   (rotated to `x.1`): it resumes where the old name had got to;
//! - an input that still begins with its committed fingerprint but ends before its committed line was
//!   **truncated**: nothing of it is read again, and the report says so (what is left was committed);
//! - an input now shorter than the bytes its fingerprint covers may be either: it is read from its
//!   start (nothing new lost; lines that survived a truncation are committed again), and said.
//!
//! The same file given twice (by two paths, or a hard link) is read once. Streams — `-` (stdin),
//! pipes, FIFOs, process substitution (`/dev/fd/N`), terminals — cannot be read again, so they are
//! never resumed: each run commits what it reads of them, and a stream is read so that SIGINT/SIGTERM
//! stop it promptly even while no byte arrives.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codec::control::Position;
use crate::codec::CappedDecoder;
use crate::control::Control;

/// Bytes of an input's beginning that identify it (Filebeat's default fingerprint length). Shorter
/// inputs are identified by what they have, and only under their own path.
pub const FINGERPRINT_BYTES: usize = 1024;

/// How often a blocked read of a stream looks for a shutdown request.
const STOP_POLL_MS: u16 = 100;

/// A change to an input since its position was committed, or a duplicate input: reported, never
/// silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputChange {
    /// The input as given.
    pub input: String,
    /// `replaced`, `renamed`, `truncated` or `given_twice`.
    pub change: &'static str,
    /// What was found.
    pub detail: String,
}

/// One input, identified, with where this run starts reading it.
#[derive(Debug, Clone)]
pub struct InputPlan {
    /// As given on the command line.
    pub path: PathBuf,
    /// The key its positions are committed under (its canonical path; `-` for stdin).
    pub key: String,
    /// False for streams (never resumed, never fingerprinted).
    pub resumable: bool,
    /// Its first `FINGERPRINT_BYTES` decompressed bytes (fewer if it is shorter; none for streams).
    pub head: Vec<u8>,
    /// Lines to skip: committed by an earlier run.
    pub skip_to: Position,
    /// `(dev, ino)` of a file (0, 0 for a stream).
    pub file_id: (u64, u64),
    /// Read it at all (false for the second mention of one file).
    pub read: bool,
    /// What was found on the way, to report.
    pub change: Option<InputChange>,
}

impl InputPlan {
    /// The position after `line`, ending at `offset`, with this input's fingerprint up to there.
    pub fn position(&self, line: u64, offset: u64) -> Position {
        let n = (offset.min(self.head.len() as u64)) as usize;
        Position {
            line,
            offset,
            fp_len: n as u32,
            fp_crc: crc32fast::hash(&self.head[..n]),
            ino: self.file_id.1,
            dev: self.file_id.0,
        }
    }
}

/// The key an input's position is recorded under: its canonical path.
pub fn input_key(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Where a resumable input with these first bytes and this `(dev, ino)` starts, given every committed
/// position; and what changed, if anything. Pure.
pub fn resume_point(
    key: &str,
    head: &[u8],
    file_id: (u64, u64),
    committed: &HashMap<String, Position>,
) -> (Position, Option<(&'static str, String)>) {
    let begins_with = |p: &Position| {
        (p.fp_len as usize) <= head.len() && crc32fast::hash(&head[..p.fp_len as usize]) == p.fp_crc
    };
    let own = committed.get(key);
    if let Some(p) = own.filter(|p| begins_with(p)) {
        return (*p, None);
    }
    // Committed under another name, and this file begins with what was committed there: the same
    // file, renamed — known by a full fingerprint, or (a file too short for one) by its inode too.
    let renamed = committed
        .iter()
        .filter(|(k, p)| {
            k.as_str() != key
                && p.fp_len > 0
                && begins_with(p)
                && (p.fp_len as usize == FINGERPRINT_BYTES
                    || (p.ino != 0 && (p.dev, p.ino) == file_id))
        })
        .max_by_key(|(k, p)| (p.offset, k.as_str()));
    if let Some((from, p)) = renamed {
        return (
            *p,
            Some((
                "renamed",
                format!(
                    "begins with the {} bytes committed for {from}{}: resuming after its line {}",
                    p.fp_len,
                    if (p.fp_len as usize) < FINGERPRINT_BYTES {
                        ", and is the same file"
                    } else {
                        ""
                    },
                    p.line
                ),
            )),
        );
    }
    match own {
        Some(p) if head.len() < p.fp_len as usize => (
            Position::default(),
            Some((
                "replaced",
                format!(
                    "is now {} bytes, shorter than the {} bytes its committed fingerprint covers (line {} had been reached): truncated or replaced, which a fingerprint cannot tell apart; read from its start so that nothing new is lost (lines that survived a truncation are committed again)",
                    head.len(), p.fp_len, p.line
                ),
            )),
        ),
        Some(p) => (
            Position::default(),
            Some((
                "replaced",
                format!(
                    "does not begin with the {} bytes committed for it (line {} had been reached): read from its start as a new input",
                    p.fp_len, p.line
                ),
            )),
        ),
        None => (Position::default(), None),
    }
}

/// Identify every input and decide where each starts.
pub fn plan_inputs(
    paths: &[PathBuf],
    committed: &HashMap<String, Position>,
    max_decompressed_bytes: u64,
    max_layers: u32,
) -> Vec<InputPlan> {
    let mut files_seen: HashMap<(u64, u64), String> = HashMap::new();
    paths
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let mut plan = InputPlan {
                path: path.clone(),
                key: name.clone(),
                resumable: false,
                head: Vec::new(),
                skip_to: Position::default(),
                file_id: (0, 0),
                read: true,
                change: None,
            };
            if path.as_os_str() == "-" {
                return plan;
            }
            let Ok(meta) = std::fs::metadata(path) else {
                return plan; // the read reports why it cannot be opened
            };
            if !meta.is_file() {
                return plan; // a stream: pipe, FIFO, /dev/fd/N, terminal
            }
            plan.key = input_key(path);
            if let Some(first) = files_seen.insert((meta.dev(), meta.ino()), name.clone()) {
                plan.read = false;
                plan.change = Some(InputChange {
                    input: name,
                    change: "given_twice",
                    detail: format!("the same file as {first}: read once"),
                });
                return plan;
            }
            plan.resumable = true;
            plan.file_id = (meta.dev(), meta.ino());
            plan.head = read_head(path, max_decompressed_bytes, max_layers);
            let (at, change) = resume_point(&plan.key, &plan.head, plan.file_id, committed);
            plan.skip_to = at;
            plan.change = change.map(|(change, detail)| InputChange {
                input: name,
                change,
                detail,
            });
            plan
        })
        .collect()
}

/// The first `FINGERPRINT_BYTES` decompressed bytes of a file (what could be read: a file that
/// cannot be decoded is reported by the read itself).
fn read_head(path: &Path, cap: u64, max_layers: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    if let Ok(f) = std::fs::File::open(path) {
        if let Ok(d) = CappedDecoder::new(f, &path.display().to_string(), cap, max_layers) {
            let _ = d.take(FINGERPRINT_BYTES as u64).read_to_end(&mut head);
        }
    }
    head
}

/// Open an input for reading: a file as it is, a stream (stdin, a pipe, a FIFO) behind
/// [`StopAwareRead`].
pub fn open_input(plan: &InputPlan, control: &Control) -> io::Result<Box<dyn Read>> {
    if plan.path.as_os_str() == "-" {
        return Ok(Box::new(StopAwareRead(io::stdin(), control.clone())));
    }
    if plan.resumable {
        return Ok(Box::new(std::fs::File::open(&plan.path)?));
    }
    // Opening a FIFO blocks until a writer opens it, and a signal does not end that wait: open it
    // non-blocking, and let the reader's poll wait for data (or the shutdown) instead.
    let fifo = std::fs::metadata(&plan.path).is_ok_and(|m| m.file_type().is_fifo());
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    if fifo {
        o.custom_flags(libc::O_NONBLOCK);
    }
    Ok(Box::new(StopAwareRead(
        o.open(&plan.path)?,
        control.clone(),
    )))
}

/// A stream whose reads wait for data in `poll(2)` steps of [`STOP_POLL_MS`], so a shutdown request
/// ends a read that would block: `(echo REC; sleep 20) | ingest -` used to run on for the whole 20 s
/// after SIGTERM (the handler restarts interrupted reads). The read then fails; the reader sees the
/// request and stops, committing every whole line it read (an unterminated partial line is not one).
pub struct StopAwareRead<R>(pub R, pub Control);

impl<R: Read + AsFd> Read for StopAwareRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags};
        loop {
            if self.1.stop_requested() {
                return Err(io::Error::other(
                    "shutdown requested while waiting for input",
                ));
            }
            let fd = self.0.as_fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            match poll(&mut fds, STOP_POLL_MS) {
                Ok(0) => continue,
                Ok(_) => match self.0.read(buf) {
                    // A non-blocking FIFO that woke without data: wait again.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => return r,
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_at(key: &str, head: &[u8], line: u64, offset: u64) -> HashMap<String, Position> {
        let n = (offset as usize).min(head.len()).min(FINGERPRINT_BYTES);
        HashMap::from([(
            key.to_string(),
            Position {
                line,
                offset,
                fp_len: n as u32,
                fp_crc: crc32fast::hash(&head[..n]),
                ino: 7,
                dev: 1,
            },
        )])
    }

    fn lines(n: usize, tag: &str) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{{\"ts\":{i},\"msg\":\"{tag} line {i}\"}}\n").into_bytes())
            .collect()
    }

    #[test]
    fn an_appended_file_resumes_where_it_was() {
        let old = lines(100, "a");
        let c = committed_at("/a", &old, 100, old.len() as u64);
        let grown = [old.clone(), lines(5, "new")].concat();
        let (p, change) = resume_point("/a", &grown[..FINGERPRINT_BYTES], (1, 7), &c);
        assert_eq!((p.line, change), (100, None));
    }

    #[test]
    fn a_file_replaced_at_the_same_path_is_read_from_its_start_and_said() {
        // Before: a 3-line file replaced by a 4-line one resumed "3 lines past" and lost 3 lines.
        let old = lines(3, "old");
        let c = committed_at("/a", &old, 3, old.len() as u64);
        let new = lines(4, "new");
        let (p, change) = resume_point("/a", &new, (1, 7), &c);
        assert_eq!(p.line, 0);
        assert_eq!(change.unwrap().0, "replaced");
    }

    #[test]
    fn a_renamed_file_resumes_under_its_new_name() {
        let old = lines(200, "a");
        let c = committed_at("/log/app.log", &old, 150, 9000);
        let (p, change) = resume_point("/log/app.log.1", &old[..FINGERPRINT_BYTES], (9, 9), &c);
        assert_eq!(p.line, 150);
        assert_eq!(change.unwrap().0, "renamed");
        // A file too short for a full fingerprint is known across names only as the same inode.
        let short = lines(2, "s");
        let c = committed_at("/s", &short, 2, short.len() as u64);
        assert_eq!(resume_point("/t", &short, (2, 2), &c).0.line, 0);
        let (p, change) = resume_point("/t", &short, (1, 7), &c);
        assert_eq!((p.line, change.unwrap().0), (2, "renamed"));
    }

    #[test]
    fn a_position_from_before_fingerprints_still_resumes() {
        let c = HashMap::from([("/a".to_string(), Position::at(7, 70))]);
        assert_eq!(resume_point("/a", b"anything", (1, 7), &c).0.line, 7);
    }
}
