//! Disk faults on Kubernetes against the fake API server (kube's tower-test
//! mock; no cluster is reachable here, so this path has never met a real
//! one). The pods keep their data on the fault filesystem when their system
//! container starts as `<chaos> faultfs wrap <data> -- <system>`, as
//! k8s/etcd-disk.yaml's do. Exec is a websocket upgrade the mock cannot
//! complete: each exec request is checked (pod, container, command), then
//! refused, and the error path checked.

mod k8s_fake;

use chaos::backends::k8s::SIDECAR;
use chaos::cli::{Cli, Command};
use chaos::commands::run::on_kubernetes_with;
use chaos_nemeses::storage::{slow_disk_control, Flakey, FlakeyMode};
use chaos_nemeses::{Cluster, Fault};
use clap::Parser;
use serde_json::{json, Value};

use k8s_fake::*;

/// Where k8s/etcd-disk.yaml puts the chaos executable.
const CHAOS: &str = "/opt/chaos/chaos";
/// Where the wrapper's filesystem listens (faultfs/src/wrap.rs).
const SOCKET: &str = "/run/chaos-disk/control.sock";

/// Pod `etcd-<ordinal>` with its system container started on the fault
/// filesystem; `restarts` of it so far, `running` or not.
fn wrapped(ordinal: usize, restarts: i32, running: bool) -> Value {
    let ip = format!("10.0.0.1{ordinal}");
    let mut pod = pod(ordinal, &ip, &format!("u{ordinal}"), running);
    pod["spec"]["containers"][0]["command"] =
        json!([CHAOS, "faultfs", "wrap", "/data", "--", "etcd"]);
    let status = &mut pod["status"]["containerStatuses"][0];
    status["restartCount"] = json!(restarts);
    if !running {
        status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff"}});
    }
    pod
}

fn three_wrapped() -> Value {
    pod_list((0..3).map(|i| wrapped(i, 0, true)).collect())
}

/// Pods on the fault filesystem; every exec refused.
async fn wrapped_refusing_exec() -> (chaos::backends::k8s::K8sCluster, SeenLog) {
    discovered(Box::new(|s| {
        if s.upgrade {
            return status(400, "BadRequest", "exec is not possible here");
        }
        match s.path() {
            "/api/v1/namespaces/staging/pods/etcd-1" => ok(wrapped(1, 0, true)),
            _ => ok(three_wrapped()),
        }
    }))
    .await
}

type SeenLog = std::sync::Arc<std::sync::Mutex<Vec<Seen>>>;

/// `<chaos> faultfs ctl <socket> <request>`, as the backend runs it.
fn ctl(request: &Value) -> Vec<String> {
    vec![
        CHAOS.to_string(),
        "faultfs".into(),
        "ctl".into(),
        SOCKET.into(),
        request.to_string(),
    ]
}

fn execs(seen: &SeenLog) -> Vec<Seen> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|s| s.upgrade)
        .cloned()
        .collect()
}

#[tokio::test]
async fn flakey_and_slow_disk_send_control_requests_in_the_system_container() {
    let (cluster, seen) = wrapped_refusing_exec().await;
    let flakey = Fault::Flakey {
        node: "etcd-1".into(),
        flakey: Flakey::new(FlakeyMode::ErrorWrites),
    };
    let e = flakey.apply_to(&cluster).await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.contains("cannot run /opt/chaos/chaos in container etcd of pod etcd-1"),
        "{e}"
    );
    assert!(e.contains("exec is not possible here"), "{e}");
    // Undone: the pod's container is running, so a `clear`.
    flakey.undo_on(&cluster).await.unwrap_err();
    let slow = Fault::SlowDisk {
        node: "etcd-1".into(),
        delay_ms: 100,
    };
    slow.apply_to(&cluster).await.unwrap_err();

    let execs = execs(&seen);
    let commands: Vec<Vec<String>> = execs.iter().map(|s| s.query("command")).collect();
    assert_eq!(
        commands,
        [
            ctl(&Flakey::new(FlakeyMode::ErrorWrites).control()),
            ctl(&json!({"op": "clear"})),
            ctl(&slow_disk_control(100)),
        ]
    );
    let request: Value = serde_json::from_str(&commands[0][4]).unwrap();
    assert_eq!(request["op"], "flakey");
    assert_eq!(request["mode"], "error_writes");
    // In the system's container (the socket is in its filesystem), never
    // the sidecar; in the pod named.
    for exec in &execs {
        assert_eq!(exec.path(), exec_path("etcd-1"));
        assert_eq!(exec.query("container"), ["etcd"]);
    }
    assert_covered(&seen.lock().unwrap());
}

#[tokio::test]
async fn the_pre_check_asks_every_pods_filesystem_for_its_status() {
    let (cluster, seen) = wrapped_refusing_exec().await;
    let e = cluster.check_disks().await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.contains("cannot run /opt/chaos/chaos in container etcd of pod etcd-0"),
        "{e}"
    );
    let status = ctl(&json!({"op": "status"}));
    assert_eq!(
        execs_seen(&seen.lock().unwrap()),
        [
            (exec_path("etcd-0"), status.clone()),
            (exec_path("etcd-1"), status.clone()),
            (exec_path("etcd-2"), status),
        ]
    );
}

/// `chaos run --backend k8s ...` with these arguments.
fn run_args(extra: &[&str]) -> chaos::cli::RunArgs {
    let mut argv = vec!["chaos", "run", "--backend", "k8s", "--namespace", NS];
    argv.extend(["--selector", "app=etcd", "--time-limit", "10s"]);
    argv.extend(["--nemesis-interval", "2s"]);
    argv.extend(extra);
    match Cli::try_parse_from(argv).expect("arguments").command {
        Command::Run(args) => *args,
        _ => unreachable!("a run"),
    }
}

#[tokio::test]
async fn a_run_on_pods_without_the_fault_filesystem_is_refused_before_the_first_op() {
    let dir = std::env::temp_dir().join(format!("chaos-k8s-disk-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let results = dir.join("results");
    let journal = dir.join("journal.jsonl");
    let args = run_args(&[
        "--nemesis",
        "flakey:error-writes",
        "--results",
        results.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    // Pods as k8s/etcd.yaml makes them: etcd started as itself.
    let (client, seen) = fake(Box::new(|s| {
        if is_list(s) {
            ok(three())
        } else {
            status(500, "Unexpected", "unexpected request")
        }
    }));
    let e = on_kubernetes_with(&args, client).await.unwrap_err();
    one_line(e.message());
    assert_eq!(e.exit_code(), 255);
    assert_eq!(
        e.message(),
        "this cluster cannot act on the disk: pod etcd-0 does not keep its data on the fault filesystem: \
         its container etcd is not started as `<chaos> faultfs wrap <data dir> -- <system>` \
         (k8s/etcd-disk.yaml shows how, docs/kubernetes.md what it needs); choose a nemesis without act on the disk"
    );
    // Told from the pods' specs: only lists, no exec, nothing deleted; no
    // results folder, no journal, so no op and no fault.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(is_list), "{seen:?}");
    assert!(!results.exists(), "a results folder for a refused run");
    assert!(!journal.exists(), "a journal for a refused run");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_disk_fault_the_backend_lacks_is_refused_before_any_request() {
    let args = run_args(&["--nemesis", "flakey:error-writes,bitflip"]);
    let (client, seen) = fake(Box::new(|_| ok(three_wrapped())));
    let e = on_kubernetes_with(&args, client).await.unwrap_err();
    assert_eq!(e.exit_code(), 254);
    assert_eq!(
        e.message(),
        "--backend k8s cannot bitflip (the Kubernetes backend cannot edit a pod's files while it is down: not built yet): leave bitflip out of --nemesis"
    );
    assert!(seen.lock().unwrap().is_empty(), "no request");
}

#[tokio::test]
async fn kill_lose_unsynced_sigkills_the_process_from_the_sidecar_and_deletes_no_pod() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if s.upgrade {
            return status(400, "BadRequest", "exec is not possible here");
        }
        match s.path() {
            "/api/v1/namespaces/staging/pods/etcd-1" => ok(wrapped(1, 0, true)),
            "/api/v1/namespaces/staging/pods/etcd-1/log" => text("etcd was here\n"),
            _ => ok(three_wrapped()),
        }
    }))
    .await;
    let fault = Fault::KillLoseUnsynced {
        nodes: vec!["etcd-1".into()],
    };
    let e = fault.apply_to(&cluster).await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.contains("cannot run pkill in container chaos-sidecar of pod etcd-1"),
        "{e}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        execs_seen(&seen),
        [(
            exec_path("etcd-1"),
            vec![
                "pkill".to_string(),
                "-KILL".into(),
                "-x".into(),
                "etcd".into()
            ]
        )]
    );
    let exec = seen.iter().position(|s| s.upgrade).unwrap();
    assert_eq!(seen[exec].query("container"), [SIDECAR]);
    // The log of the container about to die was read first (the API keeps
    // only the one before the current).
    let log = seen
        .iter()
        .position(|s| s.path().ends_with("/log"))
        .unwrap();
    assert!(log < exec);
    assert!(seen.iter().all(|s| s.method != "DELETE"), "a pod delete");
    assert_covered(&seen);
}

#[tokio::test]
async fn kill_lose_unsynced_waits_until_the_kubelet_has_started_the_container_again() {
    // etcd-2's container is down already (nothing to kill): the fault waits
    // for the kubelet's restart, seen as one more restart and Ready.
    let mut gets = 0;
    let (cluster, seen) = discovered(Box::new(move |s| match s.path() {
        "/api/v1/namespaces/staging/pods/etcd-2" => {
            gets += 1;
            match gets {
                1 | 2 => ok(wrapped(2, 3, false)),
                _ => ok(wrapped(2, 4, true)),
            }
        }
        "/api/v1/namespaces/staging/pods/etcd-2/log" => text(""),
        _ if is_list(s) => ok(three_wrapped()),
        _ => status(500, "Unexpected", "unexpected request"),
    }))
    .await;
    cluster
        .kill_losing_unsynced(&["etcd-2".into()])
        .await
        .expect("back after the restart");
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|s| s.upgrade), "no exec");
    assert!(seen.iter().all(|s| s.method == "GET"), "{seen:?}");
    let looks = seen
        .iter()
        .filter(|s| s.path() == "/api/v1/namespaces/staging/pods/etcd-2")
        .count();
    assert_eq!(looks, 3, "before, then until it is back: {seen:?}");
    assert!(cluster
        .in_force(&Fault::KillLoseUnsynced {
            nodes: vec!["etcd-2".into()]
        })
        .await
        .unwrap());
}

#[tokio::test]
async fn a_kill_on_the_fault_filesystem_writes_through_before_the_delete() {
    let (cluster, seen) = wrapped_refusing_exec().await;
    let e = cluster.kill("etcd-1").await.unwrap_err().to_string();
    one_line(&e);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        execs_seen(&seen),
        [(exec_path("etcd-1"), ctl(&json!({"op": "write-through"})))]
    );
    // Without it the delete would lose what a crashed process keeps: none.
    assert!(seen.iter().all(|s| s.method != "DELETE"), "deleted anyway");
}

#[tokio::test]
async fn chaos_heals_sweep_asks_only_pods_on_the_fault_filesystem() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if s.upgrade {
            status(400, "BadRequest", "exec is not possible here")
        } else {
            ok(three())
        }
    }))
    .await;
    assert_eq!(
        cluster.heal_disk_nodes().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(execs(&seen).is_empty(), "an exec into a pod without it");

    let (cluster, seen) = wrapped_refusing_exec().await;
    let e = cluster.heal_disk_nodes().await.unwrap_err();
    one_line(e.message());
    assert!(execs(&seen)
        .iter()
        .all(|s| s.query("container") == ["etcd"]));
    let status = ctl(&json!({"op": "status"}));
    assert_eq!(
        execs_seen(&seen.lock().unwrap()),
        [
            (exec_path("etcd-0"), status.clone()),
            (exec_path("etcd-1"), status.clone()),
            (exec_path("etcd-2"), status),
        ]
    );
}

#[tokio::test]
async fn a_flakey_on_a_pod_without_the_fault_filesystem_makes_no_exec() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if s.path() == "/api/v1/namespaces/staging/pods/etcd-0" {
            ok(pod(0, "10.0.0.10", "u0", true))
        } else {
            ok(three())
        }
    }))
    .await;
    let e = cluster
        .flakey("etcd-0", &Flakey::new(FlakeyMode::DropWrites))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pod etcd-0 does not keep its data on the fault filesystem"),
        "{e}"
    );
    assert!(execs(&seen).is_empty());
}

/// Refused before the journal too: an entry there would send every later
/// `chaos heal` to a filesystem that was never there.
#[tokio::test]
async fn a_disk_fault_on_pods_without_the_fault_filesystem_is_never_journaled() {
    let (cluster, seen) = discovered(Box::new(|_| ok(three()))).await;
    let dir = std::env::temp_dir().join(format!("k8s-ready-for-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut journal = chaos_nemeses::Journal::open(dir.join("journal.jsonl"), "by-hand").unwrap();
    let fault = Fault::Flakey {
        node: "etcd-1".into(),
        flakey: Flakey::new(FlakeyMode::ErrorWrites),
    };
    let e = chaos_nemeses::nemesis::apply(&cluster, &mut journal, &fault)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pod etcd-1 does not keep its data on the fault filesystem"),
        "{e}"
    );
    let journaled = journal.outstanding().unwrap();
    assert!(journaled.is_empty(), "journaled: {journaled:?}");
    assert!(execs(&seen).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
