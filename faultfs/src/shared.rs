//! The state the FUSE handlers and the control socket share: the inode
//! table, the open handles, the write cache and the faults in force, each
//! behind its own lock. The cache lock may be held while the inode lock is
//! taken (to open a backing file for the cache), never the other way
//! round; no other two are held at once.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use fuser::{FileType, INodeNo, Notifier};
use serde_json::{json, Value};

use crate::cache::Cache;
use crate::control::{error_reply, Command};
use crate::faults::{Faults, RandomCorruption};
use crate::flakey::Flakey;
use crate::inodes::Inodes;
use crate::sys;

/// One entry of a directory listing, as taken at opendir.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: FileType,
    pub name: OsString,
}

/// What a FUSE file handle stands for.
#[derive(Clone)]
pub enum Handle {
    File(Arc<File>),
    /// The listing taken when the directory was opened; readdir pages
    /// through it by index.
    Dir(Arc<Vec<DirEntry>>),
}

#[derive(Default)]
pub struct Handles {
    next: u64,
    open: HashMap<u64, Handle>,
}

impl Handles {
    pub fn insert(&mut self, handle: Handle) -> u64 {
        self.next += 1;
        self.open.insert(self.next, handle);
        self.next
    }
    pub fn get(&self, fh: u64) -> Option<Handle> {
        self.open.get(&fh).cloned()
    }
    pub fn remove(&mut self, fh: u64) {
        self.open.remove(&fh);
    }
}

pub struct Shared {
    pub inodes: Mutex<Inodes>,
    pub handles: Mutex<Handles>,
    pub cache: Mutex<Cache<File>>,
    pub faults: Mutex<Faults>,
    /// Set once mounted: tells the kernel to forget cached pages and
    /// sizes of files a drop rolled back.
    notifier: Mutex<Option<Notifier>>,
}

/// Lock, ignoring poisoning: a handler that panicked left the data as
/// consistent as any other interrupted operation would.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The state for a backing directory, holding at most `cache_limit`
    /// unsynced bytes.
    pub fn open(backing: &Path, cache_limit: u64) -> io::Result<Shared> {
        let root: OwnedFd = File::open(backing)?.into();
        let root = sys::path_fd(root.as_fd())?;
        let st = sys::fstat(root.as_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(Shared {
            inodes: Mutex::new(Inodes::new(root, &st)),
            handles: Mutex::new(Handles::default()),
            cache: Mutex::new(Cache::new(cache_limit)),
            faults: Mutex::new(Faults::default()),
            notifier: Mutex::new(None),
        })
    }

    pub fn set_notifier(&self, notifier: Notifier) {
        *lock(&self.notifier) = Some(notifier);
    }

    /// Write every unsynced change back and fsync it.
    pub fn sync_all(&self) -> io::Result<()> {
        lock(&self.cache).sync_all()
    }

    /// Carry out one control request.
    pub fn control(&self, command: Command) -> Value {
        let now = Instant::now();
        match command {
            Command::DropUnsynced => {
                let dropped = lock(&self.cache).drop_unsynced();
                self.forget_cached_pages(&dropped.files);
                json!({"ok": true, "dropped_bytes": dropped.bytes, "dropped_files": dropped.files.len()})
            }
            Command::Sync => match self.sync_all() {
                Ok(()) => json!({"ok": true}),
                Err(e) => error_reply(&format!("sync: {e}")),
            },
            Command::WriteThrough => match lock(&self.cache).set_write_through() {
                Ok(()) => json!({"ok": true}),
                Err(e) => error_reply(&format!("write-through: {e}")),
            },
            Command::Flakey { up, down, mode } => {
                lock(&self.faults).set_flakey(Flakey::new(up, down, mode, now));
                json!({"ok": true})
            }
            Command::Corrupt {
                direction,
                probability,
                seed,
            } => {
                lock(&self.faults)
                    .set_corruption(direction, RandomCorruption::new(probability, seed));
                json!({"ok": true})
            }
            Command::Latency(latency) => {
                lock(&self.faults).set_latency(latency);
                json!({"ok": true})
            }
            Command::Clear => {
                let affected = lock(&self.faults).clear();
                json!({"ok": true, "affected": affected})
            }
            Command::Status => {
                let mut status = lock(&self.faults).status(now);
                let cache = lock(&self.cache);
                status["ok"] = json!(true);
                status["unsynced_bytes"] = json!(cache.unsynced_bytes());
                status["unsynced_files"] = json!(cache.unsynced_files());
                status["cache_limit"] = json!(cache.limit());
                status
            }
        }
    }

    /// The kernel keeps file pages and sizes of its own; after a drop they
    /// are stale. A file the kernel no longer knows has nothing cached
    /// (ENOENT), which is fine.
    fn forget_cached_pages(&self, files: &[u64]) {
        let notifier = lock(&self.notifier);
        let Some(notifier) = notifier.as_ref() else {
            return;
        };
        for &ino in files {
            // Offset 0, length 0: every page of the file, and its attributes.
            let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
        }
    }
}
