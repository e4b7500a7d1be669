//! The client protocol with real programs (`tests/clients/file_register.py`,
//! a toy register system in a locked file): an honest program's history is
//! linearizable; a lying one is caught; one that hangs, crashes, prints
//! garbage or exits costs its op an `info`, its process is renewed with a
//! fresh program, and no op is left without a completion.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chaos_checkers::history::{History, OpType};
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::Validity;
use chaos_workloads::protocol::client::Programs;
use chaos_workloads::protocol::message::Role;
use chaos_workloads::{
    run, Generator, GeneratorConfig, KeySpec, Mix, NodeTarget, Recorder, ShutdownSignal, Stats,
    WorkerConfig,
};
use common::*;

/// The toy system's "node": a fresh folder the program keeps its file in.
fn system_folder(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("protocol")
        .join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("clients")).unwrap();
    dir
}

fn programs(tag: &str, mode: &str) -> Programs {
    let dir = system_folder(tag);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/file_register.py"
    );
    Programs {
        command: format!("python3 {script} {mode}"),
        logs: dir.join("clients"),
        workload: "register".into(),
        prefix: "chaos/test/".into(),
        seed: 1,
        read: String::new(),
        nodes: vec![NodeTarget {
            name: "n1".into(),
            address: dir.display().to_string(),
        }],
    }
}

/// `ops` register ops by `concurrency` workers through `programs`.
async fn run_programs(programs: Programs, ops: u64, concurrency: usize) -> History {
    run_mix(programs, Mix::cas_register(3), ops, concurrency).await
}

/// `ops` ops of `mix` by `concurrency` workers through `programs`.
async fn run_mix(programs: Programs, mix: Mix, ops: u64, concurrency: usize) -> History {
    let path = fresh_path("protocol");
    let recorder = Recorder::start(&path).unwrap();
    let generator = Generator::new(
        mix,
        GeneratorConfig {
            seed: 3,
            keys: Some(KeySpec {
                ops_per_key: 30,
                active: 2,
            }),
            op_limit: Some(ops),
            ..Default::default()
        },
    )
    .unwrap();
    let workers = WorkerConfig {
        op_timeout: Duration::from_secs(2),
        grace: Duration::from_millis(500),
        reopen_backoff: Duration::from_millis(10),
        ..WorkerConfig::new(concurrency, programs.nodes.clone())
    };
    run(
        Arc::new(programs),
        generator,
        recorder.handle(),
        workers,
        ShutdownSignal::never(),
        Arc::new(Stats::new()),
    )
    .await
    .unwrap();
    let history = recorder.finish().await.unwrap();
    let _ = std::fs::remove_file(&path);
    history
}

fn verdict(history: &History) -> Validity {
    verdict_of(history, ModelKind::CasRegister)
}

fn verdict_of(history: &History, model: ModelKind) -> Validity {
    let options = LinearOptions {
        model,
        split_keys: true,
        threads: 1,
        ..Default::default()
    };
    linear::check(history, &options).unwrap().validity
}

fn count(history: &History, kind: OpType) -> usize {
    history.ops.iter().filter(|op| op.kind == kind).count()
}

/// The `info` completions whose error starts with `client-broken`.
fn broken(history: &History) -> Vec<String> {
    history
        .ops
        .iter()
        .filter(|op| op.kind == OpType::Info)
        .filter_map(|op| op.error.clone())
        .filter(|e| e.starts_with("client-broken"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_program_gives_a_linearizable_history() {
    let history = run_programs(programs("honest", "honest"), 300, 3).await;
    assert_well_formed(&history, true);
    assert!(count(&history, OpType::Ok) > 200, "{history:?}");
    assert!(count(&history, OpType::Fail) > 0, "no cas mismatched");
    assert_eq!(count(&history, OpType::Info), 0);
    assert_eq!(verdict(&history), Validity::Valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_lies_about_writes_is_caught() {
    let history = run_programs(programs("liar", "liar"), 300, 3).await;
    assert_well_formed(&history, true);
    assert_eq!(verdict(&history), Validity::Invalid);
}

/// The set workload through the same kind of program: valid when honest,
/// and caught when adds are acknowledged and never made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_workload_is_judged_linearizable_key_by_key() {
    for (mode, expected) in [("honest", Validity::Valid), ("liar", Validity::Invalid)] {
        let mut programs = programs(&format!("set-{mode}"), mode);
        programs.workload = "set".into();
        let history = run_mix(programs, Mix::set(3, 1), 300, 3).await;
        assert_well_formed(&history, true);
        assert_eq!(verdict_of(&history, ModelKind::Set), expected, "{mode}");
    }
}

/// Each misbehaviour after 5 ops: the sixth op of every program is `info`
/// with why, the worker goes on as a new process with a new program, and
/// every op has its completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangs_crashes_garbage_and_exits_cost_one_info_each() {
    for (mode, why) in [
        ("hang:5", "timed-out"),
        (
            "crash:5",
            "client-broken: closed its stdout, exit status: 3: crashing on purpose",
        ),
        (
            "garbage:5",
            "client-broken: not a JSON line: this is not json",
        ),
        ("exit:5", "client-broken: closed its stdout, exit status: 0"),
    ] {
        let tag = mode.replace(':', "-");
        let history = run_programs(programs(&tag, mode), 40, 2).await;
        assert_well_formed(&history, true);
        let infos: Vec<&str> = history
            .ops
            .iter()
            .filter(|op| op.kind == OpType::Info)
            .map(|op| op.error.as_deref().unwrap_or(""))
            .collect();
        // 2 workers, 40 ops, 6 per program: at least 5 programs misbehaved.
        assert!(infos.len() >= 5, "{mode}: {infos:?}");
        assert!(infos.iter().all(|e| *e == why), "{mode}: {infos:?}");
        if mode.starts_with("hang") {
            assert!(broken(&history).is_empty());
        }
        // Whatever the programs did, the register stayed linearizable.
        assert_eq!(verdict(&history), Validity::Valid, "{mode}");
    }
}

#[tokio::test]
async fn a_program_that_never_answers_init_is_refused_in_time() {
    let programs = programs("mute", "mute");
    let started = std::time::Instant::now();
    let err = match programs.start(Role::Admin, &programs.nodes[0]).await {
        Ok(_) => panic!("a mute program was accepted"),
        Err(e) => e.0,
    };
    assert_eq!(err, "did not answer init within 10 s");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_command_that_cannot_start_says_why() {
    let mut programs = programs("missing", "honest");
    programs.command = "/nonexistent/client --flag".into();
    let err = match programs.start(Role::Admin, &programs.nodes[0]).await {
        Ok(_) => panic!("a missing program was accepted"),
        Err(e) => e.0,
    };
    // Whether the init line went out before `sh` gave up is a race; how it
    // ended, and why, is said either way.
    assert!(
        err.contains("exit status: 127") && err.ends_with("/nonexistent/client: not found"),
        "{err}"
    );
}

/// A program dropped while it hangs takes its children with it.
#[tokio::test]
async fn a_dropped_program_leaves_no_process() {
    let mut programs = programs("children", "honest");
    let marker = format!("chaos-protocol-child-{}", std::process::id());
    // A wrapper that starts a long-lived child, then the client.
    programs.command = format!("sh -c 'exec -a {marker} sleep 300' & {}", programs.command);
    let program = programs
        .start(Role::Admin, &programs.nodes[0])
        .await
        .unwrap();
    let alive = || {
        std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(alive(), "the child did not start");
    drop(program);
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !alive()
    });
    assert!(gone, "a child of the program outlived it");
}
