use super::*;
use chaos_checkers::history::{Op, Process};
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::log::check_log;
use chaos_checkers::perf::perf;
use chaos_checkers::queue::{check_queue, QueueOptions};
use serde_json::{json, Value};

fn op(ms: u64, process: Process, kind: OpType, f: &str, value: Value) -> Op {
    Op {
        index: 0,
        time: ms * 1_000_000,
        process,
        kind,
        f: f.into(),
        key: Some(json!("k")),
        value,
        node: None,
        error: None,
    }
}

fn numbered(mut ops: Vec<Op>) -> History {
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
    }
    History::new(ops)
}

fn nemesis(ms: u64, f: &str, value: Value) -> Op {
    op(ms, Process::Nemesis, OpType::Info, f, value)
}

/// A write, a partition, a stale read during it, and the heal.
fn history() -> History {
    let c = Process::Client;
    numbered(vec![
        op(0, c(0), OpType::Invoke, "write", json!(1)),
        op(10, c(0), OpType::Ok, "write", json!(1)),
        nemesis(100, "start-partition", json!("n1,n2 | n3")),
        op(120, c(1), OpType::Invoke, "write", json!(2)),
        op(130, c(1), OpType::Ok, "write", json!(2)),
        Op {
            node: Some("n3".into()),
            ..op(140, c(0), OpType::Invoke, "read", Value::Null)
        },
        op(150, c(0), OpType::Ok, "read", json!(1)),
        op(160, c(2), OpType::Invoke, "write", json!(3)),
        op(300, c(2), OpType::Info, "write", json!(3)),
        nemesis(400, "stop-partition", Value::Null),
    ])
}

fn logs_read() -> SignalSearch {
    SignalSearch {
        logs: vec![("nodes/n1/log".into(), 120), ("nodes/n2/log".into(), 80)],
        matched: 0,
        window: 2_000_000_000,
        skipped: None,
        phrases: vec!["became leader".into(), "election".into()],
    }
}

/// The report of `history` with `evidence`, its signals and search.
fn render(
    history: &History,
    evidence: Evidence<'_>,
    signals: Vec<NodeSignal>,
    search: SignalSearch,
) -> String {
    let perf = perf(history, 10);
    markdown(&RunReport {
        title: "etcd register, partition-halves".into(),
        started: "2026-11-24 03:00Z".into(),
        command: "chaos run --nemesis partition-halves --read serializable".into(),
        cluster: "docker, etcd 3.4, 3 nodes".into(),
        endpoints: vec!["n1 127.0.0.1:32770".into()],
        parameters: vec![
            ("concurrency".into(), "3".into()),
            ("seed".into(), "7".into()),
        ],
        artifacts: vec!["history.jsonl".into(), "results.json".into()],
        history,
        perf: &perf,
        evidence: vec![evidence],
        signals,
        search,
        partition_shape: Some("halves".into()),
    })
}

fn report(history: &History, linear: &LinearReport) -> String {
    let signal = NodeSignal {
        node: "n3".into(),
        time: 105_000_000,
        line: "lost leader".into(),
    };
    render(
        history,
        Evidence::Linearizable(linear),
        vec![signal],
        logs_read(),
    )
}

fn linear_check(h: &History) -> LinearReport {
    let options = LinearOptions {
        model: ModelKind::CasRegister,
        threads: 1,
        ..Default::default()
    };
    linear::check(h, &options).unwrap()
}

#[test]
fn a_stale_read_makes_a_failing_report_that_names_it() {
    let h = history();
    let linear = linear_check(&h);
    assert_eq!(linear.validity, Validity::Invalid);
    let md = report(&h, &linear);
    for section in [
        "### Run Metadata",
        "### Throughput and Latency",
        "### Consistency Evidence",
        "### Fault Timeline",
        "### Node Log Signals",
        "### Assessment",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("- Verdict: **FAIL** (invalid)"), "{md}");
    assert!(
        md.contains("op 5 (process 0 on n3: read null → ok 1, at +0.1s) cannot be linearized, during partition `n1,n2 | n3`"),
        "{md}"
    );
    assert!(
        md.contains("- Operations: **4** (ok **3** / fail **0** / info **1**)"),
        "{md}"
    );
    assert!(md.contains("- n3 +0.1s: `lost leader`"), "{md}");
    assert!(
        md.contains("outside faults 100.0% ok of 1; during faults 66.7% ok of 3"),
        "{md}"
    );
}

#[test]
fn a_stale_read_fails_consistency_not_durability() {
    let h = history();
    let md = report(&h, &linear_check(&h));
    assert!(
        md.contains(
            "- **Consistency (linearizability) verdict**: FAIL (the history shows an anomaly"
        ),
        "{md}"
    );
    assert!(!md.contains("Durability"), "{md}");
}

#[test]
fn a_valid_run_passes_and_says_so() {
    let mut h = history();
    h.ops[6].value = json!(2);
    let md = report(&h, &linear_check(&h));
    assert!(md.contains("- Verdict: **PASS** (valid)"), "{md}");
    assert!(
        md.contains("**Consistency (linearizability) verdict**: PASS (no anomaly in this window)"),
        "{md}"
    );
}

#[test]
fn the_timeline_names_each_fault_and_how_it_went() {
    let c = Process::Client;
    let h = numbered(vec![
        op(0, c(0), OpType::Invoke, "write", json!(1)),
        op(10, c(0), OpType::Ok, "write", json!(1)),
        nemesis(100, "start-partition", json!("n1,n2 | n3")),
        nemesis(110, "partition-in-force", json!({"ms": 12})),
        // A heal's long report stays in the history, out of the table.
        nemesis(
            400,
            "stop-partition",
            json!({"fault": "n1,n2 | n3", "said": [
                "removed chain CHAOS-PARTITION (1 DROP rules) from n1 (chaos-etcd-3-20261207-180633-9f48_n1_1) of chaos-etcd-3-20261207-180633-9f48",
            ]}),
        ),
        nemesis(500, "start-kill", json!("n2")),
        nemesis(1700, "kill-in-force", json!({"ms": 1200})),
        nemesis(2500, "kill-lost", json!("n2")),
        Op {
            error: Some("docker start n2: exit 1".into()),
            ..nemesis(3000, "stop-kill", json!("n2"))
        },
        nemesis(3100, "start-pause", json!("n3")),
        Op {
            error: Some("no such container".into()),
            ..nemesis(3110, "pause-failed", json!({"ms": 3}))
        },
        nemesis(3200, "stop-pause", json!("n3")),
        nemesis(3210, "start-flakey", json!("error_writes on n2")),
        nemesis(3220, "flakey-in-force", json!({"ms": 5})),
        nemesis(
            3290,
            "stop-flakey",
            json!({"fault": "error_writes on n2", "said": ["n2: disk faults ended (412 requests failed)"]}),
        ),
        nemesis(3300, "start-partition", json!("n1 | n2,n3")),
        op(3400, c(0), OpType::Invoke, "read", Value::Null),
        op(3410, c(0), OpType::Ok, "read", json!(1)),
    ]);
    let md = render(
        &h,
        Evidence::Linearizable(&linear_check(&h)),
        vec![],
        logs_read(),
    );
    for row in [
        "| start | end | fault | how it went |",
        "| +0.1s | +0.4s | partition halves n1,n2 \\| n3 | in force after 12ms |",
        "| +0.5s | +3.0s | kill n2 | in force after 1.2s; undone by something else by +2.5s; undoing it failed: docker start n2: exit 1 |",
        "| +3.1s | +3.2s | pause n3 | never in force: no such container |",
        "| +3.2s | +3.3s | flakey error_writes on n2 | in force after 5ms; undo: n2: disk faults ended (412 requests failed) |",
        "| +3.3s | not stopped | partition halves n1 \\| n2,n3 | still in force when the history ends |",
    ] {
        assert!(md.contains(row), "{row} missing:\n{md}");
    }
    assert!(!md.contains("start-"), "{md}");
}

#[test]
fn a_jepsen_start_is_a_fault_with_its_value() {
    let w = FaultWindow {
        f: "start".into(),
        value: json!({"n1": ["n2"]}),
        start: 0,
        end: None,
    };
    assert_eq!(
        fault(&w, Some("halves")),
        ("fault".to_string(), r#"{"n1":["n2"]}"#.to_string())
    );
}

/// Two acknowledged enqueues, `dequeues` dequeues that ended info, and a
/// final drain (`drained`) or none.
fn queue_history(dequeues: u64, drained: bool) -> History {
    let c = Process::Client;
    let mut ops = vec![
        op(0, c(0), OpType::Invoke, "enqueue", json!(1)),
        op(1, c(0), OpType::Ok, "enqueue", json!(1)),
        op(2, c(0), OpType::Invoke, "enqueue", json!(2)),
        op(3, c(0), OpType::Ok, "enqueue", json!(2)),
    ];
    for p in 0..dequeues {
        ops.push(op(
            10 + p,
            c(10 + p),
            OpType::Invoke,
            "dequeue",
            Value::Null,
        ));
        ops.push(op(20 + p, c(10 + p), OpType::Info, "dequeue", Value::Null));
    }
    if drained {
        ops.push(op(100, c(1), OpType::Invoke, "drain", Value::Null));
        ops.push(op(101, c(1), OpType::Ok, "drain", json!([])));
    }
    for o in &mut ops {
        o.key = None;
    }
    numbered(ops)
}

#[test]
fn an_undecided_queue_loss_blames_the_indeterminate_dequeues_not_the_budgets() {
    let h = queue_history(2, true);
    let r = check_queue(&h, &QueueOptions::default()).unwrap();
    assert_eq!(r.validity, Validity::Unknown);
    let md = render(&h, Evidence::Queue(&r), vec![], logs_read());
    assert!(md.contains("### Durability Evidence"), "{md}");
    assert!(
        md.contains("- **Durability verdict**: UNDECIDED (2 acknowledged element(s) never came out, but 2 dequeue(s) ended indeterminate (info) and could have taken them unseen, so the loss cannot be decided: a run with fewer indeterminate dequeues"),
        "{md}"
    );
    assert!(!md.contains("budget"), "{md}");
}

#[test]
fn an_undecided_queue_without_a_final_drain_says_the_drain_did_not_complete() {
    let h = queue_history(0, false);
    let r = check_queue(&h, &QueueOptions::default()).unwrap();
    assert_eq!(r.validity, Validity::Unknown);
    let md = render(&h, Evidence::Queue(&r), vec![], logs_read());
    assert!(
        md.contains("UNDECIDED (2 acknowledged element(s) were never looked for because the final drain did not complete: a final drain that completes (a cluster healthy at the end"),
        "{md}"
    );
    assert!(!md.contains("budget"), "{md}");
}

#[test]
fn an_undecided_log_says_no_final_read_completed() {
    let c = Process::Client;
    let mut ops = vec![
        op(0, c(0), OpType::Invoke, "append", json!(1)),
        op(1, c(0), OpType::Ok, "append", json!([0, 1])),
        op(2, c(1), OpType::Invoke, "final-read", Value::Null),
        op(3, c(1), OpType::Info, "final-read", Value::Null),
    ];
    for o in &mut ops {
        o.key = None;
    }
    let h = numbered(ops);
    let r = check_log(&h).unwrap();
    assert_eq!(r.validity, Validity::Unknown);
    let md = render(&h, Evidence::Log(&r), vec![], logs_read());
    assert!(
        md.contains("- **Durability verdict**: UNDECIDED (1 acknowledged append(s) lie beyond every offset a read reached and no final read completed on the log, so whether they were lost cannot be decided: a final read that completes"),
        "{md}"
    );
}

#[test]
fn a_search_out_of_budget_says_to_raise_the_budgets() {
    let h = history();
    let mut linear = linear_check(&h);
    linear.validity = Validity::Unknown;
    linear.keys_invalid = 0;
    linear.keys_unknown = 1;
    linear.keys[0].validity = Validity::Unknown;
    linear.keys[0].failure = None;
    linear.keys[0].unknown_reason = Some("time budget exceeded after 9 configurations".into());
    let md = report(&h, &linear);
    assert!(
        md.contains("UNDECIDED (the linearizability search ran out of its budget on 1 key(s): re-check `history.jsonl` with `chaos check --time-budget ... --memory-budget ...` and larger budgets, or shorten the run)"),
        "{md}"
    );
}

#[test]
fn no_signal_says_which_logs_were_searched_for_what() {
    let h = history();
    let linear = linear_check(&h);
    let md = render(&h, Evidence::Linearizable(&linear), vec![], logs_read());
    assert!(
        md.contains("### Node Log Signals\nNone of the known patterns (`became leader`, "),
        "{md}"
    );
    assert!(
        md.contains("`election`) matched a line of the node logs read: `nodes/n1/log` (120 lines), `nodes/n2/log` (80 lines).\n"),
        "{md}"
    );

    let far = SignalSearch {
        matched: 3,
        ..logs_read()
    };
    let md = render(&h, Evidence::Linearizable(&linear), vec![], far);
    assert!(
        md.contains("### Node Log Signals\n3 line(s) of the node logs matched a known pattern, none within 2s of a fault; read: `nodes/n1/log` (120 lines), `nodes/n2/log` (80 lines).\n"),
        "{md}"
    );

    let md = render(
        &h,
        Evidence::Linearizable(&linear),
        vec![],
        SignalSearch::default(),
    );
    assert!(
        md.contains("### Node Log Signals\nNo node log was found under `nodes/`: there was nothing to search.\n"),
        "{md}"
    );

    let skipped = SignalSearch {
        skipped: Some("test.json has no `run_start_unix_ns`".into()),
        ..logs_read()
    };
    let md = render(&h, Evidence::Linearizable(&linear), vec![], skipped);
    assert!(
        md.contains("The node logs were not searched: test.json has no `run_start_unix_ns`.\n"),
        "{md}"
    );
}

#[test]
fn signals_found_say_where_they_were_looked_for() {
    let h = history();
    let md = report(&h, &linear_check(&h));
    assert!(
        md.contains("- n3 +0.1s: `lost leader`\n\nLines within 2s of a fault that mark an election, a leader change or a timeout; read: `nodes/n1/log` (120 lines), `nodes/n2/log` (80 lines).\n"),
        "{md}"
    );
}
