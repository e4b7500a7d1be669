//! Delay, jitter, loss, duplication and reordering (`delay`, `duplicate`,
//! `reorder`, `slow-node`, `flaky-node`) on a Docker cluster, through the
//! same sidecars as partitions, on each sender's packets to its peers on
//! the fault's links.
//!
//! Two ways, one per cluster, asked once ([`DockerCluster::shaping`]):
//! `tc netem` where the nodes' kernel has it (the shared scripts of
//! `chaos_nemeses::netem`), else the NFQUEUE delayer (`chaos netdelay`,
//! the executable mounted into every sidecar) behind the rules of
//! `chaos_netdelay::iptables`. The nodes of a Docker cluster share the
//! host's kernel, so one probe in one node answers for all. Only peer
//! addresses are named, so the harness's own path is untouched.

use chaos_nemeses::netem::{self, Netem};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, Links};
use futures_util::future::join_all;

use super::cluster::DockerCluster;
use super::faults::addresses;
use super::quality::names;
use super::sidecar;
use super::{one_line, DockerError};
use crate::backends::shaping::{self as shared, Step};

/// Whose kernel lacks netem, when the delayer stands in for it.
const KERNEL: &str = "the Docker host's kernel";

impl DockerCluster {
    /// How this cluster shapes traffic: netem if the nodes' kernel has it,
    /// else the delayer. Asked in the first running node's sidecar the
    /// first time, then remembered.
    pub async fn shaping(&self) -> Result<Mechanism, ClusterError> {
        if let Some(known) = *self.mechanism.lock().expect("mechanism lock") {
            return Ok(known);
        }
        let (nodes, sidecars) = self.look_all().await?;
        let node = nodes.iter().find(|n| n.has_netns()).ok_or_else(|| {
            ClusterError::Backend(format!(
                "no node of {} is running to ask whether its kernel has netem",
                self.name()
            ))
        })?;
        let id = sidecar::ensure(self.docker(), node, self.run_id(), &sidecars).await?;
        let output = sidecar::run(
            self.docker(),
            &self.sessions,
            &id,
            "netem probe",
            netem::PROBE,
        )
        .await?;
        let mechanism = shared::mechanism(&output).ok_or_else(|| {
            ClusterError::Backend(format!(
                "cannot tell whether {}'s kernel has netem: {}",
                node.name,
                one_line(&output)
            ))
        })?;
        *self.mechanism.lock().expect("mechanism lock") = Some(mechanism);
        Ok(mechanism)
    }

    /// Before a run: can this cluster carry out each of `faults` (a name
    /// and its netem)? The mechanism, or one line naming the first fault
    /// it cannot and why, so no run claims a shaping it did not inject.
    pub async fn check_shaping(
        &self,
        faults: &[(String, Netem)],
    ) -> Result<Mechanism, ClusterError> {
        let mechanism = self.shaping().await?;
        shared::refuse_any_the_delayer_cannot(mechanism, faults, KERNEL)?;
        Ok(mechanism)
    }

    /// Put `netem` on `links`: on each running node, its packets to its
    /// peers on the links.
    pub(crate) async fn install_shaping(
        &self,
        links: &Links,
        netem: &Netem,
    ) -> Result<(), ClusterError> {
        let mechanism = self.shaping().await?;
        shared::refuse_what_the_delayer_cannot(mechanism, &netem.to_string(), netem, KERNEL)?;
        let (nodes, sidecars) = self.look(links).await?;
        let out = links.out_of_each(&names(&nodes));
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (nodes, sidecars, out) = (&nodes, &sidecars, &out);
            async move {
                let receivers = out.get(&node.name).into_iter().flatten();
                let peers = addresses(nodes, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
                        self.unshape(&s.id).await?;
                    }
                    return Ok(());
                }
                let id = sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?;
                let seed = nodes.iter().position(|n| n.name == node.name).unwrap_or(0);
                for step in shared::apply_steps(mechanism, netem, seed as u64, &peers) {
                    self.run_step(&id, &step).await?;
                }
                Ok(())
            }
        });
        self.all_done(format!("{netem} {links}"), &nodes, join_all(jobs).await)
    }

    /// Take every shaping of ours off the node of sidecar `id`, whichever
    /// way it was made: netem's qdisc, the delayer's rules, the delayer.
    /// One line for what went, if anything did.
    async fn unshape(&self, id: &str) -> Result<Option<String>, DockerError> {
        // Only the mechanism this cluster uses, once it is known.
        let known = *self.mechanism.lock().expect("mechanism lock");
        let output = self.run_step(id, &shared::unshape(known)).await?;
        shared::unshaped(known, &output).map_err(|said| DockerError::Harness(one_line(&said)))
    }

    /// `step` in sidecar `id`; its output.
    async fn run_step(&self, id: &str, step: &Step) -> Result<String, DockerError> {
        let script = sidecar::with_args(&step.script, &step.args);
        sidecar::run(self.docker(), &self.sessions, id, step.what, &script).await
    }

    /// Remove every shaping of ours; see [`DockerCluster::heal_nodes`] for
    /// `look_everywhere`. One line per node something went from.
    pub async fn heal_shaping_nodes(
        &self,
        look_everywhere: bool,
    ) -> Result<Vec<String>, DockerError> {
        self.heal_on_sidecars(
            look_everywhere,
            |id, _| async move { self.unshape(&id).await },
        )
        .await
    }

    /// Is each running node's share of the shaping on `links` in force:
    /// netem's leaf and one filter per peer, or the delayer's rules (one
    /// per peer) and the delayer alive?
    pub(crate) async fn shaping_in_force(&self, links: &Links) -> Result<bool, DockerError> {
        let mechanism = self.shaping().await?;
        let check = shared::check(mechanism);
        self.senders_in_force(links, |s, peers| {
            let check = &check;
            async move {
                let output = self.run_step(&s.id, check).await?;
                shared::in_force(mechanism, &output, peers)
                    .map_err(|said| DockerError::Harness(format!("{} said: {said}", check.what)))
            }
        })
        .await
    }
}
