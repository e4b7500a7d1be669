//! `chaos images build` also builds `chaos/harness` from our Debian base,
//! with no registry: the binary that ran the command, iptables and procps
//! (what the partition sidecar needs), and the compose files. The image
//! runs its binary, a second build with the same binary keeps it, and as a
//! sidecar in a node's network namespace, with only the capabilities the
//! Kubernetes manifests give it, it installs and removes a partition on a
//! real etcd cluster with the Kubernetes backend's scripts, and runs the
//! packet delayer (`chaos netdelay` behind its NFQUEUE rules) with the
//! same steps the backend execs where a pod's kernel has no netem.

mod common;

use std::process::Command;

use chaos::backends::shaping::{apply_steps, check, in_force, unshape, unshaped, Step};
use chaos_nemeses::iptables::{
    check_outcome, heal_outcome, rules, share_in_force, APPLY, CHECK, HEAL,
};
use chaos_nemeses::netem::Netem;
use chaos_nemeses::shaping::Mechanism;
use common::*;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[test]
fn chaos_images_build_makes_a_harness_image_that_runs_chaos() {
    if !docker_or_skip("chaos_images_build_makes_a_harness_image_that_runs_chaos") {
        return;
    }
    let out = chaos(&["images", "build"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("chaos/harness:latest"),
        "{}",
        stdout(&out)
    );

    let version = docker(&["run", "--rm", "chaos/harness:latest", "--version"]);
    assert!(version.status.success(), "{}", text(&version.stderr));
    assert_eq!(
        text(&version.stdout),
        format!("chaos {}", env!("CARGO_PKG_VERSION"))
    );

    // What the sidecar and the nightly job need besides the binary.
    let tools = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "chaos/harness:latest",
        "-c",
        "iptables --version && ps --version && test -f \"$CHAOS_COMPOSE_DIR/etcd-3.yml\" && echo ready",
    ]);
    assert!(
        text(&tools.stdout).ends_with("ready"),
        "{}{}",
        text(&tools.stdout),
        text(&tools.stderr)
    );

    // The image names the binary it holds, so the next build can keep it.
    let digest = Command::new("sha256sum")
        .arg(env!("CARGO_BIN_EXE_chaos"))
        .output()
        .unwrap();
    let digest = text(&digest.stdout);
    let digest = digest.split_whitespace().next().unwrap();
    let label = docker(&[
        "image",
        "inspect",
        "--format",
        "{{ index .Config.Labels \"io.chaos.binary\" }}",
        "chaos/harness:latest",
    ]);
    assert_eq!(text(&label.stdout), digest);
    let again = chaos(&["images", "build"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing to do"),
        "the same binary: {}",
        stdout(&again)
    );
}

/// A container of the harness image in a node's network namespace, as the
/// Kubernetes manifests run it beside each node; removed when dropped.
struct Sidecar(String);

impl Sidecar {
    fn beside(node_container: &str, run: &str) -> Sidecar {
        let name = format!("{node_container}-harness-sidecar");
        let out = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("io.chaos.run={run}"),
            "--network",
            &format!("container:{node_container}"),
            // Exactly what k8s/etcd.yaml and k8s/nats.yaml add, and no
            // other: NET_ADMIN (iptables, tc, NFQUEUE), NET_RAW (the
            // delayer's duplicates), KILL (pause).
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add",
            "NET_RAW",
            "--cap-add",
            "KILL",
            "--entrypoint",
            "sleep",
            "chaos/harness:latest",
            "infinity",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        Sidecar(name)
    }

    /// `sh -c SCRIPT sh ARGS...` in the sidecar, as the backend execs it.
    fn sh(&self, script: &str, args: &[&str]) -> String {
        let mut all = vec!["exec", self.0.as_str(), "sh", "-c", script, "sh"];
        all.extend(args);
        let out = docker(&all);
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// One of the backend's shaping steps, as it execs it in a pod.
    fn step(&self, step: &Step) -> String {
        let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
        self.sh(&step.script, &args)
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[test]
fn the_harness_image_as_a_sidecar_installs_and_removes_a_partition() {
    if !docker_or_skip("the_harness_image_as_a_sidecar_installs_and_removes_a_partition") {
        return;
    }
    let out = chaos(&["images", "build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let guard = ClusterGuard::up("etcd", 3, "sidecar");
    let rt = runtime();
    let nodes = rt.block_on(guard.open(&rt).refresh()).unwrap();
    let [n1, n2, n3] = [&nodes[0], &nodes[1], &nodes[2]];
    let peer = 2380;
    assert!(
        tcp(&n2.container, &n1.address, peer),
        "n2 reaches n1 before"
    );

    // n1 drops what n2 and n3 send: n1 alone on its side.
    let sidecar = Sidecar::beside(&n1.container, &guard.run);
    let grudge = rules(&guard.run, &[n2.address.clone(), n3.address.clone()]);
    sidecar.sh(APPLY, &[&grudge]);
    let in_force = check_outcome(&sidecar.sh(CHECK, &[])).expect("CHECK reads");
    assert!(share_in_force(in_force, 2), "{in_force:?}");
    assert!(!tcp(&n2.container, &n1.address, peer), "n2 is cut from n1");
    assert!(!tcp(&n3.container, &n1.address, peer), "n3 is cut from n1");
    assert!(
        tcp(&n2.container, &n3.address, peer),
        "n2 and n3 still talk"
    );

    assert_eq!(heal_outcome(&sidecar.sh(HEAL, &[])), Some(Some(2)));
    assert!(tcp(&n2.container, &n1.address, peer), "healed");
    assert!(!iptables_rules(&n1.container, &guard.run).contains("CHAOS-PARTITION"));
    drop(sidecar);
    guard.teardown();
}

#[test]
fn the_harness_image_as_a_sidecar_runs_the_delayer() {
    if !docker_or_skip("the_harness_image_as_a_sidecar_runs_the_delayer") {
        return;
    }
    let out = chaos(&["images", "build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let guard = ClusterGuard::up("etcd", 3, "delayer");
    let rt = runtime();
    let nodes = rt.block_on(guard.open(&rt).refresh()).unwrap();
    let [n1, n2, n3] = [&nodes[0], &nodes[1], &nodes[2]];
    let before = median(&round_trips_ms(&ping_output(
        &n1.container,
        &n2.address,
        10,
        "0.05",
    )));

    // What n1 sends n2, 50 ms late and half of it twice: the backend's
    // steps where the kernel has no netem, in the harness image.
    let netem: Netem = "50ms/duplicate=50%".parse().unwrap();
    let sidecar = Sidecar::beside(&n1.container, &guard.run);
    let peers = [n2.address.clone()];
    for step in apply_steps(Mechanism::Delayer, &netem, 0, &peers) {
        sidecar.step(&step);
    }
    let look = check(Mechanism::Delayer);
    assert_eq!(
        in_force(Mechanism::Delayer, &sidecar.step(&look), 1),
        Ok(true)
    );
    let ping = ping_output(&n1.container, &n2.address, 20, "0.1");
    let delayed = median(&round_trips_ms(&ping));
    assert!(
        delayed >= 50.0,
        "n1 -> n2 {delayed} ms (before: {before} ms): {ping}"
    );
    // The duplicates leave through the raw socket NET_RAW allows.
    assert!(ping.contains("DUP!"), "no duplicate in 20 at 50 %: {ping}");
    let other = median(&round_trips_ms(&ping_output(
        &n1.container,
        &n3.address,
        10,
        "0.05",
    )));
    assert!(other < 50.0, "n1 -> n3 is not shaped: {other} ms");

    let removed = unshaped(None, &sidecar.step(&unshape(None))).unwrap();
    assert_eq!(
        removed.as_deref(),
        Some("removed chain CHAOS-DELAY (1 rules), the delayer")
    );
    assert_eq!(
        in_force(Mechanism::Delayer, &sidecar.step(&look), 1),
        Ok(false)
    );
    let after = median(&round_trips_ms(&ping_output(
        &n1.container,
        &n2.address,
        10,
        "0.05",
    )));
    assert!(after < 50.0, "healed: {after} ms");
    let dups = ping.matches("DUP!").count();
    eprintln!(
        "n1 -> n2 median round trip: {before} ms before, {delayed} ms under the delayer ({dups} duplicates in 20), {after} ms after; n1 -> n3 {other} ms"
    );
    drop(sidecar);
    guard.teardown();
}
