//! The Kubernetes backend against a fake API server (kube's tower-test mock,
//! tests/k8s_fake: no cluster is reachable from our CI machines). Each test
//! scripts the server's answers and checks the exact requests the backend
//! made: their method, path and query, and that every one stays in the
//! namespace and is covered by the permissions the backend declares (and
//! k8s/rbac.yaml grants). Most execs are answered with an error status once
//! their requests are seen; the shaping tests (tests/k8s_shaping.rs) run
//! theirs to the end.

mod k8s_fake;

use std::time::Duration;

use chaos::backends::k8s::{K8sCluster, Target, SIDECAR};
use chaos::commands::nemesis::{by_hand, ByHand, Says};
use chaos_nemeses::iptables::{rules, APPLY};
use chaos_nemeses::journal::Action;
use chaos_nemeses::{grudge, Cluster, ClusterError, Fault, FaultSpec, Journal, Links};
use k8s_fake::*;
use serde_json::{json, Value};

#[tokio::test]
async fn discovery_lists_the_selected_pods_of_the_namespace_in_ordinal_order() {
    let (cluster, seen) = discovered(Box::new(|_| ok(three()))).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(is_list(&seen[0]), "{:?}", seen[0]);
    assert_eq!(seen[0].query("labelSelector"), ["app=etcd"]);
    assert_eq!(cluster.names(), ["etcd-0", "etcd-1", "etcd-2"]);
    assert_eq!(
        cluster.endpoints(2379),
        [
            ("etcd-0".to_string(), "10.0.0.10:2379".to_string()),
            ("etcd-1".to_string(), "10.0.0.11:2379".to_string()),
            ("etcd-2".to_string(), "10.0.0.12:2379".to_string()),
        ]
    );
    // No headless Service named in the pod spec: clients get the IPs too.
    assert_eq!(cluster.client_endpoints(2379)[0].1, "10.0.0.10:2379");
    let pods = cluster.pods_seen();
    assert_eq!(pods[0].container, "etcd");
    assert_eq!(pods[0].process, "etcd");
    assert!(pods[0].has_sidecar && pods[0].shares_pids && pods[0].ready);
    assert_covered(&seen);
}

#[tokio::test]
async fn ordinals_sort_as_numbers() {
    let pods = pod_list(vec![
        pod(10, "10.0.0.20", "a", true),
        pod(2, "10.0.0.2", "b", true),
    ]);
    let (client, _) = fake(Box::new(move |_| ok(pods.clone())));
    let mut t = target();
    t.expected_nodes = None;
    let cluster = K8sCluster::discover(client, t).await.unwrap();
    assert_eq!(cluster.names(), ["etcd-2", "etcd-10"]);
}

#[tokio::test]
async fn a_selector_matching_nothing_is_refused() {
    let (e, seen) = refused(pod_list(vec![]), target()).await;
    assert_eq!(e.exit_code(), 254);
    assert_eq!(
        e.message(),
        "no pods in namespace staging match --selector app=etcd: check with `kubectl get pods -n staging -l app=etcd`"
    );
    assert_covered(&seen);
}

#[tokio::test]
async fn more_pods_than_expected_are_refused() {
    let mut pods = three();
    pods["items"]
        .as_array_mut()
        .unwrap()
        .push(pod(3, "10.0.0.13", "u3", true));
    let (e, _) = refused(pods.clone(), target()).await;
    assert_eq!(e.exit_code(), 254);
    assert!(
        e.message().starts_with(
            "--selector app=etcd matches 4 pods in namespace staging (etcd-2, etcd-0, etcd-1, etcd-3), expected 3"
        ),
        "{e}"
    );
    // Without an expected count, a selector matching a whole application
    // (more than 9 pods) is refused too.
    let many = pod_list((0..10).map(|i| pod(i, "10.0.1.1", "u", true)).collect());
    let mut t = target();
    t.expected_nodes = None;
    let (e, _) = refused(many, t).await;
    assert!(
        e.message().contains("at most 9 without an expected count"),
        "{e}"
    );
}

#[tokio::test]
async fn the_pod_the_harness_runs_in_is_refused() {
    let mut t = target();
    t.own_pod = Some("etcd-1".into());
    let (e, _) = refused(three(), t).await;
    assert_eq!(
        e.message(),
        "--selector app=etcd matches the pod this harness runs in (etcd-1): narrow the selector to the cluster under test"
    );
}

#[tokio::test]
async fn pods_of_two_statefulsets_are_refused() {
    let pods = pod_list(vec![
        pod(0, "10.0.0.10", "u0", true),
        pod_of("nats", 0, "10.0.0.20", "n0", true),
    ]);
    let mut t = target();
    t.expected_nodes = None;
    let (e, _) = refused(pods, t).await;
    assert!(
        e.message()
            .starts_with("--selector app=etcd must match the pods of one StatefulSet"),
        "{e}"
    );
}

#[tokio::test]
async fn a_container_the_pods_lack_is_refused() {
    let mut t = target();
    t.container = Some("etcdd".into());
    let (e, _) = refused(three(), t).await;
    assert_eq!(
        e.message(),
        "pod etcd-0 has no container etcdd (it has etcd, chaos-sidecar): pass one of those with --container"
    );
}

#[tokio::test]
async fn an_empty_selector_is_refused_before_any_request() {
    let (client, seen) = fake(Box::new(|_| ok(three())));
    let e = match K8sCluster::discover(client, Target::new(NS, " ")).await {
        Err(e) => e,
        Ok(_) => panic!("an empty selector must be refused"),
    };
    assert!(e.message().starts_with("--selector is empty"), "{e}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn forbidden_says_which_role_to_bind() {
    let (client, _) = fake(Box::new(|_| {
        status(
            403,
            "Forbidden",
            "pods is forbidden: User \"system:serviceaccount:staging:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"staging\"",
        )
    }));
    let e = K8sCluster::discover(client, target()).await.err().unwrap();
    one_line(e.message());
    assert_eq!(e.exit_code(), 255);
    assert!(
        e.message().starts_with(
            "cannot list the pods matching app=etcd: forbidden in namespace staging (403 pods is forbidden:"
        ),
        "{e}"
    );
    assert!(
        e.message()
            .ends_with("bind the harness's service account to the Role in k8s/rbac.yaml"),
        "{e}"
    );
}

#[tokio::test]
async fn a_hung_api_server_times_out() {
    let (client, _) = fake(Box::new(|_| None));
    let started = std::time::Instant::now();
    let e = K8sCluster::discover(client, target()).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.message(),
        "cannot list the pods matching app=etcd: the API server did not answer within 0.5s: check that it is reachable (kubectl get pods -n staging)"
    );
}

#[tokio::test]
async fn kill_deletes_with_grace_period_zero_and_waits_for_the_replacement() {
    let mut gets = 0;
    let (cluster, seen) = discovered(Box::new(move |s| {
        if is_list(s) {
            return ok(three());
        }
        match (s.method.as_str(), s.path()) {
            ("GET", "/api/v1/namespaces/staging/pods/etcd-1") => {
                gets += 1;
                match gets {
                    1 => ok(pod(1, "10.0.0.11", "u1", true)),
                    // Deleted, not yet recreated.
                    2 => status(404, "NotFound", "pods \"etcd-1\" not found"),
                    // Recreated, new IP, not ready yet; then ready.
                    3 => ok(pod(1, "10.0.0.31", "u1b", false)),
                    _ => ok(pod(1, "10.0.0.31", "u1b", true)),
                }
            }
            ("GET", "/api/v1/namespaces/staging/pods/etcd-1/log") => text("etcd says hello\n"),
            ("DELETE", "/api/v1/namespaces/staging/pods/etcd-1") => {
                ok(pod(1, "10.0.0.11", "u1", true))
            }
            _ => status(500, "Unexpected", "unexpected request"),
        }
    }))
    .await;
    cluster.kill("etcd-1").await.expect("kill");
    let seen = seen.lock().unwrap().clone();
    let deletes: Vec<&Seen> = seen.iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1);
    let options: Value = serde_json::from_slice(&deletes[0].body).unwrap();
    assert_eq!(options["gracePeriodSeconds"], 0, "{options}");
    // The log of the incarnation about to go was read before the delete.
    let log = seen
        .iter()
        .position(|s| s.path().ends_with("/log"))
        .unwrap();
    let delete = seen.iter().position(|s| s.method == "DELETE").unwrap();
    assert!(log < delete);
    assert_eq!(seen[log].query("container"), ["etcd"]);
    // The new IP is what clients get now.
    assert_eq!(cluster.endpoints(2379)[1].1, "10.0.0.31:2379");
    assert_covered(&seen);
}

#[tokio::test]
async fn a_replacement_that_never_comes_back_is_reported() {
    let (cluster, seen) = discovered(Box::new(move |s| {
        if is_list(s) {
            return ok(three());
        }
        match s.method.as_str() {
            "DELETE" => ok(pod(0, "10.0.0.10", "u0", true)),
            _ if s.path().ends_with("/log") => text(""),
            _ => status(404, "NotFound", "pods \"etcd-0\" not found"),
        }
    }))
    .await;
    let e = cluster.kill("etcd-0").await.unwrap_err();
    let message = e.to_string();
    one_line(&message);
    assert!(
        message.contains("pod etcd-0 was not back and Running within 3s: it has not been recreated; see kubectl describe pod etcd-0 -n staging"),
        "{message}"
    );
    assert_covered(&seen.lock().unwrap());
}

#[tokio::test]
async fn kill_of_a_node_not_in_the_cluster_makes_no_request() {
    let (cluster, seen) = discovered(Box::new(|_| ok(three()))).await;
    let e = cluster.kill("etcd-9").await.unwrap_err();
    assert_eq!(
        e,
        ClusterError::UnknownNode {
            node: "etcd-9".into(),
            known: vec!["etcd-0".into(), "etcd-1".into(), "etcd-2".into()]
        }
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "only the discovery list");
}

#[tokio::test]
async fn pause_signals_the_process_by_name_from_the_sidecar() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if s.upgrade {
            status(
                403,
                "Forbidden",
                "pods \"etcd-0\" is forbidden: cannot create resource \"pods/exec\"",
            )
        } else {
            ok(three())
        }
    }))
    .await;
    let e = cluster.pause("etcd-0").await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.contains("cannot run pkill in container chaos-sidecar of pod etcd-0: forbidden in namespace staging"),
        "{e}"
    );
    let seen = seen.lock().unwrap().clone();
    let exec = seen.iter().find(|s| s.upgrade).expect("an exec request");
    assert_eq!(exec.method, "GET");
    assert_eq!(exec.path(), "/api/v1/namespaces/staging/pods/etcd-0/exec");
    assert_eq!(exec.query("command"), ["pkill", "-STOP", "-x", "etcd"]);
    assert_eq!(exec.query("container"), [SIDECAR]);
    assert_eq!(exec.query("stdout"), ["true"]);
    assert_eq!(exec.query("stderr"), ["true"]);
    assert_eq!(exec.query("stdin"), Vec::<String>::new());
    assert_covered(&seen);
}

#[tokio::test]
async fn pause_without_a_shared_process_namespace_is_unsupported() {
    let mut pods = three();
    for p in pods["items"].as_array_mut().unwrap() {
        p["spec"]["shareProcessNamespace"] = json!(false);
    }
    let (cluster, seen) = discovered(Box::new(move |_| ok(pods.clone()))).await;
    match cluster.pause("etcd-0").await.unwrap_err() {
        ClusterError::Unsupported { fault, reason } => {
            assert_eq!(fault, "pause");
            assert!(reason.contains("shareProcessNamespace: true"), "{reason}");
        }
        other => panic!("expected Unsupported, got {other}"),
    }
    assert!(!seen.lock().unwrap().iter().any(|s| s.upgrade), "no exec");
}

#[tokio::test]
async fn partition_runs_the_shared_iptables_script_with_peer_pod_ips() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if s.upgrade {
            status(
                400,
                "BadRequest",
                "container chaos-sidecar is not valid for pod",
            )
        } else {
            ok(three())
        }
    }))
    .await;
    let names = cluster.names();
    // etcd-0 | etcd-1, etcd-2
    let halves = grudge::halves(&names).unwrap();
    let e = cluster.partition(&halves).await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.starts_with(
            "cluster backend failed: partition etcd-0 | etcd-1,etcd-2 of staging/app=etcd failed:"
        ),
        "{e}"
    );
    assert!(
        e.contains(
            "the API server answered 400 BadRequest: container chaos-sidecar is not valid for pod"
        ),
        "{e}"
    );
    let seen = seen.lock().unwrap().clone();
    let execs = execs_seen(&seen);
    let run = "k8s:staging:app=etcd";
    let expect = |peers: &[&str]| {
        let peers: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        vec![
            "sh".to_string(),
            "-c".into(),
            APPLY.into(),
            "sh".into(),
            rules(run, &peers),
        ]
    };
    assert_eq!(
        execs,
        [
            (
                "/api/v1/namespaces/staging/pods/etcd-0/exec".to_string(),
                expect(&["10.0.0.11", "10.0.0.12"])
            ),
            (
                "/api/v1/namespaces/staging/pods/etcd-1/exec".to_string(),
                expect(&["10.0.0.10"])
            ),
            (
                "/api/v1/namespaces/staging/pods/etcd-2/exec".to_string(),
                expect(&["10.0.0.10"])
            ),
        ]
    );
    assert!(seen
        .iter()
        .filter(|s| s.upgrade)
        .all(|s| s.query("container") == [SIDECAR]));
    assert_covered(&seen);
}

#[tokio::test]
async fn is_up_of_a_deleted_pod_is_false() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if is_list(s) {
            ok(three())
        } else {
            status(404, "NotFound", "pods \"etcd-2\" not found")
        }
    }))
    .await;
    assert!(!cluster.is_up("etcd-2").await.unwrap());
    assert_covered(&seen.lock().unwrap());
}

#[tokio::test]
async fn logs_of_every_pod_land_in_nodes_dir() {
    let (cluster, seen) = discovered(Box::new(|s| {
        if is_list(s) {
            return ok(three());
        }
        match s.path() {
            "/api/v1/namespaces/staging/pods/etcd-2/log" => {
                status(404, "NotFound", "pods \"etcd-2\" not found")
            }
            p => text(&format!("log of {p}\n")),
        }
    }))
    .await;
    let dir = std::env::temp_dir().join(format!("chaos-k8s-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let written = cluster.collect_logs(&dir).await.expect("logs");
    assert_eq!(written.len(), 3);
    let read = |n: &str| std::fs::read_to_string(dir.join("nodes").join(n).join("log")).unwrap();
    assert_eq!(
        read("etcd-0"),
        "log of /api/v1/namespaces/staging/pods/etcd-0/log\n"
    );
    assert!(
        read("etcd-2").starts_with("(cannot read the log: cannot read the log of pod etcd-2: not found in namespace staging (404"),
        "{}",
        read("etcd-2")
    );
    let seen = seen.lock().unwrap().clone();
    assert!(seen
        .iter()
        .filter(|s| s.path().ends_with("/log"))
        .all(|s| s.query("container") == ["etcd"]));
    assert_covered(&seen);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn clients_reach_statefulset_pods_by_their_stable_dns_names() {
    let mut pods = three();
    for pod in pods["items"].as_array_mut().unwrap() {
        let name = pod["metadata"]["name"].clone();
        pod["spec"]["hostname"] = name;
        pod["spec"]["subdomain"] = json!("etcd");
    }
    let (cluster, _) = discovered(Box::new(move |_| ok(pods.clone()))).await;
    assert_eq!(
        cluster.client_endpoints(2379),
        [
            ("etcd-0".to_string(), format!("etcd-0.etcd.{NS}.svc:2379")),
            ("etcd-1".to_string(), format!("etcd-1.etcd.{NS}.svc:2379")),
            ("etcd-2".to_string(), format!("etcd-2.etcd.{NS}.svc:2379")),
        ]
    );
    // The partition rules still name IPs: that is what packets carry.
    assert_eq!(cluster.endpoints(2379)[0].1, "10.0.0.10:2379");
}

#[tokio::test]
async fn a_pod_missing_after_discovery_does_not_stop_later_looks() {
    // Discovery sees three; then one is deleted and not yet recreated. The
    // other two must still be reachable (a heal must not be blocked), and
    // waiting for Ready says how many exist until all three are back.
    let mut lists = 0;
    let (cluster, _) = discovered(Box::new(move |s| {
        if !is_list(s) {
            return None;
        }
        lists += 1;
        if lists == 1 {
            ok(three())
        } else {
            ok(pod_list(vec![
                pod(0, "10.0.0.10", "u0", true),
                pod(2, "10.0.0.12", "u2", true),
            ]))
        }
    }))
    .await;
    let pods = cluster
        .refresh()
        .await
        .expect("fewer pods than at discovery is fine");
    assert_eq!(pods.len(), 2);
    let e = cluster
        .wait_ready(Duration::from_millis(600))
        .await
        .expect_err("two of three is not Ready");
    assert!(e.message().contains("2 of 3 pods exist"), "{e}");
}

/// A pause signals the process the pod's annotation names; without one,
/// the process the system's description names (`chaos run` passes it);
/// without that, the container's name.
#[test]
fn the_process_is_the_annotations_else_the_systems_else_the_containers() {
    let mut value = pod(0, "10.0.0.10", "u0", true);
    value["metadata"]["annotations"]["io.chaos/process"] = json!("etcd-annotated");
    let mut pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(value).unwrap();
    let mut target = target();
    target.process = Some("etcd-described".into());
    let process = |pod: &_, target: &_| {
        chaos::backends::k8s::discover::node(pod, target)
            .unwrap()
            .process
    };
    assert_eq!(process(&pod, &target), "etcd-annotated");
    pod.metadata.annotations = None;
    assert_eq!(process(&pod, &target), "etcd-described");
    target.process = None;
    assert_eq!(process(&pod, &target), "etcd");
}

#[tokio::test]
async fn chaos_nemesis_kills_and_restarts_a_pod_through_the_journal() {
    // `chaos nemesis kill etcd-1 --backend k8s ...` then `restart`, past
    // the point where the command has found the pods and taken its lease:
    // the same journaled apply and undo as a run's.
    let mut gets = 0;
    let (cluster, seen) = discovered(Box::new(move |s| {
        if is_list(s) {
            return ok(three());
        }
        match (s.method.as_str(), s.path()) {
            ("GET", "/api/v1/namespaces/staging/pods/etcd-1") => {
                gets += 1;
                match gets {
                    1 => ok(pod(1, "10.0.0.11", "u1", true)),
                    2 => status(404, "NotFound", "pods \"etcd-1\" not found"),
                    _ => ok(pod(1, "10.0.0.31", "u1b", true)),
                }
            }
            ("GET", "/api/v1/namespaces/staging/pods/etcd-1/log") => text("bye\n"),
            ("DELETE", "/api/v1/namespaces/staging/pods/etcd-1") => {
                ok(pod(1, "10.0.0.11", "u1", true))
            }
            _ => status(500, "Unexpected", "unexpected request"),
        }
    }))
    .await;
    let dir = std::env::temp_dir().join(format!("chaos-k8s-nemesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.jsonl");
    let mut journal = Journal::open(&path, &cluster.run_id()).unwrap();
    let kill = Fault::Kill {
        node: "etcd-1".into(),
    };
    let name = cluster.name();

    let by = |apply, done| ByHand::Node {
        fault: kill.clone(),
        apply,
        done,
    };
    let code = by_hand(&cluster, &name, &mut journal, &by(true, "killed"))
        .await
        .expect("kill");
    assert_eq!(code, 0);
    let after_kill = seen.lock().unwrap().len();
    let code = by_hand(&cluster, &name, &mut journal, &by(false, "restarted"))
        .await
        .expect("restart");
    assert_eq!(code, 0);

    let seen = seen.lock().unwrap().clone();
    let deletes: Vec<&Seen> = seen.iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "one pod deleted");
    assert_eq!(deletes[0].path(), "/api/v1/namespaces/staging/pods/etcd-1");
    let options: Value = serde_json::from_slice(&deletes[0].body).unwrap();
    assert_eq!(options["gracePeriodSeconds"], 0, "{options}");
    // The restart deletes nothing: it waits until the pod is Ready.
    let restart = &seen[after_kill..];
    assert!(!restart.is_empty());
    assert!(restart.iter().all(|s| s.method == "GET"), "{restart:?}");
    assert!(restart
        .iter()
        .any(|s| s.path() == "/api/v1/namespaces/staging/pods/etcd-1"));
    assert_covered(&seen);

    // Journaled like a run's fault: applied, then healed, nothing left.
    let entries = Journal::read(&path).unwrap();
    let actions: Vec<(Action, &Fault)> = entries.iter().map(|e| (e.action, &e.fault)).collect();
    assert_eq!(actions, [(Action::Apply, &kill), (Action::Heal, &kill)]);
    assert!(entries.iter().all(|e| e.run == "k8s:staging:app=etcd"));
    assert!(journal.outstanding().unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn chaos_nemesis_refuses_a_node_the_cluster_lacks_before_the_journal() {
    let (cluster, seen) = discovered(Box::new(|_| ok(three()))).await;
    let dir = std::env::temp_dir().join(format!("chaos-k8s-nemesis-n9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.jsonl");
    let mut journal = Journal::open(&path, &cluster.run_id()).unwrap();
    let action = ByHand::Node {
        fault: Fault::Pause {
            node: "etcd-9".into(),
        },
        apply: true,
        done: "paused",
    };
    let e = by_hand(&cluster, &cluster.name(), &mut journal, &action)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 254);
    assert_eq!(
        e.message(),
        "no node named etcd-9 in this cluster (nodes: etcd-0, etcd-1, etcd-2)"
    );
    assert!(Journal::read(&path).unwrap().is_empty());
    assert!(seen.lock().unwrap().iter().all(|s| !s.upgrade), "no exec");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn chaos_nemesis_apply_refuses_a_fault_the_backend_lacks_before_the_journal() {
    let (cluster, seen) = discovered(Box::new(|_| ok(three()))).await;
    let dir = std::env::temp_dir().join(format!("chaos-k8s-apply-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal.jsonl");
    let mut journal = Journal::open(&path, &cluster.run_id()).unwrap();
    let action = ByHand::Apply {
        spec: FaultSpec::parse("truncate").unwrap(),
        node: Some("etcd-1".into()),
        seed: 0,
        hold: None,
        says: Says::Applied {
            undo: "chaos heal".into(),
        },
    };
    let e = by_hand(&cluster, &cluster.name(), &mut journal, &action)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 254);
    assert_eq!(
        e.message(),
        "truncate: the Kubernetes backend cannot edit a pod's files while it is down: not built yet"
    );
    assert!(Journal::read(&path).unwrap().is_empty());
    assert!(seen.lock().unwrap().iter().all(|s| !s.upgrade), "no exec");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn loss_runs_the_shared_loss_chain_script_with_peer_pod_ips() {
    use chaos_nemeses::iptables::{loss_rules, Chain};
    let (cluster, seen) = three_refusing_exec().await;
    let fault = Fault::Loss {
        links: Links::On(vec!["etcd-0".into()]),
        loss: "20%".parse().unwrap(),
    };
    let e = fault.apply_to(&cluster).await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.starts_with("cluster backend failed: loss 20% on etcd-0 of staging/app=etcd failed:"),
        "{e}"
    );
    let run = "k8s:staging:app=etcd";
    let expect = |peers: &[&str]| {
        let peers: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        let text = loss_rules(run, &peers, "20%".parse().unwrap());
        let script = Chain::LOSS.script(APPLY);
        vec!["sh".to_string(), "-c".into(), script, "sh".into(), text]
    };
    let seen = seen.lock().unwrap().clone();
    // Every link into and out of etcd-0, each installed where it arrives.
    assert_eq!(
        execs_seen(&seen),
        [
            (exec_path("etcd-0"), expect(&["10.0.0.11", "10.0.0.12"])),
            (exec_path("etcd-1"), expect(&["10.0.0.10"])),
            (exec_path("etcd-2"), expect(&["10.0.0.10"])),
        ]
    );
    assert!(seen
        .iter()
        .filter(|s| s.upgrade)
        .all(|s| s.query("container") == [SIDECAR]));
    assert_covered(&seen);
}

#[tokio::test]
async fn rate_runs_the_shared_tc_script_where_packets_leave() {
    use chaos_nemeses::tc;
    let (cluster, seen) = three_refusing_exec().await;
    // The links etcd-0 -> etcd-1 and etcd-0 -> etcd-2 only: one-way.
    let names = cluster.names();
    let fault = Fault::Rate {
        links: Links::Between(grudge::one_way(&names).unwrap()),
        rate: "1mbit".parse().unwrap(),
    };
    let e = fault.apply_to(&cluster).await.unwrap_err().to_string();
    one_line(&e);
    assert!(
        e.contains("rate 1mbit to etcd-1 from etcd-0; to etcd-2 from etcd-0"),
        "{e}"
    );
    let seen = seen.lock().unwrap().clone();
    let mut command = vec!["sh".to_string(), "-c".into(), tc::APPLY.into(), "sh".into()];
    command.extend(tc::args(
        "1mbit".parse().unwrap(),
        &["10.0.0.11".into(), "10.0.0.12".into()],
    ));
    // Only the sender has a limit to install; the other pods' sidecars are
    // asked to remove one an earlier rate may have left.
    let heal = vec!["sh".to_string(), "-c".into(), tc::HEAL.into(), "sh".into()];
    assert_eq!(
        execs_seen(&seen),
        [
            (exec_path("etcd-0"), command),
            (exec_path("etcd-1"), heal.clone()),
            (exec_path("etcd-2"), heal),
        ]
    );
    assert_covered(&seen);
}

#[tokio::test]
async fn heal_of_a_loss_and_a_rate_runs_their_scripts_in_every_sidecar() {
    use chaos_nemeses::iptables::{Chain, HEAL};
    use chaos_nemeses::tc;
    let (cluster, seen) = three_refusing_exec().await;
    let loss = Fault::Loss {
        links: Links::On(cluster.names()),
        loss: "5%".parse().unwrap(),
    };
    let e = loss.undo_on(&cluster).await.unwrap_err().to_string();
    one_line(&e);
    assert!(e.contains("exec is not possible here"), "{e}");
    let rate = Fault::Rate {
        links: Links::On(cluster.names()),
        rate: "10mbit".parse().unwrap(),
    };
    rate.undo_on(&cluster).await.unwrap_err();
    let seen = seen.lock().unwrap().clone();
    let script = |text: String| vec!["sh".to_string(), "-c".into(), text, "sh".into()];
    let mut expected = Vec::new();
    for pod in ["etcd-0", "etcd-1", "etcd-2"] {
        expected.push((exec_path(pod), script(Chain::LOSS.script(HEAL))));
        expected.push((exec_path(pod), script(tc::HEAL.to_string())));
    }
    expected.sort();
    assert_eq!(execs_seen(&seen), expected);
    assert_covered(&seen);
}

#[tokio::test]
async fn loss_on_a_pod_the_cluster_lacks_makes_no_exec() {
    let (cluster, seen) = three_refusing_exec().await;
    let e = cluster
        .lose(&Links::On(vec!["etcd-7".into()]), "20%".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "no node named etcd-7 in this cluster (nodes: etcd-0, etcd-1, etcd-2)"
    );
    assert!(seen.lock().unwrap().iter().all(|s| !s.upgrade), "no exec");
}
