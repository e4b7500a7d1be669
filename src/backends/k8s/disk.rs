//! Disk faults on Kubernetes, through the fault filesystem (docs/disk-faults.md).
//! A pod keeps its data on it when its system container starts as
//! `<chaos> faultfs wrap <data> -- <system>` (k8s/etcd-disk.yaml,
//! k8s/nats-disk.yaml): the wrapper serves the filesystem over the data
//! directory from a child process and becomes the system. A fault is one
//! control request, sent by exec of `<chaos> faultfs ctl` in that container
//! (the socket is in its filesystem, not the sidecar's).
//!
//! `kill-lose-unsynced` is not a pod delete. Deleting a pod, even with a
//! grace period of 0, has the kubelet stop its containers through the
//! runtime with SIGTERM and at least 2 s before SIGKILL: the system could
//! fsync on its way out, and the filesystem's server, killed only when the
//! system has exited, would lose less than a power cut does. So the system's
//! process is SIGKILLed from the sidecar (which sees it through the pod's
//! shared process namespace): it dies at once, its filesystem's server
//! with it (the wrapper's child asks the kernel for SIGKILL when its parent
//! dies) and with that everything not fsynced, and the kubelet starts the
//! container again in the same pod, which mounts what was synced.
//!
//! A plain `kill` or `stop` (a pod delete) first has the filesystem write
//! everything back and pass later writes through: a process crash keeps
//! what the kernel already holds.

use chaos_faultfs::wrap::CONTROL;
use chaos_nemeses::disk::choice::{Choice, Decision, Mechanism};
use chaos_nemeses::disk::faultfs;
use chaos_nemeses::storage::clear_control;
use chaos_nemeses::{ClusterError, Fault};
use futures_util::future::join_all;
use serde_json::{json, Value};

use super::discover::K8sPod;
use super::error::{one_line, K8sError};
use super::{K8sCluster, SIDECAR};

impl K8sCluster {
    /// How a run on pods carries out its disk faults, from `--disk-faults`:
    /// the fault filesystem, always. The harness starts no pods, so it
    /// cannot put a dm-flakey device under them; the run asks each pod's
    /// filesystem before its first op.
    pub fn disk_choice(forced: Option<Mechanism>) -> Result<Decision, String> {
        if forced == Some(Mechanism::DmFlakey) {
            return Err("--disk-faults dm: pods keep their data on the fault filesystem only (k8s/*-disk.yaml, docs/kubernetes.md): leave --disk-faults out with --backend k8s".into());
        }
        Ok(Decision::Made(Choice {
            mechanism: Mechanism::FaultFs,
            why: "pods keep their data on the fault filesystem only".into(),
        }))
    }

    /// The chaos executable in `pod`'s system container, or why the pod's
    /// data is not on the fault filesystem.
    pub(crate) fn fault_fs<'a>(&self, pod: &'a K8sPod) -> Result<&'a str, ClusterError> {
        pod.fault_fs.as_deref().ok_or_else(|| ClusterError::Unsupported {
            fault: "act on the disk".into(),
            reason: format!(
                "pod {} does not keep its data on the fault filesystem: its container {} is not started as `<chaos> faultfs wrap <data dir> -- <system>` (k8s/etcd-disk.yaml shows how, docs/kubernetes.md what it needs)",
                pod.name, pod.container
            ),
        })
    }

    /// Sends `request` to `pod`'s fault filesystem; its reply.
    pub async fn disk_control(&self, pod: &K8sPod, request: &Value) -> Result<Value, ClusterError> {
        let chaos = self.fault_fs(pod)?;
        let text = request.to_string();
        let argv = [chaos, "faultfs", "ctl", CONTROL, text.as_str()];
        let output = self.exec(&pod.name, &pod.container, &argv).await?;
        match faultfs::reply(&output.text) {
            Some(reply) if output.code == 0 && reply["ok"] == json!(true) => Ok(reply),
            Some(reply) => Err(ClusterError::Backend(format!(
                "the fault filesystem of pod {} refused {text}: {}",
                pod.name,
                reply["error"].as_str().unwrap_or("no reason given")
            ))),
            None => Err(ClusterError::Backend(format!(
                "the fault filesystem of pod {} does not answer (exit {}): {}",
                pod.name,
                output.code,
                one_line(&output.text)
            ))),
        }
    }

    /// Sends `request` to the fault filesystem of pod `name` as it is now.
    pub(crate) async fn disk_request(
        &self,
        name: &str,
        request: &Value,
    ) -> Result<Value, ClusterError> {
        let pod = self.now(name).await?;
        self.disk_control(&pod, request).await
    }

    /// Pod `name` as it is now; an error if it does not exist.
    async fn now(&self, name: &str) -> Result<K8sPod, ClusterError> {
        self.seen(name)?;
        self.look(name).await?.ok_or_else(|| {
            ClusterError::Backend(format!(
                "pod {name} does not exist now (deleted, not yet recreated): try again once it is back"
            ))
        })
    }

    /// Before a run with disk faults: every pod keeps its data on the fault
    /// filesystem (read from the pods' specs, before any exec) and its
    /// filesystem answers `status`. The first failure, in one line.
    pub async fn check_disks(&self) -> Result<(), ClusterError> {
        let pods = self.refresh().await?;
        for pod in &pods {
            self.fault_fs(pod)?;
        }
        let status = json!({"op": "status"});
        let answers = join_all(pods.iter().map(|p| self.disk_control(p, &status))).await;
        answers.into_iter().try_for_each(|a| a.map(drop))
    }

    /// Have the filesystem of `pod` write back what it holds and pass later
    /// writes through, before a kill or stop: nothing to do for a pod not on
    /// it, or whose system container is not running (nothing is held).
    pub(crate) async fn write_through(&self, pod: &K8sPod) -> Result<(), ClusterError> {
        if pod.fault_fs.is_none() || !pod.running {
            return Ok(());
        }
        self.disk_control(pod, &json!({"op": "write-through"}))
            .await
            .map(drop)
    }

    /// `kill-lose-unsynced` on `names`: each system process SIGKILLed from
    /// its sidecar, all at once, then each container waited for until the
    /// kubelet has started it again and the pod is Ready.
    pub(crate) async fn kill_pods_losing_unsynced(
        &self,
        names: &[String],
    ) -> Result<(), ClusterError> {
        let fault = "kill-lose-unsynced";
        let mut pods = Vec::new();
        for name in names {
            let pod = self.now(name).await?;
            self.fault_fs(&pod)?;
            self.needs_sidecar(&pod, fault)?;
            self.needs_shared_pids(&pod, fault)?;
            pods.push(pod);
        }
        // The API keeps a container's log only until the next restart.
        for pod in &pods {
            let ending = format!(
                "container {} (restart {}), killed by the nemesis",
                pod.container, pod.restarts
            );
            self.save_log(&pod.name, &pod.container, &ending).await;
        }
        // Together, as a power failure takes them. A container not running
        // has no filesystem left to lose: it only has to come back.
        let running: Vec<&K8sPod> = pods.iter().filter(|p| p.running).collect();
        let killed = join_all(running.iter().map(|pod| async move {
            let argv = ["pkill", "-KILL", "-x", pod.process.as_str()];
            self.exec(&pod.name, SIDECAR, &argv).await
        }))
        .await;
        for (pod, output) in running.iter().zip(killed) {
            match output?.code {
                0 => {}
                1 => {
                    return Err(ClusterError::Backend(format!(
                        "no process named {} is visible from the {SIDECAR} of pod {}: set the pod annotation io.chaos/process to the system's process name",
                        pod.process, pod.name
                    )))
                }
                code => {
                    return Err(ClusterError::Backend(format!(
                        "pkill -KILL -x {} in pod {} failed (exit {code})",
                        pod.process, pod.name
                    )))
                }
            }
        }
        let back = join_all(pods.iter().map(|p| self.wait_restarted(&p.name, p))).await;
        back.into_iter()
            .try_for_each(|b| b.map(drop).map_err(ClusterError::from))
    }

    /// End the disk faults on pod `name`. A system container that exited
    /// under the fault is started again by the kubelet, on a new filesystem
    /// with no fault: that is waited for.
    pub(crate) async fn end_disk_faults(&self, name: &str) -> Result<Vec<String>, ClusterError> {
        self.seen(name)?;
        let Some(pod) = self.look(name).await? else {
            self.wait_replacement(name, None, true).await?;
            return Ok(vec![format!(
                "{name}: recreated, with a filesystem that has no fault"
            )]);
        };
        if pod.fault_fs.is_none() {
            return Ok(Vec::new());
        }
        if pod.deleting {
            self.wait_replacement(name, Some(&pod.uid), true).await?;
            return Ok(vec![format!(
                "{name}: recreated, with a filesystem that has no fault"
            )]);
        }
        if !pod.running {
            self.wait_restarted(name, &pod).await?;
            return Ok(vec![format!(
                "{name}: started again by the kubelet (it had exited under the disk fault)"
            )]);
        }
        let reply = self.disk_control(&pod, &clear_control()).await?;
        Ok(vec![faultfs::disk_faults_ended(name, &reply)])
    }

    /// Is a flakey or slow disk still in force? The filesystem's `status`
    /// says; a system container that is not running (the fault made it
    /// exit) still has it, until the kubelet starts it on a new filesystem.
    pub(crate) async fn disk_in_force(
        &self,
        node: &str,
        fault: &Fault,
    ) -> Result<bool, ClusterError> {
        let pod = self.now(node).await?;
        if !pod.running {
            return Ok(true);
        }
        let status = self.disk_control(&pod, &json!({"op": "status"})).await?;
        Ok(faultfs::shows(&status, fault))
    }

    /// `chaos heal`'s sweep: every running pod on the fault filesystem is
    /// asked what is in force, and cleared if anything is. One line per pod
    /// cleared.
    pub async fn heal_disk_nodes(&self) -> Result<Vec<String>, K8sError> {
        let pods = self.refresh().await?;
        let targets: Vec<&K8sPod> = pods
            .iter()
            .filter(|p| p.fault_fs.is_some() && p.running)
            .collect();
        let results = join_all(targets.iter().map(|pod| async move {
            let status = self.disk_control(pod, &json!({"op": "status"})).await?;
            let faults = faultfs::in_force(&status);
            if faults.is_empty() {
                return Ok(None);
            }
            self.disk_control(pod, &clear_control()).await?;
            Ok::<_, ClusterError>(Some(format!(
                "ended the disk faults of pod {} in namespace {} ({})",
                pod.name,
                self.namespace(),
                faults.join(", ")
            )))
        }))
        .await;
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(line) => lines.extend(line),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(lines)
        } else {
            Err(K8sError::Harness(errors.join("; ")))
        }
    }
}
