//! The command line, shared by the `chaos-faultfs` binary and `chaos
//! faultfs` (the harness's own executable, mounted into a node, serves the
//! filesystem there). `mount BACKING MOUNTPOINT --control SOCKET` serves
//! the fault filesystem in the foreground; `ctl SOCKET REQUEST` sends it
//! one control request; `wrap DATA -- PROGRAM ARGS...` mounts it over a
//! node's data and becomes the node's program ([`crate::wrap`]). Exit
//! codes: 0 done (ctl: the reply said ok), 1 the mount or the request
//! failed (one line on stderr; ctl prints the reply, which says why), 2
//! bad arguments.

use std::path::PathBuf;
use std::time::Duration;

use std::ffi::OsString;

use crate::{control, mount, wrap};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chaos-faultfs",
    about = "A FUSE filesystem that injects disk faults"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mount BACKING at MOUNTPOINT and serve it until SIGTERM or SIGINT.
    Mount {
        backing: PathBuf,
        mountpoint: PathBuf,
        /// The unix socket that takes control requests (JSON lines).
        #[arg(long)]
        control: PathBuf,
        /// Unsynced bytes held in memory before the oldest are written
        /// back: a number with an optional K, M or G (powers of 1024).
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        cache_limit: u64,
        /// Threads serving FUSE requests.
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// Milliseconds to retry a busy mount point at exit before
        /// detaching it lazily.
        #[arg(long, default_value_t = 5000)]
        unmount_grace_ms: u64,
    },
    /// Send one request: a JSON object, or one of status, drop-unsynced,
    /// sync, clear. Prints the reply.
    Ctl { socket: PathBuf, request: String },
    /// Mount the fault filesystem over DATA, then become PROGRAM (a node's
    /// entrypoint: compose/disk-N.yml).
    Wrap {
        data: PathBuf,
        #[arg(last = true, required = true)]
        program: Vec<OsString>,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number with an optional K, M or G)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Runs the command line `args` (the first is the program's name); the
/// exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Cmd::Mount {
            backing,
            mountpoint,
            control,
            cache_limit,
            threads,
            unmount_grace_ms,
        } => {
            let opts = mount::Options {
                backing,
                mountpoint,
                control,
                cache_limit,
                threads,
                unmount_grace: Duration::from_millis(unmount_grace_ms),
            };
            let ready = || {
                println!(
                    "chaos-faultfs: mounted {} on {} (control {})",
                    opts.backing.display(),
                    opts.mountpoint.display(),
                    opts.control.display()
                )
            };
            match mount::run(&opts, ready) {
                Ok(how) => {
                    eprintln!("chaos-faultfs: unmounted ({how:?})");
                    0
                }
                Err(e) => {
                    eprintln!("chaos-faultfs: {e}");
                    1
                }
            }
        }
        Cmd::Ctl { socket, request } => {
            match control::request(&socket, &control::request_line(&request)) {
                Ok(reply) => {
                    println!("{reply}");
                    if reply["ok"] == true {
                        0
                    } else {
                        1
                    }
                }
                Err(e) => {
                    eprintln!("chaos-faultfs: control socket {}: {e}", socket.display());
                    1
                }
            }
        }
        Cmd::Wrap { data, program } => match wrap::wrap(&data, &program) {
            Ok(never) => match never {},
            Err(e) => {
                eprintln!("chaos faultfs: {e}");
                1
            }
        },
    }
}
