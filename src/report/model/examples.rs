//! The particulars under a checker's counts: each anomaly with the ops that
//! show it (a queue element's enqueues and every dequeue that returned it;
//! a log anomaly's op and the op it contradicts), on the run clock and
//! against the fault in force, so a reader can follow what happened
//! without opening the history. And whether a queue's loss is certain.

use std::collections::HashMap;

use chaos_checkers::history::{History, Pair};
use chaos_checkers::linear::OpSummary;
use chaos_checkers::log::{LogExample, LogReport};
use chaos_checkers::perf::FaultWindow;
use chaos_checkers::queue::{QueueExample, QueueReport};

use super::ops::{during, op};
use super::text::Item;

/// How many examples of one kind a report spells out.
pub const EXAMPLES: usize = 3;

/// Says why a loss is or is not certain: a dequeue that ended `info` may
/// have taken an element (and acknowledged it) without our seeing it.
pub fn loss_certainty(r: &QueueReport) -> Option<Item> {
    if r.lost.is_empty() {
        return None;
    }
    Some(Item::rich(&format!(
        "Loss {}: {} lost, {} dequeue(s) and {} drain(s) ended indeterminate and could have taken {}",
        if r.loss_is_certain() { "certain" } else { "not certain" },
        r.lost.count,
        r.indeterminate_dequeues,
        r.indeterminate_drains,
        if r.indeterminate_drains > 0 {
            "any number".to_string()
        } else {
            format!("at most {}", r.indeterminate_dequeues)
        }
    )))
}

/// Up to [`EXAMPLES`] elements of each anomaly, most damning kind first.
pub fn queue_examples(r: &QueueReport, history: &History, faults: &[FaultWindow]) -> Vec<Item> {
    let Ok(pairs) = history.pairs() else {
        // The checker paired this history already; nothing to add if not.
        return Vec::new();
    };
    let by_index = index_pairs(&pairs);
    let kinds: [(&str, &[QueueExample]); 4] = [
        ("duplicated", &r.duplicated.examples),
        ("unexpected", &r.unexpected.examples),
        ("failed but dequeued", &r.failed_but_dequeued.examples),
        ("lost", &r.lost.examples),
    ];
    let mut items = Vec::new();
    for (kind, examples) in kinds {
        for e in examples.iter().take(EXAMPLES) {
            let mut item = Item::rich(&format!("{kind}: element `{}`", e.element));
            for enqueue in &e.enqueues {
                item.items
                    .push(describe("enqueued by", enqueue.index, &by_index, faults));
            }
            for &dequeue in &e.dequeued_by {
                item.items
                    .push(describe("returned by", dequeue, &by_index, faults));
            }
            items.push(item);
        }
    }
    items
}

/// Up to [`EXAMPLES`] of each anomaly, most damning kind first.
pub fn log_examples(r: &LogReport, history: &History, faults: &[FaultWindow]) -> Vec<Item> {
    let Ok(pairs) = history.pairs() else {
        return Vec::new();
    };
    let by_index = index_pairs(&pairs);
    let a = &r.anomalies;
    let kinds: [(&str, &[LogExample]); 9] = [
        ("lost-write", &a.lost_write.examples),
        ("duplicate", &a.duplicate.examples),
        ("inconsistent-offsets", &a.inconsistent_offsets.examples),
        ("aborted-read", &a.aborted_read.examples),
        ("unexpected", &a.unexpected.examples),
        ("nonmonotonic-send", &a.nonmonotonic_send.examples),
        ("nonmonotonic-poll", &a.nonmonotonic_poll.examples),
        ("poll-skip", &a.poll_skip.examples),
        ("unseen", &a.unseen.examples),
    ];
    let mut items = Vec::new();
    for (kind, examples) in kinds {
        for e in examples.iter().take(EXAMPLES) {
            let what = match (&e.value, e.values.as_slice()) {
                (Some(v), _) => format!("value `{v}`"),
                (None, []) => "offsets".to_string(),
                (None, values) => format!("values {}", list(values)),
            };
            let mut item = Item::rich(&format!("{kind}: {what} at offset(s) {}", list(&e.offsets)));
            item.items
                .push(describe("shown by", e.index, &by_index, faults));
            if let Some(related) = e.related {
                item.items
                    .push(describe("against", related, &by_index, faults));
            }
            items.push(item);
        }
    }
    items
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    shown.join(", ")
}

/// Pair of each invocation and completion index.
fn index_pairs<'p, 'h>(pairs: &'p [Pair<'h>]) -> HashMap<u64, &'p Pair<'h>> {
    let mut by_index = HashMap::new();
    for pair in pairs {
        by_index.insert(pair.invoke.index, pair);
        if let Some(c) = pair.completion {
            by_index.insert(c.index, pair);
        }
    }
    by_index
}

fn describe(
    what: &str,
    index: u64,
    by_index: &HashMap<u64, &Pair<'_>>,
    faults: &[FaultWindow],
) -> Item {
    match by_index.get(&index) {
        Some(pair) => {
            let summary = OpSummary::of(pair);
            Item::rich(&format!(
                "{what} {}{}",
                op(&summary),
                during(&summary, faults)
            ))
        }
        None => Item::rich(&format!("{what} op {index}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown;
    use chaos_checkers::history::{Op, OpType, Process};
    use chaos_checkers::queue::{check_queue, QueueOptions};
    use serde_json::{json, Value};

    /// `(ms, process, kind, f, value, node)` in order: a history.
    fn history(entries: &[(u64, u64, OpType, &str, Value, &str)]) -> History {
        History::new(
            entries
                .iter()
                .enumerate()
                .map(|(i, (ms, p, kind, f, value, node))| Op {
                    index: i as u64,
                    time: ms * 1_000_000,
                    process: Process::Client(*p),
                    kind: *kind,
                    f: f.to_string(),
                    key: None,
                    value: value.clone(),
                    node: Some(node.to_string()),
                    error: None,
                })
                .collect(),
        )
    }

    #[test]
    fn a_duplicate_is_told_with_every_op_that_returned_it() {
        use OpType::{Invoke, Ok};
        let h = history(&[
            (0, 0, Invoke, "enqueue", json!(7), "n1"),
            (1, 0, Ok, "enqueue", json!(7), "n1"),
            (100, 1, Invoke, "dequeue", Value::Null, "n2"),
            (200, 2, Invoke, "dequeue", Value::Null, "n3"),
            (210, 2, Ok, "dequeue", json!(7), "n3"),
            (5100, 1, Ok, "dequeue", json!(7), "n2"),
            (6000, 3, Invoke, "drain", Value::Null, "n1"),
            (6001, 3, Ok, "drain", json!([]), "n1"),
        ]);
        let report = check_queue(&h, &QueueOptions::default()).unwrap();
        let faults = [FaultWindow {
            f: "start-pause".into(),
            value: json!("n2"),
            start: 50_000_000,
            end: Some(5_050_000_000),
        }];
        let out = markdown::list(&queue_examples(&report, &h, &faults), 1);
        assert!(out.contains("  - duplicated: element `7`\n"), "{out}");
        assert!(
            out.contains("    - enqueued by op 0 (process 0 on n1: enqueue 7 → ok 7, at +0.0s)\n"),
            "{out}"
        );
        assert!(
            out.contains("    - returned by op 2 (process 1 on n2: dequeue null → ok 7, at +0.1s until +5.1s), during pause `n2`\n"),
            "{out}"
        );
        assert!(
            out.contains("    - returned by op 3 (process 2 on n3: dequeue null → ok 7, at +0.2s), during pause `n2`\n"),
            "{out}"
        );
    }

    #[test]
    fn a_loss_is_certain_only_beyond_what_indeterminate_dequeues_could_take() {
        use OpType::{Info, Invoke, Ok};
        let lost_two = |indeterminate: usize| {
            let mut entries = vec![
                (0, 0, Invoke, "enqueue", json!(1), "n1"),
                (1, 0, Ok, "enqueue", json!(1), "n1"),
                (2, 0, Invoke, "enqueue", json!(2), "n1"),
                (3, 0, Ok, "enqueue", json!(2), "n1"),
            ];
            for p in 0..indeterminate as u64 {
                entries.push((10 + p, 10 + p, Invoke, "dequeue", Value::Null, "n2"));
                entries.push((20 + p, 10 + p, Info, "dequeue", Value::Null, "n2"));
            }
            entries.push((100, 1, Invoke, "drain", Value::Null, "n1"));
            entries.push((101, 1, Ok, "drain", json!([]), "n1"));
            let h = history(&entries);
            let report = check_queue(&h, &QueueOptions::default()).unwrap();
            markdown::list(&loss_certainty(&report).into_iter().collect::<Vec<_>>(), 0)
        };
        assert_eq!(
            lost_two(1),
            "- Loss certain: 2 lost, 1 dequeue(s) and 0 drain(s) ended indeterminate and could have taken at most 1\n"
        );
        assert_eq!(
            lost_two(2),
            "- Loss not certain: 2 lost, 2 dequeue(s) and 0 drain(s) ended indeterminate and could have taken at most 2\n"
        );
    }

    #[test]
    fn a_lost_write_is_told_with_its_ack() {
        use OpType::{Invoke, Ok};
        // 1 acked at offset 0, 2 at offset 1; the read reaches offset 1 but
        // never returns 1.
        let h = history(&[
            (0, 0, Invoke, "append", json!(1), "n1"),
            (1, 0, Ok, "append", json!([0, 1]), "n1"),
            (2, 0, Invoke, "append", json!(2), "n1"),
            (3, 0, Ok, "append", json!([1, 2]), "n1"),
            (100, 1, Invoke, "final-read", Value::Null, "n2"),
            (101, 1, Ok, "final-read", json!([[1, 2]]), "n2"),
        ]);
        let report = chaos_checkers::log::check_log(&h).unwrap();
        let out = markdown::list(&log_examples(&report, &h, &[]), 1);
        assert_eq!(
            out,
            "  - lost-write: value `1` at offset(s) `0`\n    - shown by op 0 (process 0 on n1: append 1 → ok [0,1], at +0.0s)\n"
        );
    }
}
