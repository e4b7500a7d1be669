//! One model, three layouts: what the Markdown says, the HTML and the JSON
//! say too, and neither layout is made from the other.

use super::*;
use crate::report::input::SignalSearch;
use crate::report::{render_html, render_markdown};
use chaos_checkers::history::{History, Op, OpType, Process};
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::perf::perf;
use serde_json::{json, Value};

/// A write, then during a partition a read of the value before it.
fn stale_read() -> History {
    let op = |i: u64, ms: u64, p: u64, kind: OpType, f: &str, value: Value| Op {
        index: i,
        time: ms * 1_000_000,
        process: if p == 9 {
            Process::Nemesis
        } else {
            Process::Client(p)
        },
        kind,
        f: f.into(),
        key: Some(json!("k")),
        value,
        node: Some("n1".into()),
        error: None,
    };
    History::new(vec![
        op(0, 0, 0, OpType::Invoke, "write", json!(1)),
        op(1, 10, 0, OpType::Ok, "write", json!(1)),
        op(
            2,
            20,
            9,
            OpType::Info,
            "start-partition",
            json!("n1 | n2,n3"),
        ),
        op(3, 30, 1, OpType::Invoke, "read", Value::Null),
        op(4, 40, 1, OpType::Ok, "read", Value::Null),
        op(
            5,
            50,
            9,
            OpType::Info,
            "stop-partition",
            json!("n1 | n2,n3"),
        ),
    ])
}

#[test]
fn markdown_html_and_json_say_the_same_sections_from_one_model() {
    let h = stale_read();
    let p = perf(&h, 10);
    let l = linear::check(
        &h,
        &LinearOptions {
            model: ModelKind::CasRegister,
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let run = RunReport {
        title: "etcd register <test>".into(),
        started: "2026-11-24 03:00Z".into(),
        command: "chaos run --seed 1".into(),
        cluster: "docker".into(),
        endpoints: vec![],
        parameters: vec![],
        artifacts: vec!["history.jsonl".into()],
        history: &h,
        perf: &p,
        evidence: vec![Evidence::Linearizable(&l)],
        signals: vec![],
        search: SignalSearch::default(),
        partition_shape: None,
    };
    let mut report = Report::build(&run);
    report
        .notices
        .push("PARTIAL: the run was interrupted.".into());
    assert_eq!(report.checkers_verdict, Validity::Invalid);
    assert_eq!(report.anomalies.len(), 1);

    let md = render_markdown(&report);
    let html = render_html(&report, &[]);
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        md.starts_with(
            "> PARTIAL: the run was interrupted.\n\n## 2026-11-24 03:00Z etcd register <test>\n"
        ),
        "{md}"
    );
    assert!(html.contains("<blockquote><p>PARTIAL: the run was interrupted.</p></blockquote><h2>2026-11-24 03:00Z etcd register &lt;test&gt;</h2>"), "{html}");
    let headings: Vec<&str> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["heading"].as_str().unwrap())
        .collect();
    assert_eq!(
        headings,
        [
            "Run Metadata",
            "Throughput and Latency",
            "Consistency Evidence",
            "Anomalies",
            "Fault Timeline",
            "Node Log Signals",
            "Assessment"
        ]
    );
    for heading in headings {
        assert!(
            md.contains(&format!("\n### {heading}\n")),
            "{heading}: {md}"
        );
        assert!(
            html.contains(&format!("<h3>{heading}</h3>")),
            "{heading}: {html}"
        );
    }
    // The HTML is laid out from the spans, not from the Markdown's marks.
    assert!(!html.contains("**") && !html.contains('`'), "{html}");
    assert!(
        html.contains("<li>Verdict: <strong>FAIL</strong> (invalid)</li>"),
        "{html}"
    );
    assert!(html.contains("<h3>Anomalies</h3>"));
    assert!(md.contains("- Verdict: **FAIL** (invalid)\n"), "{md}");
    assert_eq!(json["checkers_verdict"], "invalid");
    assert_eq!(json["notices"][0], "PARTIAL: the run was interrupted.");
    let plot = &json["sections"][1]["blocks"][2];
    assert_eq!(plot["block"], "plot");
    assert_eq!(plot["file"], "latency.svg");
    assert_eq!(
        json["sections"][0]["blocks"][0]["items"][0]["line"],
        json!([{"text": "Command: "}, {"code": "chaos run --seed 1"}])
    );
}
