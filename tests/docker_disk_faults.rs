//! Disk faults on a real Docker cluster whose nodes keep /data on the
//! fault filesystem (`chaos cluster up --disk-faults`): a power cut loses
//! exactly what was not fsynced, a plain kill loses nothing, a flakey disk
//! fails writes until healed, and a node of a cluster started without it
//! refuses a disk fault rather than pretend.

mod common;

use std::time::Duration;

use chaos_nemeses::journal::Journal;
use chaos_nemeses::storage::{Flakey, FlakeyMode};
use chaos_nemeses::{nemesis, Cluster, Fault};
use common::*;

/// Runs `script` in node `name`'s container: (exit code, output).
fn sh(guard: &ClusterGuard, name: &str, script: &str) -> (i32, String) {
    let container = format!("{}_{name}_1", guard.project);
    let out = std::process::Command::new("docker")
        .args(["exec", &container, "sh", "-c", script])
        .output()
        .expect("docker runs");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// Waits until the fault filesystem of a restarted node answers again.
fn wait_disk(guard: &ClusterGuard, name: &str) {
    wait_until(
        "the node's fault filesystem",
        Duration::from_secs(30),
        || {
            sh(
                guard,
                name,
                "/usr/local/bin/chaos faultfs ctl /run/chaos-disk/control.sock status",
            )
            .0 == 0
        },
    );
}

#[test]
fn a_power_cut_loses_what_was_not_synced_and_a_kill_loses_nothing() {
    if !docker_or_skip("a_power_cut_loses_what_was_not_synced_and_a_kill_loses_nothing") {
        return;
    }
    let guard = ClusterGuard::up_with("etcd", 3, "disk", &["--disk-faults"]);
    let rt = runtime();
    let cluster = guard.open(&rt);
    // `sync FILE` fsyncs it: the first file is durable, the second only
    // written.
    let (code, out) = sh(
        &guard,
        "n1",
        "printf synced > /data/a && sync /data/a && printf lost > /data/b && cat /data/b",
    );
    assert_eq!((code, out.as_str()), (0, "lost"));
    rt.block_on(cluster.kill_losing_unsynced(&["n1".to_string()]))
        .unwrap();
    rt.block_on(cluster.restart("n1")).unwrap();
    wait_disk(&guard, "n1");
    let (_, out) = sh(&guard, "n1", "cat /data/a; echo; wc -c < /data/b");
    // The file itself was created (metadata is durable at once), its
    // unsynced bytes are gone.
    assert_eq!(out.trim(), "synced\n0", "after the power cut");

    // A plain kill is a process crash: what was written survives.
    let (code, _) = sh(&guard, "n1", "printf kept > /data/c");
    assert_eq!(code, 0);
    rt.block_on(cluster.kill("n1")).unwrap();
    rt.block_on(cluster.restart("n1")).unwrap();
    wait_disk(&guard, "n1");
    let (_, out) = sh(&guard, "n1", "cat /data/c");
    assert_eq!(out, "kept", "after a plain kill");

    // A stop is no power cut either, though the filesystem dies with the
    // container as the node's process exits.
    let (code, _) = sh(&guard, "n1", "printf stopped > /data/d");
    assert_eq!(code, 0);
    rt.block_on(cluster.stop("n1")).unwrap();
    rt.block_on(cluster.start("n1")).unwrap();
    wait_disk(&guard, "n1");
    let (_, out) = sh(&guard, "n1", "cat /data/d");
    assert_eq!(out, "stopped", "after a stop");
    guard.teardown();
}

#[test]
fn a_flakey_disk_fails_writes_until_healed_and_a_plain_node_refuses() {
    if !docker_or_skip("a_flakey_disk_fails_writes_until_healed_and_a_plain_node_refuses") {
        return;
    }
    let guard = ClusterGuard::up_with("etcd", 3, "flakey", &["--disk-faults"]);
    let rt = runtime();
    let cluster = guard.open(&rt);
    // Down from the start, for a minute: every write in the test fails.
    let always_down = Flakey {
        mode: FlakeyMode::ErrorWrites,
        up_ms: 0,
        down_ms: 60_000,
    };
    rt.block_on(cluster.flakey("n2", &always_down)).unwrap();
    let (code, out) = sh(&guard, "n2", "printf x > /data/flakey");
    assert_ne!(code, 0, "a write succeeded on a flakey disk: {out}");
    assert!(out.contains("Input/output error"), "{out}");
    let healed = rt.block_on(cluster.heal_disk("n2")).unwrap();
    // The heal says what the fault did: at least the failed write above.
    assert_eq!(healed.len(), 1, "{healed:?}");
    assert!(
        healed[0].starts_with("n2: disk faults ended (") && healed[0].contains(" failed"),
        "{healed:?}"
    );
    let (code, out) = sh(&guard, "n2", "printf x > /data/flakey && cat /data/flakey");
    assert_eq!((code, out.as_str()), (0, "x"));
    guard.teardown();

    // Without --disk-faults nothing is under /data but the volume: the
    // fault is refused, never pretended.
    let plain = ClusterGuard::up("etcd", 3, "noflakey");
    let cluster = plain.open(&rt);
    let e = rt
        .block_on(cluster.flakey("n1", &Flakey::new(FlakeyMode::DropWrites)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node n1 does not keep its data on the fault filesystem"),
        "{e}"
    );
    // Refused before the journal, too: an entry there would send every
    // later `chaos heal` to a filesystem that was never there.
    let path = std::env::temp_dir().join(format!("{}-journal.jsonl", plain.project));
    let mut journal = Journal::open(&path, "by-hand").unwrap();
    let fault = Fault::Flakey {
        node: "n1".into(),
        flakey: Flakey::new(FlakeyMode::DropWrites),
    };
    let refused = rt.block_on(nemesis::apply(&cluster, &mut journal, &fault));
    assert!(
        refused.is_err(),
        "a disk fault was applied without the fault filesystem"
    );
    let journaled = journal.outstanding().unwrap();
    assert!(
        journaled.is_empty(),
        "the refused fault was journaled: {journaled:?}"
    );
    let _ = std::fs::remove_file(&path);
    plain.teardown();
}

/// File faults on a node that is down: a truncate leaves the file at the
/// size it says; a bitflip reports its 16 edits; the same seed draws the
/// same edits again (a replayed run damages the same bytes).
#[test]
fn file_faults_damage_a_stopped_nodes_files_as_drawn() {
    use chaos_nemeses::storage::Damage;
    if !docker_or_skip("file_faults_damage_a_stopped_nodes_files_as_drawn") {
        return;
    }
    let guard = ClusterGuard::up("etcd", 3, "files");
    let rt = runtime();
    let cluster = guard.open(&rt);
    rt.block_on(cluster.kill("n2")).unwrap();
    let node = rt.block_on(cluster.node("n2")).unwrap();
    let cut = rt
        .block_on(cluster.damage_node_files(&node, Damage::Truncate, 3))
        .unwrap();
    assert_eq!(cut.len(), 1, "{cut:?}");
    // "n2: cut '/data/...' from F to T bytes"
    let words: Vec<&str> = cut[0].split_whitespace().collect();
    let (path, to) = (words[2].trim_matches('\''), words[words.len() - 2]);
    let size = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "--volumes-from",
            &node.id,
            "chaos/base:bookworm",
        ])
        .args(["stat", "-c", "%s", path])
        .output()
        .unwrap();
    assert_eq!(stdout(&size).trim(), to, "{cut:?}");
    let flips = rt
        .block_on(cluster.damage_node_files(&node, Damage::Bitflip, 9))
        .unwrap();
    assert_eq!(flips.len(), 16, "{flips:?}");
    assert!(
        flips.iter().all(|l| l.starts_with("n2: flipped bit ")),
        "{flips:?}"
    );
    let again = rt
        .block_on(cluster.damage_node_files(&node, Damage::Bitflip, 9))
        .unwrap();
    assert_eq!(flips, again, "the same seed, the same edits");
    guard.teardown();
}

/// The harness SIGKILLed while a flakey disk is in force: `chaos heal`
/// finds the fault through the run's lease and journal and ends it, and
/// taking the cluster down leaves nothing (the filesystem, its mount and
/// its socket live and die inside the node containers).
#[test]
fn a_harness_killed_under_a_flakey_disk_is_healed_by_chaos_heal() {
    if !docker_or_skip("a_harness_killed_under_a_flakey_disk_is_healed_by_chaos_heal") {
        return;
    }
    let (results, state) = scratch("disk-sigkill");
    let mut child = spawn_run(
        &results,
        &state,
        &[
            "--time-limit",
            "120",
            "--nemesis-interval",
            "2",
            "--nemesis",
            "flakey:error-writes",
            "--concurrency",
            "2",
        ],
    );
    let dir = wait_for_event(&results, &mut child, "\"flakey-in-force\"");
    let run = run_id_of(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    let project = format!("chaos-etcd-3-{run}");
    let flakey_nodes = || -> Vec<String> {
        ["n1", "n2", "n3"]
            .into_iter()
            .filter(|n| {
                let out = std::process::Command::new("docker")
                    .args(["exec", &format!("{project}_{n}_1")])
                    .args(["/usr/local/bin/chaos", "faultfs", "ctl"])
                    .args(["/run/chaos-disk/control.sock", "status"])
                    .output()
                    .unwrap();
                let status: serde_json::Value =
                    serde_json::from_str(stdout(&out).trim()).unwrap_or_default();
                !status["flakey"].is_null()
            })
            .map(String::from)
            .collect()
    };
    assert_eq!(flakey_nodes().len(), 1, "one node's disk is flakey");

    let heal = chaos_in(&results, &state, &["heal", "--run", &run]);
    let said = format!("{}{}", stdout(&heal), stderr(&heal));
    assert_eq!(heal.status.code(), Some(0), "{said}");
    assert!(said.contains("undid flakey"), "{said}");
    assert_eq!(
        flakey_nodes(),
        Vec::<String>::new(),
        "after the heal: {said}"
    );

    let out = chaos_in(&results, &state, &["cluster", "down", "--run", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_nothing_left(&run);
    let _ = std::fs::remove_dir_all(&results);
}
