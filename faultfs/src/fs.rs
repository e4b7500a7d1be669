//! The FUSE side: each kernel request turned into calls on the backing
//! directory, the write cache and the faults. Metadata (create, mkdir,
//! rename, unlink, link, symlink, chmod, chown, utimes) goes to the
//! backing directory at once; file data (write, truncate, fallocate) goes
//! to the cache until an fsync.
//!
//! The daemon runs as root and creates files as root, then gives each the
//! caller's uid and gid (the parent's gid in a set-group-id directory), so
//! with `default_permissions` the kernel checks access as a local
//! filesystem would.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};

use crate::cache::Backing;
use crate::faults::{SyncVerdict, WriteVerdict};
use crate::inodes::ROOT;
use crate::shared::{lock, DirEntry, Handle, Shared};
use crate::sys;

/// How long the kernel may trust a name or attributes. Everything but a
/// drop goes through us, and a drop tells the kernel to forget.
const TTL: Duration = Duration::from_secs(1);

type Result<T> = std::result::Result<T, Errno>;

pub struct FaultFs {
    shared: Arc<Shared>,
}

impl FaultFs {
    pub fn new(shared: Arc<Shared>) -> FaultFs {
        FaultFs { shared }
    }

    fn fd(&self, ino: INodeNo) -> Result<Arc<OwnedFd>> {
        lock(&self.shared.inodes).fd(ino.0).ok_or(Errno::ESTALE)
    }

    fn file(&self, fh: FileHandle) -> Result<Arc<File>> {
        match lock(&self.shared.handles).get(fh.0) {
            Some(Handle::File(file)) => Ok(file),
            _ => Err(Errno::EBADF),
        }
    }

    /// EIO if the faults refuse metadata changes now.
    fn metadata_change(&self) -> Result<()> {
        if lock(&self.shared.faults).metadata_fails(Instant::now()) {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// The attributes the kernel sees: the backing file's, with the size
    /// and mtime of unsynced changes.
    fn attr(&self, ino: u64, st: &libc::stat) -> FileAttr {
        let mut attr = to_attr(ino, st);
        if attr.kind == FileType::RegularFile {
            let cache = lock(&self.shared.cache);
            if let Some(size) = cache.size(ino) {
                attr.size = size;
            }
            if let Some(modified) = cache.modified(ino) {
                attr.mtime = modified;
                attr.ctime = attr.ctime.max(modified);
            }
        }
        attr
    }

    fn getattr_of(&self, ino: u64, fd: BorrowedFd) -> Result<FileAttr> {
        let st = sys::fstat(fd)?;
        Ok(self.attr(ino, &st))
    }

    /// Count a lookup of what `fd` points at and return its attributes.
    fn remember(&self, fd: OwnedFd) -> Result<FileAttr> {
        let st = sys::fstat(fd.as_fd())?;
        let ino = lock(&self.shared.inodes).remember(fd, &st);
        Ok(self.attr(ino, &st))
    }

    fn lookup_in(&self, dir: BorrowedFd, name: &OsStr) -> Result<FileAttr> {
        let fd = sys::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.remember(fd)
    }

    /// Give a file just created (as root) to the caller, then count its
    /// lookup.
    fn created(&self, req: &Request, dir: BorrowedFd, fd: OwnedFd) -> Result<FileAttr> {
        let parent = sys::fstat(dir)?;
        let uid = req.uid();
        let gid = if parent.st_mode & libc::S_ISGID != 0 {
            parent.st_gid
        } else {
            req.gid()
        };
        let st = sys::fstat(fd.as_fd())?;
        if st.st_uid != uid || st.st_gid != gid {
            sys::chown(fd.as_fd(), Some(uid), Some(gid))?;
        }
        self.remember(fd)
    }

    /// A fresh descriptor for the cache to write back through.
    fn backing_for(&self, ino: INodeNo) -> impl FnOnce() -> io::Result<File> + '_ {
        move || {
            let fd = lock(&self.shared.inodes)
                .fd(ino.0)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))?;
            sys::reopen(fd.as_fd(), libc::O_RDWR)
        }
    }

    fn latency(&self) -> crate::faults::Latency {
        lock(&self.shared.faults).latency()
    }

    fn do_setattr(&self, ino: INodeNo, changes: Changes) -> Result<FileAttr> {
        let Changes {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        } = changes;
        let fd = self.fd(ino)?;
        let st = sys::fstat(fd.as_fd())?;
        let is_symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
        let metadata = mode.is_some() || uid.is_some() || gid.is_some();
        if metadata || atime.is_some() || mtime.is_some() {
            self.metadata_change()?;
        }
        if let Some(mode) = mode.filter(|_| !is_symlink) {
            sys::chmod(fd.as_fd(), mode & 0o7777)?;
        }
        if uid.is_some() || gid.is_some() {
            sys::chown(fd.as_fd(), uid, gid)?;
        }
        if let Some(size) = size {
            pause(self.latency().writes);
            match lock(&self.shared.faults).resize(Instant::now()) {
                WriteVerdict::Fail => return Err(Errno::EIO),
                WriteVerdict::Discard => {}
                WriteVerdict::Store => {
                    lock(&self.shared.cache).set_len(ino.0, size, self.backing_for(ino))?
                }
            }
        }
        if (atime.is_some() || mtime.is_some()) && !is_symlink {
            sys::utimens(fd.as_fd(), atime.map(timespec), mtime.map(timespec))?;
            if let Some(mtime) = mtime {
                lock(&self.shared.cache).set_modified(ino.0, system_time(mtime));
            }
        }
        self.getattr_of(ino.0, fd.as_fd())
    }

    fn do_read(&self, ino: INodeNo, fh: FileHandle, offset: u64, size: u32) -> Result<Vec<u8>> {
        pause(self.latency().reads);
        if lock(&self.shared.faults).read_fails(Instant::now()) {
            return Err(Errno::EIO);
        }
        let cached = lock(&self.shared.cache).read(ino.0, offset, size as usize);
        let mut data = match cached {
            Some(data) => data?,
            None => {
                let file = self.file(fh)?;
                let mut buf = vec![0; size as usize];
                let n = Backing::read_at(&*file, &mut buf, offset)?;
                buf.truncate(n);
                buf
            }
        };
        lock(&self.shared.faults).corrupt_read(Instant::now(), &mut data);
        Ok(data)
    }

    fn do_write(&self, ino: INodeNo, offset: u64, data: &[u8]) -> Result<u32> {
        pause(self.latency().writes);
        let mut data = data.to_vec();
        let verdict = lock(&self.shared.faults).write(Instant::now(), &mut data);
        match verdict {
            WriteVerdict::Fail => return Err(Errno::EIO),
            WriteVerdict::Discard => {}
            WriteVerdict::Store => {
                lock(&self.shared.cache).write(ino.0, offset, &data, self.backing_for(ino))?
            }
        }
        Ok(data.len() as u32)
    }

    fn do_fsync(&self, ino: INodeNo, fh: FileHandle, datasync: bool) -> Result<()> {
        pause(self.latency().fsync);
        match lock(&self.shared.faults).sync(Instant::now()) {
            SyncVerdict::Fail => return Err(Errno::EIO),
            SyncVerdict::Skip => return Ok(()),
            SyncVerdict::Sync => {}
        }
        // Write back under the cache lock, fsync outside it: writes that
        // land meanwhile are cached anew and are not part of this fsync.
        let written_back = lock(&self.shared.cache).write_back(ino.0)?;
        match written_back {
            Some(backing) => backing.sync(datasync)?,
            None => self.file(fh)?.sync(datasync)?,
        }
        Ok(())
    }

    fn do_fsyncdir(&self, ino: INodeNo) -> Result<()> {
        pause(self.latency().fsync);
        match lock(&self.shared.faults).sync(Instant::now()) {
            SyncVerdict::Fail => return Err(Errno::EIO),
            SyncVerdict::Skip => return Ok(()),
            SyncVerdict::Sync => {}
        }
        let fd = self.fd(ino)?;
        sys::reopen(fd.as_fd(), libc::O_RDONLY | libc::O_DIRECTORY)?.sync_all()?;
        Ok(())
    }

    fn do_fallocate(&self, ino: INodeNo, offset: u64, length: u64, mode: i32) -> Result<()> {
        if mode == libc::FALLOC_FL_KEEP_SIZE {
            // A reservation only: nothing a reader could see.
            return Ok(());
        }
        if mode != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        pause(self.latency().writes);
        match lock(&self.shared.faults).resize(Instant::now()) {
            WriteVerdict::Fail => return Err(Errno::EIO),
            WriteVerdict::Discard => return Ok(()),
            WriteVerdict::Store => {}
        }
        let end = offset.checked_add(length).ok_or(Errno::EFBIG)?;
        let fd = self.fd(ino)?;
        let mut cache = lock(&self.shared.cache);
        let size = match cache.size(ino.0) {
            Some(size) => size,
            None => sys::fstat(fd.as_fd())?.st_size as u64,
        };
        if end > size {
            cache.set_len(ino.0, end, self.backing_for(ino))?;
        }
        Ok(())
    }

    fn list(&self, ino: INodeNo) -> Result<Vec<DirEntry>> {
        let fd = self.fd(ino)?;
        let path = PathBuf::from(OsStr::from_bytes(sys::proc_path(fd.as_fd()).as_bytes()));
        let here = std::fs::metadata(&path)?;
        let up = std::fs::metadata(path.join(".."))?;
        let inodes = lock(&self.shared.inodes);
        let parent = if ino.0 == ROOT {
            ROOT
        } else {
            inodes.peek_number(up.dev(), up.ino())
        };
        let mut entries = vec![
            DirEntry {
                ino: ino.0,
                kind: FileType::Directory,
                name: ".".into(),
            },
            DirEntry {
                ino: parent,
                kind: FileType::Directory,
                name: "..".into(),
            },
        ];
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            let kind = FileType::from_std(entry.file_type()?).unwrap_or(FileType::RegularFile);
            entries.push(DirEntry {
                ino: inodes.peek_number(here.dev(), entry.ino()),
                kind,
                name: entry.file_name(),
            });
        }
        Ok(entries)
    }
}

/// What a setattr asks to change.
struct Changes {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
}

/// Added latency: the request waits, not the filesystem (other requests
/// run on the other threads meanwhile).
fn pause(delay: Duration) {
    if !delay.is_zero() {
        thread::sleep(delay);
    }
}

fn to_attr(ino: u64, st: &libc::stat) -> FileAttr {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    };
    FileAttr {
        ino: INodeNo(ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind,
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nanos = Duration::from_nanos(nsecs.clamp(0, 999_999_999) as u64);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}

fn system_time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

fn timespec(t: TimeOrNow) -> libc::timespec {
    match t {
        TimeOrNow::Now => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        TimeOrNow::SpecificTime(t) => {
            let (secs, nanos) = match t.duration_since(UNIX_EPOCH) {
                Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i64),
                Err(before) => {
                    let d = before.duration();
                    let nanos = d.subsec_nanos() as i64;
                    let secs = -(d.as_secs() as i64);
                    if nanos == 0 {
                        (secs, 0)
                    } else {
                        (secs - 1, 1_000_000_000 - nanos)
                    }
                }
            };
            libc::timespec {
                tv_sec: secs,
                tv_nsec: nanos,
            }
        }
    }
}

/// The access mode to open the backing file with: write-only becomes
/// read-write, so one descriptor serves the page reads the kernel may do
/// on a handle opened for writing. Everything else (O_TRUNC, O_APPEND,
/// O_SYNC, O_DIRECT) the kernel turns into requests of its own.
fn access_mode(flags: i32) -> i32 {
    match flags & libc::O_ACCMODE {
        libc::O_RDONLY => libc::O_RDONLY,
        _ => libc::O_RDWR,
    }
}

fn reply_entry(reply: ReplyEntry, result: Result<FileAttr>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Result<()>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for FaultFs {
    fn init(&mut self, _req: &Request, _config: &mut KernelConfig) -> io::Result<()> {
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let result = self
            .fd(parent)
            .and_then(|dir| self.lookup_in(dir.as_fd(), name));
        reply_entry(reply, result);
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let Some(fd) = lock(&self.shared.inodes).forget(ino.0, nlookup) else {
            return;
        };
        // Unlinked and forgotten: nobody can read its unsynced data again.
        if sys::fstat(fd.as_fd()).is_ok_and(|st| st.st_nlink == 0) {
            lock(&self.shared.cache).forget(ino.0);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self
            .fd(ino)
            .and_then(|fd| self.getattr_of(ino.0, fd.as_fd()))
        {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let changes = Changes {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
        };
        match self.do_setattr(ino, changes) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fd(ino).and_then(|fd| Ok(sys::readlink(fd.as_fd())?)) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            sys::mknodat(dir.as_fd(), name, mode & !(umask & 0o777), rdev)?;
            let fd = sys::openat(dir.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
            self.created(req, dir.as_fd(), fd)
        })();
        reply_entry(reply, result);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            sys::mkdirat(dir.as_fd(), name, mode & !umask & 0o7777)?;
            let fd = sys::openat(dir.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
            self.created(req, dir.as_fd(), fd)
        })();
        reply_entry(reply, result);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            Ok(sys::unlinkat(dir.as_fd(), name, 0)?)
        })();
        reply_empty(reply, result);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            Ok(sys::unlinkat(dir.as_fd(), name, libc::AT_REMOVEDIR)?)
        })();
        reply_empty(reply, result);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            sys::symlinkat(target.as_os_str(), dir.as_fd(), link_name)?;
            let fd = sys::openat(dir.as_fd(), link_name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
            self.created(req, dir.as_fd(), fd)
        })();
        reply_entry(reply, result);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let (from, to) = (self.fd(parent)?, self.fd(newparent)?);
            Ok(sys::renameat2(
                from.as_fd(),
                name,
                to.as_fd(),
                newname,
                flags.bits(),
            )?)
        })();
        reply_empty(reply, result);
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let (fd, dir) = (self.fd(ino)?, self.fd(newparent)?);
            sys::link(fd.as_fd(), dir.as_fd(), newname)?;
            self.lookup_in(dir.as_fd(), newname)
        })();
        reply_entry(reply, result);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = (|| {
            let fd = self.fd(ino)?;
            let file = sys::reopen(fd.as_fd(), access_mode(flags.0))?;
            Ok(lock(&self.shared.handles).insert(Handle::File(Arc::new(file))))
        })();
        match result {
            // No FOPEN_KEEP_CACHE: each open drops the kernel's pages of
            // the file, so a reader never sees pages from before a drop.
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.do_read(ino, fh, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(ino, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() makes nothing durable: the data stays cached.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        lock(&self.shared.handles).remove(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.do_fsync(ino, fh, datasync));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.list(ino) {
            Ok(entries) => {
                let fh = lock(&self.shared.handles).insert(Handle::Dir(Arc::new(entries)));
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Some(Handle::Dir(entries)) = lock(&self.shared.handles).get(fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, entry) in entries.iter().enumerate().skip(offset as usize) {
            // The offset of an entry is where the next readdir resumes.
            if reply.add(INodeNo(entry.ino), i as u64 + 1, entry.kind, &entry.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.shared.handles).remove(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.do_fsyncdir(ino));
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let result = self
            .fd(INodeNo(ROOT))
            .and_then(|root| Ok(sys::fstatvfs(root.as_raw_fd())?));
        match result {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                st.f_bsize as u32,
                st.f_namemax as u32,
                st.f_frsize as u32,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = (|| {
            self.metadata_change()?;
            let dir = self.fd(parent)?;
            let open_flags = libc::O_CREAT | access_mode(flags) | (flags & libc::O_EXCL);
            let file: File =
                sys::openat(dir.as_fd(), name, open_flags, mode & !umask & 0o7777)?.into();
            let attr = self.created(req, dir.as_fd(), sys::path_fd(file.as_fd())?)?;
            let fh = lock(&self.shared.handles).insert(Handle::File(Arc::new(file)));
            Ok((attr, fh))
        })();
        match result {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.do_fallocate(ino, offset, length, mode));
    }
}
