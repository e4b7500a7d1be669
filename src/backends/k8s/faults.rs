//! `impl Cluster for K8sCluster`.
//!
//! * kill: delete the pod with grace period 0; stop: with a short grace
//!   period (SIGTERM first). The StatefulSet recreates the pod at once, so
//!   both wait until the replacement is Ready (bounded by the target's
//!   `ready_timeout`; a pod that is not back in time is an error naming its
//!   state, which the nemesis records in the history). `restart` and
//!   `start` have nothing left to do but wait for Ready.
//! * pause / resume: `pkill -STOP|-CONT -x <process>` run in the sidecar.
//!   A signal from inside the system's own container to its PID 1 would be
//!   ignored for SIGSTOP (the kernel protects a PID namespace's init from
//!   signals it has no handler for); with `shareProcessNamespace: true` the
//!   pod's PID 1 is the pause container, the system is an ordinary process
//!   the sidecar can see and stop.
//! * partition / heal: the shared iptables scripts
//!   ([`chaos_nemeses::iptables`]) run in the sidecar, which shares the
//!   pod's network namespace and has NET_ADMIN. Rules name only pod IPs of
//!   the cluster, so the harness's own path to the nodes is never cut.
//! * loss / rate: the same, with the loss chain and the tc scripts (see
//!   [`super::quality`]).
//! * kill-lose-unsynced, flakey, slow-disk: through the fault filesystem of
//!   pods whose system container starts on it (see [`super::disk`]).
//!
//! Every method is idempotent, as the trait asks.

use std::collections::BTreeMap;

use chaos_nemeses::iptables::{
    check_outcome, heal_outcome, rules, share_in_force, shown_rules, APPLY, CHAIN, CHECK, HEAL,
    SHOW,
};
use chaos_nemeses::netem::Netem;
use chaos_nemeses::storage::{slow_disk_control, Flakey};
use chaos_nemeses::{Cluster, ClusterError, Fault, FaultSpec, Grudge, Links, Node, Percent, Rate};
use futures_util::future::join_all;

use super::discover::{as_nodes, K8sPod};
use super::error::{one_line, K8sError};
use super::{K8sCluster, SIDECAR};

/// Seconds `stop` gives a node between SIGTERM and SIGKILL.
pub const STOP_GRACE_SECONDS: u32 = 10;

/// Prints the state letter of every process named `$1` (`T` when stopped).
const PROCESS_STATE: &str =
    r#"for p in $(pgrep -x "$1"); do sed -n 's/^State:[[:space:]]*//p' "/proc/$p/status"; done"#;

impl K8sCluster {
    /// The node as last seen, or UnknownNode.
    pub(super) fn seen(&self, name: &str) -> Result<K8sPod, ClusterError> {
        let pods = self.pods_seen();
        ClusterError::find(&as_nodes(&pods), name)?;
        Ok(pods.into_iter().find(|p| p.name == name).expect("found"))
    }

    /// A fault that needs the sidecar: Unsupported when the pod has none.
    pub(super) fn needs_sidecar(&self, pod: &K8sPod, fault: &str) -> Result<(), ClusterError> {
        if !pod.has_sidecar {
            return Err(ClusterError::Unsupported {
                fault: fault.into(),
                reason: format!(
                    "pod {} has no {SIDECAR} container (the manifests in k8s/ show the sidecar to add)",
                    pod.name
                ),
            });
        }
        Ok(())
    }

    /// A fault that signals the system from the sidecar: Unsupported when
    /// the sidecar cannot see the system's processes.
    pub(super) fn needs_shared_pids(&self, pod: &K8sPod, fault: &str) -> Result<(), ClusterError> {
        if !pod.shares_pids {
            return Err(ClusterError::Unsupported {
                fault: fault.into(),
                reason: format!(
                    "pod {} does not set shareProcessNamespace: true, so the sidecar cannot see its process",
                    pod.name
                ),
            });
        }
        Ok(())
    }

    /// Send `signal` to the system's process from the sidecar. The pkill
    /// exit code: 0 matched, 1 no such process.
    async fn signal(&self, name: &str, signal: &str, fault: &str) -> Result<i32, ClusterError> {
        let pod = self.seen(name)?;
        self.needs_sidecar(&pod, fault)?;
        self.needs_shared_pids(&pod, fault)?;
        let output = self
            .exec(&pod.name, SIDECAR, &["pkill", signal, "-x", &pod.process])
            .await?;
        match output.code {
            0 | 1 => Ok(output.code),
            code => Err(ClusterError::Backend(format!(
                "pkill {signal} -x {} in pod {} failed (exit {code}): {}",
                pod.process,
                pod.name,
                one_line(&output.text)
            ))),
        }
    }

    /// Delete the pod (saving its log first) and wait for its replacement:
    /// Running first, to put the partition in force back, then Ready.
    async fn replace(&self, name: &str, grace: u32) -> Result<(), ClusterError> {
        let seen = self.seen(name)?;
        let old = self.look(name).await?;
        if let Some(old) = &old {
            // A process crash or a clean stop, not a power cut: what the
            // system wrote is kept, as the node's page cache would keep it.
            self.write_through(old).await?;
            let ending = format!("uid {}, deleted by the nemesis", old.uid);
            self.save_log(name, &seen.container, &ending).await;
        }
        self.delete(name, grace).await?;
        let old_uid = old.as_ref().map(|p| p.uid.as_str());
        self.wait_replacement(name, old_uid, false).await?;
        self.reinstall().await?;
        self.wait_replacement(name, old_uid, true).await?;
        Ok(())
    }

    /// Put the partition this process has in force back (a recreated pod
    /// has a new IP and an empty netns).
    async fn reinstall(&self) -> Result<(), ClusterError> {
        let grudge = self.grudge.lock().expect("grudge lock").clone();
        if grudge.is_empty() {
            return Ok(());
        }
        self.install(&grudge).await.map_err(|e| {
            ClusterError::Backend(format!(
                "the partition {grudge} could not be put back after a pod was recreated: {e}"
            ))
        })
    }

    /// Make every node's chain match `grudge`.
    async fn install(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        let nodes = self.refresh().await?;
        for node in &nodes {
            if grudge.dropped_by(&node.name).next().is_some() {
                self.needs_sidecar(node, "partition")?;
            }
        }
        let run = self.run_id();
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let nodes = &nodes;
            let run = &run;
            async move {
                let sources = addresses(nodes, grudge.dropped_by(&node.name))?;
                if sources.is_empty() {
                    // Nothing to drop: clear what an earlier partition left.
                    if node.has_sidecar {
                        self.heal_one(node).await?;
                    }
                    return Ok(());
                }
                let text = rules(run, &sources);
                let output = self
                    .exec(&node.name, SIDECAR, &["sh", "-c", APPLY, "sh", &text])
                    .await?;
                if output.code != 0 {
                    return Err(K8sError::Harness(format!(
                        "iptables in the {SIDECAR} of pod {} failed (exit {}): {}",
                        node.name,
                        output.code,
                        one_line(&output.text)
                    )));
                }
                Ok(())
            }
        });
        let errors: Vec<String> = join_all(jobs)
            .await
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Backend(format!(
                "partition {grudge} of {} failed: {}",
                self.name(),
                errors.join("; ")
            )))
        }
    }

    /// Remove our chain from one pod; the number of DROP rules it held, or
    /// None when there was none.
    async fn heal_one(&self, node: &K8sPod) -> Result<Option<usize>, K8sError> {
        let output = self.exec(&node.name, SIDECAR, &["sh", "-c", HEAL]).await?;
        match (output.code, heal_outcome(&output.text)) {
            (0, Some(removed)) => Ok(removed),
            _ => Err(K8sError::Harness(format!(
                "removing chain {CHAIN} in the {SIDECAR} of pod {} failed (exit {}): {}",
                node.name,
                output.code,
                one_line(&output.text)
            ))),
        }
    }

    /// Heal every node that has a sidecar, saying per node what was removed
    /// (for `chaos heal`'s report).
    pub async fn heal_nodes(&self) -> Result<Vec<String>, K8sError> {
        let nodes = self.refresh().await?;
        let targets: Vec<&K8sPod> = nodes
            .iter()
            .filter(|n| n.has_sidecar && n.has_netns())
            .collect();
        let results = join_all(targets.iter().map(|n| self.heal_one(n))).await;
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for (node, result) in targets.iter().zip(results) {
            match result {
                Ok(Some(n)) => lines.push(format!(
                    "removed chain {CHAIN} ({n} DROP rules) from pod {} in namespace {}",
                    node.name,
                    self.namespace()
                )),
                Ok(None) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(K8sError::Harness(errors.join("; ")));
        }
        *self.grudge.lock().expect("grudge lock") = Grudge::new();
        Ok(lines)
    }

    /// Is every running pod's share of `grudge` installed?
    async fn partition_in_force(&self, grudge: &Grudge) -> Result<bool, ClusterError> {
        let nodes = self.refresh().await?;
        for node in nodes.iter().filter(|n| n.has_netns()) {
            let peers = grudge.dropped_by(&node.name).count();
            if peers == 0 {
                continue;
            }
            let output = self.exec(&node.name, SIDECAR, &["sh", "-c", CHECK]).await?;
            match check_outcome(&output.text) {
                Some(outcome) if share_in_force(outcome, peers) => {}
                Some(_) => return Ok(false),
                None => {
                    return Err(ClusterError::Backend(format!(
                        "cannot read the partition rules in the {SIDECAR} of pod {}: {}",
                        node.name,
                        one_line(&output.text)
                    )))
                }
            }
        }
        Ok(true)
    }

    /// The state letter of each of the system's processes in pod `name`
    /// (`T` when stopped), as the sidecar sees them.
    async fn process_states(&self, name: &str, process: &str) -> Result<String, ClusterError> {
        let output = self
            .exec(name, SIDECAR, &["sh", "-c", PROCESS_STATE, "sh", process])
            .await?;
        Ok(output.text.trim().to_string())
    }

    /// Is every process of the system in pod `name` stopped (`T`)?
    async fn paused(&self, name: &str) -> Result<bool, ClusterError> {
        let pod = self.seen(name)?;
        let states = self.process_states(name, &pod.process).await?;
        Ok(!states.is_empty() && states.lines().all(|l| l.starts_with('T')))
    }

    /// Our chain's rules on each node with a sidecar: node → `iptables -S`
    /// lines (empty when there is no chain).
    pub async fn installed_rules(&self) -> Result<BTreeMap<String, Vec<String>>, K8sError> {
        let nodes = self.refresh().await?;
        let mut rules = BTreeMap::new();
        for node in nodes.iter().filter(|n| n.has_sidecar && n.has_netns()) {
            let output = self.exec(&node.name, SIDECAR, &["sh", "-c", SHOW]).await?;
            rules.insert(node.name.clone(), shown_rules(&output.text));
        }
        Ok(rules)
    }
}

/// The pod IPs of `peers`.
pub(super) fn addresses<'a>(
    nodes: &[K8sPod],
    peers: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, K8sError> {
    peers
        .map(|peer| {
            nodes
                .iter()
                .find(|n| n.name == peer)
                .map(|n| n.ip.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| {
                    K8sError::Harness(format!(
                        "pod {peer} has no IP yet: wait until it is Running, then partition again"
                    ))
                })
        })
        .collect()
}

impl Cluster for K8sCluster {
    /// Partitions and pauses also need the sidecar in the pods (and a
    /// shared process namespace for pauses): that is known once the pods
    /// are found, and a pod without answers Unsupported.
    fn supports(fault: &FaultSpec) -> Result<(), String> {
        match fault {
            FaultSpec::Partition(_)
            | FaultSpec::Kill
            | FaultSpec::Pause
            | FaultSpec::Stop
            | FaultSpec::Loss { .. }
            | FaultSpec::Rate { .. }
            | FaultSpec::Shape { .. }
            | FaultSpec::KillLoseUnsynced(_)
            | FaultSpec::Flakey(_)
            | FaultSpec::SlowDisk { .. } => Ok(()),
            FaultSpec::DamageFiles { .. } => Err(
                "the Kubernetes backend cannot edit a pod's files while it is down: not built yet"
                    .into(),
            ),
            _ => Err("the Kubernetes backend does not implement it".into()),
        }
    }

    async fn nodes(&self) -> Result<Vec<Node>, ClusterError> {
        Ok(as_nodes(&self.refresh().await?))
    }

    async fn kill(&self, name: &str) -> Result<(), ClusterError> {
        self.replace(name, 0).await
    }

    async fn restart(&self, name: &str) -> Result<(), ClusterError> {
        self.seen(name)?;
        self.wait_replacement(name, None, true).await?;
        Ok(())
    }

    async fn stop(&self, name: &str) -> Result<(), ClusterError> {
        self.replace(name, STOP_GRACE_SECONDS).await
    }

    async fn start(&self, name: &str) -> Result<(), ClusterError> {
        self.restart(name).await
    }

    async fn pause(&self, name: &str) -> Result<(), ClusterError> {
        let pod = self.seen(name)?;
        match self.signal(name, "-STOP", "pause").await? {
            0 => Ok(()),
            _ => Err(ClusterError::Backend(format!(
                "no process named {} is visible from the {SIDECAR} of pod {name}: set the pod annotation io.chaos/process to the system's process name",
                pod.process
            ))),
        }
    }

    async fn resume(&self, name: &str) -> Result<(), ClusterError> {
        // No such process (the pod was recreated since): nothing is paused.
        self.signal(name, "-CONT", "resume").await.map(|_| ())
    }

    async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        let known = self.names();
        if let Some(stranger) = grudge
            .nodes()
            .into_iter()
            .find(|n| !known.iter().any(|k| k == n))
        {
            return Err(ClusterError::UnknownNode {
                node: stranger.to_string(),
                known,
            });
        }
        // Recorded first: a pod recreated while we install gets its share
        // from `reinstall`.
        *self.grudge.lock().expect("grudge lock") = grudge.clone();
        self.install(grudge).await
    }

    async fn heal(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_nodes().await?)
    }

    async fn lose(&self, links: &Links, loss: Percent) -> Result<(), ClusterError> {
        self.install_loss(links, loss).await
    }

    async fn heal_loss(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_loss_nodes().await?)
    }

    async fn limit_rate(&self, links: &Links, rate: Rate) -> Result<(), ClusterError> {
        self.install_rate(links, rate).await
    }

    async fn heal_rate(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_rate_nodes().await?)
    }

    async fn shape(&self, links: &Links, netem: &Netem) -> Result<(), ClusterError> {
        self.install_shaping(links, netem).await
    }

    async fn heal_shaping(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_shaping_nodes().await?)
    }

    async fn kill_losing_unsynced(&self, names: &[String]) -> Result<(), ClusterError> {
        self.kill_pods_losing_unsynced(names).await
    }

    async fn flakey(&self, name: &str, flakey: &Flakey) -> Result<(), ClusterError> {
        self.disk_request(name, &flakey.control()).await.map(drop)
    }

    async fn slow_disk(&self, name: &str, delay_ms: u32) -> Result<(), ClusterError> {
        self.disk_request(name, &slow_disk_control(delay_ms))
            .await
            .map(drop)
    }

    async fn heal_disk(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        self.end_disk_faults(name).await
    }

    /// A disk fault needs each of its pods started on the fault
    /// filesystem: known from their spec, no exec.
    async fn ready_for(&self, fault: &Fault) -> Result<(), ClusterError> {
        for name in fault.live_disks() {
            self.fault_fs(&self.seen(name)?)?;
        }
        Ok(())
    }

    async fn is_up(&self, name: &str) -> Result<bool, ClusterError> {
        let seen = self.seen(name)?;
        let Some(pod) = self.look(name).await? else {
            return Ok(false);
        };
        if !pod.running || pod.deleting || pod.phase != "Running" {
            return Ok(false);
        }
        if !(seen.has_sidecar && pod.shares_pids && pod.sidecar_running) {
            return Ok(true);
        }
        let states = self.process_states(name, &pod.process).await?;
        Ok(!states.is_empty() && !states.lines().any(|l| l.starts_with('T')))
    }

    async fn in_force(&self, fault: &Fault) -> Result<bool, ClusterError> {
        match fault {
            Fault::Partition { grudge } => self.partition_in_force(grudge).await,
            Fault::Pause { node } => self.paused(node).await,
            // A kill or stop here is over once the StatefulSet's replacement
            // is Ready (see `replace`): nothing is held that could be lost.
            // So is a kill-lose-unsynced, once the kubelet has started the
            // containers again (see `kill_pods_losing_unsynced`).
            Fault::Kill { .. } | Fault::Stop { .. } | Fault::KillLoseUnsynced { .. } => Ok(true),
            Fault::Flakey { node, .. } | Fault::SlowDisk { node, .. } => {
                self.disk_in_force(node, fault).await
            }
            Fault::Loss { links, .. } => self.loss_in_force(links).await,
            Fault::Rate { links, .. } => self.rate_in_force(links).await,
            Fault::Shape { links, .. } => self.shaping_in_force(links).await,
            other => Err(ClusterError::Unsupported {
                fault: format!("watch a {}", other.verb()),
                reason: "the Kubernetes backend cannot look at it".into(),
            }),
        }
    }
}
