//! `chaos cluster up` and `down`.
//!
//! Up goes through compose (the files in `compose/` are the one description
//! of our clusters, also used by hand with `compose/cluster.sh`), with
//! `COMPOSE_PROJECT_NAME=chaos-<system>-<nodes>-<run id>` and `CHAOS_RUN_ID`,
//! which the files put into the `io.chaos.run` label of every container,
//! network and volume. Compose v1 has no `--wait`: we poll the containers'
//! health checks ourselves.
//!
//! Down goes through the API, by label, not through compose: the labels are
//! the record of what we created, whatever file, compose version or
//! half-finished `up` created it, and force-removing a throwaway test
//! cluster takes a fraction of compose's graceful stop. It removes only what
//! carries both `io.chaos.managed=true` and `io.chaos.cluster=<project>`,
//! and the project's dm-flakey devices (named after it: the host kernel
//! keeps them after their nodes), and checks that nothing of it is left.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::future::join_all;
use futures_util::StreamExt;

use chaos_nemeses::disk::choice::Mechanism;
use chaos_nemeses::disk::{dm_flakey, dm_node};

use super::cluster::{discover, DockerCluster, Selector};
use super::compose::{self, Spec};
use super::images::{self, BASE_IMAGE};
use super::{api_status, dm, labels, one_line, DockerError};
use crate::runid::{check_run_id, new_run_id};

/// What `up` needs.
#[derive(Clone, Debug)]
pub struct UpOptions {
    pub spec: Spec,
    /// The compose project name; default `chaos-<system>-<nodes>-<run id>`.
    pub project: Option<String>,
    /// Default: a fresh one.
    pub run_id: Option<String>,
    /// First three octets of the cluster's /24; default: the file's own if
    /// free, else a free `10.213.X` (X in 100..=250).
    pub subnet: Option<String>,
    /// How long the nodes may take to become healthy.
    pub timeout: Duration,
    pub compose_dir: PathBuf,
    /// Each node's data on a disk the harness faults, and which way.
    pub disk: Option<Mechanism>,
}

/// Start a cluster and wait until every node is healthy. On any failure what
/// was created is removed again.
pub async fn up(docker: &Docker, options: &UpOptions) -> Result<DockerCluster, DockerError> {
    let spec = options.spec;
    let run_id = options.run_id.clone().unwrap_or_else(new_run_id);
    check_run_id(&run_id).map_err(DockerError::BadInput)?;
    let project = options
        .project
        .clone()
        .unwrap_or_else(|| format!("chaos-{}-{run_id}", spec.stem()));
    check_project(&project)?;
    images::require(docker, &[spec.system.image(), BASE_IMAGE.to_string()]).await?;
    let selector = Selector::Project(project.clone());
    if !discover(docker, &selector).await?.is_empty() {
        return Err(DockerError::BadInput(format!(
            "cluster {project} already exists: use it, or take it down with `chaos cluster down --project {project}`"
        )));
    }
    let command = compose::compose_command().await?;
    let file = spec.file(&options.compose_dir);
    let mut files = vec![file.as_path()];
    let disk_file = options
        .disk
        .map(|mechanism| spec.disk_file(&options.compose_dir, mechanism));
    let disk_env = match options.disk {
        Some(mechanism) => disk_environment(spec, mechanism)?,
        None => Vec::new(),
    };
    files.extend(disk_file.as_deref());
    let subnets = match &options.subnet {
        Some(net) => vec![check_subnet(net)?],
        None => free_subnets(docker, spec, &project).await?,
    };
    let mut last_error = String::new();
    for net in subnets.iter().take(4) {
        let mut env = vec![
            ("COMPOSE_PROJECT_NAME", project.clone()),
            ("CHAOS_RUN_ID", run_id.clone()),
            ("CHAOS_NET", net.clone()),
        ];
        env.extend(disk_env.iter().cloned());
        let output =
            compose::run(&command, &files, &env, &["up", "-d", "--remove-orphans"]).await?;
        if output.status.success() {
            if let Err(e) = wait_healthy(docker, &selector, spec.nodes, options.timeout).await {
                sweep(docker, &project).await?;
                return Err(e);
            }
            return DockerCluster::open(docker.clone(), selector).await;
        }
        sweep(docker, &project).await?;
        last_error = compose::last_line(&output);
        // Another cluster (a parallel test) took the subnet between our look
        // and compose's network create: try the next free one.
        let raced = last_error.contains("overlap") && options.subnet.is_none();
        if !raced {
            break;
        }
    }
    Err(DockerError::Harness(format!(
        "compose could not start {project}: {last_error}"
    )))
}

/// What compose/disk-N.yml needs: this executable (mounted into each node,
/// where it serves the fault filesystem) and the system's program; and a
/// host with FUSE. What compose/dm-N.yml needs: the node's entrypoint
/// script and the system's program.
fn disk_environment(
    spec: Spec,
    mechanism: Mechanism,
) -> Result<Vec<(&'static str, String)>, DockerError> {
    let program = ("CHAOS_DISK_EXEC", spec.system.process.to_string());
    if mechanism == Mechanism::DmFlakey {
        return Ok(vec![("CHAOS_DM_START", dm_node::start()), program]);
    }
    if !std::path::Path::new("/dev/fuse").exists() {
        return Err(DockerError::Harness(
            "disk faults need FUSE on the Docker host and there is no /dev/fuse: `modprobe fuse`, or leave the disk faults out of --nemesis".into(),
        ));
    }
    let exe = chaos_executable()?;
    Ok(vec![("CHAOS_BIN", exe.display().to_string()), program])
}

/// The chaos executable on the host, to mount into nodes (the fault
/// filesystem) and sidecars (the packet delayer): `$CHAOS_BIN` if set (a
/// test binary that drives the library is not chaos), else this process's.
/// Docker's images are Debian bookworm, as this build's host is meant to
/// be, so the one executable runs on both sides.
pub(crate) fn chaos_executable() -> Result<std::path::PathBuf, DockerError> {
    let exe = match std::env::var_os("CHAOS_BIN") {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe().map_err(|e| {
            DockerError::Harness(format!(
                "cannot find the chaos executable to mount into the containers: {e}"
            ))
        })?,
    };
    exe.canonicalize().map_err(|e| {
        DockerError::Harness(format!(
            "cannot find the chaos executable {} to mount into the containers: {e}",
            exe.display()
        ))
    })
}

/// Compose project names: lowercase letters, digits, `-` and `_`.
fn check_project(project: &str) -> Result<(), DockerError> {
    let ok = project
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && project
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(DockerError::BadInput(format!(
            "project name {project:?} is not usable by compose: use lowercase letters, digits, '-' and '_'"
        )))
    }
}

fn check_subnet(net: &str) -> Result<String, DockerError> {
    match format!("{net}.0").parse::<Ipv4Addr>() {
        Ok(_) if net.split('.').count() == 3 => Ok(net.to_string()),
        _ => Err(DockerError::BadInput(format!(
            "--subnet {net:?} is not the first three octets of a /24: e.g. --subnet 10.213.42"
        ))),
    }
}

/// /24s not used by any Docker network: the file's default first, then
/// 10.213.100-250 starting at a point that depends on the project name, so
/// clusters started at the same moment tend to pick different ones.
async fn free_subnets(
    docker: &Docker,
    spec: Spec,
    project: &str,
) -> Result<Vec<String>, DockerError> {
    let networks = docker
        .list_networks(Some(ListNetworksOptionsBuilder::new().build()))
        .await
        .map_err(|e| DockerError::api("cannot list Docker networks", e))?;
    let used: Vec<(u32, u32)> = networks
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| parse_cidr(c.subnet.as_deref()?))
        .collect();
    let free = |net: &str| {
        let (base, mask) = parse_cidr(&format!("{net}.0/24")).expect("well-formed");
        used.iter().all(|&(b, m)| {
            let common = mask & m;
            base & common != b & common
        })
    };
    let start = project
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut candidates = vec![spec.default_net().to_string()];
    candidates.extend((0..151).map(|i| format!("10.213.{}", 100 + (start + i) % 151)));
    let free: Vec<String> = candidates.into_iter().filter(|n| free(n)).collect();
    if free.is_empty() {
        return Err(DockerError::Harness(
            "no free 10.213.X.0/24 subnet for the cluster network: take old clusters down, or pass --subnet".to_string(),
        ));
    }
    Ok(free)
}

/// `a.b.c.d/len` as (network, mask); IPv6 and junk are None.
fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((u32::from(addr) & mask, mask))
}

/// Poll until `want` nodes report healthy; fail early on a node that exited,
/// with its last log line.
pub async fn wait_healthy(
    docker: &Docker,
    selector: &Selector,
    want: usize,
    timeout: Duration,
) -> Result<(), DockerError> {
    wait_healthy_or_say(docker, selector, want, timeout, "--timeout").await
}

/// [`wait_healthy`], whose error names `flag` as the one that gives the
/// nodes more time (`--ready-timeout` for a cluster from `--compose`).
pub async fn wait_healthy_or_say(
    docker: &Docker,
    selector: &Selector,
    want: usize,
    timeout: Duration,
    flag: &str,
) -> Result<(), DockerError> {
    let start = Instant::now();
    loop {
        let nodes = discover(docker, selector).await?;
        let healthy = nodes
            .iter()
            .filter(|n| n.is_up() && n.health.as_deref().is_none_or(|h| h == "healthy"))
            .count();
        if healthy == want && nodes.len() == want {
            return Ok(());
        }
        if let Some(dead) = nodes
            .iter()
            .find(|n| n.state == "exited" || n.state == "dead")
        {
            let last = last_log_line(docker, &dead.id).await;
            return Err(DockerError::Harness(format!(
                "node {} of {selector} exited while starting ({last}): check the image and the compose file",
                dead.name
            )));
        }
        if start.elapsed() >= timeout {
            let sick = nodes
                .iter()
                .find(|n| n.health.as_deref() != Some("healthy"));
            let hint = match sick {
                Some(n) => format!("; {} says: {}", n.name, last_log_line(docker, &n.id).await),
                None => String::new(),
            };
            return Err(DockerError::Harness(format!(
                "{selector}: {healthy}/{want} nodes healthy after {} s{hint}: a slow machine may need {flag}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn last_log_line(docker: &Docker, id: &str) -> String {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail("5")
        .build();
    let mut stream = docker.logs(id, Some(options));
    let mut last = String::from("no output");
    while let Some(Ok(chunk)) = stream.next().await {
        let text = chunk.to_string();
        if let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty()) {
            last = one_line(line);
        }
    }
    last.chars().take(300).collect()
}

/// Take a cluster down. Ours (started by `chaos cluster up`): its sidecars,
/// containers, network and volumes. Adopted: only our sidecars. One line per
/// thing done.
pub async fn down(docker: &Docker, selector: &Selector) -> Result<Vec<String>, DockerError> {
    let mut lines = Vec::new();
    let project = match DockerCluster::open(docker.clone(), selector.clone()).await {
        Ok(cluster) => {
            if !cluster.is_managed() {
                // Its containers stay: take our rules out of them first.
                lines.extend(cluster.heal_network(false).await?);
            }
            for name in cluster.remove_sidecars().await? {
                lines.push(format!("removed sidecar {name}"));
            }
            // A rollback's stashes go with the cluster, adopted or ours.
            lines.extend(cluster.remove_stashes().await?);
            if !cluster.is_managed() {
                lines.push(format!(
                    "{} was not started by chaos: its containers are left running",
                    cluster.name()
                ));
                return Ok(lines);
            }
            cluster
                .cached_nodes()
                .first()
                .and_then(|n| n.labels.get(labels::CLUSTER).cloned())
                .unwrap_or_else(|| cluster.name().to_string())
        }
        // No containers: a half-made project may still have a network or
        // volumes; a label or run selector has nothing else to go on.
        Err(DockerError::BadInput(_)) => match selector {
            Selector::Project(p) => p.clone(),
            _ => return Ok(lines),
        },
        Err(e) => return Err(e),
    };
    lines.extend(sweep(docker, &project).await?);
    let left = leftovers(docker, &project).await?;
    if !left.is_empty() {
        return Err(DockerError::Harness(format!(
            "{project}: left behind after down: {}: remove them with docker rm/network rm/volume rm (a dm-flakey device: `chaos cluster down` again, or dmsetup remove and losetup -d as root)",
            left.join(", ")
        )));
    }
    Ok(lines)
}

fn project_filter(project: &str) -> HashMap<&'static str, Vec<String>> {
    HashMap::from([(
        "label",
        vec![
            format!("{}=true", labels::MANAGED),
            format!("{}={project}", labels::CLUSTER),
        ],
    )])
}

/// Every container (running or not) matching the project's label filters.
async fn project_containers(
    docker: &Docker,
    filters: &HashMap<&'static str, Vec<String>>,
) -> Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(filters)
        .build();
    docker.list_containers(Some(options)).await
}

/// Remove every container, network and volume of project `project` that
/// carries our labels, and its nodes' dm-flakey devices (the host
/// kernel's: they outlive the containers). Returns what it removed, one
/// line per kind and per device.
pub async fn sweep(docker: &Docker, project: &str) -> Result<Vec<String>, DockerError> {
    let filters = project_filter(project);
    let mut lines = Vec::new();
    let containers = project_containers(docker, &filters)
        .await
        .map_err(|e| DockerError::api(format!("cannot list the containers of {project}"), e))?;
    // The devices the nodes were labelled with, and any of the project's
    // the kernel still has (a node removed by hand).
    let mut devices = project_devices(project);
    for c in &containers {
        let label = c.labels.as_ref().and_then(|l| l.get(labels::DM_DEVICE));
        if let Some(device) = label.filter(|d| !devices.contains(d)) {
            devices.push(device.clone());
        }
    }
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let removals = join_all(containers.iter().filter_map(|c| c.id.as_deref()).map(|id| {
        let options = options.clone();
        async move {
            match docker.remove_container(id, Some(options)).await {
                Err(e) if api_status(&e) != Some(404) => {
                    Err(DockerError::api(format!("cannot remove container {id}"), e))
                }
                _ => Ok(()),
            }
        }
    }))
    .await;
    removals.into_iter().collect::<Result<Vec<()>, _>>()?;
    if !containers.is_empty() {
        lines.push(format!(
            "removed {} containers of {project}",
            containers.len()
        ));
    }
    // With its nodes gone, no mount holds a device: removed before the
    // volumes that hold their backing files. A device that will not go is
    // said at the end, after the networks and volumes (an unscoped `chaos
    // heal` removes a device whose cluster is gone).
    let devices_left = match dm::remove_devices(docker, &devices).await {
        Ok(removed) => {
            lines.extend(removed);
            None
        }
        Err(e) => Some(e),
    };
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| DockerError::api(format!("cannot list the networks of {project}"), e))?;
    for name in networks.iter().filter_map(|n| n.name.as_deref()) {
        match docker.remove_network(name).await {
            Err(e) if api_status(&e) != Some(404) => {
                return Err(DockerError::api(format!("cannot remove network {name}"), e))
            }
            _ => lines.push(format!("removed network {name}")),
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| DockerError::api(format!("cannot list the volumes of {project}"), e))?;
    let names: BTreeSet<String> = volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    for name in &names {
        match docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Err(e) if api_status(&e) != Some(404) => {
                return Err(DockerError::api(format!("cannot remove volume {name}"), e))
            }
            _ => {}
        }
    }
    if !names.is_empty() {
        lines.push(format!("removed {} volumes of {project}", names.len()));
    }
    match devices_left {
        Some(e) => Err(e),
        None => Ok(lines),
    }
}

/// The dm-flakey devices of `project` the kernel has.
fn project_devices(project: &str) -> Vec<String> {
    dm::host_devices()
        .into_iter()
        .filter(|d| dm_flakey::project_of(d) == Some(project))
        .collect()
}

/// Containers, networks, volumes and dm-flakey devices of `project` still
/// there: `kind name`.
pub async fn leftovers(docker: &Docker, project: &str) -> Result<Vec<String>, DockerError> {
    let filters = project_filter(project);
    let fail = |e| DockerError::api(format!("cannot list what is left of {project}"), e);
    let containers = project_containers(docker, &filters).await.map_err(fail)?;
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(fail)?;
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(fail)?;
    let mut left: Vec<String> = containers
        .into_iter()
        .filter_map(|c| c.names?.into_iter().next())
        .map(|n| format!("container {}", n.trim_start_matches('/')))
        .collect();
    left.extend(
        networks
            .into_iter()
            .filter_map(|n| n.name)
            .map(|n| format!("network {n}")),
    );
    left.extend(
        volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| format!("volume {}", v.name)),
    );
    left.extend(
        project_devices(project)
            .into_iter()
            .map(|d| format!("dm-flakey device {d}")),
    );
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_bad_subnets_are_refused() {
        assert_eq!(
            parse_cidr("10.213.3.0/24"),
            Some((0x0ad5_0300, 0xffff_ff00))
        );
        assert_eq!(parse_cidr("fd00::/64"), None);
        assert!(check_subnet("10.213.42").is_ok());
        assert!(check_subnet("10.213.42.0").is_err());
        assert!(check_subnet("10.213.300").is_err());
        assert!(check_project("chaos-etcd-3-x").is_ok());
        assert!(check_project("Bad Name").is_err());
    }
}
