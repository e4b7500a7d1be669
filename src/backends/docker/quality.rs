//! Loss and rate limits on a Docker cluster, through the same sidecars as
//! partitions: the shared scripts of `chaos_nemeses::iptables` (the loss
//! chain `CHAOS-LOSS`) and `chaos_nemeses::tc` (our root qdisc `c4a0:`)
//! run in each node's netns, all nodes in parallel.
//!
//! A loss is installed where packets arrive (each receiver drops a share of
//! what its peers on the links send it), a rate limit where they leave
//! (each sender's packets to its peers on the links go through one token
//! bucket). Only peer addresses are named, so the harness's own path to
//! the nodes is untouched, as with partitions.

use chaos_nemeses::iptables::{loss_rules, share_in_force, HEAL, LOSS_CHAIN};
use chaos_nemeses::{tc, ClusterError, Links, NodeName, Percent, Rate};
use futures_util::future::join_all;

use super::cluster::{DockerCluster, DockerNode};
use super::faults::addresses;
use super::sidecar::{self, Chain, Sidecar};
use super::DockerError;

/// What a heal removed from one node, for its report.
type Removed = fn(usize) -> String;

impl DockerCluster {
    /// Install `loss` on `links`: on each running node, the loss chain
    /// dropping that share of what the node's peers on the links send it.
    pub(crate) async fn install_loss(
        &self,
        links: &Links,
        loss: Percent,
    ) -> Result<(), ClusterError> {
        let (nodes, sidecars) = self.look(links).await?;
        let names = names(&nodes);
        let into = links.into_each(&names);
        let run = self.run_id();
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (nodes, sidecars, into) = (&nodes, &sidecars, &into);
            async move {
                let sources = addresses(nodes, into.dropped_by(&node.name))?;
                if sources.is_empty() {
                    return self.clear(node, sidecars, Chain::LOSS).await;
                }
                let id = sidecar::ensure(self.docker(), node, run, sidecars).await?;
                let text = loss_rules(run, &sources, loss);
                sidecar::apply(self.docker(), &self.sessions, &id, Chain::LOSS, &text).await
            }
        });
        self.all_done(format!("loss {loss} {links}"), &nodes, join_all(jobs).await)
    }

    /// Install `rate` on `links`: on each running node, a token bucket for
    /// its packets to the peers on the links.
    pub(crate) async fn install_rate(&self, links: &Links, rate: Rate) -> Result<(), ClusterError> {
        let (nodes, sidecars) = self.look(links).await?;
        let out = links.out_of_each(&names(&nodes));
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (nodes, sidecars, out) = (&nodes, &sidecars, &out);
            async move {
                let receivers = out.get(&node.name).into_iter().flatten();
                let peers = addresses(nodes, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    return self.clear_rate(node, sidecars).await;
                }
                let id = sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?;
                let script = sidecar::with_args(tc::APPLY, &tc::args(rate, &peers));
                sidecar::run(self.docker(), &self.sessions, &id, "tc", &script).await?;
                Ok(())
            }
        });
        self.all_done(format!("rate {rate} {links}"), &nodes, join_all(jobs).await)
    }

    /// Remove the loss chain; see [`DockerCluster::heal_nodes`] for
    /// `look_everywhere`.
    pub async fn heal_loss_nodes(&self, look_everywhere: bool) -> Result<Vec<String>, DockerError> {
        let removed: Removed = |n| format!("removed chain {LOSS_CHAIN} ({n} DROP rules)");
        self.heal_each(look_everywhere, &Chain::LOSS.script(HEAL), removed)
            .await
    }

    /// Remove our rate limit (root qdisc `c4a0:`) from every interface.
    pub async fn heal_rate_nodes(&self, look_everywhere: bool) -> Result<Vec<String>, DockerError> {
        let removed: Removed = |n| {
            format!(
                "removed the rate limit (qdisc {} on {n} interface)",
                tc::HANDLE
            )
        };
        self.heal_each(look_everywhere, tc::HEAL, removed).await
    }

    /// Every network fault of ours, partitions, losses, rate limits and
    /// shapings (netem, the delayer), for
    /// `chaos heal`'s scan and `chaos cluster down` of an adopted cluster.
    pub async fn heal_network(&self, look_everywhere: bool) -> Result<Vec<String>, DockerError> {
        let mut lines = self.heal_loss_nodes(look_everywhere).await?;
        lines.extend(self.heal_rate_nodes(look_everywhere).await?);
        lines.extend(self.heal_shaping_nodes(look_everywhere).await?);
        // Last: it also removes the sidecars of nodes since restarted.
        lines.extend(self.heal_nodes(look_everywhere).await?);
        Ok(lines)
    }

    /// Is each running node's share of the loss on `links` installed? All
    /// nodes looked at at once: a run asks every second.
    pub(crate) async fn loss_in_force(&self, links: &Links) -> Result<bool, DockerError> {
        let (nodes, sidecars) = self.look_all().await?;
        let into = links.into_each(&names(&nodes));
        let looks = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (into, sidecars) = (&into, &sidecars);
            async move {
                let peers = into.dropped_by(&node.name).count();
                if peers == 0 {
                    return Ok(true);
                }
                let Some(s) = sidecars.iter().find(|s| s.serves(node)) else {
                    return Ok(false);
                };
                let outcome =
                    sidecar::check(self.docker(), &self.sessions, &s.id, Chain::LOSS).await?;
                Ok(share_in_force(outcome, peers))
            }
        });
        all_true(join_all(looks).await)
    }

    /// Is each running node's share of the rate limit on `links` installed?
    pub(crate) async fn rate_in_force(&self, links: &Links) -> Result<bool, DockerError> {
        self.senders_in_force(links, |s, peers| async move {
            let output =
                sidecar::run(self.docker(), &self.sessions, &s.id, "tc", tc::CHECK).await?;
            let outcome = tc::check_outcome(&output).ok_or_else(|| {
                DockerError::Harness(format!(
                    "cannot read the rate limit in sidecar {}: {}",
                    s.name,
                    super::one_line(&output)
                ))
            })?;
            Ok(tc::share_in_force(outcome, peers))
        })
        .await
    }

    /// Is each running node's share of a fault installed where packets
    /// leave (a rate limit, a shaping) in force on `links`? `share` looks
    /// through the sidecar of a node sending to `peers` receivers on the
    /// links; a node sending to none holds nothing, and a sender without
    /// a sidecar of ours holds nothing of ours. All nodes at once.
    pub(super) async fn senders_in_force<F, Fut>(
        &self,
        links: &Links,
        share: F,
    ) -> Result<bool, DockerError>
    where
        F: Fn(Sidecar, usize) -> Fut,
        Fut: std::future::Future<Output = Result<bool, DockerError>>,
    {
        let (nodes, sidecars) = self.look_all().await?;
        let out = links.out_of_each(&names(&nodes));
        let looks = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (out, sidecars, share) = (&out, &sidecars, &share);
            async move {
                let peers = out.get(&node.name).map_or(0, |r| r.len());
                if peers == 0 {
                    return Ok(true);
                }
                match sidecars.iter().find(|s| s.serves(node)) {
                    Some(s) => share(s.clone(), peers).await,
                    None => Ok(false),
                }
            }
        });
        all_true(join_all(looks).await)
    }

    /// The nodes and sidecars now, with every node `links` names checked.
    pub(super) async fn look(
        &self,
        links: &Links,
    ) -> Result<(Vec<DockerNode>, Vec<Sidecar>), ClusterError> {
        let (nodes, sidecars) = self.look_all().await?;
        let plain = super::cluster::as_nodes(&nodes);
        for name in links.nodes() {
            ClusterError::find(&plain, name)?;
        }
        Ok((nodes, sidecars))
    }

    pub(super) async fn look_all(&self) -> Result<(Vec<DockerNode>, Vec<Sidecar>), DockerError> {
        futures_util::try_join!(
            self.refresh(),
            sidecar::list(self.docker(), Some(self.run_id()))
        )
    }

    /// A node with nothing to install: clear what an earlier fault of the
    /// same kind left there, if a sidecar of ours is there to hold it.
    async fn clear(
        &self,
        node: &DockerNode,
        sidecars: &[Sidecar],
        chain: Chain,
    ) -> Result<(), DockerError> {
        if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
            sidecar::heal(self.docker(), &self.sessions, &s.id, chain).await?;
        }
        Ok(())
    }

    async fn clear_rate(&self, node: &DockerNode, sidecars: &[Sidecar]) -> Result<(), DockerError> {
        if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
            sidecar::run(self.docker(), &self.sessions, &s.id, "tc", tc::HEAL).await?;
        }
        Ok(())
    }

    /// Ok if every node's job was; else one error naming the fault and each
    /// node that failed.
    pub(super) fn all_done(
        &self,
        fault: String,
        nodes: &[DockerNode],
        results: Vec<Result<(), DockerError>>,
    ) -> Result<(), ClusterError> {
        let running = nodes.iter().filter(|n| n.has_netns());
        let errors: Vec<String> = results
            .into_iter()
            .zip(running)
            .filter_map(|(r, node)| r.err().map(|e| format!("{}: {e}", node.name)))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        Err(ClusterError::Backend(format!(
            "{fault} of {} failed on {}",
            self.name(),
            errors.join("; ")
        )))
    }

    /// Run the heal `script` (it prints `removed N` or `none`) on every
    /// running node with a sidecar (every running node when
    /// `look_everywhere`), one report line per node it removed something
    /// from.
    async fn heal_each(
        &self,
        look_everywhere: bool,
        script: &str,
        removed: Removed,
    ) -> Result<Vec<String>, DockerError> {
        self.heal_on_sidecars(look_everywhere, |id, node| async move {
            let output = sidecar::run(self.docker(), &self.sessions, &id, "heal", script).await?;
            let outcome = tc::heal_outcome(&output).ok_or_else(|| {
                DockerError::Harness(format!(
                    "healing {} ({}) said: {}",
                    node.name,
                    node.container,
                    super::one_line(&output)
                ))
            })?;
            Ok(outcome.map(removed))
        })
        .await
    }

    /// Run `heal` (given a sidecar's id and its node; it says what it
    /// removed, if anything) on every running node with a sidecar of ours,
    /// or on every running node when `look_everywhere` (starting a sidecar
    /// where none is). One line per node something was removed from,
    /// naming where; every node's error if any failed.
    pub(super) async fn heal_on_sidecars<F, Fut>(
        &self,
        look_everywhere: bool,
        heal: F,
    ) -> Result<Vec<String>, DockerError>
    where
        F: Fn(String, DockerNode) -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, DockerError>>,
    {
        let (nodes, sidecars) = self.look_all().await?;
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (sidecars, heal) = (&sidecars, &heal);
            async move {
                let id = match sidecars.iter().find(|s| s.serves(node)) {
                    Some(s) => s.id.clone(),
                    None if look_everywhere => {
                        sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?
                    }
                    None => return Ok(None),
                };
                Ok::<_, DockerError>(heal(id, node.clone()).await?.map(|removed| {
                    format!(
                        "{removed} from {} ({}) of {}",
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
        if !errors.is_empty() {
            return Err(DockerError::Harness(errors.join("; ")));
        }
        Ok(lines)
    }
}

/// True if every look said so; the first error otherwise.
fn all_true(looks: Vec<Result<bool, DockerError>>) -> Result<bool, DockerError> {
    looks
        .into_iter()
        .try_fold(true, |all, look| look.map(|this| all && this))
}

pub(super) fn names(nodes: &[DockerNode]) -> Vec<NodeName> {
    nodes.iter().map(|n| n.name.clone()).collect()
}
