//! The log checker: a replicated log or stream (Kafka partitions, NATS
//! streams, ...) checked against the anomaly taxonomy of Jepsen's Kafka tests.
//!
//! # Op conventions
//!
//! Only client ops count; nemesis ops and ops with other `f`s are ignored.
//! Every op may carry a `key`: the log (stream, partition) it concerns. Ops
//! without a key concern one unnamed log. Each log is checked on its own.
//!
//! - `append`: the invocation's `value` is the value appended, unique per
//!   append. `ok` value: `[offset, value]`, or just the offset, a non-negative
//!   integer the acknowledgement gave. `fail`: not appended. `info` (or no
//!   completion): unknown.
//! - `poll`: the process is a consumer reading forward; `ok` value: an array of
//!   `[offset, value]` pairs in the order received (`null` = nothing). A
//!   consumer whose poll ends `info` continues under a fresh process, so each
//!   process is one uninterrupted read position.
//! - `final-read`: the whole log, read after the cluster healed; `ok` value: an
//!   array of `[offset, value]` pairs. Each final read is checked like a poll
//!   of its own consumer, starting afresh.
//!
//! # Anomalies
//!
//! A read is an `ok` poll or final read; an ack is an `ok` append. "Known
//! offsets" are those any read or ack showed holding a value.
//!
//! - `lost-write`: acked at an offset at or below the highest offset any read
//!   observed, yet no read ever returned the value.
//! - `unseen`: acked, never read, above the highest offset read. Certainly
//!   lost when an `ok` final read began after the ack; otherwise undecided.
//! - `duplicate`: one value at two or more offsets (reads and acks).
//! - `inconsistent-offsets`: two or more values at one offset (reads and acks).
//! - `nonmonotonic-send`: a producer's append acked at a lower offset than its
//!   previous ack on the same log.
//! - `nonmonotonic-poll`: a consumer receiving an offset lower than or equal
//!   to the one it received just before.
//! - `poll-skip`: a consumer jumping over known offsets between two offsets it
//!   received one after the other.
//! - `aborted-read`: a read returned a value whose append failed.
//! - `unexpected`: a read returned a value nobody ever tried to append.
//!
//! Every acked append is exactly one of: read (`delivered`), `lost`, or
//! `unseen`, so `produced = delivered + lost + unseen`.

use crate::history::{History, Op, OpType, Pair, Process};
use crate::queue::canonical;
pub use crate::queue::{CheckError, Found, MAX_EXAMPLES};
use crate::verdict::Validity;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One anomaly, pointing at the op that shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogExample {
    /// The completion that carries the evidence (examples are sorted by it):
    /// the ack for `lost-write`, `unseen` and `nonmonotonic-send`; the read
    /// for `nonmonotonic-poll`, `poll-skip`, `aborted-read` and `unexpected`;
    /// the first op showing the second offset (value) for `duplicate`
    /// (`inconsistent-offsets`).
    pub index: u64,
    /// Who completed that op.
    pub process: Process,
    /// The log, when ops carry keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The value concerned (absent for `inconsistent-offsets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The offsets concerned: the value's offset(s); for the nonmonotonic
    /// kinds and `poll-skip`, the previous offset and then the new one.
    pub offsets: Vec<u64>,
    /// `inconsistent-offsets`: the values at the offset, first seen first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
    /// `poll-skip`: the known offsets jumped over (the first [`MAX_EXAMPLES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<u64>,
    /// Another op involved: the earlier ack (`nonmonotonic-send`), the read
    /// of the previous offset (`nonmonotonic-poll`, `poll-skip`), the failed
    /// append (`aborted-read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LogAnomalies {
    pub lost_write: Found<LogExample>,
    pub unseen: Found<LogExample>,
    pub duplicate: Found<LogExample>,
    pub inconsistent_offsets: Found<LogExample>,
    pub nonmonotonic_send: Found<LogExample>,
    pub nonmonotonic_poll: Found<LogExample>,
    pub poll_skip: Found<LogExample>,
    pub aborted_read: Found<LogExample>,
    pub unexpected: Found<LogExample>,
}

/// The summary numbers the reports show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCounts {
    /// Append invocations.
    pub attempted: usize,
    /// Acknowledged appends.
    pub produced: usize,
    /// Acknowledged appends whose value some read returned.
    pub delivered: usize,
    /// Distinct values read.
    pub consumed: usize,
    /// `lost-write` count.
    pub lost: usize,
    /// `unseen` count.
    pub unseen: usize,
    /// Offsets missing inside the last final read's range (holes; some logs,
    /// e.g. Kafka with transactions, have them legitimately).
    pub gaps: usize,
    /// `duplicate` count.
    pub duplicates: usize,
    /// `nonmonotonic-poll` plus `nonmonotonic-send`.
    pub out_of_order: usize,
}

impl LogCounts {
    fn add(&mut self, o: &LogCounts) {
        self.attempted += o.attempted;
        self.produced += o.produced;
        self.delivered += o.delivered;
        self.consumed += o.consumed;
        self.lost += o.lost;
        self.unseen += o.unseen;
        self.gaps += o.gaps;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
    }
}

/// One log's verdict and evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyLogReport {
    /// The log; absent for ops without a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    pub validity: Validity,
    /// Whether a final read of this log completed `ok`.
    pub final_read: bool,
    #[serde(flatten)]
    pub counts: LogCounts,
    pub anomalies: LogAnomalies,
}

/// All logs together: counts are sums, examples the first across all logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogReport {
    pub validity: Validity,
    #[serde(flatten)]
    pub counts: LogCounts,
    pub anomalies: LogAnomalies,
    /// Per log, ordered by key.
    pub keys: Vec<KeyLogReport>,
}

/// Checks a replicated log; see the module documentation for conventions.
pub fn check_log(history: &History) -> Result<LogReport, CheckError> {
    let pairs = history.pairs()?;
    let logs = group_by_log(&pairs)?;
    let mut counts = LogCounts::default();
    let mut lists = Lists::default();
    let mut keys = Vec::with_capacity(logs.len());
    for ops in logs.values() {
        let analysis = Analysis::run(ops);
        counts.add(&analysis.counts);
        lists.extend(&analysis.lists);
        keys.push(analysis.report(ops.key));
    }
    Ok(LogReport {
        validity: keys.iter().map(|k| k.validity).collect(),
        counts,
        anomalies: lists.found(),
        keys,
    })
}

// ---------------------------------------------------------------- parsing

struct Append<'h> {
    value: &'h Value,
    process: Process,
    outcome: OpType,
    completion: Option<u64>,
    /// The offset an `ok` completion gave.
    offset: Option<u64>,
}

struct Read<'h> {
    /// Index of the `ok` completion.
    index: u64,
    /// Index of the invocation.
    invoke: u64,
    process: Process,
    final_read: bool,
    entries: Vec<(u64, &'h Value)>,
}

/// The ops of one log.
#[derive(Default)]
struct LogOps<'h> {
    key: Option<&'h Value>,
    appends: Vec<Append<'h>>,
    reads: Vec<Read<'h>>,
}

fn group_by_log<'h>(
    pairs: &[Pair<'h>],
) -> Result<BTreeMap<Option<String>, LogOps<'h>>, CheckError> {
    let mut logs: BTreeMap<Option<String>, LogOps<'h>> = BTreeMap::new();
    for pair in pairs {
        let f = pair.invoke.f.as_str();
        if !matches!(f, "append" | "poll" | "final-read") {
            continue;
        }
        let key = pair
            .invoke
            .key
            .as_ref()
            .or(pair.completion.and_then(|c| c.key.as_ref()));
        let log = logs.entry(key.map(canonical)).or_default();
        log.key = key;
        if f == "append" {
            log.appends.push(parse_append(pair)?);
        } else if let (OpType::Ok, Some(done)) = (pair.outcome(), pair.completion) {
            let entries = parse_entries(done)?;
            let read = Read {
                index: done.index,
                invoke: pair.invoke.index,
                process: done.process,
                final_read: f == "final-read",
                entries,
            };
            log.reads.push(read);
        }
    }
    Ok(logs)
}

fn parse_append<'h>(pair: &Pair<'h>) -> Result<Append<'h>, CheckError> {
    let value = &pair.invoke.value;
    let offset = match (pair.outcome(), pair.completion) {
        (OpType::Ok, Some(done)) => Some(parse_ack(done, value)?),
        _ => None,
    };
    Ok(Append {
        value,
        process: pair.invoke.process,
        outcome: pair.outcome(),
        completion: pair.completion.map(|c| c.index),
        offset,
    })
}

/// The offset of an append's `ok` completion: `offset` or `[offset, value]`.
fn parse_ack(done: &Op, appended: &Value) -> Result<u64, CheckError> {
    match &done.value {
        Value::Array(pair) if pair.len() == 2 => {
            if canonical(&pair[1]) != canonical(appended) {
                let message = format!("append of {appended} acknowledged as {}", done.value);
                return Err(CheckError::malformed(done, message));
            }
            parse_offset(done, &pair[0])
        }
        Value::Number(_) => parse_offset(done, &done.value),
        other => Err(CheckError::malformed(
            done,
            format!("append ok value must be [offset, value] or an offset, not {other}"),
        )),
    }
}

fn parse_offset(op: &Op, v: &Value) -> Result<u64, CheckError> {
    v.as_u64().ok_or_else(|| {
        CheckError::malformed(
            op,
            format!("offset must be a non-negative integer, not {v}"),
        )
    })
}

/// The `[offset, value]` pairs of a read's `ok` completion.
fn parse_entries(done: &Op) -> Result<Vec<(u64, &Value)>, CheckError> {
    let items: &[Value] = match &done.value {
        Value::Null => &[],
        Value::Array(items) => items,
        other => {
            let message = format!(
                "{} ok value must be an array of [offset, value] pairs, not {other}",
                done.f
            );
            return Err(CheckError::malformed(done, message));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Array(pair) if pair.len() == 2 => Ok((parse_offset(done, &pair[0])?, &pair[1])),
            other => Err(CheckError::malformed(
                done,
                format!(
                    "{} entry must be an [offset, value] pair, not {other}",
                    done.f
                ),
            )),
        })
        .collect()
}

// ---------------------------------------------------------------- analysis

#[derive(Clone, Copy)]
enum Kind {
    LostWrite,
    Unseen,
    Duplicate,
    InconsistentOffsets,
    NonmonotonicSend,
    NonmonotonicPoll,
    PollSkip,
    AbortedRead,
    Unexpected,
}

const KINDS: usize = 9;

/// Every example of every kind, before counting and cutting to the first few.
#[derive(Default)]
struct Lists([Vec<LogExample>; KINDS]);

impl Lists {
    fn push(&mut self, kind: Kind, example: LogExample) {
        self.0[kind as usize].push(example);
    }

    fn len(&self, kind: Kind) -> usize {
        self.0[kind as usize].len()
    }

    fn extend(&mut self, other: &Lists) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            mine.extend(theirs.iter().cloned());
        }
    }

    /// Invalid whatever else happened: every kind but `unseen`.
    fn any_violation(&self) -> bool {
        self.0
            .iter()
            .enumerate()
            .any(|(k, list)| k != Kind::Unseen as usize && !list.is_empty())
    }

    fn found(&self) -> LogAnomalies {
        let f = |kind: Kind| Found::from_all(self.0[kind as usize].clone(), |e| e.index);
        LogAnomalies {
            lost_write: f(Kind::LostWrite),
            unseen: f(Kind::Unseen),
            duplicate: f(Kind::Duplicate),
            inconsistent_offsets: f(Kind::InconsistentOffsets),
            nonmonotonic_send: f(Kind::NonmonotonicSend),
            nonmonotonic_poll: f(Kind::NonmonotonicPoll),
            poll_skip: f(Kind::PollSkip),
            aborted_read: f(Kind::AbortedRead),
            unexpected: f(Kind::Unexpected),
        }
    }
}

/// One op showing one value at one offset.
struct Sighting<'h> {
    index: u64,
    process: Process,
    offset: u64,
    value: &'h Value,
    canon: String,
    from_read: bool,
}

/// What appends tried to do with one value.
#[derive(Default)]
struct Attempts {
    /// An append ended ok or info: the value may legitimately be in the log.
    may_exist: bool,
    /// Completion of a failed append.
    failed: Option<u64>,
}

/// The verdict and evidence of one log.
struct Analysis<'h> {
    key: Option<&'h Value>,
    counts: LogCounts,
    lists: Lists,
    final_read: bool,
    /// Unseen acks that an `ok` final read, begun after them, missed.
    certainly_unseen: usize,
}

impl<'h> Analysis<'h> {
    fn run(ops: &LogOps<'h>) -> Self {
        let mut a = Analysis {
            key: ops.key,
            counts: LogCounts::default(),
            lists: Lists::default(),
            final_read: ops.reads.iter().any(|r| r.final_read),
            certainly_unseen: 0,
        };
        let sightings = sightings(ops);
        let first = FirstSightings::of(&sightings);
        a.offset_conflicts(&first);
        a.read_provenance(ops, &first);
        a.acks(ops, &first);
        a.sends(ops);
        a.consumers(ops, &first);
        a.counts.attempted = ops.appends.len();
        a.counts.consumed = first.read.len();
        a.counts.gaps = gaps(ops);
        a.counts.duplicates = a.lists.len(Kind::Duplicate);
        a.counts.out_of_order =
            a.lists.len(Kind::NonmonotonicPoll) + a.lists.len(Kind::NonmonotonicSend);
        a
    }

    fn example(
        &self,
        index: u64,
        process: Process,
        value: Option<&Value>,
        offsets: Vec<u64>,
    ) -> LogExample {
        LogExample {
            index,
            process,
            key: self.key.cloned(),
            value: value.cloned(),
            offsets,
            values: Vec::new(),
            skipped: Vec::new(),
            related: None,
        }
    }

    fn offset_conflicts(&mut self, first: &FirstSightings<'_, 'h>) {
        for list in first.offsets_of.values().filter(|l| l.len() > 1) {
            // Anchored where the value first showed up somewhere else.
            let s = list[1];
            let mut offsets: Vec<u64> = list.iter().map(|s| s.offset).collect();
            offsets.sort_unstable();
            let ex = self.example(s.index, s.process, Some(s.value), offsets);
            self.lists.push(Kind::Duplicate, ex);
        }
        for (&offset, list) in first.values_at.iter().filter(|(_, l)| l.len() > 1) {
            let s = list[1];
            let mut ex = self.example(s.index, s.process, None, vec![offset]);
            ex.values = list.iter().map(|s| s.value.clone()).collect();
            self.lists.push(Kind::InconsistentOffsets, ex);
        }
    }

    /// Values read must come from an append that did not fail.
    fn read_provenance(&mut self, ops: &LogOps<'h>, first: &FirstSightings<'_, 'h>) {
        let mut attempts: BTreeMap<String, Attempts> = BTreeMap::new();
        for append in &ops.appends {
            let entry = attempts.entry(canonical(append.value)).or_default();
            match append.outcome {
                OpType::Fail => entry.failed = entry.failed.or(append.completion),
                _ => entry.may_exist = true,
            }
        }
        for s in first.read.values() {
            let mut ex = self.example(s.index, s.process, Some(s.value), vec![s.offset]);
            match attempts.get(&s.canon) {
                None => self.lists.push(Kind::Unexpected, ex),
                Some(Attempts {
                    may_exist: false,
                    failed,
                }) => {
                    ex.related = *failed;
                    self.lists.push(Kind::AbortedRead, ex);
                }
                Some(_) => {}
            }
        }
    }

    /// Sorts every ack into delivered, lost-write, or unseen.
    fn acks(&mut self, ops: &LogOps<'h>, first: &FirstSightings<'_, 'h>) {
        let highest_read = first.read.values().map(|s| s.offset).max();
        // Only a final read that began after the ack had to return it.
        let last_final_read = ops
            .reads
            .iter()
            .filter(|r| r.final_read)
            .map(|r| r.invoke)
            .max();
        for append in &ops.appends {
            let (Some(offset), Some(done)) = (append.offset, append.completion) else {
                continue;
            };
            self.counts.produced += 1;
            if first.read.contains_key(canonical(append.value).as_str()) {
                self.counts.delivered += 1;
                continue;
            }
            let ex = self.example(done, append.process, Some(append.value), vec![offset]);
            if highest_read.is_some_and(|h| offset <= h) {
                self.counts.lost += 1;
                self.lists.push(Kind::LostWrite, ex);
            } else {
                self.counts.unseen += 1;
                if last_final_read.is_some_and(|began| began > done) {
                    self.certainly_unseen += 1;
                }
                self.lists.push(Kind::Unseen, ex);
            }
        }
    }

    fn sends(&mut self, ops: &LogOps<'h>) {
        let mut last: FxHashMap<Process, (u64, u64)> = FxHashMap::default();
        for append in &ops.appends {
            let (Some(offset), Some(done)) = (append.offset, append.completion) else {
                continue;
            };
            if let Some(&(prev, prev_done)) = last.get(&append.process) {
                if offset < prev {
                    let mut ex =
                        self.example(done, append.process, Some(append.value), vec![prev, offset]);
                    ex.related = Some(prev_done);
                    self.lists.push(Kind::NonmonotonicSend, ex);
                }
            }
            last.insert(append.process, (offset, done));
        }
    }

    fn consumers(&mut self, ops: &LogOps<'h>, first: &FirstSightings<'_, 'h>) {
        let mut positions: FxHashMap<Process, (u64, u64)> = FxHashMap::default();
        for read in &ops.reads {
            if read.final_read {
                // A final read is its own consumer, starting afresh.
                self.follow(read, &mut None, &first.values_at);
            } else {
                let mut position = positions.get(&read.process).copied();
                self.follow(read, &mut position, &first.values_at);
                if let Some(p) = position {
                    positions.insert(read.process, p);
                }
            }
        }
    }

    /// Walks one read's entries from `position` (offset, read index).
    fn follow<V>(
        &mut self,
        read: &Read<'h>,
        position: &mut Option<(u64, u64)>,
        known: &BTreeMap<u64, V>,
    ) {
        for &(offset, value) in &read.entries {
            if let Some((prev, prev_read)) = *position {
                let mut ex =
                    self.example(read.index, read.process, Some(value), vec![prev, offset]);
                ex.related = Some(prev_read);
                if offset <= prev {
                    self.lists.push(Kind::NonmonotonicPoll, ex);
                } else {
                    let jumped = known.range(prev + 1..offset).map(|(&o, _)| o);
                    ex.skipped = jumped.take(MAX_EXAMPLES).collect();
                    if !ex.skipped.is_empty() {
                        self.lists.push(Kind::PollSkip, ex);
                    }
                }
            }
            *position = Some((offset, read.index));
        }
    }

    fn report(&self, key: Option<&Value>) -> KeyLogReport {
        let validity = if self.lists.any_violation() || self.certainly_unseen > 0 {
            Validity::Invalid
        } else if self.counts.unseen > 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        KeyLogReport {
            key: key.cloned(),
            validity,
            final_read: self.final_read,
            counts: self.counts,
            anomalies: self.lists.found(),
        }
    }
}

/// Every value at an offset that any read or ack showed, in history order.
fn sightings<'h>(ops: &LogOps<'h>) -> Vec<Sighting<'h>> {
    let acks = ops.appends.iter().filter_map(|a| {
        let (offset, index) = (a.offset?, a.completion?);
        Some((index, a.process, offset, a.value, false))
    });
    let reads = ops.reads.iter().flat_map(|r| {
        r.entries
            .iter()
            .map(move |&(offset, value)| (r.index, r.process, offset, value, true))
    });
    let mut all: Vec<Sighting<'h>> = acks
        .chain(reads)
        .map(|(index, process, offset, value, from_read)| Sighting {
            index,
            process,
            offset,
            value,
            canon: canonical(value),
            from_read,
        })
        .collect();
    all.sort_by_key(|s| s.index);
    all
}

/// The first sighting of each distinct (offset, value), indexed both ways.
struct FirstSightings<'s, 'h> {
    values_at: BTreeMap<u64, Vec<&'s Sighting<'h>>>,
    offsets_of: BTreeMap<&'s str, Vec<&'s Sighting<'h>>>,
    /// The first read of each value.
    read: BTreeMap<&'s str, &'s Sighting<'h>>,
}

impl<'s, 'h> FirstSightings<'s, 'h> {
    fn of(sightings: &'s [Sighting<'h>]) -> Self {
        let mut seen: BTreeSet<(u64, &str)> = BTreeSet::new();
        let mut first = FirstSightings {
            values_at: BTreeMap::new(),
            offsets_of: BTreeMap::new(),
            read: BTreeMap::new(),
        };
        for s in sightings {
            if s.from_read {
                first.read.entry(s.canon.as_str()).or_insert(s);
            }
            if seen.insert((s.offset, s.canon.as_str())) {
                first.values_at.entry(s.offset).or_default().push(s);
                first
                    .offsets_of
                    .entry(s.canon.as_str())
                    .or_default()
                    .push(s);
            }
        }
        first
    }
}

/// Holes inside the range of the last `ok` final read.
fn gaps(ops: &LogOps<'_>) -> usize {
    let Some(last) = ops
        .reads
        .iter()
        .filter(|r| r.final_read)
        .max_by_key(|r| r.index)
    else {
        return 0;
    };
    let offsets: BTreeSet<u64> = last.entries.iter().map(|&(o, _)| o).collect();
    match (offsets.first(), offsets.last()) {
        (Some(&lo), Some(&hi)) => {
            let holes = (hi - lo).saturating_add(1) - offsets.len() as u64;
            usize::try_from(holes).unwrap_or(usize::MAX)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
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
        use proptest::prelude::*;

        /// A small deterministic generator, so one proptest seed is one run.
        struct Rng(u64);

        impl Rng {
            fn below(&mut self, n: u64) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % n
            }

            fn chance(&mut self, percent: u64) -> bool {
                self.below(100) < percent
            }
        }

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
                    rng: Rng(seed | 1),
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
}
