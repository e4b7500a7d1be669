//! `test.json`: what was run, written first (so even a run that dies at once
//! leaves a record) and completed as the run learns more: the cluster, the
//! endpoints, the run's clock origin, how it ended. `chaos report DIR` reads
//! it back to rebuild the reports from the folder alone.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Failure;

/// How a run ended, as `test.json` records it. A folder with no `ended`
/// belongs to a run that is still going or whose harness died.
pub const COMPLETED: &str = "completed";
pub const INTERRUPTED: &str = "interrupted";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestMeta {
    pub run_id: String,
    /// `<system>-<workload>`: the folder under `results/`.
    pub test: String,
    pub system: String,
    pub workload: String,
    /// `docker` or `k8s`.
    #[serde(default = "docker")]
    pub backend: String,
    pub nodes: usize,
    pub nemesis: String,
    pub nemesis_interval_s: f64,
    pub time_limit_s: f64,
    pub concurrency: usize,
    pub rate: f64,
    pub seed: u64,
    /// etcd read mode: `linearizable` or `serializable`.
    pub read: String,
    pub keep_cluster: bool,
    pub results: String,
    pub command: String,
    pub harness_version: String,
    /// When the run began, UTC, as `2026-02-18 15:45Z`.
    pub started: String,
    /// `--client`: the user's program, spoken to through the client
    /// protocol; the workload is then the protocol's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// `--mix`, as given, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<String>,
    /// `--ops-per-key`, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_key: Option<u64>,
    /// How the nodes' disks could be faulted: `dm` when their data was on
    /// dm-flakey devices, `fuse` when on the fault filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_faults: Option<String>,
    /// How the delay, duplicate, reorder, slow-node and flaky-node faults
    /// were carried out (`tc netem`, or the NFQUEUE delayer), when the
    /// run had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_shaping: Option<String>,
    /// The cluster under test, once it is up: `name (N nodes, run ID)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The system's version as the first node reported it (`3.4.23`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_version: Option<String>,
    /// `node address` per node, as the clients reached them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<String>,
    /// Wall clock (Unix ns) of the history's time 0: puts node log lines on
    /// the run's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_start_unix_ns: Option<u64>,
    /// [`COMPLETED`] or [`INTERRUPTED`]; absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

fn docker() -> String {
    "docker".into()
}

impl TestMeta {
    /// True unless the run reached its time limit and finished its phases.
    pub fn partial(&self) -> bool {
        self.ended.as_deref() != Some(COMPLETED)
    }

    pub fn read(dir: &Path) -> Result<TestMeta, Failure> {
        let path = dir.join("test.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Failure::BadInput(format!(
                "cannot read {}: {e}; pass the folder of one run (results/<test>/<time>)",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Failure::BadInput(format!(
                "{}: not a chaos test.json ({e}); was it written by `chaos run`?",
                path.display()
            ))
        })
    }

    /// Replaces `test.json` whole (write aside, then rename): a reader never
    /// sees half a file, even if we die mid-write.
    pub fn write(&self, dir: &Path) -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        let aside = dir.join(".test.json.new");
        std::fs::write(&aside, text)
            .and_then(|()| std::fs::rename(&aside, dir.join("test.json")))
            .map_err(|e| Failure::Harness(format!("cannot write {}/test.json: {e}", dir.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TestMeta {
        TestMeta {
            run_id: "r1".into(),
            test: "etcd-register".into(),
            system: "etcd".into(),
            workload: "register".into(),
            backend: "docker".into(),
            nodes: 3,
            nemesis: "kill".into(),
            nemesis_interval_s: 10.0,
            time_limit_s: 60.0,
            concurrency: 5,
            rate: 100.0,
            seed: 7,
            read: "linearizable".into(),
            keep_cluster: false,
            results: "results".into(),
            command: "chaos run".into(),
            harness_version: "0.1.0".into(),
            started: "2026-11-24 03:25Z".into(),
            client: None,
            mix: None,
            ops_per_key: None,
            disk_faults: None,
            traffic_shaping: None,
            cluster: None,
            system_version: None,
            endpoints: vec![],
            run_start_unix_ns: None,
            ended: None,
        }
    }

    #[test]
    fn round_trips_and_is_partial_until_completed() {
        let dir = std::env::temp_dir().join(format!("chaos-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = meta();
        m.write(&dir).unwrap();
        assert_eq!(TestMeta::read(&dir).unwrap(), m);
        assert!(m.partial());
        m.ended = Some(COMPLETED.into());
        m.write(&dir).unwrap();
        assert!(!TestMeta::read(&dir).unwrap().partial());
        assert!(!dir.join(".test.json.new").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_without_test_json_says_what_to_pass() {
        let e = TestMeta::read(Path::new("/nonexistent/run")).unwrap_err();
        assert!(e.to_string().contains("pass the folder of one run"), "{e}");
    }
}
