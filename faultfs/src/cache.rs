//! The write cache that makes unsynced data losable: what a file is given
//! (writes, truncates) stays here, in memory, until the file is fsync'd
//! (or the whole cache is synced, or memory runs short); the backing file
//! holds only what was synced. Reads see the cache laid over the backing
//! file. Dropping the cache is a power cut: every file rolls back to its
//! backing file, i.e. to what was last synced.
//!
//! Memory is capped: past the cap, the file whose unsynced data is oldest
//! is written back whole (not fsync'd), as a kernel writes back dirty pages
//! under memory pressure. Written back, it survives a drop.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::extents::Extents;

/// Where synced bytes live: the backing file, or memory in tests.
pub trait Backing {
    /// Fill `buf` from `offset`, stopping early only at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()>;
    /// The file's size.
    fn size(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// fdatasync when `data_only`, else fsync.
    fn sync(&self, data_only: bool) -> io::Result<()>;
}

impl Backing for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, data, offset)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
    fn sync(&self, data_only: bool) -> io::Result<()> {
        if data_only {
            self.sync_data()
        } else {
            self.sync_all()
        }
    }
}

/// A backing file in memory, shared so a test can look at what is
/// "on disk" while the cache holds it.
#[derive(Clone, Debug, Default)]
pub struct MemBacking(pub Arc<Mutex<Vec<u8>>>);

impl MemBacking {
    pub fn new(content: &[u8]) -> MemBacking {
        MemBacking(Arc::new(Mutex::new(content.to_vec())))
    }
    pub fn content(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl Backing for MemBacking {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let disk = self.0.lock().unwrap();
        let from = (offset as usize).min(disk.len());
        let n = buf.len().min(disk.len() - from);
        buf[..n].copy_from_slice(&disk[from..from + n]);
        Ok(n)
    }
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        let mut disk = self.0.lock().unwrap();
        let end = offset as usize + data.len();
        if disk.len() < end {
            disk.resize(end, 0);
        }
        disk[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.lock().unwrap().len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }
    fn sync(&self, _data_only: bool) -> io::Result<()> {
        Ok(())
    }
}

/// One file's unsynced state.
struct Entry<B> {
    backing: B,
    /// The size the file has for readers.
    size: u64,
    /// Backing bytes at and past this offset were truncated away: they read
    /// as zeros (unless written again) and are cut when synced.
    backing_cut: u64,
    extents: Extents,
    /// When the oldest unsynced change was made (the cache's clock).
    since: u64,
    modified: SystemTime,
}

impl<B: Backing> Entry<B> {
    /// Make the backing file equal to what readers see (no fsync).
    /// Idempotent, so a failed write-back can be tried again.
    fn write_back(&self) -> io::Result<()> {
        if self.backing_cut < self.backing.size()? {
            self.backing.set_len(self.backing_cut)?;
        }
        for (at, data) in self.extents.iter() {
            self.backing.write_all_at(data, at)?;
        }
        if self.backing.size()? != self.size {
            self.backing.set_len(self.size)?;
        }
        Ok(())
    }
}

/// What a drop threw away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// The files whose content or size rolled back.
    pub files: Vec<u64>,
    /// The unsynced bytes lost.
    pub bytes: u64,
}

/// The unsynced state of every file, keyed by inode number.
pub struct Cache<B> {
    entries: HashMap<u64, Entry<B>>,
    limit: u64,
    bytes: u64,
    clock: u64,
    /// Every change written back as it is made (no fsync): once set, the
    /// cache holds nothing a kill could lose.
    write_through: bool,
}

impl<B: Backing> Cache<B> {
    /// A cache that holds at most `limit` unsynced bytes before writing
    /// back.
    pub fn new(limit: u64) -> Cache<B> {
        Cache {
            entries: HashMap::new(),
            limit,
            bytes: 0,
            clock: 0,
            write_through: false,
        }
    }

    /// From now on, write every change back as it is made, and write back
    /// what is cached now (without fsync: to the backing filesystem's own
    /// page cache, which outlives this process as a kernel's outlives a
    /// crashed program). What a plain kill of the system wants; a drop
    /// after it loses nothing.
    pub fn set_write_through(&mut self) -> io::Result<()> {
        self.write_through = true;
        let inos: Vec<u64> = self.entries.keys().copied().collect();
        for ino in inos {
            self.write_back(ino)?;
        }
        Ok(())
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes written and not synced.
    pub fn unsynced_bytes(&self) -> u64 {
        self.bytes
    }

    /// Files with unsynced writes or truncates.
    pub fn unsynced_files(&self) -> usize {
        self.entries.len()
    }

    pub fn has(&self, ino: u64) -> bool {
        self.entries.contains_key(&ino)
    }

    /// The size readers see, if the file has unsynced changes.
    pub fn size(&self, ino: u64) -> Option<u64> {
        self.entries.get(&ino).map(|e| e.size)
    }

    /// When the file was last changed, if it has unsynced changes (its
    /// backing file's mtime is older).
    pub fn modified(&self, ino: u64) -> Option<SystemTime> {
        self.entries.get(&ino).map(|e| e.modified)
    }

    pub fn set_modified(&mut self, ino: u64, when: SystemTime) {
        if let Some(e) = self.entries.get_mut(&ino) {
            e.modified = when;
        }
    }

    /// Up to `len` bytes from `offset` as readers see them, or `None` when
    /// the file has no unsynced changes (read the backing file directly).
    pub fn read(&self, ino: u64, offset: u64, len: usize) -> Option<io::Result<Vec<u8>>> {
        let e = self.entries.get(&ino)?;
        if offset >= e.size {
            return Some(Ok(Vec::new()));
        }
        let n = len.min((e.size - offset).min(usize::MAX as u64) as usize);
        let mut buf = vec![0; n];
        let from_backing = e.backing_cut.min(offset + n as u64);
        if offset < from_backing {
            let want = (from_backing - offset) as usize;
            if let Err(err) = e.backing.read_at(&mut buf[..want], offset) {
                return Some(Err(err));
            }
        }
        e.extents.overlay(offset, &mut buf);
        Some(Ok(buf))
    }

    /// Cache a write. `open` gives the backing file the first time this
    /// file is changed since it was last synced.
    pub fn write(
        &mut self,
        ino: u64,
        offset: u64,
        data: &[u8],
        open: impl FnOnce() -> io::Result<B>,
    ) -> io::Result<()> {
        if data.is_empty() {
            // pwrite of nothing changes nothing, not even the size.
            return Ok(());
        }
        self.make_room(data.len() as u64)?;
        let e = self.entry(ino, open)?;
        let before = e.extents.bytes();
        e.extents.write(offset, data);
        let after = e.extents.bytes();
        e.size = e.size.max(offset + data.len() as u64);
        e.modified = SystemTime::now();
        self.bytes = self.bytes + after - before;
        if self.write_through {
            self.write_back(ino)?;
        }
        Ok(())
    }

    /// Cache a truncate (shorter or longer).
    pub fn set_len(
        &mut self,
        ino: u64,
        size: u64,
        open: impl FnOnce() -> io::Result<B>,
    ) -> io::Result<()> {
        let e = self.entry(ino, open)?;
        let before = e.extents.bytes();
        if size < e.size {
            e.extents.truncate(size);
            e.backing_cut = e.backing_cut.min(size);
        }
        e.size = size;
        e.modified = SystemTime::now();
        let after = e.extents.bytes();
        self.bytes = self.bytes + after - before;
        if self.write_through {
            self.write_back(ino)?;
        }
        Ok(())
    }

    /// Write one file's unsynced changes back (no fsync) and hand back its
    /// backing file, so the caller can fsync it without holding the cache.
    /// `None` when it had none. On error the changes stay cached.
    pub fn write_back(&mut self, ino: u64) -> io::Result<Option<B>> {
        let Some(e) = self.entries.remove(&ino) else {
            return Ok(None);
        };
        if let Err(err) = e.write_back() {
            self.entries.insert(ino, e);
            return Err(err);
        }
        self.bytes -= e.extents.bytes();
        Ok(Some(e.backing))
    }

    /// fsync (or fdatasync) one file: write its unsynced changes back and
    /// sync the backing file. False when it had none (the caller syncs its
    /// own descriptor then).
    pub fn sync(&mut self, ino: u64, data_only: bool) -> io::Result<bool> {
        match self.write_back(ino)? {
            Some(backing) => {
                backing.sync(data_only)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Sync every file. Files that fail stay cached; the first error is
    /// returned after trying them all.
    pub fn sync_all(&mut self) -> io::Result<()> {
        let mut first_error = None;
        let inos: Vec<u64> = self.entries.keys().copied().collect();
        for ino in inos {
            if let Err(err) = self.sync(ino, false) {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The power cut: forget every unsynced change.
    pub fn drop_unsynced(&mut self) -> Dropped {
        let mut files: Vec<u64> = self.entries.drain().map(|(ino, _)| ino).collect();
        files.sort_unstable();
        let bytes = std::mem::take(&mut self.bytes);
        Dropped { files, bytes }
    }

    /// Forget one file's unsynced changes without writing them (the file
    /// is gone: unlinked and no longer known to the kernel).
    pub fn forget(&mut self, ino: u64) {
        if let Some(e) = self.entries.remove(&ino) {
            self.bytes -= e.extents.bytes();
        }
    }

    fn entry(
        &mut self,
        ino: u64,
        open: impl FnOnce() -> io::Result<B>,
    ) -> io::Result<&mut Entry<B>> {
        if !self.entries.contains_key(&ino) {
            let backing = open()?;
            let size = backing.size()?;
            self.clock += 1;
            let entry = Entry {
                backing,
                size,
                backing_cut: u64::MAX,
                extents: Extents::default(),
                since: self.clock,
                modified: SystemTime::now(),
            };
            self.entries.insert(ino, entry);
        }
        Ok(self.entries.get_mut(&ino).expect("inserted above"))
    }

    /// Write back whole files, oldest unsynced data first, until `incoming`
    /// more bytes fit under the limit (or nothing is left to write back: a
    /// single write larger than the limit is still cached).
    fn make_room(&mut self, incoming: u64) -> io::Result<()> {
        while self.bytes + incoming > self.limit {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.extents.bytes() > 0)
                .min_by_key(|(_, e)| e.since)
                .map(|(&ino, _)| ino);
            let Some(ino) = oldest else { break };
            let e = self.entries.remove(&ino).expect("found above");
            if let Err(err) = e.write_back() {
                self.entries.insert(ino, e);
                return Err(err);
            }
            self.bytes -= e.extents.bytes();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u64 = 10;
    const B: u64 = 11;

    fn opener(disk: &MemBacking) -> impl FnOnce() -> io::Result<MemBacking> + '_ {
        move || Ok(disk.clone())
    }

    fn read_all(cache: &Cache<MemBacking>, ino: u64, disk: &MemBacking) -> Vec<u8> {
        match cache.read(ino, 0, usize::MAX) {
            Some(r) => r.unwrap(),
            None => disk.content(),
        }
    }

    /// What a plain kill of the system asks for first: after it, a drop
    /// loses nothing, what was cached included.
    #[test]
    fn write_through_writes_back_now_and_from_then_on() {
        let disk = MemBacking::default();
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 0, b"cached", opener(&disk)).unwrap();
        cache.set_write_through().unwrap();
        assert_eq!(disk.content(), b"cached");
        cache.write(A, 6, b" then", opener(&disk)).unwrap();
        cache.set_len(A, 8, opener(&disk)).unwrap();
        assert_eq!(cache.unsynced_bytes(), 0);
        assert!(cache.drop_unsynced().files.is_empty());
        assert_eq!(disk.content(), b"cached t");
    }

    #[test]
    fn synced_data_survives_a_drop_and_unsynced_does_not() {
        let disk = MemBacking::default();
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 0, b"durable", opener(&disk)).unwrap();
        assert!(
            disk.content().is_empty(),
            "nothing reaches the disk before fsync"
        );
        assert!(cache.sync(A, true).unwrap());
        cache.write(A, 7, b" and lost", opener(&disk)).unwrap();
        assert_eq!(read_all(&cache, A, &disk), b"durable and lost");
        assert_eq!(cache.unsynced_bytes(), 9);
        let dropped = cache.drop_unsynced();
        assert_eq!(
            dropped,
            Dropped {
                files: vec![A],
                bytes: 9
            }
        );
        assert_eq!(read_all(&cache, A, &disk), b"durable");
        assert_eq!(cache.unsynced_bytes(), 0);
    }

    #[test]
    fn overwrite_of_a_synced_region_rolls_back() {
        let disk = MemBacking::new(b"0123456789");
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 3, b"XYZ", opener(&disk)).unwrap();
        assert_eq!(read_all(&cache, A, &disk), b"012XYZ6789");
        cache.drop_unsynced();
        assert_eq!(read_all(&cache, A, &disk), b"0123456789");
        assert_eq!(disk.content(), b"0123456789");
    }

    #[test]
    fn truncate_is_data_and_is_lost_unsynced() {
        let disk = MemBacking::new(b"0123456789");
        let mut cache = Cache::new(1 << 20);
        cache.set_len(A, 4, opener(&disk)).unwrap();
        assert_eq!(cache.size(A), Some(4));
        assert_eq!(read_all(&cache, A, &disk), b"0123");
        assert_eq!(
            disk.content(),
            b"0123456789",
            "the backing file is untouched"
        );
        cache.drop_unsynced();
        assert_eq!(read_all(&cache, A, &disk), b"0123456789");
    }

    #[test]
    fn truncate_then_extend_reads_zeros_not_old_bytes() {
        let disk = MemBacking::new(b"0123456789");
        let mut cache = Cache::new(1 << 20);
        cache.set_len(A, 2, opener(&disk)).unwrap();
        cache.write(A, 6, b"ab", opener(&disk)).unwrap();
        assert_eq!(read_all(&cache, A, &disk), b"01\0\0\0\0ab");
        cache.set_len(A, 10, opener(&disk)).unwrap();
        assert_eq!(read_all(&cache, A, &disk), b"01\0\0\0\0ab\0\0");
        cache.sync(A, false).unwrap();
        assert_eq!(disk.content(), b"01\0\0\0\0ab\0\0");
    }

    #[test]
    fn sparse_writes_and_appends() {
        let disk = MemBacking::new(b"head");
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 8, b"far", opener(&disk)).unwrap();
        cache.write(A, 11, b"+tail", opener(&disk)).unwrap();
        assert_eq!(read_all(&cache, A, &disk), b"head\0\0\0\0far+tail");
        // A window that spans the backing bytes, the hole and the cache.
        let window = cache.read(A, 2, 8).unwrap().unwrap();
        assert_eq!(window, b"ad\0\0\0\0fa");
        assert_eq!(cache.read(A, 100, 4).unwrap().unwrap(), b"");
        cache.sync(A, true).unwrap();
        assert_eq!(disk.content(), b"head\0\0\0\0far+tail");
        assert!(
            cache.read(A, 0, 4).is_none(),
            "synced: reads go to the backing file"
        );
    }

    #[test]
    fn a_drop_after_truncate_and_sync_keeps_the_synced_size() {
        let disk = MemBacking::new(b"0123456789");
        let mut cache = Cache::new(1 << 20);
        cache.set_len(A, 3, opener(&disk)).unwrap();
        cache.sync(A, false).unwrap();
        cache.write(A, 3, b"more", opener(&disk)).unwrap();
        cache.drop_unsynced();
        assert_eq!(read_all(&cache, A, &disk), b"012");
    }

    #[test]
    fn past_the_limit_the_oldest_file_is_written_back() {
        let (disk_a, disk_b) = (MemBacking::default(), MemBacking::default());
        let mut cache = Cache::new(10);
        cache.write(A, 0, b"aaaaaaaa", opener(&disk_a)).unwrap();
        cache.write(B, 0, b"bbbbbbbb", opener(&disk_b)).unwrap();
        assert_eq!(
            disk_a.content(),
            b"aaaaaaaa",
            "A was the oldest: written back"
        );
        assert!(disk_b.content().is_empty());
        assert_eq!(cache.unsynced_bytes(), 8);
        cache.drop_unsynced();
        assert_eq!(read_all(&cache, A, &disk_a), b"aaaaaaaa");
        assert_eq!(read_all(&cache, B, &disk_b), b"");
    }

    #[test]
    fn a_failed_write_back_keeps_the_data_cached() {
        struct Broken;
        impl Backing for Broken {
            fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<usize> {
                Ok(0)
            }
            fn write_all_at(&self, _: &[u8], _: u64) -> io::Result<()> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn size(&self) -> io::Result<u64> {
                Ok(0)
            }
            fn set_len(&self, _: u64) -> io::Result<()> {
                Ok(())
            }
            fn sync(&self, _: bool) -> io::Result<()> {
                Ok(())
            }
        }
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 0, b"kept", || Ok(Broken)).unwrap();
        let err = cache.sync(A, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(cache.unsynced_bytes(), 4);
        assert_eq!(cache.read(A, 0, 10).unwrap().unwrap(), b"kept");
    }

    #[test]
    fn forget_discards_without_writing() {
        let disk = MemBacking::new(b"x");
        let mut cache = Cache::new(1 << 20);
        cache.write(A, 0, b"yyy", opener(&disk)).unwrap();
        cache.forget(A);
        assert_eq!(cache.unsynced_bytes(), 0);
        assert!(!cache.has(A));
        assert_eq!(disk.content(), b"x");
    }
}
