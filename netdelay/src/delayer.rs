//! The delayer: one thread, one NFQUEUE, one heap. It takes every packet
//! queued, draws its [`Fate`], and issues its verdict when the fate says:
//! DROP at once for a lost packet, ACCEPT at once for a reordered one and
//! at its release time for the others. NFQUEUE takes verdicts in any
//! order, so holding a packet is just not answering yet; the kernel keeps
//! it meanwhile.
//!
//! The loop waits in one ppoll for a packet, the next release time (to
//! the microsecond) or SIGTERM/SIGINT. On a signal, every held packet and
//! everything still queued is accepted at once before the socket closes:
//! the kernel drops the packets of a queue whose listener leaves without
//! a verdict. Once closed, the rules' `--queue-bypass` lets packets
//! through undelayed, which is also what a SIGKILLed delayer leaves.
//!
//! Memory: each held packet pins the receive buffer it came in (the nfq
//! crate's design, so a verdict can be issued later): a page for its
//! metadata plus the copied bytes. Only metadata is copied unless packets
//! are duplicated ([`COPY_RANGE`] bytes then), so 10 000 held packets take
//! about 40 MB, or 130 MB when duplicating.

use std::fmt;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use chaos_rng::Rng;
use nfq::{Message, Queue, Verdict};

use crate::duplicate::Duplicator;
use crate::held::Held;
use crate::plan::{Fate, Plan};
use crate::sys;

/// The bytes of a packet copied to us when duplicating: a jumbo frame. A
/// longer packet is passed (and delayed) but not duplicated: its copy
/// would be truncated. Without duplication only metadata is copied.
pub const COPY_RANGE: u16 = 9216;

/// Packets taken from the socket before the due ones are released again,
/// so a flood cannot starve the releases.
const BATCH: usize = 256;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub queue: u16,
    pub plan: Plan,
    pub seed: u64,
    /// The most packets the kernel holds for us (queued and not yet
    /// answered); beyond it the kernel drops new ones, as netem's `limit`.
    pub limit: u32,
}

/// What was done, printed at exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Held for their drawn delay (0 included).
    pub delayed: u64,
    /// Sent at once, ahead of the held ones.
    pub reordered: u64,
    /// Sent a second time.
    pub duplicated: u64,
    /// Dropped (NF_DROP at once): drawn lost.
    pub lost: u64,
    /// Drawn a duplicate but too long to copy, or the copy failed to send.
    pub not_duplicated: u64,
    /// Still queued when the signal came: passed at once, undrawn.
    pub passed_at_exit: u64,
    /// Verdicts or receives that failed (each reported on stderr).
    pub errors: u64,
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "passed {} delayed, {} reordered, {} duplicated, {} lost",
            self.delayed, self.reordered, self.duplicated, self.lost
        )
    }
}

struct Delayer {
    queue: Queue,
    queue_fd: RawFd,
    plan: Plan,
    rng: Rng,
    held: Held<(Message, bool)>,
    duplicator: Option<Duplicator>,
    counters: Counters,
}

/// Binds `opts.queue`, calls `ready` once it is in force, and delays
/// packets until a signal arrives on `signals` (from
/// [`sys::termination_signals`]). Err: one line saying why.
pub fn run(opts: &Options, signals: &OwnedFd, ready: impl FnOnce()) -> Result<Counters, String> {
    let mut delayer = Delayer::bind(opts)?;
    ready();
    loop {
        let timeout = delayer
            .held
            .next_due()
            .map(|due| due.saturating_duration_since(Instant::now()));
        let (packets, signal) = sys::wait_readable(delayer.queue_fd, signals.as_raw_fd(), timeout)
            .map_err(|e| format!("waiting for packets: {e}"))?;
        if signal && sys::take_signal(signals) {
            break;
        }
        if packets {
            delayer.take_batch();
        }
        delayer.release_due();
    }
    delayer.release_all();
    if let Some(dropped) = kernel_dropped(opts.queue) {
        if dropped > 0 {
            eprintln!(
                "netdelay: the kernel dropped {dropped} packets of queue {} (more than --limit {} held)",
                opts.queue, opts.limit
            );
        }
    }
    Ok(delayer.counters)
}

impl Delayer {
    fn bind(opts: &Options) -> Result<Delayer, String> {
        let mut queue =
            Queue::open().map_err(|e| format!("cannot open a netfilter socket: {e}"))?;
        // nfq 0.2 does not lend its socket; we need it to wait on it with
        // the signals and a timeout. It is this process's one netfilter
        // socket (we open no other).
        let sockets: Vec<RawFd> = sys::open_fds()
            .map_err(|e| format!("/proc/self/fd: {e}"))?
            .into_iter()
            .filter(|fd| sys::is_netfilter_socket(*fd))
            .collect();
        let [queue_fd] = sockets[..] else {
            return Err(format!(
                "expected one netfilter socket in this process, found {}",
                sockets.len()
            ));
        };
        let n = opts.queue;
        queue.bind(n).map_err(|e| bind_error(n, &e))?;
        let duplicating = !opts.plan.duplicate.is_zero();
        let copy = if duplicating { COPY_RANGE } else { 0 };
        queue
            .set_copy_range(n, copy)
            .map_err(|e| format!("queue {n}: cannot set the copy range: {e}"))?;
        queue
            .set_queue_max_len(n, opts.limit)
            .map_err(|e| format!("queue {n}: cannot set the limit: {e}"))?;
        queue.set_nonblocking(true);
        let duplicator = if duplicating {
            Some(Duplicator::open().map_err(|e| {
                format!("cannot open the raw socket for duplicates (needs CAP_NET_RAW and CAP_NET_ADMIN): {e}")
            })?)
        } else {
            None
        };
        Ok(Delayer {
            queue,
            queue_fd,
            plan: opts.plan,
            rng: Rng::new(opts.seed),
            held: Held::new(),
            duplicator,
            counters: Counters::default(),
        })
    }

    /// Up to [`BATCH`] packets from the socket, each given its fate.
    fn take_batch(&mut self) {
        for _ in 0..BATCH {
            match self.queue.recv() {
                Ok(msg) => {
                    let fate = self.plan.draw(&mut self.rng);
                    self.admit(msg, fate);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error(format_args!("receiving from the queue: {e}"));
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut msg: Message, fate: Fate) {
        if fate.lost {
            self.counters.lost += 1;
            msg.set_verdict(Verdict::Drop);
            if let Err(e) = self.queue.verdict(msg) {
                self.error(format_args!("a verdict failed: {e}"));
            }
            return;
        }
        match fate.hold {
            None => {
                self.counters.reordered += 1;
                self.accept(msg, fate.duplicate);
            }
            Some(hold) => {
                self.counters.delayed += 1;
                if hold.is_zero() {
                    self.accept(msg, fate.duplicate);
                } else {
                    self.held.push(Instant::now() + hold, (msg, fate.duplicate));
                }
            }
        }
    }

    fn release_due(&mut self) {
        let now = Instant::now();
        while let Some((msg, duplicate)) = self.held.pop_due(now) {
            self.accept(msg, duplicate);
        }
    }

    /// At exit: every held packet, then whatever is still queued, at once.
    fn release_all(&mut self) {
        while let Some((msg, duplicate)) = self.held.pop_any() {
            self.accept(msg, duplicate);
        }
        loop {
            match self.queue.recv() {
                Ok(msg) => {
                    self.counters.passed_at_exit += 1;
                    self.accept(msg, false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Sends the copy first (the verdict consumes the message), then lets
    /// the packet go.
    fn accept(&mut self, mut msg: Message, duplicate: bool) {
        if duplicate {
            let sent = match &self.duplicator {
                Some(d) => d.send(msg.get_payload()),
                None => Err(io::Error::other("no raw socket")),
            };
            match sent {
                Ok(()) => self.counters.duplicated += 1,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    self.counters.not_duplicated += 1
                }
                Err(e) => {
                    self.counters.not_duplicated += 1;
                    self.error(format_args!("sending a duplicate: {e}"));
                }
            }
        }
        msg.set_verdict(Verdict::Accept);
        if let Err(e) = self.queue.verdict(msg) {
            self.error(format_args!("a verdict failed: {e}"));
        }
    }

    /// Counts an error and says the first few on stderr: one bad packet
    /// does not stop the delayer, and a flood of them does not flood the
    /// log.
    fn error(&mut self, what: fmt::Arguments) {
        self.counters.errors += 1;
        if self.counters.errors <= 5 {
            eprintln!("netdelay: {what}");
        }
    }
}

fn bind_error(queue: u16, e: &io::Error) -> String {
    // The kernel says EPERM both to a process without CAP_NET_ADMIN and
    // for a queue another socket has bound; its table tells them apart.
    if e.raw_os_error() == Some(libc::EPERM) && queue_listed(queue) {
        return format!("queue {queue} is already bound by another process");
    }
    match e.raw_os_error() {
        Some(libc::EPERM) => {
            format!("cannot bind queue {queue}: {e} (needs root or CAP_NET_ADMIN)")
        }
        _ => format!("cannot bind queue {queue}: {e}"),
    }
}

/// This namespace's queues in use, one line each, the number first.
fn queue_lines() -> Vec<Vec<String>> {
    let text = fs::read_to_string("/proc/net/netfilter/nfnetlink_queue").unwrap_or_default();
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn queue_listed(queue: u16) -> bool {
    queue_lines()
        .iter()
        .any(|f| f.first().and_then(|n| n.parse::<u16>().ok()) == Some(queue))
}

/// The packets the kernel dropped on this queue (full, or a failed copy
/// to us), from /proc/net/netfilter/nfnetlink_queue: its 6th and 7th
/// fields. None when the file or the line is not there.
fn kernel_dropped(queue: u16) -> Option<u64> {
    queue_lines().iter().find_map(|f| {
        if f.first()?.parse::<u16>().ok()? != queue {
            return None;
        }
        let queue_dropped: u64 = f.get(5)?.parse().ok()?;
        let user_dropped: u64 = f.get(6)?.parse().ok()?;
        Some(queue_dropped + user_dropped)
    })
}
