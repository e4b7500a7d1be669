//! Bad input and a missing environment: one line each on stderr, saying
//! what is wrong and what to do, and the exit code for whose move it is
//! (254: the command line; 255: the environment). None of these starts a
//! cluster, so they are quick.

mod common;

use common::*;

/// Exactly one line on stderr, starting `chaos: `, and nothing on stdout.
fn one_line(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("chaos: "), "{err:?}");
    assert_eq!(stdout(out), "", "stdout: {:?}", stdout(out));
    err.trim_end().to_string()
}

#[test]
fn an_unknown_system_or_size_is_refused_before_docker_is_asked() {
    // No engine needed: the command line is checked first.
    let out = chaos_env(
        &["cluster", "up", "--system", "redis"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(254));
    assert_eq!(
        one_line(&out),
        "chaos: --system \"redis\": use etcd or nats"
    );

    let out = chaos_env(
        &["cluster", "up", "--system", "nats", "--nodes", "4"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(254));
    assert_eq!(
        one_line(&out),
        "chaos: no nats cluster with 4 nodes: use --nodes 3 or --nodes 5"
    );

    let out = chaos(&[
        "nemesis",
        "partition",
        "--shape",
        "triangle",
        "--project",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(254));
    assert!(one_line(&out).starts_with("chaos: unknown partition shape 'triangle' (known: halves,"));
}

#[test]
fn no_docker_engine_is_one_line_naming_where_we_looked() {
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"] {
        for args in [
            &["cluster", "status"][..],
            &["cluster", "up", "--system", "etcd", "--nodes", "3"],
            &["heal"],
            &["nemesis", "kill", "n1"],
        ] {
            let out = chaos_env(args, &[("DOCKER_HOST", host)]);
            assert_eq!(out.status.code(), Some(255), "{args:?}: {}", stderr(&out));
            assert_eq!(
                one_line(&out),
                format!(
                    "chaos: cannot reach the Docker engine at {host}: start it, or set DOCKER_HOST"
                )
            );
        }
    }
}

#[test]
fn a_missing_image_names_the_command_that_builds_it() {
    if !docker_or_skip("a_missing_image_names_the_command_that_builds_it") {
        return;
    }
    // An image name nobody has: the real images stay untouched.
    let out = chaos_env(
        &[
            "cluster",
            "up",
            "--system",
            "etcd",
            "--nodes",
            "3",
            "--run-id",
            &run_id("img"),
        ],
        &[("ETCD_IMAGE", "chaos/etcd:missing-in-test")],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(
        one_line(&out).starts_with("chaos: image chaos/etcd:missing-in-test is missing: "),
        "{}",
        stderr(&out)
    );
    let out = chaos_env(
        &[
            "cluster",
            "up",
            "--system",
            "nats",
            "--nodes",
            "3",
            "--run-id",
            &run_id("img"),
        ],
        &[("NATS_IMAGE", "example.org/nats:none")],
    );
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        one_line(&out),
        "chaos: image example.org/nats:none is missing: run `docker pull example.org/nats:none`"
    );
}

#[test]
fn a_cluster_that_does_not_exist_is_one_line() {
    if !docker_or_skip("a_cluster_that_does_not_exist_is_one_line") {
        return;
    }
    let out = chaos(&[
        "nemesis",
        "kill",
        "n1",
        "--project",
        "no-such-project-in-test",
    ]);
    assert_eq!(out.status.code(), Some(254));
    assert_eq!(
        one_line(&out),
        "chaos: no containers found for compose project no-such-project-in-test: check the name (`chaos cluster status` lists our clusters), or start one with `chaos cluster up`"
    );
    let out = chaos(&["cluster", "logs", "--label", "nonsense"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(one_line(&out).starts_with("chaos: --label \"nonsense\" is not KEY=VALUE"));
    // A name that matches nothing is a mistake, not a clean-up that
    // succeeded: 254, saying what does exist.
    for args in [
        &["cluster", "down", "--project", "no-such-project-in-test"][..],
        &["cluster", "down", "--run", "no-such-run-in-test"],
        &["heal", "--project", "no-such-project-in-test"],
        &["heal", "--run", "no-such-run-in-test"],
    ] {
        let out = chaos(args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", stderr(&out));
        let line = one_line(&out);
        assert!(
            line.contains("no-such-") && line.contains("chaos cluster"),
            "{args:?}: {line}"
        );
    }
}

/// `--disk-faults dm` where the Docker host's kernel has no dm-flakey:
/// one line saying what is missing and what to do, exit 254, before a
/// results folder or a cluster exists; `chaos cluster up` says the same.
/// Where the kernel has device-mapper the answer depends on whether the
/// flakey module is loaded, so this asks a host without it.
#[test]
fn a_forced_dm_flakey_on_a_kernel_without_it_is_refused_before_anything_starts() {
    let test = "a_forced_dm_flakey_on_a_kernel_without_it_is_refused_before_anything_starts";
    if !docker_or_skip(test) {
        return;
    }
    let misc = std::fs::read_to_string("/proc/misc").unwrap_or_default();
    if misc.lines().any(|l| l.ends_with(" device-mapper")) {
        eprintln!("SKIPPED {test}: this host's kernel has device-mapper");
        return;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let expected = format!(
        "chaos: --disk-faults dm: the Docker host's kernel ({}) lists no dm-flakey target (it has no device-mapper: /proc/misc lists none): load it on the host with `modprobe dm-flakey`, or use --disk-faults fuse",
        release.trim()
    );
    let results = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("forced-dm");
    let _ = std::fs::remove_dir_all(&results);
    let run = run_id("dm");
    let out = chaos(&[
        "run",
        "--disk-faults",
        "dm",
        "--nemesis",
        "flakey:error-writes",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert_eq!(one_line(&out), expected);
    assert!(
        !results.exists(),
        "a refused run created {}",
        results.display()
    );
    let out = chaos(&["cluster", "up", "--disk-faults", "dm", "--run-id", &run]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert_eq!(one_line(&out), expected);
    let status = chaos(&["cluster", "status", "--run", &run]);
    assert!(
        !stdout(&status).contains(&run),
        "a refused `cluster up` left {}",
        stdout(&status)
    );
}
