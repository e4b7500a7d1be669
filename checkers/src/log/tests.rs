use super::*;
use crate::history::PairError;
use serde_json::json;

/// Builds histories by hand: indices and times follow insertion order.
#[derive(Default)]
struct Builder {
    ops: Vec<Op>,
    key: Option<Value>,
}

impl Builder {
    fn push(&mut self, process: Process, kind: OpType, f: &str, value: Value) -> u64 {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: index * 1000,
            process,
            kind,
            f: f.to_string(),
            key: self.key.clone(),
            value,
            node: None,
            error: None,
        });
        index
    }

    fn invoke(&mut self, p: u64, f: &str, value: Value) -> u64 {
        self.push(Process::Client(p), OpType::Invoke, f, value)
    }

    fn complete(&mut self, p: u64, kind: OpType, f: &str, value: Value) -> u64 {
        self.push(Process::Client(p), kind, f, value)
    }

    /// An append acknowledged at `offset`; returns the completion index.
    fn append(&mut self, p: u64, value: &str, offset: u64) -> u64 {
        self.invoke(p, "append", json!(value));
        self.complete(p, OpType::Ok, "append", json!([offset, value]))
    }

    fn append_ending(&mut self, p: u64, value: &str, kind: OpType) -> u64 {
        self.invoke(p, "append", json!(value));
        self.complete(p, kind, "append", Value::Null)
    }

    fn read(&mut self, p: u64, f: &str, entries: &[(u64, &str)]) -> u64 {
        self.invoke(p, f, Value::Null);
        let pairs: Vec<Value> = entries.iter().map(|&(o, v)| json!([o, v])).collect();
        self.complete(p, OpType::Ok, f, Value::Array(pairs))
    }

    fn poll(&mut self, p: u64, entries: &[(u64, &str)]) -> u64 {
        self.read(p, "poll", entries)
    }

    fn final_read(&mut self, p: u64, entries: &[(u64, &str)]) -> u64 {
        self.read(p, "final-read", entries)
    }

    fn history(&self) -> History {
        History::new(self.ops.clone())
    }

    fn check(&self) -> LogReport {
        let r = check_log(&self.history()).expect("checkable");
        assert_identity(&r);
        r
    }
}

fn assert_identity(r: &LogReport) {
    let c = &r.counts;
    assert_eq!(c.produced, c.delivered + c.lost + c.unseen, "{c:?}");
    for k in &r.keys {
        let c = &k.counts;
        assert_eq!(c.produced, c.delivered + c.lost + c.unseen, "{c:?}");
    }
}

/// The kinds with at least one finding, by their JSON names.
fn kinds(r: &LogReport) -> Vec<String> {
    let json = serde_json::to_value(&r.anomalies).unwrap();
    let map = json.as_object().unwrap();
    map.iter()
        .filter(|(_, v)| v["count"] != json!(0))
        .map(|(k, _)| k.clone())
        .collect()
}

fn only(r: &LogReport, kind: &str) -> LogExample {
    assert_eq!(kinds(r), [kind], "{r:#?}");
    let json = serde_json::to_value(&r.anomalies).unwrap();
    assert_eq!(json[kind]["count"], json!(1), "{r:#?}");
    serde_json::from_value(json[kind]["examples"][0].clone()).unwrap()
}

#[test]
fn a_clean_log_is_valid() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    h.append_ending(2, "x", OpType::Fail);
    h.poll(1, &[(0, "a")]);
    h.poll(1, &[(1, "b")]);
    h.poll(1, &[]);
    h.final_read(3, &[(0, "a"), (1, "b")]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid, "{r:#?}");
    assert!(kinds(&r).is_empty());
    let c = r.counts;
    assert_eq!(
        (c.attempted, c.produced, c.delivered, c.consumed),
        (3, 2, 2, 2)
    );
    assert_eq!(
        (c.lost, c.unseen, c.gaps, c.duplicates, c.out_of_order),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(r.keys.len(), 1);
    assert!(r.keys[0].final_read && r.keys[0].key.is_none());
}

#[test]
fn an_empty_history_is_valid() {
    let r = Builder::default().check();
    assert_eq!(r.validity, Validity::Valid);
    assert!(r.keys.is_empty());
}

#[test]
fn an_ack_below_what_reads_reached_but_never_read_is_a_lost_write() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    let ack = h.append(0, "b", 1);
    h.append(0, "c", 2);
    h.poll(1, &[(0, "a")]);
    h.poll(2, &[(2, "c")]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    let ex = only(&r, "lost-write");
    assert_eq!(
        (ex.index, ex.process, ex.offsets),
        (ack, Process::Client(0), vec![1])
    );
    assert_eq!(ex.value, Some(json!("b")));
    assert_eq!(
        (r.counts.lost, r.counts.delivered, r.counts.produced),
        (1, 2, 3)
    );
}

#[test]
fn an_ack_missing_from_a_later_final_read_is_unseen_and_invalid() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    let ack = h.append(0, "b", 1);
    h.final_read(1, &[(0, "a")]);
    let r = h.check();
    let ex = only(&r, "unseen");
    assert_eq!(
        (ex.index, ex.offsets, ex.value),
        (ack, vec![1], Some(json!("b")))
    );
    assert_eq!(r.counts.unseen, 1);
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn unseen_acks_without_a_final_read_are_unknown() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    h.poll(1, &[(0, "a")]);
    let r = h.check();
    assert_eq!(only(&r, "unseen").value, Some(json!("b")));
    assert_eq!(r.validity, Validity::Unknown);
    assert!(!r.keys[0].final_read);
}

#[test]
fn an_ack_after_the_final_read_began_is_undecided() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.invoke(1, "final-read", Value::Null);
    h.append(0, "b", 1);
    h.complete(1, OpType::Ok, "final-read", json!([[0, "a"]]));
    let r = h.check();
    assert_eq!(r.counts.unseen, 1);
    assert_eq!(r.validity, Validity::Unknown);
}

#[test]
fn one_value_at_two_offsets_is_a_duplicate() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    let poll = h.poll(1, &[(0, "a"), (1, "b"), (2, "a")]);
    let r = h.check();
    let ex = only(&r, "duplicate");
    assert_eq!(
        (ex.index, ex.offsets, ex.value),
        (poll, vec![0, 2], Some(json!("a")))
    );
    assert_eq!(r.counts.duplicates, 1);
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn two_values_at_one_offset_are_inconsistent() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    let second = h.append(1, "b", 0);
    h.poll(2, &[(0, "a")]);
    h.poll(3, &[(0, "b")]);
    let r = h.check();
    let ex = only(&r, "inconsistent-offsets");
    assert_eq!(
        (ex.index, ex.process, ex.offsets),
        (second, Process::Client(1), vec![0])
    );
    assert_eq!(ex.values, [json!("a"), json!("b")]);
    assert_eq!(ex.value, None);
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn a_producer_acked_backwards_is_a_nonmonotonic_send() {
    let mut h = Builder::default();
    let first = h.append(0, "a", 5);
    let second = h.append(0, "b", 3);
    h.append(1, "c", 7);
    h.append(1, "d", 8);
    h.final_read(2, &[(3, "b"), (5, "a"), (7, "c"), (8, "d")]);
    let r = h.check();
    let ex = only(&r, "nonmonotonic-send");
    assert_eq!(
        (ex.index, ex.offsets, ex.related),
        (second, vec![5, 3], Some(first))
    );
    assert_eq!(r.counts.out_of_order, 1);
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn a_consumer_going_back_is_a_nonmonotonic_poll() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    let first = h.poll(1, &[(0, "a"), (1, "b")]);
    let again = h.poll(1, &[(1, "b")]);
    h.poll(2, &[(1, "b")]); // another consumer may start anywhere
    let r = h.check();
    let ex = only(&r, "nonmonotonic-poll");
    assert_eq!(
        (ex.index, ex.offsets, ex.related),
        (again, vec![1, 1], Some(first))
    );
    assert_eq!(ex.process, Process::Client(1));
    assert_eq!(r.counts.out_of_order, 1);
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn a_consumer_jumping_over_known_offsets_is_a_poll_skip() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    h.append(0, "c", 2);
    h.append(0, "d", 4); // offset 3 holds nothing known: not a skip
    let before = h.poll(1, &[(0, "a")]);
    let jump = h.poll(1, &[(2, "c"), (4, "d")]);
    h.poll(2, &[(1, "b")]);
    let r = h.check();
    let ex = only(&r, "poll-skip");
    assert_eq!(
        (ex.index, ex.offsets, ex.skipped),
        (jump, vec![0, 2], vec![1])
    );
    assert_eq!((ex.value, ex.related), (Some(json!("c")), Some(before)));
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn a_final_read_missing_the_middle_skips() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    h.append(0, "c", 2);
    h.poll(1, &[(0, "a"), (1, "b"), (2, "c")]);
    let last = h.final_read(2, &[(0, "a"), (2, "c")]);
    let r = h.check();
    assert_eq!(only(&r, "poll-skip").index, last);
    assert_eq!(r.counts.gaps, 1);
}

#[test]
fn reading_a_failed_append_is_an_aborted_read() {
    let mut h = Builder::default();
    let failed = h.append_ending(0, "a", OpType::Fail);
    let read = h.poll(1, &[(0, "a")]);
    let r = h.check();
    let ex = only(&r, "aborted-read");
    assert_eq!(
        (ex.index, ex.offsets, ex.related),
        (read, vec![0], Some(failed))
    );
    assert_eq!(ex.value, Some(json!("a")));
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn reading_a_value_nobody_appended_is_unexpected() {
    let mut h = Builder::default();
    let read = h.final_read(1, &[(0, "ghost")]);
    let r = h.check();
    let ex = only(&r, "unexpected");
    assert_eq!((ex.index, ex.value), (read, Some(json!("ghost"))));
    assert_eq!(r.validity, Validity::Invalid);
}

#[test]
fn an_indeterminate_append_may_show_up_or_not() {
    let mut h = Builder::default();
    h.append_ending(0, "a", OpType::Info);
    h.invoke(1, "append", json!("b")); // never completes
    h.append_ending(2, "c", OpType::Info);
    h.final_read(3, &[(0, "a"), (1, "b")]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid, "{r:#?}");
    assert_eq!(
        (r.counts.attempted, r.counts.produced, r.counts.consumed),
        (3, 0, 2)
    );
}

#[test]
fn holes_in_the_final_read_are_gaps_not_anomalies() {
    let mut h = Builder::default();
    h.append(0, "a", 0);
    h.append(0, "b", 2);
    h.append(0, "c", 5);
    h.final_read(1, &[(0, "a"), (2, "b"), (5, "c")]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid);
    assert_eq!(r.counts.gaps, 3);
}

#[test]
fn every_ack_is_delivered_lost_or_unseen() {
    let mut h = Builder::default();
    for (i, v) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        h.append(0, v, i as u64);
    }
    h.append_ending(0, "g", OpType::Info);
    h.poll(1, &[(0, "a"), (1, "b")]);
    h.poll(2, &[(3, "d")]);
    let r = h.check();
    let c = r.counts;
    assert_eq!((c.produced, c.delivered, c.lost, c.unseen), (6, 3, 1, 2));
    assert_eq!(r.anomalies.lost_write.examples[0].value, Some(json!("c")));
    let unseen: Vec<_> = r
        .anomalies
        .unseen
        .examples
        .iter()
        .map(|e| e.value.clone())
        .collect();
    assert_eq!(unseen, [Some(json!("e")), Some(json!("f"))]);
}

#[test]
fn logs_are_checked_per_key_and_aggregated() {
    let mut h = Builder {
        key: Some(json!("x")),
        ..Builder::default()
    };
    h.append(0, "x0", 0);
    h.append(0, "x1", 1);
    h.final_read(1, &[(0, "x0"), (1, "x1")]);
    h.key = Some(json!("y"));
    h.append(2, "y0", 0); // offsets restart: another log
    let lost = h.append(2, "y1", 1);
    h.append(2, "y2", 2);
    h.poll(3, &[(0, "y0")]);
    h.poll(4, &[(2, "y2")]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Invalid);
    let per_key: Vec<_> = r
        .keys
        .iter()
        .map(|k| (k.key.clone(), k.validity, k.counts.produced))
        .collect();
    assert_eq!(
        per_key,
        [
            (Some(json!("x")), Validity::Valid, 2),
            (Some(json!("y")), Validity::Invalid, 3)
        ]
    );
    assert_eq!(
        (r.counts.produced, r.counts.delivered, r.counts.lost),
        (5, 4, 1)
    );
    let ex = only(&r, "lost-write");
    assert_eq!((ex.index, ex.key), (lost, Some(json!("y"))));
    assert_eq!(r.keys[1].anomalies.lost_write.count, 1);
}

#[test]
fn one_log_undecided_and_one_clean_is_unknown() {
    let mut h = Builder {
        key: Some(json!(1)),
        ..Builder::default()
    };
    h.append(0, "a", 0);
    h.final_read(1, &[(0, "a")]);
    h.key = Some(json!(2));
    h.append(0, "b", 0);
    assert_eq!(h.check().validity, Validity::Unknown);
}

#[test]
fn an_ack_may_give_just_the_offset() {
    let mut h = Builder::default();
    h.invoke(0, "append", json!(10));
    h.complete(0, OpType::Ok, "append", json!(0));
    h.final_read(1, &[]);
    h.ops.last_mut().unwrap().value = json!([[0, 10]]);
    let r = h.check();
    assert_eq!(r.validity, Validity::Valid, "{r:#?}");
    assert_eq!(r.counts.delivered, 1);
}

#[test]
fn nemesis_and_other_ops_are_ignored() {
    let mut h = Builder::default();
    h.push(Process::Nemesis, OpType::Info, "kill", json!(["n1"]));
    h.append(0, "a", 0);
    h.invoke(0, "commit", json!(0));
    h.complete(0, OpType::Ok, "commit", json!("whatever"));
    h.final_read(1, &[(0, "a")]);
    assert_eq!(h.check().validity, Validity::Valid);
}

#[test]
fn examples_are_the_first_eight_by_op_index() {
    let mut h = Builder::default();
    let acks: Vec<u64> = (0..10).map(|i| h.append(0, &format!("v{i}"), i)).collect();
    h.poll(1, &[(20, "last")]);
    h.ops.last_mut().unwrap().value = json!([]);
    h.final_read(2, &[]);
    let r = h.check();
    assert_eq!(r.anomalies.unseen.count, 10);
    let shown: Vec<u64> = r
        .anomalies
        .unseen
        .examples
        .iter()
        .map(|e| e.index)
        .collect();
    assert_eq!(shown, acks[..MAX_EXAMPLES]);
}

fn malformed(h: &Builder) -> (u64, String) {
    match check_log(&h.history()) {
        Err(CheckError::Malformed { index, message }) => (index, message),
        other => panic!("expected a malformed op, got {other:?}"),
    }
}

#[test]
fn malformed_values_are_errors_not_panics() {
    let mut h = Builder::default();
    h.invoke(1, "poll", Value::Null);
    let bad = h.complete(1, OpType::Ok, "poll", json!({"0": "a"}));
    let (index, message) = malformed(&h);
    assert_eq!(index, bad);
    assert!(
        message.starts_with("poll ok value must be an array"),
        "{message}"
    );

    let mut h = Builder::default();
    h.invoke(1, "final-read", Value::Null);
    h.complete(1, OpType::Ok, "final-read", json!([[0, "a"], [1]]));
    assert!(malformed(&h).1.contains("must be an [offset, value] pair"));

    let mut h = Builder::default();
    h.invoke(0, "append", json!("a"));
    h.complete(0, OpType::Ok, "append", json!([-1, "a"]));
    assert!(malformed(&h)
        .1
        .contains("offset must be a non-negative integer, not -1"));

    let mut h = Builder::default();
    h.invoke(0, "append", json!("a"));
    h.complete(0, OpType::Ok, "append", json!([3, "b"]));
    assert_eq!(malformed(&h).1, "append of \"a\" acknowledged as [3,\"b\"]");

    let mut h = Builder::default();
    h.invoke(0, "append", json!("a"));
    let bad = h.complete(0, OpType::Ok, "append", json!("three"));
    let err = check_log(&h.history()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("op {bad}: append ok value must be")),
        "{err}"
    );
}

/// Logs are read and analysed each on its own (on several threads): the
/// op named is still the earliest that breaks the conventions, whichever
/// log it is in, and the logs are still reported in key order.
#[test]
fn logs_apart_still_name_the_earliest_bad_op_and_keep_key_order() {
    let mut h = Builder::default();
    for (i, key) in ["d", "b", "c", "a", "e"].into_iter().enumerate() {
        h.key = Some(json!(key));
        h.append(i as u64, &format!("{key}0"), 0);
    }
    h.key = None;
    h.append(9, "none", 0);
    let r = h.check();
    let keys: Vec<Option<Value>> = r.keys.iter().map(|k| k.key.clone()).collect();
    let expected = [None, Some(json!("a")), Some(json!("b")), Some(json!("c"))];
    assert_eq!(keys[..4], expected);
    assert_eq!(keys[4..], [Some(json!("d")), Some(json!("e"))]);

    h.key = Some(json!("e"));
    h.invoke(20, "append", json!("e1"));
    let first = h.complete(20, OpType::Ok, "append", json!([1, "not e1"]));
    h.key = Some(json!("a"));
    h.invoke(21, "append", json!("a1"));
    h.complete(21, OpType::Ok, "append", json!("one"));
    assert_eq!(malformed(&h).0, first);
}

#[test]
fn unpaired_ops_are_pair_errors() {
    let mut h = Builder::default();
    h.invoke(0, "append", json!("a"));
    h.invoke(0, "append", json!("b"));
    let err = check_log(&h.history()).unwrap_err();
    assert!(
        matches!(err, CheckError::Pair(PairError { index: 1, .. })),
        "{err}"
    );
}

#[test]
fn the_report_round_trips_through_json() {
    let mut h = Builder {
        key: Some(json!("k")),
        ..Builder::default()
    };
    h.append(0, "a", 0);
    h.append(0, "b", 1);
    h.poll(1, &[(1, "b")]);
    let r = h.check();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["produced"], json!(2), "counts are flat: {json}");
    assert_eq!(json["anomalies"]["lost-write"]["count"], json!(1));
    assert_eq!(json["keys"][0]["key"], json!("k"));
    assert_eq!(serde_json::from_value::<LogReport>(json).unwrap(), r);
}

mod simulation {
    use super::*;
    use crate::synth::Rng;
    use proptest::prelude::*;

    struct Busy {
        f: &'static str,
        log: usize,
        value: Value,
        outcome: OpType,
        /// Whether the op takes effect (always for ok, never for fail).
        effective: bool,
        done: bool,
        result: Value,
    }

    struct Worker {
        process: u64,
        /// Next offset this consumer reads, per log; set on its first poll.
        position: Vec<Option<usize>>,
        busy: Option<Busy>,
    }

    /// Correct logs driven by concurrent producers and consumers whose ops
    /// take effect at a random moment between invocation and completion.
    struct Sim {
        rng: Rng,
        h: Builder,
        keys: Vec<Option<Value>>,
        logs: Vec<Vec<Value>>,
        workers: Vec<Worker>,
        next_process: u64,
        next_value: u64,
    }

    impl Sim {
        fn new(seed: u64, workers: u64, keyed: bool) -> Self {
            let keys = if keyed {
                vec![Some(json!("p0")), Some(json!("p1"))]
            } else {
                vec![None]
            };
            let n = keys.len();
            Sim {
                rng: Rng::new(seed),
                h: Builder::default(),
                logs: vec![Vec::new(); n],
                keys,
                workers: (0..workers)
                    .map(|p| Worker {
                        process: p,
                        position: vec![None; n],
                        busy: None,
                    })
                    .collect(),
                next_process: workers,
                next_value: 0,
            }
        }

        fn step(&mut self) {
            let w = self.rng.below(self.workers.len() as u64) as usize;
            match &self.workers[w].busy {
                None => self.invoke(w),
                Some(b) if b.effective && !b.done => self.take_effect(w),
                Some(_) => self.complete(w),
            }
        }

        fn invoke(&mut self, w: usize) {
            let outcome = match self.rng.below(10) {
                0 | 1 => OpType::Fail,
                2 | 3 => OpType::Info,
                _ => OpType::Ok,
            };
            let effective = match outcome {
                OpType::Ok => true,
                OpType::Fail => false,
                _ => self.rng.chance(50),
            };
            let log = self.rng.below(self.logs.len() as u64) as usize;
            let (f, value) = if self.rng.chance(50) {
                self.next_value += 1;
                ("append", json!(self.next_value))
            } else {
                ("poll", Value::Null)
            };
            self.h.key = self.keys[log].clone();
            self.h.invoke(self.workers[w].process, f, value.clone());
            let done = !effective;
            self.workers[w].busy = Some(Busy {
                f,
                log,
                value,
                outcome,
                effective,
                done,
                result: Value::Null,
            });
        }

        fn take_effect(&mut self, w: usize) {
            let worker = &mut self.workers[w];
            let busy = worker.busy.as_mut().unwrap();
            busy.done = true;
            let log = &mut self.logs[busy.log];
            if busy.f == "append" {
                log.push(busy.value.clone());
                busy.result = json!([log.len() - 1, busy.value]);
                return;
            }
            let rng = &mut self.rng;
            let start = *worker.position[busy.log]
                .get_or_insert_with(|| rng.below(log.len() as u64 + 1) as usize);
            let end = (start + 1 + rng.below(3) as usize).min(log.len());
            let entries: Vec<Value> = (start..end).map(|o| json!([o, log[o]])).collect();
            worker.position[busy.log] = Some(end);
            busy.result = Value::Array(entries);
        }

        fn complete(&mut self, w: usize) {
            let busy = self.workers[w].busy.take().unwrap();
            let worker = &mut self.workers[w];
            let value = if busy.outcome == OpType::Ok {
                busy.result
            } else {
                Value::Null
            };
            self.h.key = self.keys[busy.log].clone();
            self.h.complete(worker.process, busy.outcome, busy.f, value);
            if busy.outcome == OpType::Info {
                worker.process = self.next_process;
                worker.position.iter_mut().for_each(|p| *p = None);
                self.next_process += 1;
            }
        }

        /// Open ops may take effect, then complete or stay open forever
        /// (an ok op only completes once it took effect); then final reads.
        fn finish(&mut self) -> Vec<u64> {
            for w in 0..self.workers.len() {
                let Some(busy) = &self.workers[w].busy else {
                    continue;
                };
                if busy.effective && !busy.done && self.rng.chance(50) {
                    self.take_effect(w);
                }
                let busy = self.workers[w].busy.as_ref().unwrap();
                if (busy.done || busy.outcome != OpType::Ok) && self.rng.chance(50) {
                    self.complete(w);
                }
            }
            let reader = self.next_process;
            (0..self.logs.len())
                .map(|log| {
                    let entries: Vec<_> = self.logs[log]
                        .iter()
                        .enumerate()
                        .map(|(o, v)| json!([o, v]))
                        .collect();
                    self.h.key = self.keys[log].clone();
                    self.h.invoke(reader, "final-read", Value::Null);
                    self.h
                        .complete(reader, OpType::Ok, "final-read", Value::Array(entries))
                })
                .collect()
        }
    }

    fn run(seed: u64, workers: u64, steps: usize, keyed: bool) -> (Sim, Vec<u64>) {
        let mut sim = Sim::new(seed, workers, keyed);
        for _ in 0..steps {
            sim.step();
        }
        let finals = sim.finish();
        (sim, finals)
    }

    fn entries(op: &mut Op) -> &mut Vec<Value> {
        match &mut op.value {
            Value::Array(items) => items,
            other => panic!("read value {other}"),
        }
    }

    proptest! {
        #[test]
        fn a_correct_log_passes(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150, keyed in any::<bool>()) {
            let (sim, _) = run(seed, workers, steps, keyed);
            let r = sim.h.check();
            prop_assert_eq!(r.validity, Validity::Valid, "{:#?}", r);
            prop_assert_eq!(r.counts.produced, r.counts.delivered);
        }

        #[test]
        fn an_acked_value_no_read_returns_is_caught(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150, keyed in any::<bool>()) {
            let (mut sim, _) = run(seed, workers, steps, keyed);
            let acked = sim.h.ops.iter().find(|op| op.f == "append" && op.kind == OpType::Ok);
            let Some(victim) = acked.map(|op| op.value[1].clone()) else { return Ok(()) };
            for op in sim.h.ops.iter_mut().filter(|op| op.kind == OpType::Ok && op.f != "append") {
                entries(op).retain(|e| e[1] != victim);
            }
            let r = sim.h.check();
            prop_assert_eq!(r.validity, Validity::Invalid);
            prop_assert_eq!(r.counts.lost + r.counts.unseen, 1, "{:#?}", r);
            prop_assert_eq!(r.counts.produced, r.counts.delivered + 1);
        }

        #[test]
        fn a_value_at_a_second_offset_is_caught(seed in any::<u64>(), workers in 1u64..5, steps in 0usize..150, keyed in any::<bool>()) {
            let (mut sim, finals) = run(seed, workers, steps, keyed);
            let last = &mut sim.h.ops[finals[0] as usize];
            let read = entries(last);
            let Some(top) = read.last().cloned() else { return Ok(()) };
            let first = read[0][1].clone();
            read.push(json!([top[0].as_u64().unwrap() + 1, first]));
            let r = sim.h.check();
            prop_assert_eq!(r.validity, Validity::Invalid);
            prop_assert_eq!(r.anomalies.duplicate.count, 1);
            prop_assert_eq!(r.anomalies.duplicate.examples[0].value.as_ref(), Some(&first));
        }
    }
}
