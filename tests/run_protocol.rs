//! `chaos run --client`: a Python program through the client protocol
//! (examples/clients/) on real clusters. The etcd register client gets the
//! verdicts our own client gets (linearizable reads valid under partitions,
//! serializable ones caught stale); a cluster from the user's own compose
//! file is started, faulted, checked and removed; bad clients and bad
//! compose files are refused in one line with nothing left running.

mod common;

use std::path::PathBuf;
use std::sync::Mutex;

use common::*;

/// The two tests that start compose projects of their own look for any
/// `chaos-own-*` left: they must not see each other's.
static OWN_PROJECTS: Mutex<()> = Mutex::new(());

fn example(name: &str) -> String {
    format!(
        "python3 {}",
        workspace().join("examples/clients").join(name).display()
    )
}

fn fixture(name: &str) -> String {
    workspace()
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Compose projects of ours (`chaos-own-*`) still present.
fn own_projects_left() -> String {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=com.docker.compose.project",
            "--format",
            "{{.Label \"com.docker.compose.project\"}} {{.Names}}",
        ])
        .output()
        .unwrap();
    stdout(&out)
        .lines()
        .filter(|l| l.starts_with("chaos-own-"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 60 s run under partition-halves as in tests/run_etcd.rs, with the
/// Python client in place of ours. Three of the nine workers are on the
/// node cut off, and a partition comes every 5 s: a write there hangs until
/// the op deadline (5 s), so with fewer the minority serves too few reads
/// for a stale one to be sure to show.
fn python_partition_run(tag: &str, read: &str) -> (std::process::Output, PathBuf) {
    let results = tmp_results(tag);
    let client = example("etcd_register.py");
    let out = chaos(&[
        "run",
        "--system",
        "etcd",
        "--client",
        &client,
        "--nemesis",
        "partition-halves",
        "--nemesis-interval",
        "5s",
        "--concurrency",
        "9",
        "--time-limit",
        "60",
        "--read",
        read,
        "--results",
        results.to_str().unwrap(),
    ]);
    eprintln!("{}{}", stdout(&out), stderr(&out));
    let dir = run_folder(&results, "etcd-register");
    assert_nothing_left(&run_id_of(&dir));
    (out, dir)
}

#[test]
fn python_client_linearizable_reads_under_partitions_are_valid() {
    if !docker_or_skip("python_client_linearizable_reads_under_partitions_are_valid") {
        return;
    }
    let (out, dir) = python_partition_run("py-lin", "linearizable");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("- Verdict: **PASS** (valid)"), "{report}");
    assert!(
        report.contains("etcd_register.py"),
        "the report names the client"
    );
    // Every worker process had its program, and their stderr is kept.
    assert!(dir.join("clients/p0.log").exists());
    assert!(dir.join("clients/admin.log").exists());
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

#[test]
fn python_client_serializable_reads_under_partitions_are_caught_stale() {
    if !docker_or_skip("python_client_serializable_reads_under_partitions_are_caught_stale") {
        return;
    }
    let (out, dir) = python_partition_run("py-ser", "serializable");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("- Verdict: **FAIL** (invalid)"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains("cannot be linearized") && l.contains(": read ")),
        "no stale read among the culprits:\n{report}"
    );
    let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
}

/// A user's own compose file (service names, default network, none of our
/// labels) with the Python queue client, under kills and partitions: the
/// run checks the queue, and the project is gone afterwards.
#[test]
fn own_compose_cluster_with_a_python_queue_client() {
    if !docker_or_skip("own_compose_cluster_with_a_python_queue_client") {
        return;
    }
    let _alone = OWN_PROJECTS.lock().unwrap_or_else(|e| e.into_inner());
    let results = tmp_results("own");
    let client = example("etcd_queue.py");
    let file = fixture("own-etcd.yml");
    let out = chaos(&[
        "run",
        "--system",
        "orders",
        "--workload",
        "queue",
        "--mix",
        "enqueue=2,dequeue=1",
        "--client",
        &client,
        "--compose",
        &file,
        "--port",
        "2379",
        "--nemesis",
        "kill,partition-halves",
        "--nemesis-interval",
        "4s",
        "--time-limit",
        "20s",
        "--concurrency",
        "3",
        "--rate",
        "30",
        "--seed",
        "7",
        "--results",
        results.to_str().unwrap(),
    ]);
    eprintln!("{}{}", stdout(&out), stderr(&out));
    let dir = run_folder(&results, "orders-queue");
    assert_eq!(own_projects_left(), "", "the compose project is left");
    // etcd loses nothing, so the queue is valid, or unknown when a dequeue
    // that timed out under a partition may have taken what no one read
    // (the checker cannot tell, and says so); never invalid.
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    match out.status.code() {
        Some(0) => assert!(report.contains("PASS"), "{report}"),
        Some(2) => assert!(report.contains("Loss not certain"), "{report}"),
        other => panic!("exit {other:?}: {}", stdout(&out)),
    }
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    // Nodes are named after the services; addresses are IP:--port.
    let endpoints = test["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 3, "{test}");
    assert!(
        endpoints[0].as_str().unwrap().starts_with("etcd1 ")
            && endpoints[0].as_str().unwrap().ends_with(":2379"),
        "{test}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    for needed in ["\"enqueue\"", "\"dequeue\"", "\"drain\"", "\"start-"] {
        assert!(history.contains(needed), "no {needed} in the history");
    }
    // --mix enqueue=2,dequeue=1: about twice as many enqueues.
    let invoked = |f: &str| {
        history
            .lines()
            .filter(|l| l.contains("\"type\":\"invoke\"") && l.contains(&format!("\"f\":\"{f}\"")))
            .count()
    };
    let (enqueues, dequeues) = (invoked("enqueue"), invoked("dequeue"));
    assert!(
        enqueues > dequeues * 3 / 2,
        "{enqueues} enqueues, {dequeues} dequeues"
    );
    assert!(
        report.contains("enqueue=2,dequeue=1"),
        "the report names the mix"
    );
    let _ = std::fs::remove_dir_all(&results);
}

/// Bad input, each one line and its exit code, nothing left running.
#[test]
fn bad_clients_and_bad_compose_files_are_refused_in_one_line() {
    if !docker_or_skip("bad_clients_and_bad_compose_files_are_refused_in_one_line") {
        return;
    }
    let _alone = OWN_PROJECTS.lock().unwrap_or_else(|e| e.into_inner());
    let results = tmp_results("own-bad");
    let results = results.to_str().unwrap();
    let own = fixture("own-etcd.yml");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["--client".into(), "/nonexistent/client".into()],
            254,
            "/nonexistent/client: not found",
        ),
        (
            vec![
                "--client".into(),
                format!("python3 {}", fixture("mute_client.py")),
            ],
            254,
            "did not answer init within 10 s",
        ),
        (
            vec![
                "--client".into(),
                "cat".into(),
                "--compose".into(),
                fixture("not-compose.yml"),
                "--port".into(),
                "1".into(),
            ],
            254,
            "--compose",
        ),
        (
            vec![
                "--client".into(),
                "cat".into(),
                "--compose".into(),
                fixture("never-healthy.yml"),
                "--port".into(),
                "1".into(),
                "--ready-timeout".into(),
                "8s".into(),
            ],
            255,
            "0/1 nodes healthy after 7 s; sick says: no output: a slow machine may need --ready-timeout",
        ),
        (
            vec![
                "--client".into(),
                "cat".into(),
                "--compose".into(),
                own,
            ],
            254,
            "needs --port PORT",
        ),
    ];
    for (args, code, says) in cases {
        let mut all = vec![
            "run",
            "--nemesis",
            "none",
            "--time-limit",
            "5s",
            "--results",
            results,
        ];
        all.extend(args.iter().map(String::as_str));
        let out = chaos(&all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        // Progress lines may come first (the cluster came up); the reason
        // is the last line, on its own.
        let last = err.trim_end().lines().last().unwrap_or("");
        assert!(last.contains(says), "{args:?}: {err}");
        assert_eq!(own_projects_left(), "", "{args:?} left a project");
        // A run on a cluster of ours wrote test.json first: its run id
        // labels everything it started.
        if let Ok(latest) = std::fs::read_link(std::path::Path::new(results).join("latest")) {
            assert_nothing_left(&run_id_of(&std::path::Path::new(results).join(latest)));
        }
    }
    let _ = std::fs::remove_dir_all(results);
}
