//! [`DockerCluster`]: a set of containers treated as the nodes of a cluster,
//! found by label every time they are needed (a restarted container keeps
//! its name and id, but its state and, on a dynamic network, its address
//! change under us).
//!
//! A cluster is picked by a [`Selector`]: a compose project (ours, or one the
//! user started: `--project`) or any label (`--label k=v`, or our run id).
//! Node names come from our `io.chaos.node` label, else the compose service
//! name, else the container name, and are sorted naturally (n2 before n10).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Mutex;

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, Grudge, Node};
use futures_util::future::join_all;

use super::session::Sessions;
use super::{api_status, labels, natural_cmp, DockerError};

/// Which containers make up the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Every container of a compose project (`com.docker.compose.project`).
    Project(String),
    /// Every container carrying label `key=value`.
    Label(String, String),
}

impl Selector {
    /// `--label key=value`.
    pub fn parse_label(text: &str) -> Result<Selector, DockerError> {
        match text.split_once('=') {
            Some((key, value)) if !key.is_empty() && !value.is_empty() => {
                Ok(Selector::Label(key.to_string(), value.to_string()))
            }
            _ => Err(DockerError::BadInput(format!(
                "--label {text:?} is not KEY=VALUE: name the label your nodes carry, e.g. --label com.example.cluster=orders"
            ))),
        }
    }

    /// The cluster a journal's run id refers to: see [`Selector::run_id`].
    pub fn for_run(run: &str) -> Selector {
        if let Some(project) = run.strip_prefix("project:") {
            Selector::Project(project.to_string())
        } else if let Some((key, value)) =
            run.strip_prefix("label:").and_then(|kv| kv.split_once('='))
        {
            Selector::Label(key.to_string(), value.to_string())
        } else {
            Selector::Label(labels::RUN.to_string(), run.to_string())
        }
    }

    /// The run id of an adopted cluster, whose nodes carry no run label of
    /// ours: it says how to find the cluster again, so `chaos heal` can go
    /// from a journal line back to the containers.
    pub fn run_id(&self) -> String {
        match self {
            Selector::Project(p) => format!("project:{p}"),
            Selector::Label(k, v) if k == labels::RUN => v.clone(),
            Selector::Label(k, v) => format!("label:{k}={v}"),
        }
    }

    /// The Docker `label` filter that lists the cluster's containers.
    pub fn filter(&self) -> String {
        match self {
            Selector::Project(p) => format!("{}={p}", labels::COMPOSE_PROJECT),
            Selector::Label(k, v) => format!("{k}={v}"),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Project(p) => write!(f, "compose project {p}"),
            Selector::Label(k, v) if k == labels::RUN => write!(f, "run {v}"),
            Selector::Label(k, v) => write!(f, "label {k}={v}"),
        }
    }
}

/// One node container as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerNode {
    /// The harness's name: `n1`.
    pub name: String,
    /// The container's name, without Docker's leading `/`.
    pub container: String,
    pub id: String,
    /// IPv4 address on the cluster network ("" if it has none right now).
    pub address: String,
    /// Docker's state: `running`, `paused`, `exited`, `created`, ...
    pub state: String,
    /// `healthy`, `starting`, `unhealthy`, or None without a health check.
    pub health: Option<String>,
    /// When the container was last started: a new value means a new netns.
    pub started_at: String,
    /// Published ports: (`2379/tcp`, `127.0.0.1:32770`).
    pub ports: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
}

impl DockerNode {
    /// Running and not paused.
    pub fn is_up(&self) -> bool {
        self.state == "running"
    }

    /// Does it keep its data on the fault filesystem (compose/disk-N.yml
    /// labels it so)?
    pub fn on_fault_fs(&self) -> bool {
        self.labels.get(super::labels::DISK).map(String::as_str) == Some("faultfs")
    }

    /// The flakey device its data is on (compose/dm-N.yml labels it so).
    pub fn dm_device(&self) -> Option<&str> {
        if self.labels.get(super::labels::DISK).map(String::as_str) != Some("dm-flakey") {
            return None;
        }
        self.labels
            .get(super::labels::DM_DEVICE)
            .map(String::as_str)
            .filter(|d| !d.is_empty())
    }

    /// Either way, its data is on a disk the harness can fault.
    pub fn on_faultable_disk(&self) -> bool {
        self.on_fault_fs() || self.dm_device().is_some()
    }

    /// Running, paused or not: its network namespace exists.
    pub fn has_netns(&self) -> bool {
        self.state == "running" || self.state == "paused"
    }

    /// Where container port `port`/tcp is published on the host, if it is.
    pub fn published(&self, port: u16) -> Option<&str> {
        let key = format!("{port}/tcp");
        self.ports
            .iter()
            .find(|(p, _)| *p == key)
            .map(|(_, host)| host.as_str())
    }
}

/// The nodes of a cluster and what we have done to them.
pub struct DockerCluster {
    docker: Docker,
    selector: Selector,
    name: String,
    run_id: String,
    managed: bool,
    /// Heals look on every node, not only where a sidecar of ours is.
    heal_everywhere: bool,
    nodes: Mutex<Vec<DockerNode>>,
    /// The partition in force, as this process installed it: a node started
    /// again under it gets its rules back (its netns is new and empty).
    pub(crate) grudge: Mutex<Grudge>,
    /// Attached sidecars, so scripts run without `docker exec`.
    pub(crate) sessions: Sessions,
    /// How traffic is shaped here, once asked ([`DockerCluster::shaping`]).
    pub(crate) mechanism: Mutex<Option<Mechanism>>,
}

impl DockerCluster {
    /// Find the cluster's containers; an error if there are none.
    pub async fn open(docker: Docker, selector: Selector) -> Result<DockerCluster, DockerError> {
        let nodes = discover(&docker, &selector).await?;
        if nodes.is_empty() {
            return Err(DockerError::BadInput(format!(
                "no containers found for {selector}: check the name (`chaos cluster status` lists our clusters), or start one with `chaos cluster up`"
            )));
        }
        let common = |label: &str| -> Option<String> {
            let values: BTreeSet<Option<&String>> =
                nodes.iter().map(|n| n.labels.get(label)).collect();
            match values.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(v)] if !v.is_empty() => Some((*v).clone()),
                _ => None,
            }
        };
        let run_id = common(labels::RUN).unwrap_or_else(|| selector.run_id());
        let name = common(labels::COMPOSE_PROJECT).unwrap_or_else(|| selector.to_string());
        let managed = common(labels::CLUSTER).is_some();
        Ok(DockerCluster {
            docker,
            selector,
            name,
            run_id,
            managed,
            heal_everywhere: false,
            nodes: Mutex::new(nodes),
            grudge: Mutex::new(Grudge::new()),
            sessions: Sessions::default(),
            mechanism: Mutex::new(None),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The compose project name, or the selector for labelled containers.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The run id our sidecars and journal lines carry for this cluster.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Did `chaos cluster up` start it (so `down` may remove it)?
    pub fn is_managed(&self) -> bool {
        self.managed
    }

    /// This handle's heals (see [`DockerCluster::heal_nodes`]) look for our
    /// rules on every node, starting a sidecar where none is: for
    /// `chaos heal`, when the journal says we partitioned this cluster but
    /// a sidecar may have gone since. A run's own heals look only where
    /// its sidecars are.
    pub fn healing_everywhere(mut self) -> DockerCluster {
        self.heal_everywhere = true;
        self
    }

    pub(crate) fn heals_everywhere(&self) -> bool {
        self.heal_everywhere
    }

    /// The nodes as last seen, without asking Docker.
    pub fn cached_nodes(&self) -> Vec<DockerNode> {
        self.nodes.lock().expect("node cache lock").clone()
    }

    /// Look again. A node that has no address right now (stopped) keeps the
    /// one it had: firewall rules on its peers still name that address.
    pub async fn refresh(&self) -> Result<Vec<DockerNode>, DockerError> {
        let mut fresh = discover(&self.docker, &self.selector).await?;
        let mut cache = self.nodes.lock().expect("node cache lock");
        for node in &mut fresh {
            if node.address.is_empty() {
                if let Some(old) = cache.iter().find(|o| o.id == node.id) {
                    node.address = old.address.clone();
                }
            }
        }
        *cache = fresh.clone();
        Ok(fresh)
    }

    /// A node by name, freshly inspected.
    pub async fn node(&self, name: &str) -> Result<DockerNode, ClusterError> {
        let nodes = self.refresh().await?;
        let plain = as_nodes(&nodes);
        ClusterError::find(&plain, name)?;
        Ok(nodes
            .into_iter()
            .find(|n| n.name == name)
            .expect("found above"))
    }
}

/// The trait's view of our nodes.
pub fn as_nodes(nodes: &[DockerNode]) -> Vec<Node> {
    nodes
        .iter()
        .map(|n| Node {
            name: n.name.clone(),
            address: n.address.clone(),
        })
        .collect()
}

/// The containers `selector` picks (sidecars excluded), inspected, named,
/// and sorted by name.
pub async fn discover(
    docker: &Docker,
    selector: &Selector,
) -> Result<Vec<DockerNode>, DockerError> {
    let filters = HashMap::from([("label", vec![selector.filter()])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let summaries = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DockerError::api(format!("cannot list the containers of {selector}"), e))?;
    let ids: Vec<String> = summaries
        .into_iter()
        .filter(|s| {
            s.labels
                .as_ref()
                .is_none_or(|l| !l.contains_key(labels::SIDECAR_OF))
        })
        .filter_map(|s| s.id)
        .collect();
    let inspected = join_all(ids.iter().map(|id| docker.inspect_container(id, None))).await;
    let mut found = Vec::new();
    for (id, result) in ids.iter().zip(inspected) {
        match result {
            Ok(info) => found.push(info),
            // Removed between the list and the inspect: not a node any more.
            Err(e) if api_status(&e) == Some(404) => {}
            Err(e) => {
                return Err(DockerError::api(
                    format!("cannot inspect container {id}"),
                    e,
                ))
            }
        }
    }
    let network = common_network(&found);
    let mut nodes: Vec<DockerNode> = found
        .iter()
        .map(|info| to_node(info, network.as_deref()))
        .collect();
    nodes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    if let Some(pair) = nodes.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(DockerError::BadInput(format!(
            "containers {} and {} both look like node {} of {selector}: select the cluster more narrowly (--project or --label)",
            pair[0].container, pair[1].container, pair[0].name
        )));
    }
    Ok(nodes)
}

/// The network every node is on (the cluster network), preferring a
/// user-defined one over Docker's default `bridge`.
fn common_network(infos: &[ContainerInspectResponse]) -> Option<String> {
    let networks = |info: &ContainerInspectResponse| -> BTreeSet<String> {
        info.network_settings
            .as_ref()
            .and_then(|s| s.networks.as_ref())
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut sets = infos.iter().map(networks);
    let first = sets.next()?;
    let common: BTreeSet<String> =
        sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect());
    let builtin = |n: &String| matches!(n.as_str(), "bridge" | "host" | "none");
    let mut candidates: Vec<&String> = common.iter().collect();
    candidates.sort_by_key(|n| builtin(n));
    candidates.first().map(|n| (*n).clone())
}

fn to_node(info: &ContainerInspectResponse, network: Option<&str>) -> DockerNode {
    let labels = info
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let container = info
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let name = labels
        .get(labels::NODE)
        .or_else(|| labels.get(labels::COMPOSE_SERVICE))
        .cloned()
        .unwrap_or_else(|| container.clone());
    let state = info.state.as_ref();
    let settings = info.network_settings.as_ref();
    let endpoints = settings.and_then(|s| s.networks.as_ref());
    // The cluster network's endpoint, else the container's only one.
    let endpoint = endpoints.and_then(|eps| match network {
        Some(net) => eps.get(net),
        None if eps.len() == 1 => eps.values().next(),
        None => None,
    });
    let address = endpoint
        .and_then(|ep| {
            ep.ip_address.clone().filter(|a| !a.is_empty()).or_else(|| {
                // A stopped container has no address, but a fixed one
                // (compose's ipv4_address) is still in its IPAM config.
                ep.ipam_config.as_ref().and_then(|c| c.ipv4_address.clone())
            })
        })
        .unwrap_or_default();
    let mut ports: Vec<(String, String)> = settings
        .and_then(|s| s.ports.as_ref())
        .map(|map| {
            map.iter()
                .flat_map(|(port, bindings)| {
                    bindings.iter().flatten().filter_map(move |b| {
                        let ip = b.host_ip.as_deref().unwrap_or("0.0.0.0");
                        b.host_port
                            .as_ref()
                            .map(|hp| (port.clone(), format!("{ip}:{hp}")))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    ports.sort();
    DockerNode {
        name,
        container,
        id: info.id.clone().unwrap_or_default(),
        address,
        state: state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        health: state
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.status)
            .map(|h| h.to_string()),
        started_at: state.and_then(|s| s.started_at.clone()).unwrap_or_default(),
        ports,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_lead_back_to_their_cluster() {
        for selector in [
            Selector::Project("orders".into()),
            Selector::Label("com.example/cluster".into(), "a=b".into()),
            Selector::Label(labels::RUN.into(), "20261124-021100-3f9a".into()),
        ] {
            assert_eq!(Selector::for_run(&selector.run_id()), selector);
        }
        assert_eq!(
            Selector::parse_label("team=payments").unwrap().filter(),
            "team=payments"
        );
        assert!(Selector::parse_label("team").is_err());
    }
}
