//! Shared fixture of the Docker integration tests: skip without an engine,
//! build the images if missing, run the `chaos` binary, a guard that takes a
//! test's cluster down (and checks that nothing of its run is left) even
//! when the test fails, and small probes (TCP from inside a node, etcd's
//! HTTP API) that check what the harness did without using its code.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod crash;
mod net;
mod pause;
#[allow(unused_imports)] // only the crash tests start runs as children
pub use crash::*;
#[allow(unused_imports)] // only the network tests probe links
pub use net::*;
#[allow(unused_imports)] // not every test binary pauses a node
pub use pause::{run_with_a_pause, PausedRun};

/// The images `compose/images/build.sh` makes: the base and every system's.
pub fn images() -> Vec<&'static str> {
    let systems = chaos_workloads::SYSTEMS.iter().map(|s| s.image.default);
    std::iter::once("chaos/base:bookworm")
        .chain(systems)
        .collect()
}

/// True if a Docker engine answers; otherwise prints why the test is
/// skipped. The only reason to skip: every other failure is a failure.
pub fn docker_or_skip(test: &str) -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // In CI a missing engine is a broken machine, not a reason to pass.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: `docker info` failed and CI=true: the Docker engine must run here (.ci/run starts it)"
        );
        eprintln!("SKIPPED {test}: `docker info` failed, so there is no Docker engine to test against (start one, or run .ci/run)");
    } else {
        ensure_images();
    }
    ok
}

/// Build the images if any is missing (cached: 0.1 s when all are there).
pub fn ensure_images() {
    let missing = images().into_iter().any(|image| {
        !Command::new("docker")
            .args(["image", "inspect", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if missing {
        let script = workspace().join("compose/images/build.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .expect("bash runs");
        assert!(status.success(), "{} failed", script.display());
    }
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `chaos` with `args` and extra environment.
pub fn chaos_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaos"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the chaos binary runs")
}

pub fn chaos(args: &[&str]) -> Output {
    chaos_env(args, &[])
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A run id of our own: tests run in parallel and must not share clusters.
pub fn run_id(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t-{tag}-{:x}{:05x}", std::process::id(), nanos & 0xfffff)
}

/// A cluster started by `chaos cluster up` for one test. Taken down when
/// dropped, also when the test panics; [`ClusterGuard::teardown`] does the
/// same and asserts that nothing labelled with the run id is left.
pub struct ClusterGuard {
    pub run: String,
    pub project: String,
    down: bool,
}

impl ClusterGuard {
    pub fn up(system: &str, nodes: usize, tag: &str) -> ClusterGuard {
        ClusterGuard::up_with(system, nodes, tag, &[])
    }

    /// The same with more flags for `chaos cluster up` (`--disk-faults`).
    pub fn up_with(system: &str, nodes: usize, tag: &str, flags: &[&str]) -> ClusterGuard {
        let run = run_id(tag);
        let project = format!("chaos-{system}-{nodes}-{run}");
        let guard = ClusterGuard {
            run: run.clone(),
            project,
            down: false,
        };
        let out = chaos(
            &[
                "cluster",
                "up",
                "--system",
                system,
                "--nodes",
                &nodes.to_string(),
                "--run-id",
                &run,
            ]
            .into_iter()
            .chain(flags.iter().copied())
            .collect::<Vec<_>>(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "cluster up failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        guard
    }

    /// The cluster as the backend sees it, found by this guard's run label.
    pub fn open(&self, rt: &tokio::runtime::Runtime) -> chaos::backends::docker::DockerCluster {
        use chaos::backends::docker::{engine, DockerCluster, Selector};
        rt.block_on(async {
            let docker = engine::connect().await.expect("the Docker engine answers");
            DockerCluster::open(
                docker,
                Selector::Label("io.chaos.run".into(), self.run.clone()),
            )
            .await
            .expect("the guard's cluster is there")
        })
    }

    pub fn teardown(mut self) {
        self.down = true;
        let out = chaos(&["cluster", "down", "--run", &self.run]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "cluster down failed: {}",
            stderr(&out)
        );
        assert_nothing_left(&self.run);
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if !self.down {
            let out = chaos(&["cluster", "down", "--run", &self.run]);
            if !out.status.success() {
                eprintln!("cleanup of run {} failed: {}", self.run, stderr(&out));
            }
        }
    }
}

/// No container (node or sidecar), network or volume labelled with `run`.
pub fn assert_nothing_left(run: &str) {
    let filter = format!("label=io.chaos.run={run}");
    for what in [
        vec!["ps", "-a", "-q", "--filter", &filter],
        vec!["network", "ls", "-q", "--filter", &filter],
        vec!["volume", "ls", "-q", "--filter", &filter],
    ] {
        let out = Command::new("docker")
            .args(&what)
            .output()
            .expect("docker runs");
        let left = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(out.status.success(), "docker {what:?} failed");
        assert!(
            left.is_empty(),
            "run {run} left behind (docker {}): {left}",
            what[0]
        );
    }
}

/// Can `from` (a container) open a TCP connection to `ip:port`? Through the
/// node's own netns, with the node's own nc: what the system itself sees.
pub fn tcp(from: &str, ip: &str, port: u16) -> bool {
    Command::new("docker")
        .args(["exec", from, "nc", "-z", "-w", "1", ip, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("docker runs")
        .success()
}

/// `tcp` for many (from container, to ip) pairs at once, in threads: a cut
/// link costs the whole nc timeout, and there are 20 pairs on 5 nodes.
pub fn tcp_all(pairs: &[(String, String)], port: u16) -> Vec<bool> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|(from, ip)| scope.spawn(move || tcp(from, ip, port)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `iptables ARGS` in the netns of `container`, from a throwaway helper (not
/// the harness's sidecar: the check must not trust what it checks).
pub fn iptables_in(container: &str, run: &str, args: &[&str]) -> String {
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
            "iptables",
        ])
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "iptables {args:?} in {container}: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// `iptables -S` in the netns of `container`.
pub fn iptables_rules(container: &str, run: &str) -> String {
    iptables_in(container, run, &["-S"])
}

/// Poll `check` until it holds or `timeout` passes (then panic naming `what`).
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// POST `body` to etcd's v3 JSON gateway at `addr` (HTTP/1.0: no chunking),
/// the response's JSON body.
fn etcd_call(
    addr: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let mut stream =
        TcpStream::connect_timeout(&addr.parse().map_err(|e| format!("{addr}: {e}"))?, timeout)
            .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.set_write_timeout(Some(timeout)).unwrap();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("no answer from {addr}: {e}"))?;
    let (head, json) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "{addr}: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    serde_json::from_str(json).map_err(|e| format!("{addr}: bad JSON {json:?}: {e}"))
}

pub fn etcd_put(addr: &str, key: &str, value: &str) -> Result<(), String> {
    let body = format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        base64(key.as_bytes()),
        base64(value.as_bytes())
    );
    etcd_call(addr, "/v3/kv/put", &body, Duration::from_secs(5)).map(|_| ())
}

/// Read `key` from the node at `addr`. `serializable`: from that node's own
/// store, without asking the leader (what the node itself has on disk).
pub fn etcd_get(
    addr: &str,
    key: &str,
    serializable: bool,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let body = format!(
        r#"{{"key":"{}","serializable":{serializable}}}"#,
        base64(key.as_bytes())
    );
    let json = etcd_call(addr, "/v3/kv/range", &body, timeout)?;
    let Some(value) = json["kvs"][0]["value"].as_str() else {
        return Ok(None);
    };
    Ok(Some(decode_base64(value)))
}

fn decode_base64(text: &str) -> String {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn journal_in(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    dir.join("journal.jsonl")
}

#[test]
fn base64_round_trips() {
    for text in ["", "k", "ke", "key", "value-42"] {
        assert_eq!(decode_base64(&base64(text.as_bytes())), text);
    }
    assert_eq!(base64(b"key"), "a2V5");
}

/// The nodes of a NATS cluster as the workload clients reach them: each
/// node's client port 4222 as published on the host.
pub fn nats_targets(
    rt: &tokio::runtime::Runtime,
    cluster: &chaos::backends::docker::DockerCluster,
) -> Vec<chaos_workloads::NodeTarget> {
    rt.block_on(cluster.refresh())
        .unwrap()
        .iter()
        .map(|n| chaos_workloads::NodeTarget {
            name: n.name.clone(),
            address: n
                .published(4222)
                .expect("client port 4222 published")
                .to_string(),
        })
        .collect()
}

/// A fresh history file under the test target dir.
pub fn history_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.jsonl"));
    let _ = std::fs::remove_file(&path);
    path
}

/// One line per `f`: how many ops ended ok / fail / info, and the latency
/// of the ok ones (p50, p99, max), for the test's log.
pub fn latency_summary(history: &chaos_checkers::history::History) -> String {
    use chaos_checkers::history::OpType;
    use std::collections::BTreeMap;
    let mut by_f: BTreeMap<&str, (Vec<u64>, [usize; 3])> = BTreeMap::new();
    for pair in history.pairs().expect("a well-formed history") {
        let entry = by_f.entry(pair.invoke.f.as_str()).or_default();
        match pair.completion {
            Some(done) if done.kind == OpType::Ok => {
                entry.1[0] += 1;
                entry.0.push(done.time - pair.invoke.time);
            }
            Some(done) if done.kind == OpType::Fail => entry.1[1] += 1,
            _ => entry.1[2] += 1,
        }
    }
    let mut lines = Vec::new();
    for (f, (mut latencies, [ok, fail, info])) in by_f {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |ns| *ns as f64 / 1e6)
        };
        lines.push(format!(
            "{f}: ok {ok} fail {fail} info {info}; ok latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            at(0.5),
            at(0.99),
            at(1.0)
        ));
    }
    lines.join("\n")
}

/// A fresh folder for one `chaos run --results`.
pub fn tmp_results(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("run-{}", run_id(tag)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one run folder under `results/<test>/`, found through `results/latest`.
pub fn run_folder(results: &Path, test: &str) -> PathBuf {
    let latest = results.join("latest");
    let target = std::fs::read_link(&latest).expect("results/latest is a symlink");
    assert!(target.starts_with(test), "{}", target.display());
    let dir = results.join(target);
    assert!(dir.is_dir(), "{}", dir.display());
    dir
}

/// The run id `test.json` names (and that it records the parameters).
pub fn run_id_of(dir: &Path) -> String {
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    for key in [
        "seed",
        "nodes",
        "nemesis",
        "time_limit_s",
        "harness_version",
    ] {
        assert!(test.get(key).is_some(), "test.json lacks {key}: {test}");
    }
    test["run_id"]
        .as_str()
        .expect("test.json names the run")
        .to_string()
}

/// Six workers of `factory` on `nodes`, `ops` ops of `mix` (seeded), no
/// faults and no rate limit, recorded by `recorder`; how long they took.
pub async fn run_ops<F: chaos_workloads::ClientFactory>(
    factory: std::sync::Arc<F>,
    mix: chaos_workloads::Mix,
    seed: u64,
    ops: u64,
    nodes: &[chaos_workloads::NodeTarget],
    recorder: &chaos_workloads::Recorder,
) -> Duration {
    use chaos_workloads::{run, Generator, GeneratorConfig, ShutdownSignal, Stats, WorkerConfig};
    let generator = Generator::new(
        mix,
        GeneratorConfig {
            seed,
            op_limit: Some(ops),
            ..Default::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    run(
        factory,
        generator,
        recorder.handle(),
        WorkerConfig::new(6, nodes.to_vec()),
        ShutdownSignal::never(),
        std::sync::Arc::new(Stats::new()),
    )
    .await
    .unwrap();
    started.elapsed()
}

/// One final op (`final-read`, `drain`) on `node` under a process no worker
/// used, within 60 s: the process and the completion.
pub async fn final_op_on<F: chaos_workloads::ClientFactory>(
    factory: &F,
    f: &str,
    node: &chaos_workloads::NodeTarget,
    recorder: &chaos_workloads::Recorder,
) -> (u64, chaos_workloads::Completion) {
    let handle = recorder.handle();
    let process = handle.next_free_process();
    let done = chaos_workloads::final_op(
        factory,
        node,
        &chaos_workloads::final_invocation(f),
        &handle,
        process,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    (process, done)
}
