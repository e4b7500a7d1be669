//! Loss and rate limits on Kubernetes: the same scripts as the Docker
//! backend (`chaos_nemeses::iptables` for the loss chain `CHAOS-LOSS`,
//! `chaos_nemeses::tc` for our root qdisc `c4a0:`), run in each pod's
//! `chaos-sidecar`, which shares the pod's network namespace and has
//! NET_ADMIN. Only pod IPs of the cluster are named, so the harness's own
//! path to the pods is untouched. The sidecar image needs `tc` (iproute2)
//! for rate limits: k8s/Dockerfile installs it.

use chaos_nemeses::iptables::{
    check_outcome, loss_rules, share_in_force, Chain, APPLY, CHECK, HEAL,
};
use chaos_nemeses::{tc, ClusterError, Links, NodeName, Percent, Rate};
use futures_util::future::join_all;

use super::discover::{as_nodes, K8sPod};
use super::error::{one_line, K8sError};
use super::faults::addresses;
use super::{K8sCluster, SIDECAR};

impl K8sCluster {
    /// Install `loss` on `links`: in each pod, the loss chain dropping that
    /// share of what its peers on the links send it.
    pub(crate) async fn install_loss(
        &self,
        links: &Links,
        loss: Percent,
    ) -> Result<(), ClusterError> {
        let pods = self.checked(links, "loss").await?;
        let into = links.into_each(&names(&pods));
        let run = self.run_id();
        let apply = Chain::LOSS.script(APPLY);
        let heal = Chain::LOSS.script(HEAL);
        let jobs = pods.iter().filter(|p| p.has_netns()).map(|pod| {
            let (pods, into, run, apply, heal) = (&pods, &into, &run, &apply, &heal);
            async move {
                let sources = addresses(pods, into.dropped_by(&pod.name))?;
                if sources.is_empty() {
                    return self.clear(pod, heal).await;
                }
                let text = loss_rules(run, &sources, loss);
                self.script(pod, "iptables", apply, &[text]).await.map(drop)
            }
        });
        self.all_done(format!("loss {loss} {links}"), join_all(jobs).await)
    }

    /// Install `rate` on `links`: in each pod, a token bucket for its
    /// packets to the peers on the links.
    pub(crate) async fn install_rate(&self, links: &Links, rate: Rate) -> Result<(), ClusterError> {
        let pods = self.checked(links, "rate").await?;
        let out = links.out_of_each(&names(&pods));
        let apply = tc::APPLY;
        let heal = tc::HEAL;
        let jobs = pods.iter().filter(|p| p.has_netns()).map(|pod| {
            let (pods, out, apply, heal) = (&pods, &out, &apply, &heal);
            async move {
                let receivers = out.get(&pod.name).into_iter().flatten();
                let peers = addresses(pods, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    return self.clear(pod, heal).await;
                }
                self.script(pod, "tc", apply, &tc::args(rate, &peers))
                    .await
                    .map(drop)
            }
        });
        self.all_done(format!("rate {rate} {links}"), join_all(jobs).await)
    }

    /// Remove the loss chain from every pod with a sidecar.
    pub async fn heal_loss_nodes(&self) -> Result<Vec<String>, K8sError> {
        let removed = |n| format!("removed chain {} ({n} DROP rules)", Chain::LOSS.name());
        self.heal_each(&Chain::LOSS.script(HEAL), removed).await
    }

    /// Remove our rate limit from every pod with a sidecar.
    pub async fn heal_rate_nodes(&self) -> Result<Vec<String>, K8sError> {
        let removed = |n| {
            format!(
                "removed the rate limit (qdisc {} on {n} interface)",
                tc::HANDLE
            )
        };
        self.heal_each(tc::HEAL, removed).await
    }

    /// Is each running pod's share of the loss on `links` installed?
    pub(crate) async fn loss_in_force(&self, links: &Links) -> Result<bool, ClusterError> {
        let pods = self.refresh().await?;
        let into = links.into_each(&names(&pods));
        let check = Chain::LOSS.script(CHECK);
        for pod in pods.iter().filter(|p| p.has_netns()) {
            let peers = into.dropped_by(&pod.name).count();
            if peers == 0 {
                continue;
            }
            let output = self.exec(&pod.name, SIDECAR, &["sh", "-c", &check]).await?;
            match check_outcome(&output.text) {
                Some(outcome) if share_in_force(outcome, peers) => {}
                Some(_) => return Ok(false),
                None => return Err(unreadable(pod, "loss rules", &output.text)),
            }
        }
        Ok(true)
    }

    /// Is each running pod's share of the rate limit on `links` installed?
    pub(crate) async fn rate_in_force(&self, links: &Links) -> Result<bool, ClusterError> {
        let pods = self.refresh().await?;
        let out = links.out_of_each(&names(&pods));
        let check = tc::CHECK;
        for pod in pods.iter().filter(|p| p.has_netns()) {
            let peers = out.get(&pod.name).map_or(0, |r| r.len());
            if peers == 0 {
                continue;
            }
            let output = self.exec(&pod.name, SIDECAR, &["sh", "-c", check]).await?;
            match tc::check_outcome(&output.text) {
                Some(outcome) if tc::share_in_force(outcome, peers) => {}
                Some(_) => return Ok(false),
                None => return Err(unreadable(pod, "rate limit", &output.text)),
            }
        }
        Ok(true)
    }

    /// The pods now; every pod `links` names must be one of them, and
    /// every pod on a link needs the sidecar.
    pub(super) async fn checked(
        &self,
        links: &Links,
        fault: &str,
    ) -> Result<Vec<K8sPod>, ClusterError> {
        let pods = self.refresh().await?;
        let plain = as_nodes(&pods);
        for name in links.nodes() {
            ClusterError::find(&plain, name)?;
        }
        let into = links.into_each(&names(&pods));
        for pod in &pods {
            let on_a_link = into.dropped_by(&pod.name).next().is_some()
                || into.iter().any(|(_, froms)| froms.contains(&pod.name));
            if on_a_link {
                self.needs_sidecar(pod, fault)?;
            }
        }
        Ok(pods)
    }

    /// Run `script` with `args` (`$1`, ...) in the pod's sidecar; its
    /// output, or an error naming `what` when it exits non-zero.
    pub(super) async fn script(
        &self,
        pod: &K8sPod,
        what: &str,
        script: &str,
        args: &[String],
    ) -> Result<String, K8sError> {
        let mut argv = vec!["sh", "-c", script, "sh"];
        argv.extend(args.iter().map(String::as_str));
        let output = self.exec(&pod.name, SIDECAR, &argv).await?;
        if output.code != 0 {
            return Err(K8sError::Harness(format!(
                "{what} in the {SIDECAR} of pod {} failed (exit {}): {}",
                pod.name,
                output.code,
                one_line(&output.text)
            )));
        }
        Ok(output.text)
    }

    /// A pod with nothing to install: clear what an earlier fault of the
    /// same kind left, if it has a sidecar to hold it.
    pub(super) async fn clear(&self, pod: &K8sPod, heal: &str) -> Result<(), K8sError> {
        if pod.has_sidecar {
            self.script(pod, "heal", heal, &[]).await?;
        }
        Ok(())
    }

    pub(super) fn all_done(
        &self,
        fault: String,
        results: Vec<Result<(), K8sError>>,
    ) -> Result<(), ClusterError> {
        let errors: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        Err(ClusterError::Backend(format!(
            "{fault} of {} failed: {}",
            self.name(),
            errors.join("; ")
        )))
    }

    /// Run the heal `script` (it prints `removed N` or `none`) in every
    /// running pod with a sidecar; one report line per pod it removed
    /// something from.
    pub(super) async fn heal_each(
        &self,
        script: &str,
        removed: impl Fn(usize) -> String,
    ) -> Result<Vec<String>, K8sError> {
        self.heal_everywhere(script, &[], |text| {
            tc::heal_outcome(text)
                .map(|outcome| outcome.map(&removed))
                .ok_or_else(|| one_line(text))
        })
        .await
    }

    /// Run `script` with `args` in every running pod with a sidecar, and
    /// `read` what it said: the line of what it removed (None: nothing was
    /// there), or Err with what could not be read. One report line per pod
    /// something went from.
    pub(super) async fn heal_everywhere(
        &self,
        script: &str,
        args: &[String],
        read: impl Fn(&str) -> Result<Option<String>, String>,
    ) -> Result<Vec<String>, K8sError> {
        let pods = self.refresh().await?;
        let targets: Vec<&K8sPod> = pods
            .iter()
            .filter(|p| p.has_sidecar && p.has_netns())
            .collect();
        let results = join_all(targets.iter().map(|p| self.script(p, "heal", script, args))).await;
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for (pod, result) in targets.iter().zip(results) {
            let text = match result {
                Ok(text) => text,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            match read(&text) {
                Ok(Some(removed)) => lines.push(format!(
                    "{removed} from pod {} in namespace {}",
                    pod.name,
                    self.namespace()
                )),
                Ok(None) => {}
                Err(said) => errors.push(format!("healing pod {}: {said}", pod.name)),
            }
        }
        if !errors.is_empty() {
            return Err(K8sError::Harness(errors.join("; ")));
        }
        Ok(lines)
    }
}

pub(super) fn names(pods: &[K8sPod]) -> Vec<NodeName> {
    pods.iter().map(|p| p.name.clone()).collect()
}

fn unreadable(pod: &K8sPod, what: &str, output: &str) -> ClusterError {
    ClusterError::Backend(format!(
        "cannot read the {what} in the {SIDECAR} of pod {}: {}",
        pod.name,
        one_line(output)
    ))
}
