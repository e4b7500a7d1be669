//! The Kubernetes backend: the pods of a StatefulSet as the nodes of the
//! cluster under test, found by namespace and label selector, faults through
//! the API server (kube + k8s-openapi). See docs/kubernetes.md.
//!
//! * [`discover`]: [`K8sCluster`], [`Target`]: finding the pods, the safety
//!   checks (one namespace, one StatefulSet, never our own pod).
//! * [`ready`]: waiting for Ready; deleting a pod.
//! * [`exec`]: running a command in a pod's container (`pods/exec`).
//! * [`faults`]: `impl Cluster for K8sCluster`: kill, pause, partition...
//! * [`disk`]: disk faults, through the fault filesystem of pods whose
//!   system container starts on it (k8s/etcd-disk.yaml).
//! * [`quality`]: losses and rate limits, through the sidecar.
//! * [`shaping`]: delay, duplicate, reorder, slow-node, flaky-node: netem,
//!   or the packet delayer, through the sidecar.
//! * [`logs`]: `nodes/<node>/log` for the results folder.
//! * [`permissions`]: [`PERMISSIONS`], every API verb the backend uses;
//!   k8s/rbac.yaml grants exactly these.
//! * [`error`]: [`K8sError`], one line each.
//!
//! The manifests for the clusters under test, the harness's RBAC and its
//! nightly CronJob are in `k8s/`.

pub mod discover;
pub mod disk;
pub mod error;
pub mod exec;
pub mod faults;
pub mod heal;
pub mod logs;
pub mod permissions;
pub mod quality;
pub mod ready;
pub mod shaping;

pub use discover::{K8sCluster, K8sPod, Target, DEFAULT_MAX_NODES};
pub use error::K8sError;
pub use permissions::{Permission, PERMISSIONS};

/// The name of the partition sidecar container the manifests declare: it
/// shares the pod's network namespace (as every container does), has
/// NET_ADMIN, NET_RAW and KILL, and with `shareProcessNamespace: true` sees
/// the system's process. Partitions, pauses, losses, rate limits and
/// shapings run in it (the packet delayer too, from the chaos executable
/// of its image).
pub const SIDECAR: &str = "chaos-sidecar";

/// Pod annotation naming the system's process for `pkill -x` (`etcd`,
/// `nats-server`); without it, the container's name is used.
pub const PROCESS_ANNOTATION: &str = "io.chaos/process";

/// How journal entries of Kubernetes runs begin (`k8s:<namespace>:<selector>`):
/// the Docker heal leaves them alone.
pub const RUN_PREFIX: &str = "k8s:";
