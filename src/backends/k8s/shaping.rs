//! Delay, jitter, loss, duplication and reordering on Kubernetes: the
//! netem scripts of `chaos_nemeses::netem` (root qdisc `c4b0:`), run in
//! each pod's `chaos-sidecar` on the packets it sends its peers, as the
//! rate limit is. Kubernetes nodes' kernels almost always have netem; a
//! cluster whose kernel lacks it is refused before the run's first op
//! ([`K8sCluster::check_shaping`]): the Docker backend's stand-in, the
//! NFQUEUE delayer, is not run in pods yet.

use chaos_nemeses::netem::{self, Netem};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, Links};
use futures_util::future::join_all;

use super::error::{one_line, K8sError};
use super::faults::addresses;
use super::quality::names;
use super::{K8sCluster, SIDECAR};

impl K8sCluster {
    /// Before a run: does the pods' kernel have netem for `faults` (a name
    /// and its netem each)? Asked in the first running pod with a sidecar;
    /// one line naming the first fault if not.
    pub async fn check_shaping(
        &self,
        faults: &[(String, Netem)],
    ) -> Result<Mechanism, ClusterError> {
        let fault = faults.first().map_or("delay", |(name, _)| name.as_str());
        let pods = self.refresh().await?;
        let pod = pods
            .iter()
            .find(|p| p.has_sidecar && p.has_netns())
            .ok_or_else(|| ClusterError::Unsupported {
                fault: fault.to_string(),
                reason: format!("no running pod has the {SIDECAR} to shape traffic from"),
            })?;
        let output = self
            .exec(&pod.name, SIDECAR, &["sh", "-c", netem::PROBE])
            .await?;
        match netem::probe_outcome(&output.text) {
            Some(Ok(_)) => Ok(Mechanism::Netem),
            Some(Err(why)) => Err(ClusterError::Unsupported {
                fault: fault.to_string(),
                reason: format!(
                    "pod {}'s kernel has no netem ({why}), and the packet delayer that stands in for it runs on Docker only",
                    pod.name
                ),
            }),
            None => Err(ClusterError::Backend(format!(
                "cannot tell whether pod {}'s kernel has netem: {}",
                pod.name,
                one_line(&output.text)
            ))),
        }
    }

    /// Put `netem` on `links`: in each pod, its packets to its peers on
    /// the links.
    pub(crate) async fn install_shaping(
        &self,
        links: &Links,
        netem: &Netem,
    ) -> Result<(), ClusterError> {
        let pods = self.checked(links, "delay").await?;
        let out = links.out_of_each(&names(&pods));
        let jobs = pods.iter().filter(|p| p.has_netns()).map(|pod| {
            let (pods, out) = (&pods, &out);
            async move {
                let receivers = out.get(&pod.name).into_iter().flatten();
                let peers = addresses(pods, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    return self.clear(pod, netem::HEAL).await;
                }
                self.script(pod, "netem", netem::APPLY, &netem::args(netem, &peers))
                    .await
                    .map(drop)
            }
        });
        self.all_done(format!("{netem} {links}"), join_all(jobs).await)
    }

    /// Remove our netem qdisc from every pod with a sidecar.
    pub async fn heal_shaping_nodes(&self) -> Result<Vec<String>, K8sError> {
        let removed = |n| format!("removed the netem qdisc {} on {n} interface", netem::HANDLE);
        self.heal_each(netem::HEAL, removed).await
    }

    /// Is each running pod's share of the shaping on `links` installed:
    /// the netem leaf, and one filter per peer?
    pub(crate) async fn shaping_in_force(&self, links: &Links) -> Result<bool, ClusterError> {
        let pods = self.refresh().await?;
        let out = links.out_of_each(&names(&pods));
        for pod in pods.iter().filter(|p| p.has_netns()) {
            let peers = out.get(&pod.name).map_or(0, |r| r.len());
            if peers == 0 {
                continue;
            }
            let output = self
                .exec(&pod.name, SIDECAR, &["sh", "-c", netem::CHECK])
                .await?;
            match netem::check_outcome(&output.text) {
                Some(outcome) if netem::in_force(outcome, peers) => {}
                Some(_) => return Ok(false),
                None => {
                    return Err(ClusterError::Backend(format!(
                        "cannot read the netem qdisc in the {SIDECAR} of pod {}: {}",
                        pod.name,
                        one_line(&output.text)
                    )))
                }
            }
        }
        Ok(true)
    }
}
