//! `chaos faultfs wrap DATA -- PROGRAM ARGS...`: how a node starts with its
//! data on the fault filesystem (compose/disk-N.yml). DATA, the volume the
//! system keeps its data in, is bind-mounted aside, the fault filesystem is
//! mounted over DATA from there, and then this process *becomes* PROGRAM:
//! the system runs as the container's main process, with its own arguments,
//! exactly as without faults, and the filesystem's server is its child.
//!
//! So a container killed takes the server with it, and the server's cache
//! with that: what the system wrote and did not fsync is gone, and the
//! next start mounts what was synced. That is `kill-lose-unsynced`.

use std::convert::Infallible;
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mount::{self, Options};

/// Where the wrapper keeps the backing mount and the control socket.
pub const RUN_DIR: &str = "/run/chaos-disk";

/// The control socket a node's fault filesystem listens on.
pub const CONTROL: &str = "/run/chaos-disk/control.sock";

/// How long the filesystem may take to answer before the system starts
/// without it (it does not: the wrapper exits and the container with it).
const READY_LIMIT: Duration = Duration::from_secs(10);

/// Mounts the fault filesystem over `data` and execs `program`; returns
/// only on failure, saying what failed.
pub fn wrap(data: &Path, program: &[OsString]) -> Result<Infallible, String> {
    let Some(first) = program.first() else {
        return Err("wrap: name the program to run after --".into());
    };
    let backing = PathBuf::from(RUN_DIR).join("backing");
    std::fs::create_dir_all(&backing)
        .map_err(|e| format!("wrap: cannot create {}: {e}", backing.display()))?;
    // A restarted container keeps /run's files, not its mounts.
    let _ = std::fs::remove_file(CONTROL);
    bind(data, &backing).map_err(|e| {
        format!(
            "wrap: cannot bind {} to {}: {e} (the container needs CAP_SYS_ADMIN and no AppArmor profile)",
            data.display(),
            backing.display()
        )
    })?;
    let ready = serve_in_child(Options {
        backing,
        mountpoint: data.to_path_buf(),
        control: PathBuf::from(CONTROL),
        cache_limit: 1 << 30,
        threads: 4,
        unmount_grace: Duration::from_secs(1),
    })?;
    if !ready {
        return Err(format!(
            "wrap: the fault filesystem did not mount on {} within {} s (its error is above)",
            data.display(),
            READY_LIMIT.as_secs()
        ));
    }
    exec(first, program)
}

fn bind(from: &Path, to: &Path) -> io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: plain syscall with NUL-terminated paths that outlive it.
    let done = unsafe {
        libc::mount(
            from.as_ptr(),
            to.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Forks; the child serves the filesystem until it is killed, the parent
/// waits until it answers. True once it does.
fn serve_in_child(options: Options) -> Result<bool, String> {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("wrap: pipe: {}", io::Error::last_os_error()));
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: the process is single-threaded here (nothing has started a
    // thread before `wrap`), so the child may do anything after fork.
    match unsafe { libc::fork() } {
        -1 => Err(format!("wrap: fork: {}", io::Error::last_os_error())),
        0 => {
            // SAFETY: the child: its own descriptors, then a signal to die
            // with the system it serves.
            unsafe {
                libc::close(read_end);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            let ready = || {
                // SAFETY: one byte from a live buffer to our pipe.
                unsafe {
                    libc::write(write_end, [1u8].as_ptr().cast(), 1);
                    libc::close(write_end);
                }
            };
            let code = match mount::run(&options, ready) {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("chaos faultfs: {e}");
                    1
                }
            };
            std::process::exit(code)
        }
        _child => {
            // SAFETY: closing our copy of the write end, so a child that
            // dies without writing reads as end of file.
            unsafe { libc::close(write_end) };
            let answered = wait_readable(read_end, READY_LIMIT) && read_byte(read_end);
            // SAFETY: done with the read end; exec must not inherit it.
            unsafe { libc::close(read_end) };
            Ok(answered)
        }
    }
}

fn wait_readable(fd: i32, limit: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd, alive for the call.
    unsafe { libc::poll(&mut poll, 1, ms) == 1 }
}

fn read_byte(fd: i32) -> bool {
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into a live local.
    unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) == 1 }
}

/// Becomes `program` (looked up on PATH), with its arguments.
fn exec(first: &OsString, program: &[OsString]) -> Result<Infallible, String> {
    let args: Vec<CString> = program
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "wrap: an argument holds a NUL byte".to_string())?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is NULL-terminated and its strings outlive the call,
    // which returns only on failure.
    unsafe { libc::execvp(args[0].as_ptr(), argv.as_ptr()) };
    Err(format!(
        "wrap: cannot run {}: {}",
        first.to_string_lossy(),
        io::Error::last_os_error()
    ))
}
