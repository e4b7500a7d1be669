//! Numbers for BENCHMARKS.md, not a pass/fail test (ignored by default):
//! `cargo test --release -p chaos-netdelay --test bench -- --ignored
//! --nocapture`. A UDP flood from the sender's namespace for 2 s, with no
//! rule, then through the delayer at 0 and 10 ms: datagrams received per
//! second at the peer, the delayer's CPU (user + system over the flood),
//! and the time from spawning the delayer to its ready line.

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const FLOOD: Duration = Duration::from_secs(2);

/// (sent, received) datagrams over [`FLOOD`].
fn flood(pair: &Pair) -> (u64, u64) {
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (received.clone(), stop.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = in_netns(&pair.peer, move || {
        let socket = UdpSocket::bind((PEER, 9001)).unwrap();
        let size: libc::c_int = 64 << 20;
        // SAFETY: as for the sender; so the peer does not drop a burst.
        unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        while !s.load(Ordering::Relaxed) {
            if socket.recv(&mut buf).is_ok() {
                r.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    ready_rx.recv().unwrap();
    let sender = in_netns(&pair.sender, move || {
        let socket = UdpSocket::bind((SENDER, 0)).unwrap();
        // Held packets stay charged to the sending socket: with the default
        // buffer (~200 KB) a 10 ms delay would cap the flood, not the
        // delayer. 64 MB, as root may.
        let size: libc::c_int = 64 << 20;
        // SAFETY: an int option on our socket, with its size.
        unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUFFORCE,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let (start, mut sent) = (Instant::now(), 0u64);
        while start.elapsed() < FLOOD {
            if socket.send_to(&[0u8; 32], (PEER, 9001)).is_ok() {
                sent += 1;
            }
        }
        sent
    });
    let sent = sender.join().unwrap();
    // What was held (10 ms) arrives after the flood.
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    receiver.join().unwrap();
    (sent, received.load(Ordering::Relaxed))
}

#[test]
#[ignore]
fn throughput_cpu_and_startup() {
    if !netns_or_skip("throughput_cpu_and_startup", false) {
        return;
    }
    let pair = Pair::new();
    let (sent, got) = flood(&pair);
    eprintln!(
        "no rule: sent {:.0}/s, received {:.0}/s",
        sent as f64 / 2.0,
        got as f64 / 2.0
    );
    pair.apply(0);
    for delay in ["0", "10ms"] {
        let delayer = pair.delayer(&["--delay", delay, "--limit", "100000"]);
        let cpu0 = delayer.cpu_seconds();
        let (sent, got) = flood(&pair);
        let cpu = delayer.cpu_seconds() - cpu0;
        let startup = delayer.startup;
        let (_, lines) = delayer.terminate();
        eprintln!(
            "delay {delay}: sent {:.0}/s, received {:.0}/s, delayer CPU {:.0}% of one core, ready after {:.1} ms; {lines:?}",
            sent as f64 / 2.0,
            got as f64 / 2.0,
            cpu / FLOOD.as_secs_f64() * 100.0,
            startup.as_secs_f64() * 1000.0
        );
    }
}
