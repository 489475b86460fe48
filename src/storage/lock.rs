//! One process per sink directory: an exclusive `flock(2)` on `DIR/LOCK`, held for as long as anything
//! of this process uses the directory, with the holder's pid written inside so that a refused second
//! process can name it.
//!
//! Two writers on one directory interleave segments, positions and dead letters from two runs; neither
//! run's exactly-once promise survives that (seen: one `ingest` failed mid-run on a segment name the
//! other had just taken). The lock is taken before the start-up scan, so recovery never races a live
//! writer. `flock` is released by the kernel when the process dies, `kill -9` included, so a crash
//! never leaves a stale lock. Within one process the lock is shared: the ingest front and the sink it
//! opens hold the same [`DirLock`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use nix::fcntl::{Flock, FlockArg};

use crate::error::SysError;

/// Name of the lock file inside a locked directory.
pub const LOCK_FILE: &str = "LOCK";

/// An exclusive lock on a directory, released when the last holder in this process drops it.
#[derive(Debug)]
pub struct DirLock {
    _file: Flock<File>,
}

impl DirLock {
    /// Lock `dir` (created if missing) for this process, or fail naming the directory and the pid that
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<Arc<DirLock>, SysError> {
        std::fs::create_dir_all(dir).map_err(|e| SysError::new("mkdir", dir, e))?;
        let key = std::fs::canonicalize(dir).map_err(|e| SysError::new("realpath", dir, e))?;
        static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<DirLock>>>> = OnceLock::new();
        let mut held = HELD
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = held.get(&key).and_then(Weak::upgrade) {
            return Ok(lock);
        }
        let path = key.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SysError::new("open", &path, e))?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(f) => f,
            Err((mut f, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = f.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {holder}")
                };
                return Err(SysError::new(
                    "lock",
                    &path,
                    io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{} is in use: {who} holds its lock (one ingest-lab process per directory); wait for it to finish or stop it",
                            key.display()
                        ),
                    ),
                ));
            }
            Err((_, e)) => return Err(SysError::new("flock", &path, e.into())),
        };
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| writeln!(*file, "{}", std::process::id()))
            .map_err(|e| SysError::new("write", &path, e))?;
        let lock = Arc::new(DirLock { _file: file });
        held.insert(key, Arc::downgrade(&lock));
        Ok(lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_directory_and_the_pid() {
        let dir = crate::testutil::tempdir();
        let first = DirLock::acquire(dir.path()).unwrap();
        // Another process's lock is another open file description: the same as this.
        let other = File::open(dir.path().join(LOCK_FILE)).unwrap();
        assert!(Flock::lock(other, FlockArg::LockExclusiveNonblock).is_err());
        drop(first);
        let other = File::open(dir.path().join(LOCK_FILE)).unwrap();
        let held = Flock::lock(other, FlockArg::LockExclusiveNonblock).expect("released on drop");
        let e = DirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(&dir.path().canonicalize().unwrap().display().to_string())
                && e.contains("in use"),
            "{e}"
        );
        drop(held);
    }

    #[test]
    fn holders_in_one_process_share_the_lock() {
        let dir = crate::testutil::tempdir();
        let a = DirLock::acquire(dir.path()).unwrap();
        let b = DirLock::acquire(dir.path()).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let pid: u32 = std::fs::read_to_string(dir.path().join(LOCK_FILE))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pid, std::process::id());
    }
}
