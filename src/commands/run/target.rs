//! What `chaos run` needs from a cluster beyond the nemeses' [`Cluster`]:
//! where its clients connect, when it is healthy again, its nodes' logs.
//! Each backend (Docker, Kubernetes) implements it once.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use chaos_nemeses::Cluster;

use crate::backends::docker::{inventory, lifecycle, DockerCluster};
use crate::backends::k8s::K8sCluster;
use crate::error::Failure;

pub trait RunTarget: Cluster {
    /// One line for reports: `name (N nodes, run ID)`.
    fn describe(&self) -> String;

    /// The id the fault journal files this cluster's faults under (and
    /// `chaos heal --run` takes).
    fn journal_id(&self) -> String;

    /// `(node, host:port)` where a client reaches `port` of each node, in
    /// node order.
    fn endpoints(
        &self,
        port: u16,
    ) -> impl Future<Output = Result<Vec<(String, String)>, Failure>> + Send;

    /// Waits until every node is up and reports healthy again.
    fn wait_healthy(&self, timeout: Duration) -> impl Future<Output = Result<(), Failure>> + Send;

    /// True when the cluster stays after the run (Kubernetes): the run then
    /// removes the data it wrote (keys, streams) so nightly runs do not pile
    /// up. A Docker cluster goes away whole, or stays for inspection with
    /// --keep-cluster.
    fn outlives_run(&self) -> bool;

    /// Writes `dir/nodes/<node>/log` for every node: all the backend still
    /// has of its log. A log that cannot be read is a line saying why.
    fn collect_logs(&self, dir: &Path) -> impl Future<Output = Result<(), Failure>> + Send;
}

impl RunTarget for DockerCluster {
    fn describe(&self) -> String {
        format!(
            "{} ({} nodes, run {})",
            self.name(),
            self.cached_nodes().len(),
            self.run_id()
        )
    }

    fn journal_id(&self) -> String {
        self.run_id().to_string()
    }

    /// Ours go away whole; a cluster of the user's outlives the run (one
    /// from their --compose is removed too, but its data is taken off first
    /// all the same: it may be kept with --keep-cluster).
    fn outlives_run(&self) -> bool {
        !self.is_managed()
    }

    /// The node's fixed address on the cluster network, not the port
    /// published on 127.0.0.1: Docker publishes a killed node's port anew
    /// (another host port) when it restarts, and the workers would lose that
    /// node for the rest of the run. Partitions never cut this path: their
    /// rules drop only packets from peer nodes.
    async fn endpoints(&self, port: u16) -> Result<Vec<(String, String)>, Failure> {
        let nodes = self.refresh().await?;
        nodes
            .iter()
            .map(|n| match n.address.as_str() {
                "" => Err(Failure::Harness(format!(
                    "node {} has no address on the cluster network: is it running? (`chaos cluster status`)",
                    n.name
                ))),
                address => Ok((n.name.clone(), format!("{address}:{port}"))),
            })
            .collect()
    }

    async fn wait_healthy(&self, timeout: Duration) -> Result<(), Failure> {
        let want = self.cached_nodes().len();
        lifecycle::wait_healthy(self.docker(), self.selector(), want, timeout).await
    }

    async fn collect_logs(&self, dir: &Path) -> Result<(), Failure> {
        for node in self.cached_nodes() {
            let log =
                match inventory::logs(self.docker(), self.selector(), Some(&node.name), 1_000_000)
                    .await
                {
                    // `chaos cluster logs` prefixes each line with the node's name.
                    Ok(text) => {
                        let prefix = format!("{} | ", node.name);
                        text.lines()
                            .map(|l| l.strip_prefix(&prefix).unwrap_or(l))
                            .collect::<Vec<_>>()
                            .join("\n")
                            + "\n"
                    }
                    Err(e) => format!("(cannot read the log: {e})\n"),
                };
            write_log(dir, &node.name, &log)?;
        }
        Ok(())
    }
}

fn write_log(dir: &Path, node: &str, log: &str) -> Result<(), Failure> {
    let node_dir = dir.join("nodes").join(node);
    std::fs::create_dir_all(&node_dir)
        .and_then(|()| std::fs::write(node_dir.join("log"), log))
        .map_err(|e| Failure::Harness(format!("cannot write {}: {e}", node_dir.display())))
}

/// Kubernetes: the pods of one StatefulSet, found by namespace and selector;
/// the run neither starts nor removes them.
impl RunTarget for K8sCluster {
    fn describe(&self) -> String {
        format!(
            "{} ({} pods in namespace {})",
            self.name(),
            self.pods_seen().len(),
            self.namespace()
        )
    }

    fn journal_id(&self) -> String {
        self.run_id()
    }

    fn outlives_run(&self) -> bool {
        true
    }

    async fn endpoints(&self, port: u16) -> Result<Vec<(String, String)>, Failure> {
        self.refresh().await?;
        Ok(self.client_endpoints(port))
    }

    async fn wait_healthy(&self, timeout: Duration) -> Result<(), Failure> {
        self.wait_ready(timeout).await.map(|_| ())
    }

    async fn collect_logs(&self, dir: &Path) -> Result<(), Failure> {
        K8sCluster::collect_logs(self, dir).await.map(|_| ())
    }
}
