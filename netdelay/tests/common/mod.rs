//! Two real network namespaces joined by a veth pair, the delayer running
//! in the sender's, and ways to measure what crosses: ping, and numbered
//! UDP datagrams stamped with their send time (both ends are threads of
//! this process, so one clock times both). Needs root, `ip`, iptables
//! and the kernel's NFQUEUE; without them a test says SKIPPED and why and
//! passes, except under CI=true where that is a failure.
//!
//! Addresses are from 198.18.0.0/15 (set aside for benchmarks) and live
//! only inside the namespaces made here: each pair is its own network,
//! so pairs of parallel tests do not see each other.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use chaos_netdelay::iptables;

pub const BIN: &str = env!("CARGO_BIN_EXE_chaos-netdelay");
pub const SENDER: &str = "198.18.0.1";
pub const PEER: &str = "198.18.0.2";

/// True if this machine can run the test; otherwise says why it is
/// skipped (a failure under CI=true). `ping`: the test also needs ping.
pub fn netns_or_skip(test: &str, ping: bool) -> bool {
    let has = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("not root: the test makes network namespaces and iptables rules")
    } else if !has("ip") || !has("iptables-restore") {
        Some("ip (iproute2) or iptables is missing")
    } else if !Path::new("/proc/net/netfilter/nfnetlink_queue").exists() {
        Some("this kernel has no NFQUEUE (nfnetlink_queue)")
    } else if ping && !has("ping") {
        Some("ping is missing (Debian: iputils-ping)")
    } else {
        None
    };
    let Some(why) = why else { return true };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {why}, and CI=true: CI machines must run it"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Sender and peer namespaces joined by a veth pair, removed on drop
/// (deleting a namespace deletes its end of the veth, and so the pair).
pub struct Pair {
    pub sender: String,
    pub peer: String,
}

impl Pair {
    pub fn new() -> Pair {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", std::process::id() % 100_000);
        let pair = Pair {
            sender: format!("cnd{id}s"),
            peer: format!("cnd{id}p"),
        };
        // Made before any step can fail, so drop cleans up whatever was.
        let (va, vb) = (format!("cnd{id}a"), format!("cnd{id}b"));
        run(&["ip", "netns", "add", &pair.sender]);
        run(&["ip", "netns", "add", &pair.peer]);
        run(&[
            "ip",
            "link",
            "add",
            &va,
            "netns",
            &pair.sender,
            "type",
            "veth",
            "peer",
            "name",
            &vb,
            "netns",
            &pair.peer,
        ]);
        for (ns, dev, addr) in [(&pair.sender, &va, SENDER), (&pair.peer, &vb, PEER)] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// `script` run by sh in the sender's namespace with `args`; its
    /// stdout (it must succeed).
    pub fn sh(&self, script: &str, args: &[&str]) -> String {
        let mut all = vec![
            "ip",
            "netns",
            "exec",
            &self.sender,
            "sh",
            "-c",
            script,
            "sh",
        ];
        all.extend_from_slice(args);
        String::from_utf8(run(&all).stdout).unwrap()
    }

    /// The rules that queue what the sender sends the peer to `queue`.
    pub fn apply(&self, queue: u16) {
        let rules = iptables::rules(queue, &[PEER.to_string()]);
        self.sh(iptables::APPLY, &[&rules]);
    }

    pub fn mangle_rules(&self) -> String {
        self.sh("iptables -t mangle -S", &[])
    }

    /// The delayer in the sender's namespace with `args`, once ready.
    pub fn delayer(&self, args: &[&str]) -> Delayer {
        Delayer::start(&self.sender, args)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.sender, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `count` pings from `pair`'s sender to the peer every `interval_ms`:
/// each reply's round trip in ms, and how many replies were DUP!.
pub fn ping(pair: &Pair, count: u32, interval_ms: u32) -> (Vec<f64>, usize) {
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.sender, "ping", "-n", "-c"])
        .arg(count.to_string())
        .arg("-i")
        .arg(format!("{:.3}", f64::from(interval_ms) / 1000.0))
        .args(["-W", "5", PEER])
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rtts = Vec::new();
    let mut dups = 0;
    for line in text.lines().filter(|l| l.contains("bytes from")) {
        if let Some(t) = line.split("time=").nth(1) {
            rtts.push(t.split_whitespace().next().unwrap().parse().unwrap());
        }
        if line.contains("DUP!") {
            dups += 1;
        }
    }
    (rtts, dups)
}

pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The delayer as a child process (`ip netns exec` execs it, so the
/// child's pid is the delayer's). Killed on drop if still running.
pub struct Delayer {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// From spawning to the ready line.
    pub startup: Duration,
}

impl Delayer {
    pub fn start(ns: &str, args: &[&str]) -> Delayer {
        let started = Instant::now();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, BIN])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the delayer");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut delayer = Delayer {
            child,
            lines,
            startup: Duration::ZERO,
        };
        match delayer.lines.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => assert!(
                line.starts_with("netdelay: queue ") && line.ends_with(" bound"),
                "{line}"
            ),
            Err(_) => {
                let _ = delayer.child.kill();
                let _ = delayer.child.wait();
                let mut err = String::new();
                if let Some(mut e) = delayer.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("the delayer did not say it was ready: {err}");
            }
        }
        delayer.startup = started.elapsed();
        delayer
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then its exit code and the rest of its stdout.
    pub fn terminate(mut self) -> (i32, Vec<String>) {
        signal(self.pid(), libc::SIGTERM);
        let status = wait_timeout(&mut self.child, Duration::from_secs(10))
            .expect("the delayer exits within 10 s of SIGTERM");
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            rest.push(line);
        }
        (status.code().unwrap_or(-1), rest)
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        signal(self.pid(), libc::SIGKILL);
        wait_timeout(&mut self.child, Duration::from_secs(10)).expect("killed");
    }

    /// CPU time (user + system) used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The fields after the command's closing parenthesis; utime and
        // stime are the 14th and 15th of the whole line.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }
}

impl Drop for Delayer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: a signal to our own child, which we have not reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// `f` on a thread of its own in namespace `ns` (a thread can change its
/// network namespace alone; sockets it opens stay in that namespace).
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a namespace file we hold open.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}

/// One datagram as received: its number, and its one-way time in ms.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub seq: u32,
    pub one_way_ms: f64,
}

/// `count` numbered datagrams from the sender to the peer, one every
/// `interval`, each stamped with its send time; what the peer received,
/// in arrival order, once nothing came for `quiet`.
pub fn udp_run(pair: &Pair, count: u32, interval: Duration, quiet: Duration) -> Vec<Arrival> {
    let base = Instant::now();
    let (ready_tx, ready_rx) = mpsc::channel();
    let receiver = in_netns(&pair.peer, move || {
        let socket = UdpSocket::bind((PEER, 9000)).expect("bind at the peer");
        socket.set_read_timeout(Some(quiet)).unwrap();
        ready_tx.send(()).unwrap();
        let mut arrivals = Vec::new();
        let mut buf = [0u8; 64];
        // Until quiet, once something came (or 30 s of nothing at all).
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            match socket.recv(&mut buf) {
                Ok(12) => {
                    let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                    let sent = u64::from_be_bytes(buf[4..12].try_into().unwrap());
                    let now = base.elapsed().as_nanos() as u64;
                    arrivals.push(Arrival {
                        seq,
                        one_way_ms: now.saturating_sub(sent) as f64 / 1e6,
                    });
                }
                Ok(_) => {}
                Err(_) if arrivals.is_empty() && Instant::now() < give_up => {}
                Err(_) => return arrivals,
            }
        }
    });
    ready_rx.recv().expect("the receiver started");
    let sender = in_netns(&pair.sender, move || {
        let socket = UdpSocket::bind((SENDER, 0)).unwrap();
        let start = Instant::now();
        for seq in 0..count {
            // Paced against the start, so a late wake-up is caught up.
            let at = start + interval * seq;
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let mut msg = [0u8; 12];
            msg[..4].copy_from_slice(&seq.to_be_bytes());
            msg[4..].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_be_bytes());
            socket.send_to(&msg, (PEER, 9000)).unwrap();
        }
    });
    sender.join().unwrap();
    receiver.join().unwrap()
}

/// How many times each number arrived.
pub fn copies(arrivals: &[Arrival]) -> BTreeMap<u32, usize> {
    let mut seen = BTreeMap::new();
    for a in arrivals {
        *seen.entry(a.seq).or_insert(0) += 1;
    }
    seen
}

/// The binomial 95 % interval for `n` draws of probability `p` (normal
/// approximation, fine for n·p well above 10).
pub fn binomial_95(n: u32, p: f64) -> (f64, f64) {
    let n = f64::from(n);
    let half = 1.96 * (n * p * (1.0 - p)).sqrt();
    (n * p - half, n * p + half)
}

/// The Wilson score 95 % interval of a probability of which `k` of `n`
/// draws came out (as shares, not counts; good for small k too).
pub fn wilson_95(k: u32, n: u32) -> (f64, f64) {
    let (k, n, z) = (f64::from(k), f64::from(n), 1.96f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (centre - half, centre + half)
}

/// The counters from the delayer's exit line: delayed, reordered,
/// duplicated, lost.
pub fn counters(lines: &[String]) -> (u64, u64, u64, u64) {
    let line = lines
        .iter()
        .find(|l| l.starts_with("netdelay: passed "))
        .unwrap_or_else(|| panic!("no counters in {lines:?}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 4, "{line}");
    (n[0], n[1], n[2], n[3])
}
