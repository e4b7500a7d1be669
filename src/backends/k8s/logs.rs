//! The nodes' logs, for the results folder: `nodes/<node>/log`, the system
//! container's log of every incarnation of the pod this run saw (a killed
//! pod's log is saved just before it is deleted: the API forgets it after;
//! so is a container's before the nemesis kills it, as the API keeps only
//! the one before the current).

use std::path::{Path, PathBuf};

use kube::api::LogParams;

use super::error::{api_error, timed_out, K8sError};
use super::K8sCluster;

/// At most this many lines of one container's log are read: the newest,
/// where the run's faults are (`limitBytes` would keep the oldest).
pub const LOG_LIMIT_LINES: i64 = 200_000;

impl K8sCluster {
    /// The system container's log of pod `name` as it is now, or a line
    /// saying why it could not be read.
    pub async fn log(&self, name: &str, container: &str) -> Result<String, K8sError> {
        let params = LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(LOG_LIMIT_LINES),
            ..Default::default()
        };
        let doing = format!("cannot read the log of pod {name}");
        let ns = self.namespace();
        let limit = self.target.api_timeout;
        match tokio::time::timeout(limit, self.pods.logs(name, &params)).await {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(e)) => Err(api_error(&doing, ns, &e)),
            Err(_) => Err(timed_out(&doing, ns, limit)),
        }
    }

    /// Save the log of the incarnation of `name` about to go; `ending`
    /// says how (`uid 1f2e..., deleted by the nemesis`).
    pub(crate) async fn save_log(&self, name: &str, container: &str, ending: &str) {
        let text = match self.log(name, container).await {
            Ok(text) => text,
            Err(e) => format!("(cannot read the log: {e})\n"),
        };
        let mut saved = self.earlier_logs.lock().expect("logs lock");
        let entry = saved.entry(name.to_string()).or_default();
        *entry += &format!("==== pod {name} {ending} ====\n");
        *entry += &text;
        if !text.ends_with('\n') {
            entry.push('\n');
        }
    }

    /// Write `dir/nodes/<node>/log` for every node: the logs of the
    /// incarnations deleted during the run, then the current one. A log
    /// that cannot be read is a line in the file saying why; only a file
    /// that cannot be written is an error. Returns the files written.
    pub async fn collect_logs(&self, dir: &Path) -> Result<Vec<PathBuf>, K8sError> {
        let pods = self.pods_seen();
        let logs =
            futures_util::future::join_all(pods.iter().map(|p| self.log(&p.name, &p.container)))
                .await;
        let mut written = Vec::new();
        for (pod, log) in pods.iter().zip(logs) {
            let mut text = self
                .earlier_logs
                .lock()
                .expect("logs lock")
                .get(&pod.name)
                .cloned()
                .unwrap_or_default();
            if !text.is_empty() {
                text += &format!("==== pod {} (current) ====\n", pod.name);
            }
            match log {
                Ok(log) => text += &log,
                Err(e) => text += &format!("(cannot read the log: {e})\n"),
            }
            let node_dir = dir.join("nodes").join(&pod.name);
            let path = node_dir.join("log");
            std::fs::create_dir_all(&node_dir)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| {
                    K8sError::Harness(format!(
                        "cannot write {}: {e}; check that the results folder is writable",
                        path.display()
                    ))
                })?;
            written.push(path);
        }
        Ok(written)
    }
}
