//! Disk faults on Docker, through the fault filesystem each node keeps its
//! data on when the run asks for a disk fault (compose/disk-N.yml: the node
//! runs `chaos faultfs wrap /data -- <system>`). A fault is one control
//! request, sent by running `chaos faultfs ctl` inside the node.
//!
//! Killing a node kills its fault filesystem with it, and the filesystem
//! holds what the system wrote and did not fsync: so `kill-lose-unsynced`
//! is a SIGKILL of the container, and a plain `kill` first asks the
//! filesystem to write everything back and pass later writes straight
//! through (`write-through`), so that a process crash keeps what the
//! kernel's page cache would have kept.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use serde_json::{json, Value};

use chaos_nemeses::disk::faultfs;
use chaos_nemeses::storage::{damage_script, list_files_script, plan_damage, Damage};
use chaos_nemeses::ClusterError;

use super::cluster::DockerNode;
use super::images::BASE_IMAGE;
use super::DockerCluster;
use super::{labels, sidecar};

/// Where a node keeps its data (compose files of ours mount the volume
/// there), and where a file fault's helper sees it.
pub const DATA: &str = "/data";

/// Where the fault filesystem listens, inside a node.
pub const CONTROL: &str = "/run/chaos-disk/control.sock";

/// The chaos executable inside a node (mounted by compose/disk-N.yml).
pub const CHAOS_IN_NODE: &str = "/usr/local/bin/chaos";

impl DockerCluster {
    /// Sends `request` to `node`'s fault filesystem; its reply.
    pub async fn disk_control(
        &self,
        node: &DockerNode,
        request: &Value,
    ) -> Result<Value, ClusterError> {
        if !node.on_fault_fs() {
            return Err(not_on_fault_fs(&node.name, "it was started without it"));
        }
        let text = request.to_string();
        let cmd = [CHAOS_IN_NODE, "faultfs", "ctl", CONTROL, text.as_str()];
        let (code, output) = sidecar::exec(self.docker(), &node.id, &cmd)
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))?;
        match faultfs::reply(&output) {
            Some(reply) if code == 0 && reply["ok"] == json!(true) => Ok(reply),
            Some(reply) => Err(ClusterError::Backend(format!(
                "the fault filesystem of node {} refused {text}: {}",
                node.name,
                reply["error"].as_str().unwrap_or("no reason given")
            ))),
            None => Err(not_on_fault_fs(&node.name, &sidecar_line(&output))),
        }
    }

    /// Sends `request` to the fault filesystem of node `name`.
    pub async fn disk_request(&self, name: &str, request: &Value) -> Result<Value, ClusterError> {
        let node = self.node(name).await?;
        self.disk_control(&node, request).await
    }

    /// Damages the data files of `node`, which is down: a helper container
    /// with the node's volumes runs the edits drawn from `seed`, and goes.
    /// The edits, one line each.
    pub async fn damage_node_files(
        &self,
        node: &DockerNode,
        damage: Damage,
        seed: u64,
    ) -> Result<Vec<String>, ClusterError> {
        let failed = |what: String| {
            ClusterError::Backend(format!("{} on node {}: {what}", damage.name(), node.name))
        };
        let name = format!("{}-chaos-files", node.container);
        let body = ContainerCreateBody {
            image: Some(BASE_IMAGE.to_string()),
            cmd: Some(vec!["sleep".into(), "600".into()]),
            // Labelled as a helper of the node's, so a heal's sweep and
            // `cluster down` remove it if a crash left it; without the
            // sidecar protocol label, no fault ever takes it for one.
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (labels::RUN.to_string(), self.run_id().to_string()),
                (labels::SIDECAR_OF.to_string(), node.container.clone()),
            ])),
            host_config: Some(HostConfig {
                volumes_from: Some(vec![node.id.clone()]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let docker = self.docker();
        let _ = sidecar::remove(docker, &name).await;
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let helper = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                failed(format!(
                    "cannot create its helper: {}",
                    super::api_message(&e)
                ))
            })?
            .id;
        let helper = helper.as_str();
        let done = async {
            docker.start_container(helper, None).await.map_err(|e| {
                failed(format!(
                    "cannot start its helper: {}",
                    super::api_message(&e)
                ))
            })?;
            let run = |script: String| async move {
                match sidecar::exec(docker, helper, &["sh", "-c", &script]).await {
                    Ok((0, out)) => Ok(out),
                    Ok((code, out)) => Err(failed(format!("exit {code}: {}", out.trim()))),
                    Err(e) => Err(failed(e.to_string())),
                }
            };
            let listing = run(list_files_script(DATA)).await?;
            let edits = plan_damage(damage, &listing, seed).map_err(failed)?;
            let said = run(damage_script(&edits)).await?;
            Ok(said
                .lines()
                .map(|l| format!("{}: {l}", node.name))
                .collect())
        };
        let outcome = done.await;
        let _ = sidecar::remove(docker, helper).await;
        outcome
    }

    /// Every node's fault filesystem answers: asked before a run with disk
    /// faults starts, so it never runs without what it claims to inject.
    pub async fn check_disks(&self) -> Result<(), ClusterError> {
        for node in self.refresh().await? {
            self.disk_control(&node, &json!({"op": "status"})).await?;
        }
        Ok(())
    }
}

/// A disk fault asked of a node whose data is not on the fault filesystem.
pub fn not_on_fault_fs(node: &str, why: &str) -> ClusterError {
    ClusterError::Unsupported {
        fault: "act on the disk".into(),
        reason: format!(
            "node {node} does not keep its data on the fault filesystem ({why}): a run starts its cluster that way when --nemesis names a disk fault, `chaos cluster up --disk-faults` by hand"
        ),
    }
}

/// The last line of what `docker exec` printed, for an error message.
fn sidecar_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "it printed nothing".into())
}
