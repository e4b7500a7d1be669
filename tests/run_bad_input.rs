//! `chaos run`, `chaos heal` and `chaos nemesis` refuse bad flags with one line and 254
//! before they create a results folder or talk to any backend; a Kubernetes
//! run with no API server to talk to is one line and 255. No cluster needed.

mod common;

use common::*;

fn one_line(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("chaos: "), "{err:?}");
    err.trim_end().to_string()
}

/// Each `chaos run` with these flags: exit 254, one line that says
/// `says`, no results folder. No engine is reachable (DOCKER_HOST points
/// nowhere), so a flag that got past the checks would fail another way.
fn assert_runs_refused(results: &std::path::Path, cases: &[(&[&str], &str)]) {
    for (flags, says) in cases {
        let mut args = vec!["run", "--results", results.to_str().unwrap()];
        args.extend_from_slice(flags);
        let out = chaos_env(&args, &[("DOCKER_HOST", "tcp://127.0.0.1:1")]);
        assert_eq!(out.status.code(), Some(254), "{flags:?}: {}", stderr(&out));
        let line = one_line(&out);
        assert!(line.contains(says), "{flags:?}: {line}");
    }
    assert!(
        !results.exists(),
        "a refused run created {}",
        results.display()
    );
}

fn results_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn bad_run_flags_are_one_line_and_leave_no_folder() {
    let results = results_dir("flags");
    let cases: [(&[&str], &str); 21] = [
        (&["--nemesis", "partition-halves,,kill"], "item 2 is empty"),
        (
            &["--nemesis", "kill,rollback:3"],
            "--nemesis \"rollback:3\": rollback takes no parameter",
        ),
        (
            &["--time-limit", "1s"],
            "the first fault would come at +10 s, at or after the time limit of 1 s",
        ),
        (
            &["--time-limit", "-5s"],
            "--time-limit: \"-5s\" is not a duration",
        ),
        (
            &["--nemesis-interval", "-1s"],
            "--nemesis-interval: \"-1s\" is not a duration",
        ),
        (
            &["--seed", "-1"],
            "'--seed <SEED>': \"-1\" is not a whole number of 0 or more",
        ),
        (
            &["--concurrency", "-3"],
            "\"-3\" is not a whole number of 0 or more (`chaos run --help` lists the flags)",
        ),
        (&["--nemesis", "kill,explode"], "unknown fault \"explode\""),
        (
            &["--nemesis", "loss:120%,partition-one-way"],
            "--nemesis \"loss:120%\": 120% is out of range: a probability is more than 0% and at most 100%",
        ),
        (
            &["--nemesis", "loss:-5%"],
            "--nemesis \"loss:-5%\": \"-5%\" is not a percentage such as 20% or 0.5%",
        ),
        (
            &["--nemesis", "rate-all:fast"],
            "\"fast\" is not a bandwidth: write bits per second, e.g. 1mbit",
        ),
        (
            &["--nemesis", "delay:-5ms"],
            "--nemesis \"delay:-5ms\": -5ms: a delay cannot be negative",
        ),
        (
            &["--nemesis", "duplicate-all:120%"],
            "120% is out of range: a probability is more than 0% and at most 100%",
        ),
        (
            &["--nemesis", "loss-sideways:20%"],
            "unknown place 'sideways'",
        ),
        (
            &["--system", "etcd", "--workload", "queue"],
            "--system etcd does not run the queue workload",
        ),
        (
            &["--read", "stale"],
            "--read \"stale\": use linearizable or serializable",
        ),
        (
            &["--system", "nats", "--read", "serializable"],
            "--read applies to etcd, not to nats: leave it out",
        ),
        (
            &["--system", "redis"],
            "--system \"redis\": use etcd or nats",
        ),
        (&["--time-limit", "0"], "--time-limit must be more than 0"),
        (&["--concurrency", "0"], "--concurrency must be at least 1"),
        (
            &["--backend", "k8s", "--namespace", "staging"],
            "--backend k8s needs --namespace NS and --selector LABELS",
        ),
    ];
    assert_runs_refused(&results, &cases);
}

/// The client protocol's flags (docs/protocol.md), refused before any
/// cluster is touched.
#[test]
fn bad_client_and_own_cluster_flags_are_one_line() {
    let results = results_dir("client-flags");
    let cases: [(&[&str], &str); 16] = [
        (
            &["--client", "cat", "--workload", "bank"],
            "--workload \"bank\": with --client, use register, log, queue, set",
        ),
        (
            &["--compose", "x.yml"],
            "a cluster of your own needs your client too: add --client COMMAND",
        ),
        (
            &["--project", "orders", "--client", "cat"],
            "a cluster of your own needs --port PORT",
        ),
        (
            &["--system", "orders", "--client", "cat"],
            "--system orders is not one of ours (etcd, nats), so there is no cluster of it to start",
        ),
        (
            &["--system", "Orders DB", "--client", "cat", "--project", "o", "--port", "1"],
            "--system \"Orders DB\": name your system with lowercase letters",
        ),
        (&["--client", " "], "--client is empty"),
        (
            &["--label", "team", "--client", "cat", "--port", "7000"],
            "--label \"team\" is not KEY=VALUE",
        ),
        (&["--ready", "true"], "--ready applies to a cluster from --compose FILE"),
        (
            &["--mix", "read=1,append=2"],
            "--mix: this workload has no \"append\": use read, write, cas",
        ),
        (&["--mix", "read"], "--mix \"read\" is not FUNCTION=WEIGHT"),
        (
            &["--mix", "read=0,write=0,cas=0"],
            "--mix: every weight is 0, so no op could be chosen",
        ),
        (
            &["--system", "nats", "--ops-per-key", "10"],
            "--ops-per-key: the log workload has no keys: leave it out",
        ),
        (
            &["--nemesis", "flakey:error-writes", "--project", "o", "--client", "cat", "--port", "1"],
            "flakey:error-writes needs each node's data on the fault filesystem",
        ),
        (
            &["--backend", "k8s", "--namespace", "a", "--selector", "b", "--nemesis", "bitflip-all"],
            "--backend k8s cannot bitflip",
        ),
        (
            &["--disk-faults", "dm", "--nemesis", "flakey:drop-writes,slow-disk:100ms"],
            "--disk-faults dm: slow-disk:100ms cannot be done with dm-flakey: it fails, drops and corrupts I/O but delays none: leave it out of --nemesis, or use --disk-faults fuse",
        ),
        (&["--disk-faults", "lvm"], "--disk-faults \"lvm\": use fuse or dm"),
    ];
    assert_runs_refused(&results, &cases);
}

#[test]
fn a_kubernetes_run_without_an_api_server_says_how_to_configure_one() {
    let results = results_dir("k8s");
    let empty = std::env::temp_dir().join("chaos-no-kubeconfig");
    let out = chaos_env(
        &[
            "run",
            "--backend",
            "k8s",
            "--namespace",
            "staging",
            "--selector",
            "app=etcd",
            "--results",
            results.to_str().unwrap(),
        ],
        &[
            ("KUBECONFIG", empty.to_str().unwrap()),
            ("HOME", empty.to_str().unwrap()),
            ("KUBERNETES_SERVICE_HOST", ""),
        ],
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    let line = one_line(&out);
    assert!(
        line.contains("cannot configure a Kubernetes client"),
        "{line}"
    );
    assert!(!results.exists(), "no cluster found, yet a results folder");

    let out = chaos_env(&["heal", "--backend", "k8s", "--namespace", "staging"], &[]);
    assert_eq!(out.status.code(), Some(254));
    assert!(one_line(&out).contains("needs --namespace NS and --selector LABELS"));

    // `chaos nemesis` takes the same flags, and says the same.
    let nemesis = ["nemesis", "kill", "etcd-0", "--backend", "k8s"];
    let out = chaos_env(&[&nemesis[..], &["--namespace", "staging"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(254));
    assert!(one_line(&out).contains("needs --namespace NS and --selector LABELS"));
    let out = chaos_env(
        &[
            &nemesis[..],
            &["--namespace", "staging", "--selector", "app=etcd"],
        ]
        .concat(),
        &[
            ("KUBECONFIG", empty.to_str().unwrap()),
            ("HOME", empty.to_str().unwrap()),
            ("KUBERNETES_SERVICE_HOST", ""),
        ],
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert!(one_line(&out).contains("cannot configure a Kubernetes client"));
}
