//! Waiting for pods to be Ready: the whole cluster before a run, one
//! replacement after a kill, one container started again by the kubelet
//! after the nemesis killed it. Bounded: a pod that does not come back in time
//! is an error saying so (which the nemesis records in the history).

use std::time::{Duration, Instant};

use super::discover::{node, K8sPod};
use super::error::{api_error, seconds, status_code, timed_out, K8sError};
use super::K8sCluster;

/// How often we look while waiting.
const POLL: Duration = Duration::from_millis(500);

impl K8sCluster {
    /// Wait until every node is Ready (and none is being deleted), looking
    /// every half second; an error naming the laggards after `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Vec<K8sPod>, K8sError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.refresh().await {
                Ok(nodes) if self.target.expected_nodes.is_some_and(|n| nodes.len() < n) => {
                    // A pod being replaced: the StatefulSet is briefly short.
                    format!(
                        "{} of {} pods exist",
                        nodes.len(),
                        self.target.expected_nodes.unwrap_or_default()
                    )
                }
                Ok(nodes) => {
                    let waiting: Vec<String> = nodes
                        .iter()
                        .filter(|n| !n.ready || n.deleting)
                        .map(|n| format!("{} ({})", n.name, describe(n)))
                        .collect();
                    if waiting.is_empty() {
                        return Ok(nodes);
                    }
                    waiting.join(", ")
                }
                Err(e) => return Err(e),
            };
            if Instant::now() + POLL > deadline {
                return Err(K8sError::Harness(format!(
                    "the cluster {} was not Ready within {}: {last}; see kubectl describe pods -n {} -l {}",
                    self.name(),
                    seconds(timeout),
                    self.namespace(),
                    self.target.selector
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Look at one pod now. None if it does not exist (deleted, not yet
    /// recreated).
    pub(crate) async fn look(&self, name: &str) -> Result<Option<K8sPod>, K8sError> {
        let ns = self.namespace().to_string();
        let doing = format!("cannot read pod {name}");
        let limit = self.target.api_timeout;
        match tokio::time::timeout(limit, self.pods.get(name)).await {
            Ok(Ok(pod)) => Ok(Some(node(&pod, &self.target)?)),
            Ok(Err(e)) if status_code(&e) == Some(404) => Ok(None),
            Ok(Err(e)) => Err(api_error(&doing, &ns, &e)),
            Err(_) => Err(timed_out(&doing, &ns, limit)),
        }
    }

    /// Wait until pod `name` exists with a uid other than `old_uid` (the
    /// incarnation we deleted; None: any) and is Ready — or, with
    /// `until_ready` false, only Running with an IP and its sidecar up
    /// (early enough to put a partition back before it talks to anyone).
    pub(crate) async fn wait_replacement(
        &self,
        name: &str,
        old_uid: Option<&str>,
        until_ready: bool,
    ) -> Result<K8sPod, K8sError> {
        let wanted = if until_ready { "Ready" } else { "Running" };
        self.poll_pod(
            name,
            &format!("back and {wanted}"),
            |pod| {
                let there = if until_ready {
                    pod.ready
                } else {
                    pod.has_netns() && (pod.sidecar_running || !pod.has_sidecar)
                };
                Some(pod.uid.as_str()) != old_uid && there && !pod.deleting
            },
            |seen| match seen {
                None => "it has not been recreated".to_string(),
                Some(p) if Some(p.uid.as_str()) == old_uid => {
                    "the deleted pod is still there".to_string()
                }
                Some(p) => format!("it is {}", describe(p)),
            },
        )
        .await
    }

    /// Wait until the system container of pod `name` has been started
    /// again by the kubelet since `before` (it was seen with `before.restarts`
    /// restarts) and the pod is Ready; a pod recreated meanwhile (another
    /// uid) counts as started again once Ready.
    pub(crate) async fn wait_restarted(
        &self,
        name: &str,
        before: &K8sPod,
    ) -> Result<K8sPod, K8sError> {
        let again = |p: &K8sPod| p.uid != before.uid || p.restarts > before.restarts;
        self.poll_pod(
            name,
            "started again and Ready",
            |pod| again(pod) && pod.running && pod.ready && !pod.deleting,
            |seen| match seen {
                None => "the pod does not exist".to_string(),
                Some(p) if !again(p) => format!(
                    "its container {} has not been started again (restarts: {}); the kubelet waits longer after each restart (10 s, doubling up to 5 min)",
                    p.container, p.restarts
                ),
                Some(p) => format!("it is {}", describe(p)),
            },
        )
        .await
    }

    /// Look at pod `name` every [`POLL`] until `done` holds (the pod seen
    /// is remembered and returned), or the ready timeout passes: then one
    /// line, "pod NAME was not WHAT within T: `why_not(last seen)`".
    async fn poll_pod(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(&K8sPod) -> bool,
        why_not: impl Fn(Option<&K8sPod>) -> String,
    ) -> Result<K8sPod, K8sError> {
        let timeout = self.target.ready_timeout;
        let start = Instant::now();
        loop {
            let seen = self.look(name).await?;
            if let Some(pod) = seen.as_ref().filter(|p| done(p)) {
                self.update(pod.clone());
                return Ok(pod.clone());
            }
            if start.elapsed() + POLL > timeout {
                return Err(K8sError::Harness(format!(
                    "pod {name} was not {what} within {}: {}; see kubectl describe pod {name} -n {}",
                    seconds(timeout),
                    why_not(seen.as_ref()),
                    self.namespace()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Delete pod `name` with `grace` seconds between SIGTERM and SIGKILL.
    /// Gone already is fine.
    pub(crate) async fn delete(&self, name: &str, grace: u32) -> Result<(), K8sError> {
        self.guard(name)?;
        let params = kube::api::DeleteParams {
            grace_period_seconds: Some(grace),
            ..Default::default()
        };
        let doing = format!("cannot delete pod {name}");
        let ns = self.namespace();
        let limit = self.target.api_timeout;
        match tokio::time::timeout(limit, self.pods.delete(name, &params)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if status_code(&e) == Some(404) => Ok(()),
            Ok(Err(e)) => Err(api_error(&doing, ns, &e)),
            Err(_) => Err(timed_out(&doing, ns, limit)),
        }
    }
}

/// `Pending, not ready`, `Running, not ready`, `being deleted`.
fn describe(pod: &K8sPod) -> String {
    if pod.deleting {
        return "being deleted".into();
    }
    let phase = if pod.phase.is_empty() {
        "no phase yet"
    } else {
        &pod.phase
    };
    if pod.ready {
        format!("{phase}, ready")
    } else {
        format!("{phase}, not ready")
    }
}
