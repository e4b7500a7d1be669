//! Finding the cluster under test: the pods in one namespace that match a
//! label selector, in the order of their StatefulSet ordinals, with their
//! pod IPs — and refusing, with one line, any selection that is not clearly
//! one cluster (nothing, too many, several StatefulSets, our own pod).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{Grudge, Node};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, ListParams};
use kube::Client;

use super::error::{api_error, status_code, timed_out, K8sError};
use super::{PROCESS_ANNOTATION, SIDECAR};

/// Pod label the StatefulSet controller sets to the ordinal (Kubernetes 1.28+).
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// With no expected count, more pods than this is taken for a selector that
/// is too wide (a whole application rather than one cluster under test).
pub const DEFAULT_MAX_NODES: usize = 9;

/// What the harness was told to act on, and its time limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The only namespace the backend ever reads or changes.
    pub namespace: String,
    /// A label selector (`app=etcd`), as `kubectl get pods -l` takes it.
    pub selector: String,
    /// The system's container in each pod; None: the only container that
    /// is not the sidecar.
    pub container: Option<String>,
    /// The system's process name for pods that do not annotate it
    /// (`io.chaos/process`); None: the container's name.
    pub process: Option<String>,
    /// How many pods the selector must match; None: 1 to [`DEFAULT_MAX_NODES`].
    pub expected_nodes: Option<usize>,
    /// The pod this harness runs in (POD_NAME, else HOSTNAME): never acted on.
    pub own_pod: Option<String>,
    /// How long a deleted pod's replacement may take to be Ready.
    pub ready_timeout: Duration,
    /// How long one API call (or one exec) may take.
    pub api_timeout: Duration,
}

impl Target {
    /// Defaults: the container guessed, 1 to 9 pods, our own pod from the
    /// environment, 180 s to Ready, 30 s per API call.
    pub fn new(namespace: impl Into<String>, selector: impl Into<String>) -> Target {
        let own_pod = ["POD_NAME", "HOSTNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.trim().is_empty());
        Target {
            namespace: namespace.into(),
            selector: selector.into(),
            container: None,
            process: None,
            expected_nodes: None,
            own_pod,
            ready_timeout: Duration::from_secs(180),
            api_timeout: Duration::from_secs(30),
        }
    }

    /// Check what can be checked before asking the API server.
    pub fn validate(&self) -> Result<(), K8sError> {
        if self.namespace.trim().is_empty() {
            return Err(K8sError::BadInput(
                "--namespace is empty: name the namespace of the cluster under test".into(),
            ));
        }
        if self.selector.trim().is_empty() {
            return Err(K8sError::BadInput(
                "--selector is empty: it would match every pod in the namespace; name the cluster's label, e.g. --selector app=my-log".into(),
            ));
        }
        if self.expected_nodes == Some(0) {
            return Err(K8sError::BadInput(
                "the expected number of nodes is 0: a cluster under test has at least one pod"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// One pod of the cluster as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sPod {
    /// The pod's name, which is also the node's name (`etcd-0`).
    pub name: String,
    /// Its StatefulSet ordinal.
    pub ordinal: usize,
    /// Changes when the pod is deleted and recreated under the same name.
    pub uid: String,
    /// The pod IP ("" while it has none).
    pub ip: String,
    /// `<hostname>.<subdomain>.<namespace>.svc` when the pod has both (every
    /// StatefulSet pod whose headless Service is named): unlike the IP, it
    /// survives the pod being deleted and recreated.
    pub dns: Option<String>,
    /// `Pending`, `Running`, ...
    pub phase: String,
    /// Its `Ready` condition is true.
    pub ready: bool,
    /// It has a deletion timestamp: on its way out.
    pub deleting: bool,
    /// The system's container.
    pub container: String,
    /// The system's process name, for `pkill -x` (annotation
    /// `io.chaos/process`, else the system's, else the container's name).
    pub process: String,
    /// The pod has the partition sidecar ([`SIDECAR`]).
    pub has_sidecar: bool,
    /// `shareProcessNamespace: true`: the sidecar can signal the system.
    pub shares_pids: bool,
    /// The system container is running (not waiting, not terminated).
    pub running: bool,
    /// The sidecar container is running: exec into it can work.
    pub sidecar_running: bool,
    /// How many times the kubelet has restarted the system container: it
    /// grows when the container dies and starts again in the same pod.
    pub restarts: i32,
    /// The chaos executable in the system container when the container
    /// starts as `<chaos> faultfs wrap <data> -- <system>` (its data on the
    /// fault filesystem: k8s/etcd-disk.yaml); None otherwise.
    pub fault_fs: Option<String>,
}

impl K8sPod {
    /// The pod has a network namespace we can change (and an IP to drop).
    pub fn has_netns(&self) -> bool {
        self.phase == "Running" && !self.ip.is_empty()
    }
}

/// The cluster under test on Kubernetes.
pub struct K8sCluster {
    pub(crate) pods: Api<Pod>,
    pub(crate) target: Target,
    pub(crate) nodes: Mutex<Vec<K8sPod>>,
    /// The partition in force, as this process installed it: a pod that is
    /// recreated gets a new IP and an empty netns, so it is put back.
    pub(crate) grudge: Mutex<Grudge>,
    /// The logs of deleted incarnations, saved before each kill, per node.
    pub(crate) earlier_logs: Mutex<BTreeMap<String, String>>,
    /// How the pods shape traffic, once asked (`K8sCluster::shaping`).
    pub(crate) mechanism: Mutex<Option<Mechanism>>,
}

impl K8sCluster {
    /// A client from kube's default config (in a pod: its service account;
    /// elsewhere: KUBECONFIG or ~/.kube/config).
    pub async fn connect() -> Result<Client, K8sError> {
        Client::try_default().await.map_err(|e| {
            K8sError::Harness(format!(
                "cannot configure a Kubernetes client ({}): run in a pod with a service account, or set KUBECONFIG",
                super::error::one_line(&e.to_string())
            ))
        })
    }

    /// Find the cluster: list the pods matching `target.selector` in
    /// `target.namespace` and check they are one cluster we may act on.
    pub async fn discover(client: Client, target: Target) -> Result<K8sCluster, K8sError> {
        target.validate()?;
        let pods: Api<Pod> = Api::namespaced(client, &target.namespace);
        let nodes = list(&pods, &target, Count::Exact).await?;
        Ok(K8sCluster {
            pods,
            target,
            nodes: Mutex::new(nodes),
            grudge: Mutex::new(Grudge::new()),
            earlier_logs: Mutex::new(BTreeMap::new()),
            mechanism: Mutex::new(None),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn namespace(&self) -> &str {
        &self.target.namespace
    }

    /// What the journal and the iptables comments call this cluster:
    /// `k8s:<namespace>:<selector>`.
    pub fn run_id(&self) -> String {
        format!(
            "{}{}:{}",
            super::RUN_PREFIX,
            self.target.namespace,
            self.target.selector
        )
    }

    /// `namespace/selector`, for messages and reports.
    pub fn name(&self) -> String {
        format!("{}/{}", self.target.namespace, self.target.selector)
    }

    /// The nodes as last seen (no API call).
    pub fn pods_seen(&self) -> Vec<K8sPod> {
        self.nodes.lock().expect("nodes lock").clone()
    }

    /// The node names in ordinal order (no API call).
    pub fn names(&self) -> Vec<String> {
        self.pods_seen().into_iter().map(|p| p.name).collect()
    }

    /// `(node, "ip:port")` for every node, as last seen (no API call): what
    /// packets between the nodes carry. A pod recreated by a kill has a new
    /// IP: call after [`K8sCluster::refresh`] (every fault method refreshes).
    /// Clients use [`K8sCluster::client_endpoints`].
    pub fn endpoints(&self, port: u16) -> Vec<(String, String)> {
        self.pods_seen()
            .into_iter()
            .map(|p| (p.name, format!("{}:{port}", p.ip)))
            .collect()
    }

    /// `(node, "host:port")` where clients connect: the pod's stable DNS
    /// name when it has one (a client reconnecting after a kill finds the
    /// new pod), else its IP as last seen.
    pub fn client_endpoints(&self, port: u16) -> Vec<(String, String)> {
        self.pods_seen()
            .into_iter()
            .map(|p| {
                let host = p.dns.unwrap_or(p.ip);
                (p.name, format!("{host}:{port}"))
            })
            .collect()
    }

    /// Look at the pods again (same checks as discovery).
    pub async fn refresh(&self) -> Result<Vec<K8sPod>, K8sError> {
        let nodes = list(&self.pods, &self.target, Count::AtMost).await?;
        *self.nodes.lock().expect("nodes lock") = nodes.clone();
        Ok(nodes)
    }

    /// Replace one node's entry after looking at it alone.
    pub(crate) fn update(&self, pod: K8sPod) {
        let mut nodes = self.nodes.lock().expect("nodes lock");
        if let Some(slot) = nodes.iter_mut().find(|n| n.name == pod.name) {
            *slot = pod;
        }
    }
}

pub(crate) fn as_nodes(pods: &[K8sPod]) -> Vec<Node> {
    pods.iter()
        .map(|p| Node {
            name: p.name.clone(),
            address: p.ip.clone(),
        })
        .collect()
}

/// How many pods a listing may show, against `Target::expected_nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Discovery: exactly the expected number.
    Exact,
    /// Later looks: fewer is fine (a killed pod not yet recreated must not
    /// stop a heal of the others), more is still refused.
    AtMost,
}

async fn list(pods: &Api<Pod>, target: &Target, count: Count) -> Result<Vec<K8sPod>, K8sError> {
    let ns = &target.namespace;
    let params = ListParams::default().labels(&target.selector);
    let doing = format!("cannot list the pods matching {}", target.selector);
    let listed = match tokio::time::timeout(target.api_timeout, pods.list(&params)).await {
        Ok(Ok(listed)) => listed,
        // A selector the API server cannot parse is the user's to fix.
        Ok(Err(e)) if status_code(&e) == Some(400) => {
            return Err(K8sError::BadInput(format!(
                "--selector {:?} was refused by the API server: {}",
                target.selector,
                api_error(&doing, ns, &e)
            )))
        }
        Ok(Err(e)) => return Err(api_error(&doing, ns, &e)),
        Err(_) => return Err(timed_out(&doing, ns, target.api_timeout)),
    };
    select(listed.items, target, count)
}

/// The checks of discovery, on the pods the API server listed.
pub fn select(pods: Vec<Pod>, target: &Target, count: Count) -> Result<Vec<K8sPod>, K8sError> {
    let ns = &target.namespace;
    let sel = &target.selector;
    if pods.is_empty() {
        return Err(K8sError::BadInput(format!(
            "no pods in namespace {ns} match --selector {sel}: check with `kubectl get pods -n {ns} -l {sel}`"
        )));
    }
    let names: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    if let Some(own) = &target.own_pod {
        if names.contains(own) {
            return Err(K8sError::BadInput(format!(
                "--selector {sel} matches the pod this harness runs in ({own}): narrow the selector to the cluster under test"
            )));
        }
    }
    let max = target.expected_nodes.unwrap_or(DEFAULT_MAX_NODES);
    let too_few = count == Count::Exact && target.expected_nodes.is_some_and(|n| pods.len() < n);
    if pods.len() > max || too_few {
        let wanted = match target.expected_nodes {
            Some(n) => format!("expected {n}"),
            None => format!("at most {DEFAULT_MAX_NODES} without an expected count"),
        };
        return Err(K8sError::BadInput(format!(
            "--selector {sel} matches {} pods in namespace {ns} ({}), {wanted}: narrow the selector, or wait until the StatefulSet has all its pods",
            pods.len(),
            names.join(", ")
        )));
    }
    let owners: BTreeSet<String> = pods.iter().map(owner).collect();
    if owners.len() > 1 || owners.contains("") {
        let shown: Vec<String> = pods
            .iter()
            .map(|p| {
                let o = owner(p);
                let o = if o.is_empty() { "none".into() } else { o };
                format!(
                    "{} (StatefulSet {o})",
                    p.metadata.name.as_deref().unwrap_or("")
                )
            })
            .collect();
        return Err(K8sError::BadInput(format!(
            "--selector {sel} must match the pods of one StatefulSet, but matches {}: narrow the selector",
            shown.join(", ")
        )));
    }
    // Checked in ordinal order, so a message names the first pod at fault.
    let mut pods = pods;
    pods.sort_by_key(|p| ordinal(p).unwrap_or(usize::MAX));
    let mut nodes = pods
        .iter()
        .map(|p| node(p, target))
        .collect::<Result<Vec<_>, _>>()?;
    nodes.sort_by_key(|n| n.ordinal);
    Ok(nodes)
}

/// The name of the StatefulSet that owns the pod, "" if none.
fn owner(pod: &Pod) -> String {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "StatefulSet")
        .map(|o| o.name.clone())
        .unwrap_or_default()
}

/// The pod's StatefulSet ordinal: its pod-index label, else the number
/// after its StatefulSet's name.
fn ordinal(pod: &Pod) -> Option<usize> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(POD_INDEX_LABEL))
        .and_then(|i| i.parse().ok())
        .or_else(|| {
            name.strip_prefix(&format!("{}-", owner(pod)))
                .and_then(|i| i.parse().ok())
        })
}

/// One pod as a node; an error for a pod we cannot use.
pub fn node(pod: &Pod, target: &Target) -> Result<K8sPod, K8sError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ordinal = ordinal(pod).ok_or_else(|| {
        K8sError::BadInput(format!(
            "pod {name} has no StatefulSet ordinal: select the pods of one StatefulSet"
        ))
    })?;
    let spec = pod.spec.clone().unwrap_or_default();
    let containers: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let container = match &target.container {
        Some(c) if containers.contains(&c.as_str()) => c.clone(),
        Some(c) => {
            return Err(K8sError::BadInput(format!(
                "pod {name} has no container {c} (it has {}): pass one of those with --container",
                containers.join(", ")
            )))
        }
        None => {
            let system: Vec<&&str> = containers.iter().filter(|c| **c != SIDECAR).collect();
            match system.as_slice() {
                [one] => one.to_string(),
                _ => {
                    return Err(K8sError::BadInput(format!(
                        "pod {name} has containers {}: say which runs the system with --container",
                        containers.join(", ")
                    )))
                }
            }
        }
    };
    let process = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROCESS_ANNOTATION))
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .or_else(|| target.process.clone())
        .unwrap_or_else(|| container.clone());
    // `pkill -x` takes a pattern: `.*` would freeze the sidecar too.
    if !process
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(K8sError::BadInput(format!(
            "pod {name}: the process name {process:?} (annotation {PROCESS_ANNOTATION}, or the container's name) may hold only letters, digits, '.', '_' and '-'"
        )));
    }
    let status = pod.status.clone().unwrap_or_default();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let running_named = |name: &str| {
        status
            .container_statuses
            .iter()
            .flatten()
            .any(|c| c.name == name && c.state.as_ref().is_some_and(|s| s.running.is_some()))
    };
    let running = running_named(&container);
    let sidecar_running = running_named(SIDECAR);
    let restarts = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == container)
        .map_or(0, |c| c.restart_count);
    let fault_fs = spec
        .containers
        .iter()
        .find(|c| c.name == container)
        .and_then(wrapper);
    Ok(K8sPod {
        name,
        ordinal,
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        ip: status.pod_ip.clone().unwrap_or_default(),
        dns: match (&spec.hostname, &spec.subdomain) {
            (Some(host), Some(sub)) if !host.is_empty() && !sub.is_empty() => {
                Some(format!("{host}.{sub}.{}.svc", target.namespace))
            }
            _ => None,
        },
        phase: status.phase.clone().unwrap_or_default(),
        ready,
        deleting: pod.metadata.deletion_timestamp.is_some(),
        has_sidecar: containers.contains(&SIDECAR),
        shares_pids: spec.share_process_namespace == Some(true),
        container,
        process,
        running,
        sidecar_running,
        restarts,
        fault_fs,
    })
}

/// The chaos executable a container starts as `<chaos> faultfs wrap <data>
/// -- <system>`, read from its command and arguments; None for any other
/// start (a shell script around the wrapper cannot be seen into).
pub fn wrapper(container: &Container) -> Option<String> {
    let argv: Vec<&String> = container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .collect();
    match argv.as_slice() {
        [chaos, faultfs, wrap, _data, ..] if *faultfs == "faultfs" && *wrap == "wrap" => {
            Some(chaos.to_string())
        }
        _ => None,
    }
}
