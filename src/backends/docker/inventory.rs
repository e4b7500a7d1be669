//! Which cluster a command means, and what is running: `chaos cluster
//! status` and `logs`.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;

use super::cluster::{discover, DockerNode, Selector};
use chaos_workloads::registry;

use super::compose::Spec;
use super::{labels, natural_cmp, DockerError};

/// How the user named a cluster on the command line. All empty: "the one
/// chaos cluster that is running".
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub project: Option<String>,
    pub label: Option<String>,
    pub run: Option<String>,
    pub system: Option<String>,
    pub nodes: Option<usize>,
}

/// One of our clusters, as found by its labels.
#[derive(Clone, Debug)]
pub struct ClusterSummary {
    pub project: String,
    pub system: String,
    pub run: String,
    pub nodes: usize,
}

/// Every cluster `chaos cluster up` started that still has a container.
pub async fn our_clusters(docker: &Docker) -> Result<Vec<ClusterSummary>, DockerError> {
    let filters = HashMap::from([(
        "label",
        vec![
            format!("{}=true", labels::MANAGED),
            labels::CLUSTER.to_string(),
        ],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DockerError::api("cannot list containers", e))?;
    let mut clusters: BTreeMap<String, ClusterSummary> = BTreeMap::new();
    for labels_of in containers.into_iter().filter_map(|c| c.labels) {
        let get = |k: &str| labels_of.get(k).cloned().unwrap_or_default();
        let project = get(labels::CLUSTER);
        let entry = clusters
            .entry(project.clone())
            .or_insert_with(|| ClusterSummary {
                project,
                system: get(labels::SYSTEM),
                run: get(labels::RUN),
                nodes: 0,
            });
        entry.nodes += 1;
    }
    Ok(clusters.into_values().collect())
}

/// `the chaos clusters here are a (run r1), b (run r2)`, or that there are
/// none, for messages about a name that matched nothing.
pub async fn known_clusters(docker: &Docker) -> Result<String, DockerError> {
    let known: Vec<String> = our_clusters(docker)
        .await?
        .into_iter()
        .map(|c| format!("{} (run {})", c.project, c.run))
        .collect();
    Ok(if known.is_empty() {
        "no chaos cluster exists here".into()
    } else {
        format!(
            "the chaos clusters here are {} (`chaos cluster status` shows them)",
            known.join(", ")
        )
    })
}

impl Target {
    /// The selector this target names, checking what can be checked.
    pub async fn resolve(&self, docker: &Docker) -> Result<Selector, DockerError> {
        if let Some(system) = &self.system {
            registry::system(system).map_err(|e| DockerError::BadInput(e.0))?;
        }
        if let (Some(system), Some(nodes)) = (&self.system, self.nodes) {
            Spec::new(system, nodes)?;
        }
        if let Some(project) = &self.project {
            return Ok(Selector::Project(project.clone()));
        }
        if let Some(label) = &self.label {
            return Selector::parse_label(label);
        }
        if let Some(run) = &self.run {
            return Ok(Selector::Label(labels::RUN.to_string(), run.clone()));
        }
        let matching: Vec<ClusterSummary> = our_clusters(docker)
            .await?
            .into_iter()
            .filter(|c| self.system.as_ref().is_none_or(|s| *s == c.system))
            .filter(|c| self.nodes.is_none_or(|n| n == c.nodes))
            .collect();
        match matching.as_slice() {
            [one] => Ok(Selector::Project(one.project.clone())),
            [] => Err(DockerError::BadInput(format!(
                "no {}chaos cluster is running: start one with `chaos cluster up --system {} --nodes {}`, or name yours with --project or --label",
                self.system.as_ref().map(|s| format!("{s} ")).unwrap_or_default(),
                self.system.as_deref().unwrap_or(registry::default_system().name),
                self.nodes.unwrap_or(3)
            ))),
            many => Err(DockerError::BadInput(format!(
                "{} chaos clusters are running ({}): name one with --project",
                many.len(),
                many.iter().map(|c| c.project.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

/// `chaos cluster status`: one block per cluster, one line per node.
pub async fn status(docker: &Docker, selector: Option<&Selector>) -> Result<String, DockerError> {
    let selectors: Vec<Selector> = match selector {
        Some(s) => vec![s.clone()],
        None => our_clusters(docker)
            .await?
            .into_iter()
            .map(|c| Selector::Project(c.project))
            .collect(),
    };
    if selectors.is_empty() {
        return Ok("no chaos clusters are running\n".to_string());
    }
    let mut out = String::new();
    for selector in selectors {
        let nodes = discover(docker, &selector).await?;
        if nodes.is_empty() {
            return Err(DockerError::BadInput(format!(
                "no containers found for {selector}: `chaos cluster status` lists our clusters"
            )));
        }
        out += &header(&selector, &nodes);
        for node in &nodes {
            out += &node_line(node);
        }
    }
    Ok(out)
}

fn header(selector: &Selector, nodes: &[DockerNode]) -> String {
    let label = |k: &str| nodes[0].labels.get(k).cloned();
    let name = label(labels::COMPOSE_PROJECT).unwrap_or_else(|| selector.to_string());
    let system = label(labels::SYSTEM).unwrap_or_else(|| "adopted".to_string());
    let run = label(labels::RUN).unwrap_or_else(|| selector.run_id());
    let healthy = nodes
        .iter()
        .filter(|n| n.health.as_deref() == Some("healthy"))
        .count();
    format!(
        "{name}: {system}, {} nodes ({healthy} healthy), run {run}\n",
        nodes.len()
    )
}

fn node_line(node: &DockerNode) -> String {
    let ports: Vec<String> = node
        .ports
        .iter()
        .map(|(port, host)| format!("{}->{host}", port.trim_end_matches("/tcp")))
        .collect();
    format!(
        "  {:<4} {:<9} {:<10} {:<15} {} {}\n",
        node.name,
        node.state,
        node.health.as_deref().unwrap_or("-"),
        if node.address.is_empty() {
            "-"
        } else {
            &node.address
        },
        ports.join(" "),
        node.container
    )
}

/// `chaos cluster logs`: the last `tail` lines of each node (or of `only`),
/// each prefixed with the node's name.
pub async fn logs(
    docker: &Docker,
    selector: &Selector,
    only: Option<&str>,
    tail: usize,
) -> Result<String, DockerError> {
    let mut nodes = discover(docker, selector).await?;
    if nodes.is_empty() {
        return Err(DockerError::BadInput(format!(
            "no containers found for {selector}: `chaos cluster status` lists our clusters"
        )));
    }
    if let Some(name) = only {
        let plain = super::cluster::as_nodes(&nodes);
        chaos_nemeses::ClusterError::find(&plain, name)?;
        nodes.retain(|n| n.name == name);
    }
    nodes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let mut out = String::new();
    for node in &nodes {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let mut stream = docker.logs(&node.id, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => text += &c.to_string(),
                Err(e) => {
                    return Err(DockerError::api(
                        format!("cannot read the logs of {}", node.container),
                        e,
                    ))
                }
            }
        }
        for line in text.lines() {
            out += &format!("{} | {line}\n", node.name);
        }
    }
    Ok(out)
}
