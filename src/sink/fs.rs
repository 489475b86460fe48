//! What filesystem a directory is on, and how much room it has. `fdatasync` on tmpfs returns in about a
//! microsecond because there is no device behind it: a benchmark there proves nothing, so runs warn.

use std::io;
use std::path::Path;

use serde::Serialize;

/// The filesystem type of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsInfo {
    /// `f_type` from `statfs(2)`.
    pub magic: u64,
    /// Its common name, or `unknown(0x…)`.
    pub name: String,
}

impl FsInfo {
    /// The filesystem of `path` (which must exist).
    pub fn of(path: &Path) -> io::Result<FsInfo> {
        let st = nix::sys::statfs::statfs(path).map_err(io::Error::from)?;
        let magic = st.filesystem_type().0 as u64;
        Ok(FsInfo {
            magic,
            name: fs_name(magic),
        })
    }

    /// True for filesystems that live in memory, where fdatasync costs nothing.
    pub fn is_memory_backed(&self) -> bool {
        matches!(self.magic, TMPFS_MAGIC | RAMFS_MAGIC)
    }

    /// The loud warning to print when the sink is memory-backed, or `None`.
    pub fn warning(&self, dir: &Path) -> Option<String> {
        self.is_memory_backed().then(|| {
            format!(
                "WARNING: {} is on {}: fdatasync there costs ~1 µs and reaches no disk, so these numbers \
                 say nothing about durability cost. Use --dir on a real disk (the default is under target/).",
                dir.display(),
                self.name
            )
        })
    }
}

const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;

fn fs_name(magic: u64) -> String {
    match magic {
        0xEF53 => "ext4".into(),
        TMPFS_MAGIC => "tmpfs".into(),
        RAMFS_MAGIC => "ramfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794c_7630 => "overlayfs".into(),
        0x2fc1_2fc1 => "zfs".into(),
        0xF2F5_2010 => "f2fs".into(),
        0x6969 => "nfs".into(),
        0x6573_5546 => "fuse".into(),
        0x0102_1997 => "9p".into(),
        m => format!("unknown({m:#x})"),
    }
}

/// Bytes available to an unprivileged user on the filesystem of `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(io::Error::from)?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under CI a test that cannot run is a failure, never a silent pass.
    fn cannot_run_here(why: &str) {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot run here, and under CI it must: {why}"
        );
        eprintln!("NOT RUN: {why}");
    }

    #[test]
    fn dev_shm_is_recognised_as_memory_backed_and_warned_about() {
        let shm = Path::new("/dev/shm");
        if !shm.exists() {
            cannot_run_here("no /dev/shm on this machine");
            return;
        }
        let info = FsInfo::of(shm).unwrap();
        assert_eq!(info.name, "tmpfs");
        let w = info.warning(shm).expect("tmpfs must warn");
        assert!(w.contains("tmpfs") && w.contains("/dev/shm"));
    }

    #[test]
    fn a_disk_directory_does_not_warn() {
        let info = FsInfo::of(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        if info.is_memory_backed() {
            cannot_run_here(&format!("the checkout itself is on {}", info.name));
            return;
        }
        assert_eq!(info.warning(Path::new(".")), None);
    }
}
