//! `impl Cluster for DockerCluster`: node faults through the Docker API,
//! partitions through the sidecars (see [`super::sidecar`]), losses and
//! rate limits too (see [`super::quality`]).
//!
//! Every method is idempotent, as the trait asks: killing a dead node,
//! resuming a running one, healing a healed network all succeed. Each call
//! looks the nodes up afresh, so a node restarted behind our back is seen as
//! it is now.

use std::collections::HashMap;

use bollard::query_parameters::{KillContainerOptionsBuilder, StopContainerOptionsBuilder};
use chaos_nemeses::disk::choice::dm_never;
use chaos_nemeses::disk::dm_flakey::{mode_of, Mode as DmMode};
use chaos_nemeses::disk::faultfs;
use chaos_nemeses::disk::faultfs::disk_faults_ended;
use chaos_nemeses::iptables::share_in_force;
use chaos_nemeses::netem::Netem;
use chaos_nemeses::storage::{clear_control, slow_disk_control, Damage, Flakey};
use chaos_nemeses::{Cluster, ClusterError, Fault, FaultSpec, Grudge, Links, Node, Percent, Rate};
use futures_util::future::join_all;
use serde_json::json;

use super::cluster::{as_nodes, DockerCluster, DockerNode};
use super::sidecar::{self, Chain, Sidecar};
use super::{api_message, api_status, DockerError};

/// Seconds `stop` gives a node between SIGTERM and SIGKILL.
const STOP_GRACE_SECONDS: i32 = 10;

impl DockerCluster {
    /// Before a crash or a stop that is not a power cut: the fault
    /// filesystem of a node on it writes back what it holds, and every
    /// later write, as the kernel's page cache would outlive a process
    /// that dies. Nothing to do for a node not on it, or paused.
    async fn keep_what_the_kernel_holds(&self, node: &DockerNode) -> Result<(), ClusterError> {
        if node.on_fault_fs() && node.is_up() {
            self.disk_control(node, &json!({"op": "write-through"}))
                .await?;
        }
        Ok(())
    }

    pub(super) fn backend(
        &self,
        verb: &str,
        node: &DockerNode,
        e: bollard::errors::Error,
    ) -> ClusterError {
        ClusterError::Backend(format!(
            "cannot {verb} node {} (container {}) of {}: {}",
            node.name,
            node.container,
            self.name(),
            api_message(&e)
        ))
    }

    /// SIGKILL, idempotent.
    pub(super) async fn sigkill(&self, node: &DockerNode) -> Result<(), ClusterError> {
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        match self.docker().kill_container(&node.id, Some(options)).await {
            Ok(()) => Ok(()),
            // 409: it died between our look and the kill.
            Err(e) if api_status(&e) == Some(409) => Ok(()),
            Err(e) => Err(self.backend("kill", node, e)),
        }
    }

    async fn start_node(&self, name: &str, verb: &str) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if node.state == "paused" {
            // Started, just frozen: `start` would not thaw it, and it was
            // not killed, so there is nothing to start.
            return Ok(());
        }
        match self.docker().start_container(&node.id, None).await {
            Ok(()) => {}
            // 304: already running.
            Err(e) if api_status(&e) == Some(304) => return Ok(()),
            Err(e) => return Err(self.backend(verb, &node, e)),
        }
        self.reinstall(name).await
    }

    /// A node started again has a new, empty netns: put back its share of
    /// the partition this process has in force, if any.
    async fn reinstall(&self, name: &str) -> Result<(), ClusterError> {
        let peers: Vec<String> = {
            let grudge = self.grudge.lock().expect("grudge lock");
            grudge.dropped_by(name).map(str::to_string).collect()
        };
        if peers.is_empty() {
            return Ok(());
        }
        let nodes = self.refresh().await?;
        let sidecars = sidecar::list(self.docker(), Some(self.run_id())).await?;
        let node = nodes
            .iter()
            .find(|n| n.name == name)
            .expect("looked up before");
        let sources = addresses(&nodes, peers.iter().map(String::as_str))?;
        let id = sidecar::ensure(self.docker(), node, self.run_id(), &sidecars).await?;
        let text = sidecar::rules(self.run_id(), &sources);
        sidecar::apply(self.docker(), &self.sessions, &id, Chain::PARTITION, &text).await?;
        Ok(())
    }

    /// Heal, saying per node what was removed (for `chaos heal`'s report).
    /// `look_everywhere`: also start a sidecar on nodes that have none, to
    /// check them (for when the journal says we partitioned this cluster but
    /// a sidecar has since gone); otherwise only nodes with a sidecar can
    /// hold our chain. Sidecars left in the netns of a node that has since
    /// restarted serve nothing any more and are removed.
    pub async fn heal_nodes(&self, look_everywhere: bool) -> Result<Vec<String>, DockerError> {
        let (nodes, sidecars) = futures_util::try_join!(
            self.refresh(),
            sidecar::list(self.docker(), Some(self.run_id()))
        )?;
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let sidecars = &sidecars;
            async move {
                let id = match sidecars.iter().find(|s| s.serves(node)) {
                    Some(s) => s.id.clone(),
                    None if look_everywhere => {
                        sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?
                    }
                    None => return Ok(None),
                };
                let removed =
                    sidecar::heal(self.docker(), &self.sessions, &id, Chain::PARTITION).await?;
                Ok::<_, DockerError>(removed.map(|n| {
                    format!(
                        "removed chain {} ({n} DROP rules) from {} ({}) of {}",
                        sidecar::CHAIN,
                        node.name,
                        node.container,
                        self.name()
                    )
                }))
            }
        });
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for result in join_all(jobs).await {
            match result {
                Ok(line) => lines.extend(line),
                Err(e) => errors.push(e.to_string()),
            }
        }
        for stale in sidecars
            .iter()
            .filter(|s| !nodes.iter().any(|n| s.serves(n)))
        {
            sidecar::remove(self.docker(), &stale.id).await?;
        }
        if !errors.is_empty() {
            return Err(DockerError::Harness(errors.join("; ")));
        }
        *self.grudge.lock().expect("grudge lock") = Grudge::new();
        Ok(lines)
    }

    /// Remove every sidecar of this cluster (heal first: this does not look
    /// at rules). Returns the names removed.
    pub async fn remove_sidecars(&self) -> Result<Vec<String>, DockerError> {
        let sidecars = sidecar::list(self.docker(), Some(self.run_id())).await?;
        let removals = join_all(
            sidecars
                .iter()
                .map(|s| sidecar::remove(self.docker(), &s.id)),
        )
        .await;
        removals.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(sidecars.into_iter().map(|s| s.name).collect())
    }

    /// Our chain's rules on each node that has a sidecar (for `status` and
    /// tests): node name → `iptables -S CHAOS-PARTITION` lines.
    pub async fn installed_rules(&self) -> Result<HashMap<String, Vec<String>>, DockerError> {
        let (nodes, sidecars) = futures_util::try_join!(
            self.refresh(),
            sidecar::list(self.docker(), Some(self.run_id()))
        )?;
        let mut rules = HashMap::new();
        for node in &nodes {
            if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
                rules.insert(
                    node.name.clone(),
                    sidecar::show(self.docker(), &self.sessions, &s.id).await?,
                );
            }
        }
        Ok(rules)
    }

    /// Is every running node's share of `grudge` installed? A node that is
    /// down holds no rules and gets its share back when it starts.
    async fn partition_in_force(&self, grudge: &Grudge) -> Result<bool, DockerError> {
        let (nodes, sidecars) = futures_util::try_join!(
            self.refresh(),
            sidecar::list(self.docker(), Some(self.run_id()))
        )?;
        for node in nodes.iter().filter(|n| n.has_netns()) {
            let peers = grudge.dropped_by(&node.name).count();
            if peers == 0 {
                continue;
            }
            let Some(s) = sidecars.iter().find(|s| s.serves(node)) else {
                // Its helper was removed: nothing holds the rules any more.
                return Ok(false);
            };
            let outcome =
                sidecar::check(self.docker(), &self.sessions, &s.id, Chain::PARTITION).await?;
            if !share_in_force(outcome, peers) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn install(
        &self,
        grudge: &Grudge,
        nodes: &[DockerNode],
        sidecars: &[Sidecar],
    ) -> Vec<String> {
        let jobs = nodes.iter().map(|node| async move {
            if !node.has_netns() {
                // Down: no netns to change. `restart`/`start` install its
                // share when it comes back.
                return Ok(());
            }
            let sources = addresses(nodes, grudge.dropped_by(&node.name))?;
            if sources.is_empty() {
                // Nothing to drop: clear what an earlier partition left.
                if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
                    sidecar::heal(self.docker(), &self.sessions, &s.id, Chain::PARTITION).await?;
                }
                return Ok(());
            }
            let id = sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?;
            let text = sidecar::rules(self.run_id(), &sources);
            sidecar::apply(self.docker(), &self.sessions, &id, Chain::PARTITION, &text).await
        });
        join_all(jobs)
            .await
            .into_iter()
            .zip(nodes)
            .filter_map(|(r, node)| r.err().map(|e| format!("{}: {e}", node.name)))
            .collect()
    }
}

/// The cluster addresses of `peers`.
pub(super) fn addresses<'a>(
    nodes: &[DockerNode],
    peers: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, DockerError> {
    peers
        .map(|peer| {
            nodes
                .iter()
                .find(|n| n.name == peer)
                .map(|n| n.address.clone())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    DockerError::Harness(format!(
                        "node {peer} has no address on the cluster network: start it, then partition again"
                    ))
                })
        })
        .collect()
}

impl Cluster for DockerCluster {
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
            | FaultSpec::SlowDisk { .. }
            | FaultSpec::DamageFiles { .. }
            | FaultSpec::Rollback(_) => Ok(()),
            _ => Err("the Docker backend does not implement it".into()),
        }
    }

    async fn nodes(&self) -> Result<Vec<Node>, ClusterError> {
        Ok(as_nodes(&self.refresh().await?))
    }

    /// A process crash: on a node whose data is on the fault filesystem,
    /// what it did not fsync is written back first, as a crashed process's
    /// page cache outlives it (`kill-lose-unsynced` is the power failure).
    /// On dm-flakey the kernel's page cache is the real one: the unmount
    /// that follows the kill writes it to the device.
    async fn kill(&self, name: &str) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if !node.has_netns() {
            return Ok(());
        }
        self.keep_what_the_kernel_holds(&node).await?;
        self.sigkill(&node).await
    }

    async fn kill_losing_unsynced(&self, names: &[String]) -> Result<(), ClusterError> {
        let mut nodes = Vec::new();
        for name in names {
            let node = self.node(name).await?;
            if !node.on_faultable_disk() {
                return Err(super::disk::not_on_fault_fs(
                    name,
                    "it was started without it",
                ));
            }
            nodes.push(node);
        }
        if nodes.iter().all(|n| n.dm_device().is_some()) {
            return self.kill_dropping_unsynced(&nodes).await;
        }
        // Together, as a power failure takes them: the fault filesystem
        // dies with each container, and with it what was not synced.
        let killed = join_all(nodes.iter().map(|node| self.sigkill(node))).await;
        killed.into_iter().collect()
    }

    /// Each node crashed as by `kill` (what it wrote is kept: a crash,
    /// not a power cut), then its files damaged while it is down.
    async fn damage_files(
        &self,
        names: &[String],
        damage: Damage,
        seed: u64,
    ) -> Result<(), ClusterError> {
        for (i, name) in names.iter().enumerate() {
            self.kill(name).await?;
            let node = self.node(name).await?;
            // Each node its own draw, all from the fault's one seed.
            let node_seed = seed.wrapping_add(i as u64);
            self.damage_node_files(&node, damage, node_seed).await?;
        }
        Ok(())
    }

    /// Each node crashed as by `kill`, chunks of its files stashed, and
    /// started again (also when the snapshot failed: a failed fault must
    /// not leave the node down).
    async fn snapshot_files(&self, names: &[String], seed: u64) -> Result<(), ClusterError> {
        for (i, name) in names.iter().enumerate() {
            self.kill(name).await?;
            let node = self.node(name).await?;
            // Each node its own draw, all from the fault's one seed.
            let taken = self.snapshot_node(&node, seed.wrapping_add(i as u64)).await;
            let started = self.restart(name).await;
            taken?;
            started?;
        }
        Ok(())
    }

    /// Each node crashed again, its stash written back and removed, and
    /// started: from here its data is stale where the chunks were.
    async fn roll_back_files(&self, names: &[String]) -> Result<Vec<String>, ClusterError> {
        let mut lines = Vec::new();
        for name in names {
            let node = self.node(name).await?;
            if !self.stash_exists(&node).await? {
                // Its snapshot failed (which leaves no stash), or a heal
                // took the stash since: nothing to write back, and no
                // reason to crash the node.
                self.restart(name).await?;
                lines.push(format!(
                    "{name}: no stash ({} is gone): nothing written back",
                    super::rollback::stash_name(&node)
                ));
                continue;
            }
            self.kill(name).await?;
            let node = self.node(name).await?;
            let restored = self.restore_node(&node).await;
            let started = self.restart(name).await;
            lines.extend(restored?);
            started?;
        }
        Ok(lines)
    }

    /// The stashes removed, nothing written back; each node running.
    async fn drop_snapshots(&self, names: &[String]) -> Result<Vec<String>, ClusterError> {
        let mut lines = Vec::new();
        for name in names {
            let node = self.node(name).await?;
            if self.drop_stash(&node).await? {
                lines.push(format!(
                    "{name}: removed its stash {} (nothing written back)",
                    super::rollback::stash_name(&node)
                ));
            }
            if !node.has_netns() {
                self.restart(name).await?;
                lines.push(format!("{name}: started again"));
            }
        }
        Ok(lines)
    }

    async fn flakey(&self, name: &str, flakey: &Flakey) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if node.dm_device().is_some() {
            return self.dm_flakey(&node, flakey).await;
        }
        self.disk_control(&node, &flakey.control()).await.map(drop)
    }

    async fn slow_disk(&self, name: &str, delay_ms: u32) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if node.dm_device().is_some() {
            return Err(slow_disk_on_dm(delay_ms));
        }
        self.disk_control(&node, &slow_disk_control(delay_ms))
            .await
            .map(drop)
    }

    /// A node the fault made exit (etcd stops at a failed WAL write) is
    /// started again, with a filesystem that starts clean; a paused one is
    /// left to its own fault's undo.
    /// On dm-flakey the device is switched up; a node started again
    /// switches its own up.
    async fn heal_disk(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        let node = self.node(name).await?;
        if !node.on_faultable_disk() || node.state == "paused" {
            return Ok(Vec::new());
        }
        if !node.has_netns() {
            self.start_node(name, "restart").await?;
            return Ok(vec![format!(
                "{name}: started again (it had exited under the disk fault)"
            )]);
        }
        if node.dm_device().is_some() {
            // dm-flakey counts nothing: the line says only that it ended.
            self.dm_switch(&node, DmMode::Up).await?;
            return Ok(vec![format!("{name}: disk faults ended")]);
        }
        let reply = self.disk_control(&node, &clear_control()).await?;
        Ok(vec![disk_faults_ended(name, &reply)])
    }

    async fn restart(&self, name: &str) -> Result<(), ClusterError> {
        self.start_node(name, "restart").await
    }

    async fn stop(&self, name: &str) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if !node.has_netns() {
            return Ok(());
        }
        // The fault filesystem is a child of the node's process and dies
        // with the container, however gently the process itself stops.
        self.keep_what_the_kernel_holds(&node).await?;
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECONDS)
            .build();
        match self.docker().stop_container(&node.id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if api_status(&e) == Some(304) => Ok(()),
            Err(e) => Err(self.backend("stop", &node, e)),
        }
    }

    async fn start(&self, name: &str) -> Result<(), ClusterError> {
        self.start_node(name, "start").await
    }

    async fn pause(&self, name: &str) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        match node.state.as_str() {
            "paused" => Ok(()),
            "running" => match self.docker().pause_container(&node.id).await {
                Ok(()) => Ok(()),
                Err(e) => Err(self.backend("pause", &node, e)),
            },
            other => Err(ClusterError::Backend(format!(
                "cannot pause node {name} ({}): it is {other}; start it first",
                node.container
            ))),
        }
    }

    async fn resume(&self, name: &str) -> Result<(), ClusterError> {
        let node = self.node(name).await?;
        if node.state != "paused" {
            return Ok(());
        }
        match self.docker().unpause_container(&node.id).await {
            Ok(()) => Ok(()),
            Err(e) if api_status(&e) == Some(409) => Ok(()),
            Err(e) => Err(self.backend("resume", &node, e)),
        }
    }

    async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        let (nodes, sidecars) = futures_util::try_join!(
            self.refresh(),
            sidecar::list(self.docker(), Some(self.run_id()))
        )?;
        let plain = as_nodes(&nodes);
        for name in grudge.nodes() {
            ClusterError::find(&plain, name)?;
        }
        // Recorded first: a node that comes back while we install gets its
        // share from `reinstall`.
        *self.grudge.lock().expect("grudge lock") = grudge.clone();
        let errors = self.install(grudge, &nodes, &sidecars).await;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ClusterError::Backend(format!(
                "partition {grudge} of {} failed on {}",
                self.name(),
                errors.join("; ")
            )))
        }
    }

    async fn heal(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_nodes(self.heals_everywhere()).await?)
    }

    async fn lose(&self, links: &Links, loss: Percent) -> Result<(), ClusterError> {
        self.install_loss(links, loss).await
    }

    async fn heal_loss(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_loss_nodes(self.heals_everywhere()).await?)
    }

    async fn limit_rate(&self, links: &Links, rate: Rate) -> Result<(), ClusterError> {
        self.install_rate(links, rate).await
    }

    async fn heal_rate(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_rate_nodes(self.heals_everywhere()).await?)
    }

    async fn shape(&self, links: &Links, netem: &Netem) -> Result<(), ClusterError> {
        self.install_shaping(links, netem).await
    }

    async fn heal_shaping(&self) -> Result<Vec<String>, ClusterError> {
        Ok(self.heal_shaping_nodes(self.heals_everywhere()).await?)
    }

    /// The faults carried out on a node's disk need the fault filesystem
    /// or dm-flakey under each of their nodes; a look at the containers,
    /// no exec.
    async fn ready_for(&self, fault: &Fault) -> Result<(), ClusterError> {
        for name in fault.live_disks() {
            let node = self.node(name).await?;
            if !node.on_faultable_disk() {
                return Err(super::disk::not_on_fault_fs(
                    name,
                    "it was started without it",
                ));
            }
            if let Fault::SlowDisk { delay_ms, .. } = fault {
                if node.dm_device().is_some() {
                    return Err(slow_disk_on_dm(*delay_ms));
                }
            }
        }
        Ok(())
    }

    async fn is_up(&self, name: &str) -> Result<bool, ClusterError> {
        Ok(self.node(name).await?.is_up())
    }

    async fn in_force(&self, fault: &Fault) -> Result<bool, ClusterError> {
        match fault {
            Fault::Partition { grudge } => Ok(self.partition_in_force(grudge).await?),
            Fault::Pause { node } => Ok(self.node(node).await?.state == "paused"),
            // Killed or stopped: in force while the container is not running.
            Fault::Kill { node } | Fault::Stop { node } => Ok(!self.node(node).await?.has_netns()),
            Fault::Loss { links, .. } => Ok(self.loss_in_force(links).await?),
            Fault::Rate { links, .. } => Ok(self.rate_in_force(links).await?),
            Fault::Shape { links, .. } => Ok(self.shaping_in_force(links).await?),
            // In force while none of the nodes runs again.
            Fault::KillLoseUnsynced { nodes } | Fault::DamageFiles { nodes, .. } => {
                let now = self.refresh().await?;
                Ok(!now.iter().any(|n| nodes.contains(&n.name) && n.has_netns()))
            }
            // In force while every node's stash is there: the fault is the
            // rollback it holds pending, and the stash is what the end
            // writes back. The nodes run meanwhile (their new writes are
            // what will go stale), so up or down says nothing; a stash
            // gone (a heal from elsewhere, a hand-removed volume) means the
            // end can roll nothing back.
            Fault::Rollback { nodes, .. } => {
                for name in nodes {
                    let node = self.node(name).await?;
                    if !self.stash_exists(&node).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            // The node's filesystem says what it holds; a restarted node's
            // holds nothing. A node the fault stopped or froze still has it.
            Fault::Flakey { node, .. } | Fault::SlowDisk { node, .. } => {
                let docker_node = self.node(node).await?;
                if !docker_node.is_up() {
                    return Ok(true);
                }
                if docker_node.dm_device().is_some() {
                    let args = self.dm_in_force(&docker_node).await?;
                    return Ok(match fault {
                        Fault::Flakey { flakey, .. } => args == mode_of(flakey).flakey_args(),
                        _ => false,
                    });
                }
                let status = self
                    .disk_control(&docker_node, &json!({"op": "status"}))
                    .await?;
                Ok(faultfs::shows(&status, fault))
            }
            other => Err(ClusterError::Unsupported {
                fault: format!("watch a {}", other.verb()),
                reason: "the Docker backend cannot look at it".into(),
            }),
        }
    }
}

/// dm-flakey fails, drops and corrupts I/O but delays none.
fn slow_disk_on_dm(delay_ms: u32) -> ClusterError {
    let fault = FaultSpec::SlowDisk { delay_ms };
    ClusterError::Unsupported {
        fault: fault.verb().into(),
        reason: dm_never(&fault).unwrap_or_default(),
    }
}
