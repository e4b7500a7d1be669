//! The life of a mount: bind the control socket, mount, serve until
//! SIGTERM, SIGINT or SIGHUP (or until someone else unmounts), unmount,
//! write the cache back, remove the socket. Never leaves a mount behind: a
//! mount point still busy after the grace period is detached lazily (it
//! leaves the mount table at once; programs still inside it get ENOTCONN
//! once this process exits).

use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use fuser::{Config, MountOption, Session, SessionACL};

use crate::control;
use crate::fs::FaultFs;
use crate::shared::Shared;
use crate::sys;

pub struct Options {
    pub backing: PathBuf,
    pub mountpoint: PathBuf,
    pub control: PathBuf,
    pub cache_limit: u64,
    /// FUSE request threads (a request delayed by latency holds one).
    pub threads: usize,
    /// How long a busy mount point is retried before a lazy unmount.
    pub unmount_grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("backing directory {path}: {source}")]
    Backing { path: PathBuf, source: io::Error },
    #[error("mount point {path}: {source}")]
    MountPoint { path: PathBuf, source: io::Error },
    #[error("control socket {path}: {source}")]
    Control { path: PathBuf, source: io::Error },
    #[error("control socket {0} is in use: another chaos-faultfs answers on it")]
    ControlInUse(PathBuf),
    #[error("mounting on {path}: {source} (needs /dev/fuse, and root or fusermount3)")]
    Mount { path: PathBuf, source: io::Error },
    #[error("unmounting {path}: {source}")]
    Unmount { path: PathBuf, source: io::Error },
    #[error("the FUSE session failed: {0}")]
    Session(io::Error),
    #[error("writing back unsynced data at exit: {0}")]
    FinalSync(io::Error),
}

/// How the mount ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmounted {
    Clean,
    /// Still busy after the grace period: detached.
    Lazily,
    /// Someone else unmounted it.
    Externally,
}

enum Event {
    Signal(i32),
    Ended(io::Result<()>),
}

/// Mount and serve until told to stop; `ready` runs once the filesystem
/// and the control socket answer.
pub fn run(opts: &Options, ready: impl FnOnce()) -> Result<Unmounted, MountError> {
    // Before any thread exists, so every thread inherits the mask and the
    // signals wait for the one thread that takes them.
    let signals = block_stop_signals();
    let backing = canonical_dir(&opts.backing).map_err(|source| MountError::Backing {
        path: opts.backing.clone(),
        source,
    })?;
    let mountpoint = canonical_dir(&opts.mountpoint).map_err(|source| MountError::MountPoint {
        path: opts.mountpoint.clone(),
        source,
    })?;
    sys::raise_fd_limit();
    let shared = Arc::new(Shared::open(&backing, opts.cache_limit).map_err(|source| {
        MountError::Backing {
            path: backing.clone(),
            source,
        }
    })?);
    let listener = bind_control(&opts.control)?;
    // Files are created with exactly the modes the callers ask for.
    unsafe { libc::umask(0) };
    let for_control = Arc::clone(&shared);
    thread::spawn(move || control::serve(listener, move |c| for_control.control(c)));

    let session = match Session::new(
        FaultFs::new(Arc::clone(&shared)),
        &mountpoint,
        &config(opts),
    ) {
        Ok(session) => session,
        Err(source) => {
            let _ = std::fs::remove_file(&opts.control);
            return Err(MountError::Mount {
                path: mountpoint,
                source,
            });
        }
    };
    shared.set_notifier(session.notifier());
    let (events, next_event) = mpsc::channel();
    let session_events = events.clone();
    thread::spawn(move || {
        let _ = session_events.send(Event::Ended(session.run()));
    });
    thread::spawn(move || loop {
        if events.send(Event::Signal(wait_for(&signals))).is_err() {
            break;
        }
    });
    ready();

    let outcome = match next_event.recv() {
        Ok(Event::Signal(signal)) => {
            eprintln!(
                "chaos-faultfs: signal {signal}: unmounting {}",
                mountpoint.display()
            );
            let outcome =
                unmount(&mountpoint, opts.unmount_grace).map_err(|source| MountError::Unmount {
                    path: mountpoint.clone(),
                    source,
                })?;
            // Detached lazily, the session ends only when the last user
            // leaves: do not wait for that.
            let wait = match outcome {
                Unmounted::Lazily => Duration::from_millis(500),
                _ => Duration::from_secs(10),
            };
            if let Ok(Event::Ended(Err(e))) = next_event.recv_timeout(wait) {
                eprintln!("chaos-faultfs: the FUSE session ended with an error: {e}");
            }
            outcome
        }
        Ok(Event::Ended(result)) => {
            result.map_err(MountError::Session)?;
            Unmounted::Externally
        }
        Err(mpsc::RecvError) => unreachable!("the signal thread holds a sender forever"),
    };
    // A clean unmount writes dirty data back, as a kernel's does.
    let synced = shared.sync_all().map_err(MountError::FinalSync);
    let _ = std::fs::remove_file(&opts.control);
    synced.map(|()| outcome)
}

fn config(opts: &Options) -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("chaos-faultfs".into()),
        MountOption::Subtype("faultfs".into()),
        MountOption::DefaultPermissions,
    ];
    // allow_other: the system under test may run as another user.
    config.acl = SessionACL::All;
    config.n_threads = Some(opts.threads.max(1));
    config.clone_fd = true;
    config
}

fn canonical_dir(path: &Path) -> io::Result<PathBuf> {
    let path = path.canonicalize()?;
    if !path.is_dir() {
        return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
    }
    Ok(path)
}

/// Bind the socket, replacing a stale one; only root may use it (it can
/// break the filesystem).
fn bind_control(path: &Path) -> Result<UnixListener, MountError> {
    let err = |source| MountError::Control {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(MountError::ControlInUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// Unmount, retrying while busy for `grace`, then detach lazily.
pub fn unmount(mountpoint: &Path, grace: Duration) -> io::Result<Unmounted> {
    let path = CString::new(mountpoint.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let deadline = Instant::now() + grace;
    loop {
        if unsafe { libc::umount2(path.as_ptr(), 0) } == 0 {
            return Ok(Unmounted::Clean);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Not a mount point any more: someone unmounted it first.
            Some(libc::EINVAL) => return Ok(Unmounted::Externally),
            Some(libc::EBUSY) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(50))
            }
            Some(libc::EBUSY) => {
                if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
                    return Ok(Unmounted::Lazily);
                }
                return Err(io::Error::last_os_error());
            }
            Some(libc::EPERM) => return fusermount_unmount(mountpoint, deadline),
            _ => return Err(err),
        }
    }
}

/// Not root: fusermount3 unmounts what this user mounted.
fn fusermount_unmount(mountpoint: &Path, deadline: Instant) -> io::Result<Unmounted> {
    loop {
        let status = Process::new("fusermount3")
            .args(["-u", "-q", "--"])
            .arg(mountpoint)
            .status()?;
        if status.success() {
            return Ok(Unmounted::Clean);
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let status = Process::new("fusermount3")
        .args(["-u", "-z", "-q", "--"])
        .arg(mountpoint)
        .status()?;
    if status.success() {
        Ok(Unmounted::Lazily)
    } else {
        Err(io::Error::other(format!("fusermount3 -u -z {status}")))
    }
}

fn block_stop_signals() -> libc::sigset_t {
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for(signals: &libc::sigset_t) -> i32 {
    let mut signal = 0;
    loop {
        if unsafe { libc::sigwait(signals, &mut signal) } == 0 {
            return signal;
        }
    }
}
