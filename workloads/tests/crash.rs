//! A harness killed with SIGKILL mid-run leaves a history file that is a
//! readable prefix of the run: whole lines only, every completion after its
//! invocation.
//!
//! The run happens in a child process: this test binary again, asked to run
//! only `child_runs_until_killed`, with the history path in an environment
//! variable. Without the variable that test does nothing.

mod common;

use chaos_checkers::history::{Op, OpType};
use chaos_workloads::{read_history, GeneratorConfig, KeySpec, ShutdownSignal};
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "CHAOS_WORKLOADS_CRASH_CHILD";

#[test]
fn child_runs_until_killed() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = GeneratorConfig {
        seed: 11,
        keys: Some(KeySpec {
            ops_per_key: 40,
            active: 4,
        }),
        // Only so that an orphaned child cannot run forever.
        time_limit: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    let faults = chaos_workloads::fake::Faults {
        slow_percent: 0,
        ..some_faults()
    };
    runtime.block_on(run_fake_at(
        PathBuf::from(path),
        faults,
        config,
        worker_config(4),
        ShutdownSignal::never(),
    ));
}

fn lines_in(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |bytes| bytes.iter().filter(|&&b| b == b'\n').count())
}

/// Starts a child run, kills it once `lines` lines are on file, and
/// returns the file's text.
fn kill_after(lines: usize) -> (PathBuf, String) {
    let path = fresh_path("crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_runs_until_killed",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, &path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines_in(&path) < lines {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child run ended by itself: {status}");
        }
        assert!(Instant::now() < deadline, "the child wrote too slowly");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush runs.
    child.wait().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn a_killed_run_leaves_a_readable_prefix_of_its_history() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    for lines in [500, 3_000, 20_000] {
        let (path, text) = kill_after(lines);
        assert!(text.ends_with('\n'), "the last line is torn");
        for (n, line) in text.lines().enumerate() {
            if let Err(e) = serde_json::from_str::<Op>(line) {
                panic!("line {} is not a whole op ({e}): {line}", n + 1);
            }
        }
        let history = read_history(&path).unwrap();
        assert!(history.ops.len() >= lines);
        // Indices 0..n, times in order, each completion after its invocation.
        assert_well_formed(&history, false);
        assert!(history.ops.iter().any(|op| op.kind == OpType::Ok));
        let open = history
            .pairs()
            .unwrap()
            .iter()
            .filter(|p| p.completion.is_none())
            .count();
        // The kill caught ops in flight (4 workers, some replies lost):
        // their invocations are on file, with no completion.
        assert!(open >= 1, "no op was in flight at the kill");
        std::fs::remove_file(path).unwrap();
    }
}
