//! Delay, jitter, loss, duplication and reordering on Kubernetes, as on
//! Docker (the shared steps of `crate::backends::shaping`), run in each
//! pod's `chaos-sidecar` on the packets it sends its peers: `tc netem`
//! (root qdisc `c4b0:`) where the pods' kernel has it, else the NFQUEUE
//! delayer (`chaos netdelay`, from the chaos executable the sidecar's
//! image, chaos/harness, holds) behind chain `CHAOS-DELAY` in mangle
//! OUTPUT. Which way is asked once, in every pod: a probe in each
//! sidecar. What the delayer cannot do is refused before the run's first
//! op ([`K8sCluster::check_shaping`]). Only pod IPs of the cluster are
//! named, so the harness's own path to the pods is untouched.

use chaos_nemeses::netem::{self, Netem};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, Links};
use futures_util::future::join_all;

use super::discover::K8sPod;
use super::error::{one_line, K8sError};
use super::faults::addresses;
use super::quality::names;
use super::{K8sCluster, SIDECAR};
use crate::backends::shaping::{self as shared, Step};

/// Whose kernel lacks netem, when the delayer stands in for it.
const KERNEL: &str = "the pods' kernel";

impl K8sCluster {
    /// How this cluster shapes traffic (for `fault`, named if it cannot):
    /// netem if every pod's kernel has it, else the delayer, one way for
    /// every link. Asked the first time in every running pod with a
    /// sidecar (pods may run on nodes with different kernels), then
    /// remembered.
    pub async fn shaping(&self, fault: &str) -> Result<Mechanism, ClusterError> {
        if let Some(known) = *self.mechanism.lock().expect("mechanism lock") {
            return Ok(known);
        }
        let pods = self.refresh().await?;
        let asked: Vec<&K8sPod> = pods
            .iter()
            .filter(|p| p.has_sidecar && p.has_netns())
            .collect();
        if asked.is_empty() {
            return Err(ClusterError::Unsupported {
                fault: fault.to_string(),
                reason: format!("no running pod has the {SIDECAR} to shape traffic from"),
            });
        }
        let probes = asked
            .iter()
            .map(|pod| self.exec(&pod.name, SIDECAR, &["sh", "-c", netem::PROBE]));
        let mut mechanism = Mechanism::Netem;
        for (pod, output) in asked.iter().zip(join_all(probes).await) {
            let output = output?;
            match shared::mechanism(&output.text) {
                Some(Mechanism::Netem) => {}
                Some(Mechanism::Delayer) => mechanism = Mechanism::Delayer,
                None => {
                    return Err(ClusterError::Backend(format!(
                        "cannot tell whether pod {}'s kernel has netem: {}",
                        pod.name,
                        one_line(&output.text)
                    )))
                }
            }
        }
        *self.mechanism.lock().expect("mechanism lock") = Some(mechanism);
        Ok(mechanism)
    }

    /// Before a run: can the pods carry out each of `faults` (a name and
    /// its netem)? The way they shape, or one line naming the first fault
    /// they cannot and why, so no run claims a shaping it did not inject.
    pub async fn check_shaping(
        &self,
        faults: &[(String, Netem)],
    ) -> Result<Mechanism, ClusterError> {
        let first = faults.first().map_or("delay", |(name, _)| name.as_str());
        let mechanism = self.shaping(first).await?;
        shared::refuse_any_the_delayer_cannot(mechanism, faults, KERNEL)?;
        Ok(mechanism)
    }

    /// Put `netem` on `links`: in each pod, its packets to its peers on
    /// the links; a pod with none has any earlier shaping taken off.
    pub(crate) async fn install_shaping(
        &self,
        links: &Links,
        netem: &Netem,
    ) -> Result<(), ClusterError> {
        let pods = self.checked(links, "delay").await?;
        let mechanism = self.shaping("delay").await?;
        shared::refuse_what_the_delayer_cannot(mechanism, &netem.to_string(), netem, KERNEL)?;
        let out = links.out_of_each(&names(&pods));
        let jobs = pods.iter().filter(|p| p.has_netns()).map(|pod| {
            let (pods, out) = (&pods, &out);
            async move {
                let receivers = out.get(&pod.name).into_iter().flatten();
                let peers = addresses(pods, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    if pod.has_sidecar {
                        self.unshape(pod).await?;
                    }
                    return Ok(());
                }
                let seed = pod.ordinal as u64;
                for step in shared::apply_steps(mechanism, netem, seed, &peers) {
                    self.step(pod, &step).await?;
                }
                Ok(())
            }
        });
        self.all_done(format!("{netem} {links}"), join_all(jobs).await)
    }

    /// Take every shaping of ours off `pod`, whichever way it was made:
    /// netem's qdisc, the delayer's rules, the delayer.
    async fn unshape(&self, pod: &K8sPod) -> Result<Option<String>, K8sError> {
        // Both mechanisms looked for, always: the pods' scripts are pinned
        // against the mock API server, and a heal on Kubernetes is not
        // timed against the target that made Docker's look for one.
        let output = self.step(pod, &shared::unshape(None)).await?;
        shared::unshaped(None, &output).map_err(|said| {
            K8sError::Harness(format!("healing pod {}: {}", pod.name, one_line(&said)))
        })
    }

    /// Take every shaping of ours off every pod with a sidecar: netem's
    /// qdisc, the delayer's rules, the delayer (for `chaos heal`, and the
    /// undo of a shaping).
    pub async fn heal_shaping_nodes(&self) -> Result<Vec<String>, K8sError> {
        let unshape = shared::unshape(None);
        self.heal_everywhere(&unshape.script, &unshape.args, |output| {
            shared::unshaped(None, output)
        })
        .await
    }

    /// Is each running pod's share of the shaping on `links` in force:
    /// netem's leaf and one filter per peer, or the delayer's rules (one
    /// per peer) and the delayer alive? One look per sender, all at once.
    pub(crate) async fn shaping_in_force(&self, links: &Links) -> Result<bool, ClusterError> {
        let mechanism = self.shaping("delay").await?;
        let check = shared::check(mechanism);
        let pods = self.refresh().await?;
        let out = links.out_of_each(&names(&pods));
        let senders: Vec<(&K8sPod, usize)> = pods
            .iter()
            .filter(|p| p.has_netns())
            .map(|p| (p, out.get(&p.name).map_or(0, |r| r.len())))
            .filter(|(_, peers)| *peers > 0)
            .collect();
        let looks = senders.iter().map(|(pod, _)| self.step(pod, &check));
        let mut all = true;
        for ((pod, peers), output) in senders.iter().zip(join_all(looks).await) {
            let output = output?;
            match shared::in_force(mechanism, &output, *peers) {
                Ok(share) => all &= share,
                Err(said) => {
                    return Err(ClusterError::Backend(format!(
                        "cannot read the {} in the {SIDECAR} of pod {}: {said}",
                        check.what, pod.name
                    )))
                }
            }
        }
        Ok(all)
    }

    /// `step` in the pod's sidecar; its output, or an error naming it.
    async fn step(&self, pod: &K8sPod, step: &Step) -> Result<String, K8sError> {
        self.script(pod, step.what, &step.script, &step.args).await
    }
}
