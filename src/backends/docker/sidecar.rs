//! The NET_ADMIN helpers ("sidecars") that install partitions, losses and
//! rate limits, and the scripts they run.
//!
//! The system's image needs no iptables and its containers get no extra
//! capability: like Pumba, we start a helper from `chaos/base:bookworm` that
//! joins the node's network namespace (`network_mode: container:<node>`) with
//! NET_ADMIN. One per node, started at the first partition and kept until
//! `chaos heal` or `chaos cluster down`, so applying a partition costs one
//! script run per node (through [`super::session`], no container start and
//! no `docker exec`), all nodes in parallel.
//!
//! A netns lives as long as its container's processes: a node that is killed
//! and started again gets a *new* netns, empty of rules, while an old sidecar
//! would still sit in the dead one. Each sidecar records the node's
//! `StartedAt` in a label; one that no longer matches is replaced.
//!
//! The rules: one chain of our own, `CHAOS-PARTITION`, hooked first in INPUT,
//! holding one `-s <peer> -j DROP` per grudged peer — exactly the grudge's
//! meaning (a node drops what it receives from the peers it holds a grudge
//! against), and Jepsen's way. Only node addresses are ever named, so the
//! harness's own path (the published ports, through the Docker gateway) is
//! never cut. A partition is installed with one `iptables-restore --noflush`,
//! which replaces the chain's contents atomically: a new partition replaces
//! the old without a moment of full connectivity in between.

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::cluster::DockerNode;
use super::images::BASE_IMAGE;
use super::lifecycle::chaos_executable;
use super::session::{quote, Sessions, PROTOCOL, SERVER};
use super::{api_message, api_status, labels, one_line, DockerError};

// The chain, the rules and the scripts are shared with the Kubernetes
// backend: see `chaos_nemeses::iptables`.
use chaos_nemeses::iptables::{check_outcome, heal_outcome, shown_rules, APPLY, CHECK, HEAL, SHOW};
pub use chaos_nemeses::iptables::{rules, Chain, CHAIN};

pub use crate::backends::shaping::CHAOS_IN_SIDECAR;

/// A sidecar as listed.
#[derive(Clone, Debug)]
pub struct Sidecar {
    pub id: String,
    pub name: String,
    /// The node container whose netns it joined.
    pub node_container: String,
    /// The node's name (`n1`), for reports.
    pub node: String,
    pub run: String,
    /// The node's StartedAt when the sidecar joined its netns.
    pub node_started: String,
    pub running: bool,
    /// Its `io.chaos.sidecar-protocol` label.
    pub protocol: String,
}

impl Sidecar {
    /// Is it in the netns `node` has now?
    pub fn serves(&self, node: &DockerNode) -> bool {
        self.running
            && self.node_container == node.container
            && self.node_started == node.started_at
            && self.protocol == PROTOCOL
    }
}

/// Every sidecar, or those of run `run`.
pub async fn list(docker: &Docker, run: Option<&str>) -> Result<Vec<Sidecar>, DockerError> {
    let mut wanted = vec![labels::SIDECAR_OF.to_string()];
    if let Some(run) = run {
        wanted.push(format!("{}={run}", labels::RUN));
    }
    let filters = HashMap::from([("label", wanted)]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let found = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DockerError::api("cannot list the sidecar containers", e))?;
    Ok(found
        .into_iter()
        .map(|s| {
            let l = s.labels.unwrap_or_default();
            let get = |k: &str| l.get(k).cloned().unwrap_or_default();
            Sidecar {
                id: s.id.unwrap_or_default(),
                name: s
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                node_container: get(labels::SIDECAR_OF),
                node: get(labels::SIDECAR_NODE),
                run: get(labels::RUN),
                node_started: get(labels::NODE_STARTED),
                protocol: get(labels::PROTOCOL),
                running: s.state.is_some_and(|st| st.to_string() == "running"),
            }
        })
        .collect())
}

/// The sidecar serving `node` now: `existing` if it still fits, else a new
/// one (a stale one of the same name is removed first).
pub async fn ensure(
    docker: &Docker,
    node: &DockerNode,
    run: &str,
    existing: &[Sidecar],
) -> Result<String, DockerError> {
    if let Some(s) = existing.iter().find(|s| s.serves(node)) {
        return Ok(s.id.clone());
    }
    if !node.has_netns() {
        return Err(DockerError::Harness(format!(
            "node {} ({}) is {}: it has no network to change; start it first",
            node.name, node.container, node.state
        )));
    }
    let name = format!("{}-chaos-sidecar", node.container);
    for stale in existing
        .iter()
        .filter(|s| s.node_container == node.container || s.name == name)
    {
        remove(docker, &stale.id).await?;
    }
    let labels = HashMap::from([
        (labels::MANAGED.to_string(), "true".to_string()),
        (labels::RUN.to_string(), run.to_string()),
        (labels::SIDECAR_OF.to_string(), node.container.clone()),
        (labels::SIDECAR_NODE.to_string(), node.name.clone()),
        (labels::NODE_STARTED.to_string(), node.started_at.clone()),
        (labels::PROTOCOL.to_string(), PROTOCOL.to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(BASE_IMAGE.to_string()),
        cmd: Some(vec!["sh".into(), "-c".into(), SERVER.into()]),
        // An open stdin for the request loop, kept open between clients.
        open_stdin: Some(true),
        stdin_once: Some(false),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{}", node.id)),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            // The packet delayer (`chaos netdelay`) runs from here.
            binds: Some(vec![format!(
                "{}:{CHAOS_IN_SIDECAR}:ro",
                chaos_executable()?.display()
            )]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    let mut created = docker
        .create_container(Some(options.clone()), body.clone())
        .await;
    if created.as_ref().is_err_and(|e| api_status(e) == Some(409)) {
        // The name is taken by a sidecar we did not list: one made under
        // another run id for the same container (adopted once by project,
        // once by label). It serves the same netns; replace it.
        remove(docker, &name).await?;
        created = docker.create_container(Some(options), body).await;
    }
    let created = match created {
        Ok(c) => c.id,
        Err(e) if api_status(&e) == Some(404) => {
            return Err(DockerError::Harness(format!(
                "image {BASE_IMAGE} is missing (needed for the partition helper): run `chaos images build`"
            )))
        }
        Err(e) => return Err(DockerError::api(format!("cannot create sidecar {name}"), e)),
    };
    if let Err(e) = docker.start_container(&created, None).await {
        let _ = remove(docker, &created).await;
        return Err(DockerError::api(format!("cannot start sidecar {name}"), e));
    }
    Ok(created)
}

/// Remove a sidecar (SIGKILL: its loop has nothing to save). Gone already is fine.
pub async fn remove(docker: &Docker, id: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if api_status(&e) == Some(404) => Ok(()),
        Err(e) => Err(DockerError::api(format!("cannot remove sidecar {id}"), e)),
    }
}

/// Run `script` (sh) in the sidecar: its output, or an error naming `what`
/// the script was doing when it exits non-zero.
pub async fn run(
    docker: &Docker,
    sessions: &Sessions,
    sidecar: &str,
    what: &str,
    script: &str,
) -> Result<String, DockerError> {
    let (code, output) = sessions.run(docker, sidecar, script).await?;
    if code != 0 {
        return Err(DockerError::Harness(format!(
            "{what} in sidecar {sidecar} failed (exit {code}): {}",
            one_line(&output)
        )));
    }
    Ok(output)
}

/// `script` with `args` as its `$1`, `$2`, ...
pub fn with_args(script: &str, args: &[String]) -> String {
    let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
    format!("set -- {}\n{script}", words.join(" "))
}

/// Install `text` (the output of [`rules`] or `loss_rules`) as the rules of
/// `chain` in the sidecar's netns.
pub async fn apply(
    docker: &Docker,
    sessions: &Sessions,
    sidecar: &str,
    chain: Chain,
    text: &str,
) -> Result<(), DockerError> {
    let script = with_args(&chain.script(APPLY), &[text.to_string()]);
    run(docker, sessions, sidecar, "iptables", &script).await?;
    Ok(())
}

/// Remove `chain` from the sidecar's netns. Returns the number of DROP
/// rules it held, or None if there was no chain.
pub async fn heal(
    docker: &Docker,
    sessions: &Sessions,
    sidecar: &str,
    chain: Chain,
) -> Result<Option<usize>, DockerError> {
    let (code, output) = sessions.run(docker, sidecar, &chain.script(HEAL)).await?;
    match (code, heal_outcome(&output)) {
        (0, Some(removed)) => Ok(removed),
        _ => Err(DockerError::Harness(format!(
            "removing chain {} in sidecar {sidecar} failed (exit {code}): {}",
            chain.name(),
            one_line(&output)
        ))),
    }
}

/// Our partition chain's rules in the sidecar's netns (`iptables -S`
/// lines), empty when there is no chain.
pub async fn show(
    docker: &Docker,
    sessions: &Sessions,
    sidecar: &str,
) -> Result<Vec<String>, DockerError> {
    let (_, output) = sessions.run(docker, sidecar, SHOW).await?;
    Ok(shown_rules(&output))
}

/// `(hooks, drops)` of `chain` in the sidecar's netns: see
/// [`chaos_nemeses::iptables::CHECK`].
pub async fn check(
    docker: &Docker,
    sessions: &Sessions,
    sidecar: &str,
    chain: Chain,
) -> Result<(usize, usize), DockerError> {
    let (_, output) = sessions.run(docker, sidecar, &chain.script(CHECK)).await?;
    check_outcome(&output).ok_or_else(|| {
        DockerError::Harness(format!(
            "cannot read the rules of chain {} in sidecar {sidecar}: {}",
            chain.name(),
            one_line(&output)
        ))
    })
}

/// Run `cmd` in `container` with `docker exec`; its exit code and
/// stdout+stderr. The slow path: see [`super::session`].
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
) -> Result<(i64, String), DockerError> {
    let options = CreateExecOptions {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let failed = |e: bollard::errors::Error| {
        DockerError::Harness(format!(
            "cannot run {} in container {container}: {}",
            cmd[0],
            api_message(&e)
        ))
    };
    let exec = docker
        .create_exec(container, options)
        .await
        .map_err(failed)?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.map_err(failed)?
    {
        while let Some(chunk) = output.next().await {
            text += &chunk.map_err(failed)?.to_string();
        }
    }
    // The output ends when the process does; its exit code may take a moment
    // longer to be recorded.
    for _ in 0..50 {
        let info = docker.inspect_exec(&exec.id).await.map_err(failed)?;
        if let (Some(false), Some(code)) = (info.running, info.exit_code) {
            return Ok((code, text));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(DockerError::Harness(format!(
        "{} in container {container} did not finish",
        cmd[0]
    )))
}
