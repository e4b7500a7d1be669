//! Throwaway helper containers: one started from the base image for a
//! job that cannot run in a node (its files while it is down, the host
//! kernel's devices while it is frozen or gone), used for a few scripts
//! and removed.
//!
//! Each sleeps for a bounded time as its main process and is removed by
//! Docker when that ends (`AutoRemove`), so a harness that dies between
//! start and removal leaves nothing behind for long; each is labelled as
//! ours, so `chaos heal` and `chaos cluster down` remove it before that.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;

use super::images::BASE_IMAGE;
use super::{api_message, labels, sidecar, DockerError};

/// How long a helper may live at most.
const LIFETIME_SECS: u32 = 600;

/// A running helper.
pub struct Helper<'a> {
    docker: &'a Docker,
    pub id: String,
    name: String,
}

/// What a helper is for: its name, labels and host settings.
pub struct Spec {
    pub name: String,
    /// Run id and the node container it serves (empty: none, as for a
    /// look at the host before any cluster exists, or devices whose nodes
    /// are gone).
    pub run: String,
    pub node_container: String,
    pub host_config: HostConfig,
}

impl Spec {
    /// A helper with no network, serving `node_container` of run `run`
    /// (both empty: no node).
    pub fn new(name: String, run: &str, node_container: &str) -> Spec {
        Spec {
            name,
            run: run.to_string(),
            node_container: node_container.to_string(),
            host_config: HostConfig::default(),
        }
    }

    /// Privileged: the host's devices in its /dev and every capability,
    /// which loop devices and device-mapper need (their control nodes are
    /// not in a container's /dev otherwise, and `dmsetup` needs
    /// CAP_SYS_ADMIN).
    pub fn privileged(mut self) -> Spec {
        self.host_config.privileged = Some(true);
        self
    }

    /// With the volumes of container `id` (a node's data).
    pub fn volumes_from(mut self, id: &str) -> Spec {
        self.host_config.volumes_from = Some(vec![id.to_string()]);
        self
    }
}

/// Start a helper; a stale one of the same name is replaced.
pub async fn start<'a>(docker: &'a Docker, spec: Spec) -> Result<Helper<'a>, DockerError> {
    let mut container_labels = HashMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::RUN.to_string(), spec.run.clone()),
    ]);
    // Labelled as a helper of the node's, so a heal's sweep and `cluster
    // down` remove it if a crash left it; without the sidecar protocol
    // label, no fault ever takes it for a sidecar.
    if !spec.node_container.is_empty() {
        container_labels.insert(labels::SIDECAR_OF.to_string(), spec.node_container.clone());
    }
    let body = ContainerCreateBody {
        image: Some(BASE_IMAGE.to_string()),
        cmd: Some(vec!["sleep".into(), LIFETIME_SECS.to_string()]),
        labels: Some(container_labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            auto_remove: Some(true),
            ..spec.host_config
        }),
        ..Default::default()
    };
    let _ = sidecar::remove(docker, &spec.name).await;
    let options = CreateContainerOptionsBuilder::new()
        .name(&spec.name)
        .build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| {
            DockerError::Harness(format!(
                "cannot create helper {}: {}",
                spec.name,
                api_message(&e)
            ))
        })?
        .id;
    let helper = Helper {
        docker,
        id,
        name: spec.name,
    };
    if let Err(e) = docker.start_container(&helper.id, None).await {
        let why = format!("cannot start helper {}: {}", helper.name, api_message(&e));
        helper.remove().await;
        return Err(DockerError::Harness(why));
    }
    Ok(helper)
}

impl Helper<'_> {
    /// Run `script` with `sh`: its exit code and output.
    pub async fn run(&self, script: &str) -> Result<(i64, String), DockerError> {
        sidecar::exec(self.docker, &self.id, &["sh", "-c", script]).await
    }

    /// Remove it (a removal that fails leaves it to its time limit).
    pub async fn remove(self) {
        let _ = sidecar::remove(self.docker, &self.id).await;
    }
}

/// Run `script` in a helper made from `spec`, then remove it: its exit
/// code and output.
pub async fn run_once(
    docker: &Docker,
    spec: Spec,
    script: &str,
) -> Result<(i64, String), DockerError> {
    let helper = start(docker, spec).await?;
    let outcome = helper.run(script).await;
    helper.remove().await;
    outcome
}
