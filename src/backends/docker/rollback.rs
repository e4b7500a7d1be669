//! `rollback` on Docker. Each node's stash is a Docker volume of its own,
//! `<container>-chaos-stash`, labelled with the run, the cluster and the
//! node's container. A volume outlives the node's container stopping and
//! starting (a rollback crashes and starts the node at both ends) and goes
//! with `chaos cluster down`, whose sweep takes every volume of the
//! cluster, or with a heal. Its name follows from the node, so the
//! journal's entry (the nodes) is all `chaos heal` needs to find it; its
//! labels let the heal's scan find one whose journal entry is lost. The
//! node's files are read and written by its file helper
//! ([`super::disk::FileHelper`]) while the node is down.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::ListVolumesOptionsBuilder;
use bollard::Docker;
use chaos_nemeses::rollback::{
    parse_manifest, plan_snapshot, restore_lines, restore_script, snapshot_script, MANIFEST,
};
use chaos_nemeses::storage::list_files_script;
use chaos_nemeses::ClusterError;

use super::cluster::DockerNode;
use super::disk::{helper_name, FileHelper, DATA, STASH};
use super::{api_message, api_status, labels, sidecar, DockerCluster, DockerError};

/// The name of `node`'s stash volume.
pub fn stash_name(node: &DockerNode) -> String {
    format!("{}{STASH_SUFFIX}", node.container)
}

const STASH_SUFFIX: &str = "-chaos-stash";

impl DockerCluster {
    /// Copies chunks of `node`'s data files, drawn from `seed`, into its
    /// stash; `node` is down. What an earlier snapshot stashed is replaced;
    /// a snapshot that fails leaves no stash.
    pub(super) async fn snapshot_node(
        &self,
        node: &DockerNode,
        seed: u64,
    ) -> Result<(), ClusterError> {
        let volume = stash_name(node);
        self.create_stash(node, &volume).await?;
        let helper = FileHelper::start(self, node, "rollback", Some(&volume)).await?;
        let done = async {
            let listing = helper.run(&list_files_script(DATA)).await?;
            let chunks = plan_snapshot(&listing, seed).map_err(|e| helper.failed(e))?;
            helper.run(&snapshot_script(&chunks, STASH)).await
        };
        let outcome = done.await;
        helper.remove().await;
        if outcome.is_err() {
            // Best effort: a stash left here would be removed by the end's
            // restore, a heal or `cluster down`.
            let _ = self.remove_stash(&volume).await;
        }
        outcome.map(drop)
    }

    /// Writes `node`'s stashed chunks back over its files and removes the
    /// stash; `node` is down and its stash exists. What it did, in lines
    /// (see [`restore_lines`]). From a stash whose snapshot never finished
    /// nothing is written back, and the line says so. A write-back that
    /// fails keeps the stash: a heal removes it.
    pub(super) async fn restore_node(
        &self,
        node: &DockerNode,
    ) -> Result<Vec<String>, ClusterError> {
        let volume = stash_name(node);
        let helper = FileHelper::start(self, node, "rollback", Some(&volume)).await?;
        let done = async {
            let manifest = format!("{STASH}/{MANIFEST}");
            let listed = helper
                .run(&format!("if [ -f {manifest} ]; then cat {manifest}; fi"))
                .await?;
            if listed.trim().is_empty() {
                return Ok(vec![format!(
                    "{}: its snapshot never finished: nothing written back",
                    node.name
                )]);
            }
            let chunks = parse_manifest(&listed).map_err(|e| helper.failed(e))?;
            let said = helper.run(&restore_script(&chunks, STASH)).await?;
            Ok(restore_lines(&node.name, &said))
        };
        let outcome = done.await;
        helper.remove().await;
        if outcome.is_ok() {
            self.remove_stash(&volume).await?;
        }
        outcome
    }

    /// Removes `node`'s stash (and a helper a crash left holding it),
    /// writing nothing back. True if there was one.
    pub(super) async fn drop_stash(&self, node: &DockerNode) -> Result<bool, ClusterError> {
        self.remove_stash(&stash_name(node)).await
    }

    /// Does `node`'s stash exist?
    pub(super) async fn stash_exists(&self, node: &DockerNode) -> Result<bool, ClusterError> {
        match self.docker().inspect_volume(&stash_name(node)).await {
            Ok(_) => Ok(true),
            Err(e) if api_status(&e) == Some(404) => Ok(false),
            Err(e) => Err(ClusterError::Backend(format!(
                "cannot look at the stash of node {}: {}",
                node.name,
                api_message(&e)
            ))),
        }
    }

    async fn create_stash(&self, node: &DockerNode, volume: &str) -> Result<(), ClusterError> {
        let mut tags = HashMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::RUN.to_string(), self.run_id().to_string()),
            (labels::STASH_OF.to_string(), node.container.clone()),
        ]);
        // `chaos cluster down` sweeps the cluster's volumes by this label.
        if let Some(cluster) = node.labels.get(labels::CLUSTER) {
            tags.insert(labels::CLUSTER.to_string(), cluster.clone());
        }
        let request = VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(tags),
            ..Default::default()
        };
        match self.docker().create_volume(request).await {
            Ok(_) => Ok(()),
            Err(e) => Err(ClusterError::Backend(format!(
                "rollback on node {}: cannot create its stash {volume}: {}",
                node.name,
                api_message(&e)
            ))),
        }
    }

    /// True if it was there.
    async fn remove_stash(&self, volume: &str) -> Result<bool, ClusterError> {
        remove_volume(self.docker(), volume)
            .await
            .map_err(|e| ClusterError::Backend(e.to_string()))
    }

    /// Removes every stash of this cluster's run, whatever the journal
    /// says (the heal's scan, `cluster down`). One line per stash.
    pub async fn remove_stashes(&self) -> Result<Vec<String>, DockerError> {
        let mut lines = Vec::new();
        for (volume, _) in stashes(self.docker(), Some(self.run_id())).await? {
            if remove_volume(self.docker(), &volume).await? {
                lines.push(format!(
                    "removed stash {volume} of {} (nothing written back)",
                    self.name()
                ));
            }
        }
        Ok(lines)
    }
}

/// Every stash volume, of `run` or of all runs: (name, run).
pub async fn stashes(
    docker: &Docker,
    run: Option<&str>,
) -> Result<Vec<(String, String)>, DockerError> {
    let mut wanted = vec![labels::STASH_OF.to_string()];
    if let Some(run) = run {
        wanted.push(format!("{}={run}", labels::RUN));
    }
    let filters = HashMap::from([("label", wanted)]);
    let found = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| DockerError::api("cannot list the rollback stashes", e))?;
    Ok(found
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            let run = v.labels.get(labels::RUN).cloned().unwrap_or_default();
            (v.name, run)
        })
        .collect())
}

/// Removes the volume `name`; true if it was there. A helper a crash left
/// holding it is removed first (the only container that mounts a stash).
pub async fn remove_volume(docker: &Docker, name: &str) -> Result<bool, DockerError> {
    if let Some(container) = name.strip_suffix(STASH_SUFFIX) {
        sidecar::remove(docker, &helper_name(container)).await?;
    }
    match docker
        .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if api_status(&e) == Some(404) => Ok(false),
        Err(e) => Err(DockerError::api(format!("cannot remove stash {name}"), e)),
    }
}
