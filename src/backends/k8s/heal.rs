//! `chaos heal --backend k8s`: undo what a crashed run left in force on a
//! Kubernetes cluster. The journal's outstanding faults of this cluster
//! first (recorded healed as each is undone), then the safety net: our
//! chains (partition, loss), our rate-limit qdisc and every shaping of ours
//! (the netem qdisc; the packet delayer and its chain `CHAOS-DELAY`)
//! removed from every pod with a sidecar, the disk faults of every pod on
//! the fault filesystem cleared, and SIGCONT to every node's
//! process (harmless to one that runs; a stopped one cannot be told apart
//! from outside).

use std::path::Path;

use chaos_nemeses::nemesis::{self, NemesisError};
use chaos_nemeses::{Cluster, ClusterError, Journal};

use super::{K8sCluster, K8sError};
use crate::runid::new_run_id;

/// One line per thing undone; the failures (heal goes on past each).
pub async fn heal(
    cluster: &K8sCluster,
    journal_path: &Path,
) -> Result<(Vec<String>, Vec<String>), K8sError> {
    let (mut lines, mut errors) = (Vec::new(), Vec::new());
    let run = cluster.run_id();
    if journal_path.exists() {
        // Opening for writing takes the journal's lock: a live run is refused.
        let mut journal = Journal::open(journal_path, &format!("heal-{}", new_run_id()))
            .map_err(|e| K8sError::Harness(e.to_string()))?;
        let outstanding = journal
            .outstanding()
            .map_err(|e| K8sError::BadInput(e.to_string()))?;
        for entry in outstanding.iter().rev().filter(|e| e.run == run) {
            let what = entry.fault.to_string().replace('\n', "; ");
            match nemesis::undo(cluster, &mut journal, &entry.fault).await {
                Ok(removed) => {
                    lines.extend(removed);
                    lines.push(format!(
                        "undid {what} on {} (journal entry {})",
                        cluster.name(),
                        entry.seq
                    ));
                }
                Err(NemesisError::Journal(e)) => return Err(K8sError::Harness(e.to_string())),
                Err(NemesisError::Cluster(e)) => errors.push(format!("cannot undo {what}: {e}")),
            }
        }
    }
    let swept = [
        cluster.heal_nodes().await,
        cluster.heal_loss_nodes().await,
        cluster.heal_rate_nodes().await,
        cluster.heal_shaping_nodes().await,
        cluster.heal_disk_nodes().await,
    ];
    for result in swept {
        match result {
            Ok(removed) => lines.extend(removed),
            Err(e) => errors.push(e.to_string()),
        }
    }
    for node in cluster.names() {
        match cluster.resume(&node).await {
            // No sidecar that sees its processes: we could not have paused it.
            Ok(()) | Err(ClusterError::Unsupported { .. }) => {}
            Err(e) => errors.push(format!("cannot resume {node}: {e}")),
        }
    }
    Ok((lines, errors))
}
