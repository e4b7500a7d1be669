//! Disk faults on Docker through dm-flakey: each node keeps its data on a
//! flakey device (compose/dm-N.yml starts it through
//! `chaos_nemeses::disk::dm_node::start`), and a fault is a new table for
//! it, switched inside the node with `docker exec`.
//!
//! The devices and their loop devices belong to the host's kernel, not to
//! a container: they outlive their nodes, so a restart finds its disk, and
//! so [`remove_devices`] takes them away when the cluster goes (`chaos
//! cluster down`, a failed `up`, `chaos heal` for a cluster that is gone),
//! from a privileged helper since the nodes may be gone by then.
//!
//! A power cut (`kill-lose-unsynced`) is xfstests' drop-and-unmount:
//! the nodes are frozen (`docker pause`: no process of theirs runs again,
//! so nothing they are told about a write after this moment reaches a
//! client), their devices switched to `drop_writes` from a helper (a frozen
//! container takes no `docker exec`), then killed. The kernel unmounts a
//! node's filesystem when its mount namespace goes with its last process,
//! and the writes of that unmount (the page cache's unsynced data, the
//! journal's last commit) are dropped. The node's next start waits until
//! that mount is gone, switches the device up and mounts what the disk
//! holds: exactly what was written through before the freeze.

use bollard::Docker;
use chaos_nemeses::disk::choice::{self, Choice, Decision, Mechanism};
use chaos_nemeses::disk::dm_flakey::{self, Mode, Probe};
use chaos_nemeses::disk::{dm_node, with_args};
use chaos_nemeses::storage::Flakey;
use chaos_nemeses::{ClusterError, FaultSpec};
use futures_util::future::join_all;

use super::cluster::DockerNode;
use super::helper::{self, Spec};
use super::{one_line, sidecar, DockerCluster, DockerError};
use crate::runid::new_run_id;

/// Ask the Docker host's kernel whether it has dm-flakey. Without
/// device-mapper at all (`/proc/misc`, read here: the Docker host is this
/// machine, as for the fault filesystem's /dev/fuse) there is no flakey
/// target loaded, and no container is needed to say so; else a throwaway
/// privileged container asks `dmsetup targets` (modules and device-mapper
/// are the host's: a container sees what the host has loaded).
pub async fn probe(docker: &Docker) -> Result<Probe, DockerError> {
    let misc = std::fs::read_to_string("/proc/misc").unwrap_or_default();
    if !misc.is_empty() && !dm_flakey::lists_device_mapper(&misc) {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        return Ok(Probe::NoFlakey {
            release: release.trim().to_string(),
            said: "it has no device-mapper: /proc/misc lists none".into(),
        });
    }
    let spec = Spec::new(format!("chaos-dm-probe-{}", new_run_id()), "", "").privileged();
    let (_, output) = helper::run_once(docker, spec, dm_flakey::PROBE).await?;
    dm_flakey::probe_outcome(&output).ok_or_else(|| {
        DockerError::Harness(format!(
            "cannot tell whether the Docker host's kernel has dm-flakey: {}",
            one_line(&output)
        ))
    })
}

/// How a run's (or `cluster up`'s) disk faults go, once the kernel is
/// asked if [`choice::decide`] said to. A forced dm-flakey that cannot be
/// had is bad input (one line: what is missing, what to do); a kernel that
/// cannot be asked leaves the fault filesystem, unless dm was forced.
pub async fn choose(
    docker: &Docker,
    decision: &Decision,
    forced: Option<Mechanism>,
    faults: &[FaultSpec],
) -> Result<Choice, DockerError> {
    if let Decision::Made(choice) = decision {
        return Ok(choice.clone());
    }
    match probe(docker).await {
        Ok(probe) => choice::with_kernel(forced, faults, &probe).map_err(DockerError::BadInput),
        Err(e) if forced != Some(Mechanism::DmFlakey) => Ok(Choice {
            mechanism: Mechanism::FaultFs,
            why: format!("the Docker host's kernel could not be asked about dm-flakey ({e})"),
        }),
        // Nodes on dm-flakey are privileged containers, as the probe is.
        Err(e) => Err(DockerError::BadInput(format!(
            "--disk-faults dm: the Docker host's kernel could not be asked about dm-flakey ({e}): dm-flakey nodes are privileged containers, which the engine must allow; or use --disk-faults fuse"
        ))),
    }
}

/// The flakey devices of ours on this machine's kernel, by name, from
/// sysfs (no privilege needed; the Docker host is this machine, as for
/// the fault filesystem's /dev/fuse).
pub fn host_devices() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/block") else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("dm/name")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| dm_flakey::project_of(name).is_some())
        .collect();
    names.sort();
    names
}

/// Remove `devices` and detach their loop devices, from a privileged
/// helper (their nodes are gone); one line per device removed.
pub async fn remove_devices(
    docker: &Docker,
    devices: &[String],
) -> Result<Vec<String>, DockerError> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let name = format!("chaos-dm-remove-{}", new_run_id());
    let spec = Spec::new(name, "", "").privileged();
    let (code, output) = helper::run_once(docker, spec, &dm_node::remove_each(devices)).await?;
    let lines: Vec<String> = output
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("removed"), Some(device), Some(loop_device)) => Some(format!(
                    "removed dm-flakey device {device} and its loop device {loop_device}"
                )),
                _ => None,
            }
        })
        .collect();
    if code != 0 {
        return Err(DockerError::Harness(format!(
            "removing the dm-flakey devices {} failed (exit {code}): {}",
            devices.join(", "),
            one_line(&output)
        )));
    }
    Ok(lines)
}

impl DockerCluster {
    /// Run `script` in `node` (running, not frozen); its output, or an
    /// error naming `what`.
    async fn in_node(
        &self,
        node: &DockerNode,
        what: &str,
        script: &str,
    ) -> Result<String, ClusterError> {
        let (code, output) = sidecar::exec(self.docker(), &node.id, &["sh", "-c", script])
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))?;
        if code != 0 {
            return Err(ClusterError::Backend(format!(
                "{what} on node {} failed (exit {code}): {}",
                node.name,
                one_line(&output)
            )));
        }
        Ok(output)
    }

    /// Switch `node`'s device to `mode`, live.
    pub async fn dm_switch(&self, node: &DockerNode, mode: Mode) -> Result<(), ClusterError> {
        let device = dm_device(node)?;
        let script = with_args(dm_flakey::SWITCH, &dm_flakey::switch_args(device, mode));
        self.in_node(node, "switching its dm-flakey device", &script)
            .await
            .map(drop)
    }

    /// A run's `flakey:<mode>` on `node`.
    pub async fn dm_flakey(&self, node: &DockerNode, flakey: &Flakey) -> Result<(), ClusterError> {
        self.dm_switch(node, dm_flakey::mode_of(flakey)).await
    }

    /// The flakey arguments in force on `node`'s device, checking that its
    /// data directory is mounted from it.
    pub async fn dm_in_force(&self, node: &DockerNode) -> Result<String, ClusterError> {
        let device = dm_device(node)?;
        let script = with_args(dm_node::CHECK, &[device.to_string(), dm_node::DATA.into()]);
        let (_, output) = sidecar::exec(self.docker(), &node.id, &["sh", "-c", &script])
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))?;
        dm_node::check_outcome(&output, device)
            .map_err(|why| ClusterError::Backend(format!("node {}: {why}", node.name)))
    }

    /// Before a run: the node's data is on its device, and the device is
    /// up.
    pub async fn dm_check(&self, node: &DockerNode) -> Result<(), ClusterError> {
        let args = self.dm_in_force(node).await?;
        let up = Mode::Up.flakey_args();
        if args != up {
            return Err(ClusterError::Backend(format!(
                "node {}'s dm-flakey device is not up (table arguments {args}, not {up})",
                node.name
            )));
        }
        Ok(())
    }

    /// The power cut on `nodes`, all on dm-flakey (see the module's
    /// comment): frozen, their devices dropping writes, killed. Nodes
    /// already down have nothing unsynced and are left as they are.
    pub async fn kill_dropping_unsynced(&self, nodes: &[DockerNode]) -> Result<(), ClusterError> {
        let running: Vec<&DockerNode> = nodes.iter().filter(|n| n.has_netns()).collect();
        let Some(first) = running.first() else {
            return Ok(());
        };
        let devices = running
            .iter()
            .map(|n| dm_device(n).map(str::to_string))
            .collect::<Result<Vec<String>, _>>()?;
        // Thawed again if the fault fails: only those this call froze (a
        // node a pause fault holds stays paused).
        let ours: Vec<&DockerNode> = running
            .iter()
            .copied()
            .filter(|n| n.state != "paused")
            .collect();
        let frozen = join_all(running.iter().map(|n| self.freeze(n))).await;
        if let Some(Err(e)) = frozen.into_iter().find(Result::is_err) {
            for node in &ours {
                let _ = self.thaw(node).await;
            }
            return Err(e);
        }
        let name = format!("{}-chaos-dm", first.container);
        let spec = Spec::new(name, self.run_id(), &first.container).privileged();
        let script = dm_node::switch_each(&devices, Mode::Down(dm_flakey::Fault::DropWrites));
        let dropped = match helper::run_once(self.docker(), spec, &script).await {
            Ok((0, _)) => Ok(()),
            Ok((code, output)) => Err(format!("exit {code}: {}", one_line(&output))),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = dropped {
            // Killed without the drop, the nodes would keep what they did
            // not sync: no power cut. Thawed, the fault failed.
            for node in &ours {
                let _ = self.thaw(node).await;
            }
            return Err(ClusterError::Backend(format!(
                "cannot switch the dm-flakey devices of {} to drop writes: {why}",
                names(&running)
            )));
        }
        let killed = join_all(running.iter().map(|n| self.sigkill(n))).await;
        // Under the cgroup v1 freezer a frozen process takes its SIGKILL
        // only once thawed; thawed, it dies before running anything. Every
        // node is thawed, even when a kill failed: none is left frozen
        // with its device dropping writes.
        let mut thawed = Ok(());
        for node in &running {
            if let Err(e) = self.thaw(node).await {
                thawed = Err(e);
            }
        }
        killed.into_iter().collect::<Result<Vec<()>, _>>()?;
        thawed
    }

    async fn freeze(&self, node: &DockerNode) -> Result<(), ClusterError> {
        if node.state == "paused" {
            return Ok(());
        }
        self.docker()
            .pause_container(&node.id)
            .await
            .map_err(|e| self.backend("freeze", node, e))
    }

    /// Thaw `node` if it is still frozen (a 404 or 409: it is gone or not
    /// frozen any more, which is what was wanted).
    async fn thaw(&self, node: &DockerNode) -> Result<(), ClusterError> {
        match self.docker().unpause_container(&node.id).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(super::api_status(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(self.backend("thaw", node, e)),
        }
    }

    /// `chaos heal`'s look at the devices of this cluster: each running
    /// node's switched up if a fault was left in force (the journal that
    /// said so may be lost). One line per device switched.
    pub async fn heal_devices(&self, nodes: &[DockerNode]) -> Result<Vec<String>, ClusterError> {
        let mut lines = Vec::new();
        let up = Mode::Up.flakey_args();
        for node in nodes.iter().filter(|n| n.is_up()) {
            let Some(device) = node.dm_device() else {
                continue;
            };
            if self.dm_in_force(node).await? != up {
                self.dm_switch(node, Mode::Up).await?;
                lines.push(format!(
                    "switched the dm-flakey device {device} of {} ({}) back up",
                    node.name, node.container
                ));
            }
        }
        Ok(lines)
    }
}

/// The device a node's data is on, or why it has none.
fn dm_device(node: &DockerNode) -> Result<&str, ClusterError> {
    node.dm_device().ok_or_else(|| ClusterError::Unsupported {
        fault: "switch a dm-flakey device".into(),
        reason: format!(
            "node {} does not keep its data on dm-flakey: a run starts its cluster that way when the Docker host's kernel has it, `chaos cluster up --disk-faults dm` by hand",
            node.name
        ),
    })
}

fn names(nodes: &[&DockerNode]) -> String {
    nodes
        .iter()
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
