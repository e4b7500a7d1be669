//! Runs that crash, and the heals after them: a `chaos run` as a child
//! process with its leases in a folder of its own, and looks at its nodes
//! from outside the harness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{stdout, tmp_results};

/// `chaos ARGS` run from `cwd` (so the default `results/journal.jsonl` is
/// not some other run's) with leases in `state`.
pub fn chaos_in(cwd: &Path, state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .current_dir(cwd)
        .env("CHAOS_STATE_DIR", state)
        .output()
        .expect("the chaos binary runs")
}

pub fn spawn_run(results: &Path, state: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .arg("run")
        .args(["--results", results.to_str().unwrap()])
        .args(args)
        .current_dir(results)
        .env("CHAOS_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chaos run starts")
}

/// Waits until the run's history holds `event`; its folder.
pub fn wait_for_event(results: &Path, child: &mut Child, event: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(target) = std::fs::read_link(results.join("latest")) {
            let dir = results.join(target);
            let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap_or_default();
            if history.contains(event) {
                return dir;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("chaos run ended ({status}) before {event}");
        }
        assert!(Instant::now() < deadline, "no {event} within 180 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `(container, state)` of each node of `run`.
pub fn node_states(run: &str) -> Vec<(String, String)> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.chaos.run={run}"),
            "--filter",
            "label=io.chaos.node",
            "--format",
            "{{.Names}} {{.State}}",
        ])
        .output()
        .unwrap();
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

/// `iptables -F` in `container`'s netns, as an operator might type it.
pub fn flush_by_hand(container: &str, run: &str) {
    super::iptables_in(container, run, &["-F"]);
}

pub fn scratch(tag: &str) -> (PathBuf, PathBuf) {
    let results = tmp_results(tag);
    let state = results.join("state");
    std::fs::create_dir_all(&state).unwrap();
    (results, state)
}
