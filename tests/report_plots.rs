//! `chaos report DIR` writes the plots beside the report: `latency.svg` and
//! `rate.svg`, well-formed XML, referenced from report.md and drawn inline
//! in report.html (with the anomaly when the run is invalid).

use std::path::PathBuf;
use std::process::Command;

struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A completed etcd register run whose read, during a partition, returns
/// `read`: 3 is valid, null (the register's value before the write) not.
fn run(tag: &str, read: &str) -> Folder {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("plots-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let test = serde_json::json!({
        "run_id": "r-plots", "test": "etcd-register", "system": "etcd",
        "workload": "register", "backend": "docker", "nodes": 3,
        "nemesis": "partition-halves", "nemesis_interval_s": 10.0,
        "time_limit_s": 60.0, "concurrency": 2, "rate": 100.0, "seed": 1,
        "read": "linearizable", "keep_cluster": false, "results": "results",
        "command": "chaos run", "harness_version": "0.1.0",
        "started": "2026-11-24 03:25Z", "ended": "completed",
    });
    std::fs::write(dir.join("test.json"), test.to_string()).unwrap();
    let history = format!(
        r#"{{"index":0,"time":1000000,"process":0,"type":"invoke","f":"write","key":1,"value":3,"node":"n1"}}
{{"index":1,"time":2000000,"process":0,"type":"ok","f":"write","key":1,"value":3,"node":"n1"}}
{{"index":2,"time":3000000,"process":"nemesis","type":"info","f":"start-partition","value":"n1 | n2,n3"}}
{{"index":3,"time":4000000,"process":1,"type":"invoke","f":"read","key":1,"value":null,"node":"n2"}}
{{"index":4,"time":9000000,"process":1,"type":"ok","f":"read","key":1,"value":{read},"node":"n2"}}
{{"index":5,"time":10000000,"process":"nemesis","type":"info","f":"stop-partition","value":"n1 | n2,n3"}}
"#
    );
    std::fs::write(dir.join("history.jsonl"), history).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Folder(dir)
}

#[test]
fn the_plots_are_files_beside_the_report_and_inline_in_the_page() {
    let folder = run("valid", "3");
    for file in ["latency.svg", "rate.svg"] {
        let svg = std::fs::read_to_string(folder.0.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(doc.root_element().has_tag_name("svg"));
        assert!(
            doc.descendants()
                .any(|n| n.attribute("data-kind") == Some("partition")),
            "{file}: the partition is shaded"
        );
    }
    let md = std::fs::read_to_string(folder.0.join("report.md")).unwrap();
    assert!(
        md.contains("](latency.svg)\n") && md.contains("](rate.svg)\n"),
        "{md}"
    );
    let html = std::fs::read_to_string(folder.0.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 2, "both plots inline");
    assert!(!html.contains("<img"), "the page stands alone");
    assert!(html.contains("<a href=\"latency.svg\">latency.svg</a>"));
}

#[test]
fn an_invalid_run_also_draws_its_anomaly() {
    let folder = run("invalid", "null");
    let html = std::fs::read_to_string(folder.0.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        3,
        "latency, rate, the anomaly"
    );
    assert!(html.contains("<h3>Anomalies</h3>"));
    // The drawing is a file too, shown where the Markdown renders.
    let drawing = std::fs::read_to_string(folder.0.join("anomaly.svg")).unwrap();
    assert!(drawing.starts_with("<svg") && drawing.contains("#e63946"));
    let markdown = std::fs::read_to_string(folder.0.join("report.md")).unwrap();
    assert!(markdown.contains("### Anomalies"), "{markdown}");
    assert!(markdown.contains("](anomaly.svg)"), "{markdown}");
}
