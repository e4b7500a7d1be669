//! `rollback` on a real Docker cluster whose nodes keep /data on the fault
//! filesystem, as a run starts it, applied by hand (`chaos nemesis apply
//! rollback --node n2 --seed N --hold`): a chunk written over after the
//! snapshot has its old bytes again once the fault ends (looked at in a
//! file of the test's own, which the system does not rewrite when it
//! starts again, as etcd zeroes its WAL's tail); a harness
//! SIGKILLed while it holds the fault leaves a stash that `chaos heal`
//! removes, writing nothing back and starting the node; and one whose
//! journal entry is lost is found by the heal's scan.

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};

use chaos_nemeses::journal::outstanding;
use chaos_nemeses::{Cluster, Journal};
use common::*;

/// Runs `script` in a throwaway container of the base image with `mounts`
/// (`-v ...`, `--volumes-from ...`): its exit code and output.
fn helper(mounts: &[&str], script: &str) -> (i32, String) {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none"])
        .args(mounts)
        .args(["chaos/base:bookworm", "sh", "-c", script])
        .output()
        .expect("docker runs");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// Waits until the fault filesystem of a node just started answers (a
/// kill asks it to write back first), or the node has exited (a system
/// may not start on rolled-back files; a kill of it then has nothing to
/// ask).
fn wait_disk(container: &str) {
    wait_until(
        "the node's fault filesystem, or the node's exit",
        std::time::Duration::from_secs(30),
        || {
            let answers = Command::new("docker")
                .args(["exec", container, "/usr/local/bin/chaos", "faultfs", "ctl"])
                .args(["/run/chaos-disk/control.sock", "status"])
                .output()
                .is_ok_and(|o| o.status.success());
            let state = Command::new("docker")
                .args(["inspect", "-f", "{{.State.Running}}", container])
                .output()
                .expect("docker runs");
            answers || stdout(&state).trim() == "false"
        },
    );
}

fn volume_exists(volume: &str) -> bool {
    Command::new("docker")
        .args(["volume", "inspect", volume])
        .output()
        .expect("docker runs")
        .status
        .success()
}

fn started_at(container: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.StartedAt}}", container])
        .output()
        .expect("docker runs");
    stdout(&out).trim().to_string()
}

/// A sparse file so big that the snapshot's draws, in proportion to size,
/// all but surely take a chunk of it; nothing but the test writes it, so
/// what it holds after a fault is what the fault left.
const BALLAST: &str = "/data/ballast";

/// The first chunk of [`BALLAST`] the stash `volume` lists: (index,
/// offset, len).
fn ballast_chunk(volume: &str) -> (usize, u64, u64) {
    let (code, manifest) = helper(&["-v", &format!("{volume}:/stash")], "cat /stash/manifest");
    assert_eq!(code, 0, "the stash has its manifest: {manifest}");
    manifest
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_string(),
            )
        })
        .find(|c: &(usize, u64, u64, String)| c.3 == BALLAST)
        .map(|(index, offset, len, _)| (index, offset, len))
        .unwrap_or_else(|| panic!("no chunk of {BALLAST} in the stash: {manifest}"))
}

/// The sha256 of the stashed copy of chunk `index`.
fn stashed_hash(volume: &str, index: usize) -> String {
    let (code, out) = helper(
        &["-v", &format!("{volume}:/stash")],
        &format!("sha256sum < /stash/chunks/{index}"),
    );
    assert_eq!(code, 0, "{out}");
    out.trim().to_string()
}

/// The sha256 of `len` bytes at `offset` of `path` in the node's volume.
fn file_hash(node_id: &str, path: &str, offset: u64, len: u64) -> String {
    let (code, out) = helper(
        &["--volumes-from", node_id],
        &format!(
            "dd if='{path}' bs=65536 iflag=skip_bytes,count_bytes skip={offset} count={len} status=none | sha256sum"
        ),
    );
    assert_eq!(code, 0, "{out}");
    out.trim().to_string()
}

/// Writes `CHAOS-AFTER-SNAP` at `offset` of `path` (the node is down):
/// bytes that differ from anything a snapshot took.
fn write_marker(node_id: &str, path: &str, offset: u64) {
    let (code, out) = helper(
        &["--volumes-from", node_id],
        &format!(
            "printf CHAOS-AFTER-SNAP | dd of='{path}' oflag=seek_bytes seek={offset} conv=notrunc status=none && dd if='{path}' bs=16 iflag=skip_bytes skip={offset} count=1 status=none"
        ),
    );
    assert_eq!((code, out.as_str()), (0, "CHAOS-AFTER-SNAP"));
}

/// `chaos nemesis apply rollback --node n2 --seed SEED --hold 10m`, once
/// it holds the fault: the process and the rest of its output.
fn hold_rollback(
    run: &str,
    journal: &Path,
    state: &Path,
    seed: u64,
) -> (std::process::Child, Lines<BufReader<ChildStdout>>) {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["nemesis", "apply", "rollback", "--node", "n2"])
        .args(["--seed", &seed.to_string(), "--hold", "10m", "--run", run])
        .args(["--journal", journal.to_str().unwrap()])
        .env("CHAOS_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line from the holder").unwrap();
    assert!(first.starts_with("applied rollback n2 to "), "{first}");
    let second = lines.next().expect("a second line").unwrap();
    assert_eq!(second, "holding for 600 s (Ctrl-C ends it now)");
    (holder, lines)
}

#[test]
fn a_rollback_puts_old_bytes_back_at_its_end_and_a_heal_only_drops_its_stash() {
    if !docker_or_skip("a_rollback_puts_old_bytes_back_at_its_end_and_a_heal_only_drops_its_stash")
    {
        return;
    }
    let guard = ClusterGuard::up_with("etcd", 3, "rollback", &["--disk-faults"]);
    let rt = runtime();
    let cluster = guard.open(&rt);
    let (dir, state) = scratch("rollback");
    let journal = journal_in(&dir);
    let node = rt.block_on(cluster.node("n2")).unwrap();
    let stash = format!("{}-chaos-stash", node.container);
    // 8 GiB of holes beside etcd's ~130 MB: a draw misses it 1.6% of the
    // time, all four of a snapshot's about once in 10^7.
    wait_disk(&node.container);
    rt.block_on(cluster.kill("n2")).unwrap();
    let (code, out) = helper(
        &["--volumes-from", &node.id],
        &format!("truncate -s 8G {BALLAST}"),
    );
    assert_eq!(code, 0, "{out}");
    rt.block_on(cluster.restart("n2")).unwrap();
    let path = BALLAST;

    // The end: the chunk written over after the snapshot has its old
    // bytes again, the stash is gone, the node was started again.
    let (mut holder, mut lines) = hold_rollback(&guard.run, &journal, &state, 7);
    assert!(volume_exists(&stash), "the snapshot is in {stash}");
    let (index, offset, len) = ballast_chunk(&stash);
    let old = stashed_hash(&stash, index);
    wait_disk(&node.container);
    rt.block_on(cluster.kill("n2")).unwrap();
    write_marker(&node.id, path, offset);
    assert_ne!(
        file_hash(&node.id, path, offset, len),
        old,
        "written over after the snapshot"
    );
    let before = started_at(&node.container);
    let term = Command::new("kill")
        .args(["-TERM", &holder.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let said: Vec<String> = lines.by_ref().map(Result::unwrap).collect();
    assert!(holder.wait().unwrap().success(), "{said:?}");
    assert!(
        said.iter().any(|l| l.starts_with("n2: ")
            && l.contains("stashed chunk(s)")
            && l.ends_with("stale from now on")),
        "{said:?}"
    );
    let ended = format!("removed rollback n2 from {}", cluster.name());
    assert!(said.contains(&ended), "{said:?}");
    assert_eq!(
        file_hash(&node.id, path, offset, len),
        old,
        "{path} at {offset} has its stashed bytes again"
    );
    assert!(!volume_exists(&stash), "the end removes the stash");
    assert_ne!(started_at(&node.container), before, "n2 was started again");
    assert!(outstanding(&Journal::read(&journal).unwrap()).is_empty());

    // The harness dies holding another: the heal removes the stash,
    // writes nothing back, and starts the node it finds down.
    wait_disk(&node.container);
    let (mut holder, _) = hold_rollback(&guard.run, &journal, &state, 8);
    let (index, offset, _) = ballast_chunk(&stash);
    wait_disk(&node.container);
    rt.block_on(cluster.kill("n2")).unwrap();
    write_marker(&node.id, path, offset);
    let marked = file_hash(&node.id, path, offset, 16);
    assert_ne!(stashed_hash(&stash, index), "", "the stash holds the chunk");
    holder.kill().unwrap(); // SIGKILL: no end
    holder.wait().unwrap();
    assert!(volume_exists(&stash), "nothing removed the stash yet");
    assert_eq!(outstanding(&Journal::read(&journal).unwrap()).len(), 1);
    let before = started_at(&node.container);
    let journal_arg = journal.to_str().unwrap();
    let heal = chaos_in(
        &dir,
        &state,
        &["heal", "--journal", journal_arg, "--run", &guard.run],
    );
    let report = format!("{}{}", stdout(&heal), stderr(&heal));
    assert_eq!(heal.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!(
            "n2: removed its stash {stash} (nothing written back)"
        )),
        "{report}"
    );
    assert!(report.contains("n2: started again"), "{report}");
    assert!(report.contains("undid rollback n2 on "), "{report}");
    assert!(!volume_exists(&stash), "after the heal: {report}");
    assert_eq!(
        file_hash(&node.id, path, offset, 16),
        marked,
        "a heal writes no stale bytes back"
    );
    assert_ne!(started_at(&node.container), before, "the heal started n2");
    assert!(outstanding(&Journal::read(&journal).unwrap()).is_empty());

    // Applied and not held, its journal then lost: the heal's scan finds
    // the stash by its labels.
    wait_disk(&node.container);
    let lost = dir.join("lost.jsonl");
    let lost_arg = lost.to_str().unwrap();
    let args = [
        "nemesis", "apply", "rollback", "--node", "n2", "--seed", "7",
    ];
    let apply = chaos_in(
        &dir,
        &state,
        &[&args[..], &["--run", &guard.run, "--journal", lost_arg]].concat(),
    );
    let said = stdout(&apply);
    assert_eq!(apply.status.code(), Some(0), "{said}{}", stderr(&apply));
    assert!(
        said.starts_with("applied rollback n2 to ") && said.contains("not held, so it never ends"),
        "{said}"
    );
    assert!(volume_exists(&stash));
    std::fs::remove_file(&lost).unwrap();
    let heal = chaos_in(&dir, &state, &["heal", "--run", &guard.run]);
    let report = format!("{}{}", stdout(&heal), stderr(&heal));
    assert_eq!(heal.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!(
            "removed stash {stash} of {} (nothing written back)",
            cluster.name()
        )),
        "{report}"
    );
    assert!(!volume_exists(&stash), "after the scan: {report}");
    guard.teardown();
    let _ = std::fs::remove_dir_all(&dir);
}
