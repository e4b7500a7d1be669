//! The files the kernel knows: FUSE inode number → an `O_PATH` descriptor
//! on the backing file and the kernel's lookup count.
//!
//! The FUSE inode number is the backing file's own inode number, so `stat`
//! and `readdir` agree with the backing directory and a file keeps its
//! number (and its cached data) after the kernel forgets it. Two
//! exceptions: the backing root is inode 1, as FUSE wants, and the backing
//! file numbered 1 (if any) takes the root's number; files on another
//! device under the backing directory get numbers of their own from the
//! top half of the range.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

pub const ROOT: u64 = 1;

/// Numbers for files on other devices start here.
const FOREIGN_BASE: u64 = 1 << 63;

struct Known {
    fd: Arc<OwnedFd>,
    lookups: u64,
}

pub struct Inodes {
    root_dev: u64,
    root_ino: u64,
    known: HashMap<u64, Known>,
    foreign: HashMap<(u64, u64), u64>,
}

impl Inodes {
    /// The table with the root in it; `root_st` is the root's status.
    pub fn new(root: OwnedFd, root_st: &libc::stat) -> Inodes {
        let mut known = HashMap::new();
        // The kernel never forgets the root: its count never reaches 0.
        known.insert(
            ROOT,
            Known {
                fd: Arc::new(root),
                lookups: u64::MAX / 2,
            },
        );
        Inodes {
            root_dev: root_st.st_dev,
            root_ino: root_st.st_ino,
            known,
            foreign: HashMap::new(),
        }
    }

    /// The FUSE number of a backing file, given its status.
    pub fn number(&mut self, st: &libc::stat) -> u64 {
        if st.st_dev == self.root_dev {
            return self.swap_root(st.st_ino);
        }
        let next = FOREIGN_BASE + self.foreign.len() as u64;
        *self.foreign.entry((st.st_dev, st.st_ino)).or_insert(next)
    }

    /// The number to show in a directory listing, without assigning one
    /// (an entry on another device not yet looked up shows its own).
    pub fn peek_number(&self, dev: u64, ino: u64) -> u64 {
        if dev == self.root_dev {
            return self.swap_root(ino);
        }
        self.foreign.get(&(dev, ino)).copied().unwrap_or(ino)
    }

    fn swap_root(&self, ino: u64) -> u64 {
        if ino == self.root_ino {
            ROOT
        } else if ino == ROOT {
            self.root_ino
        } else {
            ino
        }
    }

    /// The descriptor of a known inode.
    pub fn fd(&self, ino: u64) -> Option<Arc<OwnedFd>> {
        self.known.get(&ino).map(|k| Arc::clone(&k.fd))
    }

    /// Count one lookup of the file `fd` points at (status `st`) and
    /// return its number; a file already known keeps its descriptor.
    pub fn remember(&mut self, fd: OwnedFd, st: &libc::stat) -> u64 {
        let ino = self.number(st);
        self.known
            .entry(ino)
            .and_modify(|k| k.lookups += 1)
            .or_insert_with(|| Known {
                fd: Arc::new(fd),
                lookups: 1,
            });
        ino
    }

    /// The kernel dropped `n` lookups; when none are left the inode is
    /// removed and its descriptor returned (to look at before it closes).
    pub fn forget(&mut self, ino: u64, n: u64) -> Option<Arc<OwnedFd>> {
        let known = self.known.get_mut(&ino)?;
        known.lookups = known.lookups.saturating_sub(n);
        if known.lookups > 0 {
            return None;
        }
        self.known.remove(&ino).map(|k| k.fd)
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn stat(dev: u64, ino: u64) -> libc::stat {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_dev = dev;
        st.st_ino = ino;
        st
    }

    fn some_fd() -> OwnedFd {
        File::open("/").unwrap().into()
    }

    #[test]
    fn numbers_are_the_backing_numbers_with_the_root_swapped() {
        let mut t = Inodes::new(some_fd(), &stat(7, 2));
        assert_eq!(t.number(&stat(7, 2)), ROOT);
        assert_eq!(t.number(&stat(7, 1)), 2);
        assert_eq!(t.number(&stat(7, 500)), 500);
        assert_eq!(t.peek_number(7, 500), 500);
    }

    #[test]
    fn other_devices_get_numbers_of_their_own() {
        let mut t = Inodes::new(some_fd(), &stat(7, 2));
        let a = t.number(&stat(8, 500));
        let b = t.number(&stat(9, 500));
        assert!(a >= FOREIGN_BASE && b >= FOREIGN_BASE && a != b);
        assert_eq!(t.number(&stat(8, 500)), a, "stable");
        assert_eq!(t.peek_number(8, 500), a);
    }

    #[test]
    fn lookups_are_counted_until_forgotten() {
        let mut t = Inodes::new(some_fd(), &stat(7, 2));
        let ino = t.remember(some_fd(), &stat(7, 40));
        assert_eq!(t.remember(some_fd(), &stat(7, 40)), ino);
        assert_eq!(t.len(), 2);
        assert!(t.forget(ino, 1).is_none());
        assert!(t.fd(ino).is_some());
        assert!(t.forget(ino, 1).is_some());
        assert!(t.fd(ino).is_none());
        assert!(t.forget(ROOT, 1_000_000).is_none(), "the root stays");
    }
}
