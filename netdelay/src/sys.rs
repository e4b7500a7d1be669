//! The few syscalls the delayer needs that std does not wrap: SIGTERM and
//! SIGINT as a file descriptor (signalfd), a wait on two descriptors with a
//! microsecond timeout (ppoll), and finding the queue's netlink socket.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// SIGTERM and SIGINT, blocked and readable on a descriptor, so the loop
/// waits for a packet, a release time or a signal in one ppoll, with no
/// handler and no race between a check and the wait. Must be called
/// before any thread starts (threads inherit the signal mask they start
/// with; a thread with the signals unblocked would take them instead).
pub fn termination_signals() -> io::Result<OwnedFd> {
    // SAFETY: plain libc calls on a local set; the descriptor returned is
    // new and ours.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Which of two descriptors are readable, waiting at most `timeout`
/// (forever for None). Interrupted waits report nothing readable.
pub fn wait_readable(a: RawFd, b: RawFd, timeout: Option<Duration>) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: a,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: `fds` and `ts` outlive the call; no signal mask is changed.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, ts_ptr, std::ptr::null()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok((false, false));
        }
        return Err(e);
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR) != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}

/// The descriptors open in this process.
pub fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds = Vec::new();
    for entry in fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            fds.push(fd);
        }
    }
    Ok(fds)
}

/// Whether `fd` is a NETLINK_NETFILTER socket (an NFQUEUE connection).
pub fn is_netfilter_socket(fd: RawFd) -> bool {
    let get = |option| {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are ours and sized for an int option.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                &mut value as *mut _ as *mut libc::c_void,
                &mut len,
            )
        };
        (r == 0).then_some(value)
    };
    get(libc::SO_DOMAIN) == Some(libc::AF_NETLINK)
        && get(libc::SO_PROTOCOL) == Some(libc::NETLINK_NETFILTER)
}

/// Reads (and discards) what is pending on a signalfd: whether a signal
/// was there.
pub fn take_signal(fd: &OwnedFd) -> bool {
    let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
    // SAFETY: the buffer is one siginfo long, as signalfd reads require.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            info.as_mut_ptr() as *mut libc::c_void,
            info.len(),
        )
    };
    n == info.len() as isize
}
