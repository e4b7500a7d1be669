//! Probes of the network between nodes, run inside the nodes with their own
//! tools (`nc`, `ping`, `bash`), so what they see is what the system sees,
//! and what they measure does not come from the harness's code: one-way
//! datagrams, ICMP loss with its confidence interval, transfer time; and
//! `tc` from a throwaway helper to look at qdiscs.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::stdout;

/// Does a UDP datagram sent from container `from` reach container `to`
/// (at address `to_ip`)? One direction only, unlike TCP or ping: a listener
/// in `to` (its own nc, for 3 s), five datagrams from `from` over one
/// socket (bash's /dev/udp).
pub fn udp_heard(from: &str, to: &str, to_ip: &str, port: u16) -> bool {
    let listener = {
        let to = to.to_string();
        std::thread::spawn(move || {
            let out = Command::new("docker")
                .args([
                    "exec",
                    &to,
                    "timeout",
                    "3",
                    "nc",
                    "-u",
                    "-l",
                    &port.to_string(),
                ])
                .stderr(Stdio::null())
                .output()
                .expect("docker runs");
            stdout(&out)
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    let send = format!(
        "exec 3>/dev/udp/{to_ip}/{port}; for i in 1 2 3 4 5; do echo probe-$i >&3; sleep 0.1; done"
    );
    let sent = Command::new("docker")
        .args(["exec", from, "bash", "-c", &send])
        .status()
        .expect("docker runs");
    assert!(sent.success(), "sending from {from} failed");
    listener.join().unwrap().contains("probe-")
}

/// `udp_heard` for many (from, to container, to address) at once.
pub fn udp_all(triples: &[(String, String, String)], port: u16) -> Vec<bool> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = triples
            .iter()
            .enumerate()
            .map(|(i, (from, to, ip))| {
                scope.spawn(move || udp_heard(from, to, ip, port + i as u16))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `count` pings from container `from` to `ip`, 5 ms apart: (sent,
/// received), from ping's own summary.
pub fn ping_counts(from: &str, ip: &str, count: usize) -> (usize, usize) {
    let out = Command::new("docker")
        .args([
            "exec",
            from,
            "ping",
            "-q",
            "-n",
            "-c",
            &count.to_string(),
            "-i",
            "0.005",
            "-W",
            "1",
            ip,
        ])
        .output()
        .expect("docker runs");
    let text = stdout(&out);
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no summary from ping {ip} in {from}: {text}"));
    let number = |word: &str| -> usize {
        let before = summary.split(word).next().unwrap_or_default();
        before
            .split(|c: char| !c.is_ascii_digit())
            .rfind(|w| !w.is_empty())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("cannot read {word:?} in {summary}"))
    };
    (number(" packets transmitted"), number(" received"))
}

/// The 95 % Wilson score interval of a proportion `hits` of `n`.
pub fn wilson_95(hits: usize, n: usize) -> (f64, f64) {
    let (n, p, z) = (n as f64, hits as f64 / n as f64, 1.96_f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (centre - half, centre + half)
}

/// Seconds to send `bytes` over TCP from container `from` to container
/// `to` (at `to_ip`), timed inside `from` (no `docker exec` in the time):
/// nc listening in `to`, nc sending from `from`.
pub fn transfer_seconds(from: &str, to: &str, to_ip: &str, port: u16, bytes: usize) -> f64 {
    let listener = {
        let to = to.to_string();
        std::thread::spawn(move || {
            Command::new("docker")
                .args(["exec", &to, "timeout", "60", "nc", "-l", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("docker runs")
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    let send = format!(
        "s=$(date +%s%N); head -c {bytes} /dev/zero | nc -N {to_ip} {port} || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000 ))"
    );
    let out = Command::new("docker")
        .args(["exec", from, "sh", "-c", &send])
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "sending from {from} to {to_ip} failed"
    );
    listener.join().unwrap();
    let micros: f64 = stdout(&out).trim().parse().expect("microseconds");
    micros / 1e6
}

/// `tc ARGS` in the netns of `container`, from a throwaway helper (not the
/// harness's sidecar: the check must not trust what it checks).
pub fn tc_in(container: &str, run: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--label",
            &format!("io.chaos.run={run}"),
            "--network",
            &format!("container:{container}"),
            "--cap-add",
            "NET_ADMIN",
            "chaos/base:bookworm",
            "tc",
        ])
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "tc {args:?} in {container}: {}",
        super::stderr(&out)
    );
    stdout(&out)
}

/// ping's own output for `count` pings from container `from` to `ip`,
/// `interval` seconds apart (each reply line with its `time=` and any
/// `(DUP!)`). It waits for every reply up to 3 s after the last ping
/// (`-w`): with `-c` alone, ping gives up on the last replies after about
/// twice the round trips it has seen, which a delay that just began
/// makes too short.
pub fn ping_output(from: &str, ip: &str, count: usize, interval: &str) -> String {
    let seconds: f64 = interval.parse().expect("an interval in seconds");
    let deadline = (count as f64 * seconds).ceil() as u64 + 3;
    let out = Command::new("docker")
        .args([
            "exec",
            from,
            "ping",
            "-n",
            "-c",
            &count.to_string(),
            "-i",
            interval,
            "-w",
            &deadline.to_string(),
            ip,
        ])
        .output()
        .expect("docker runs");
    stdout(&out)
}

/// The round-trip times, in milliseconds, of the replies in ping's output
/// (the first copy of each; duplicates are left out).
pub fn round_trips_ms(ping: &str) -> Vec<f64> {
    ping.lines()
        .filter(|l| !l.contains("DUP!"))
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The median of `xs` (not empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
