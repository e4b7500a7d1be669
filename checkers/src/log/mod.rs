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
use crate::report::{canonical, same_value, ValueIds};
pub use crate::report::{CheckError, Found, MAX_EXAMPLES};
use crate::verdict::Validity;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    check_log_pairs(&history.pairs()?)
}

/// `check_log` of a history already paired (`History::pairs`).
pub fn check_log_pairs(pairs: &[Pair<'_>]) -> Result<LogReport, CheckError> {
    let (keys, log_of) = logs_of(pairs);
    let mut sizes = vec![0usize; keys.len()];
    for &log in log_of.iter().filter(|&&l| l != u32::MAX) {
        sizes[log as usize] += 1;
    }
    // Logs are independent: each is read and analysed on its own, on
    // every core (a history of a million ops has a few logs of many ops).
    let analyses = on_every_core(keys.len(), |log| {
        let ops = gather(pairs, &log_of, log as u32, keys[log], sizes[log])?;
        Ok(Analysis::run(&ops))
    });
    let mut counts = LogCounts::default();
    let mut lists = Lists::default();
    let mut reports = Vec::with_capacity(keys.len());
    // The error of the earliest op, whichever log it is in.
    let first_error = analyses
        .iter()
        .filter_map(|a| a.as_ref().err())
        .min_by_key(|(position, _)| *position);
    if let Some((_, e)) = first_error {
        return Err(e.clone());
    }
    for (analysis, key) in analyses.iter().flatten().zip(&keys) {
        counts.add(&analysis.counts);
        lists.extend(&analysis.lists);
        reports.push(analysis.report(*key));
    }
    Ok(LogReport {
        validity: reports.iter().map(|k| k.validity).collect(),
        counts,
        anomalies: lists.found(),
        keys: reports,
    })
}

/// `f` of every number below `n`, in that order, the numbers shared out
/// over the cores.
fn on_every_core<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |c| c.get());
    if threads == 1 || n < 2 {
        return (0..n).map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(n))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break mine;
                        }
                        mine.push((i, f(i)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a log's analysis does not panic"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

// ---------------------------------------------------------------- parsing

struct Append<'h> {
    value: &'h Value,
    /// The value's number in its log (`LogOps::values`).
    id: u32,
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
    /// (offset, value, the value's number).
    entries: Vec<(u64, &'h Value, u32)>,
}

/// The ops of one log.
struct LogOps<'h> {
    key: Option<&'h Value>,
    appends: Vec<Append<'h>>,
    reads: Vec<Read<'h>>,
    /// The values appended and read, numbered as first met (equal values,
    /// equal numbers), while each is at hand.
    values: ValueIds<'h>,
    /// The value of each number (the first met; the others are equal).
    value_of: Vec<&'h Value>,
}

impl<'h> LogOps<'h> {
    /// The number of `value`, recording it when it is new.
    fn number(&mut self, value: &'h Value) -> u32 {
        let id = self.values.id(value);
        if id as usize == self.value_of.len() {
            self.value_of.push(value);
        }
        id
    }

    /// Who completed the op a sighting comes from.
    fn process_of(&self, s: &Sighting) -> Process {
        let at = (s.op & !Sighting::READ) as usize;
        if s.is_read() {
            self.reads[at].process
        } else {
            self.appends[at].process
        }
    }
}

/// The logs, ordered by key (ops without a key first, then by the key's
/// JSON text), and the log of each pair (`u32::MAX`: not a log op).
fn logs_of<'h>(pairs: &[Pair<'h>]) -> (Vec<Option<&'h Value>>, Vec<u32>) {
    let mut keys: Vec<Option<&'h Value>> = Vec::new();
    let mut ids = ValueIds::default();
    // The log of each key number, and of ops without a key.
    let mut log_of_key: Vec<u32> = Vec::new();
    let mut unkeyed: Option<u32> = None;
    let mut log_of: Vec<u32> = pairs
        .iter()
        .map(|pair| {
            if !matches!(pair.invoke.f.as_str(), "append" | "poll" | "final-read") {
                return u32::MAX;
            }
            let key = pair
                .invoke
                .key
                .as_ref()
                .or(pair.completion.and_then(|c| c.key.as_ref()));
            let next = keys.len() as u32;
            let log = match key {
                Some(k) => {
                    let id = ids.id(k) as usize;
                    if id == log_of_key.len() {
                        log_of_key.push(next);
                    }
                    log_of_key[id]
                }
                None => *unkeyed.get_or_insert(next),
            };
            if log == next {
                keys.push(key);
            }
            log
        })
        .collect();
    // Renumbered in the order of their keys.
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_by_cached_key(|&log| keys[log as usize].map(canonical));
    let mut rank = vec![0u32; keys.len()];
    for (r, &log) in order.iter().enumerate() {
        rank[log as usize] = r as u32;
    }
    for log in log_of.iter_mut().filter(|l| **l != u32::MAX) {
        *log = rank[*log as usize];
    }
    let keys = order.iter().map(|&log| keys[log as usize]).collect();
    (keys, log_of)
}

/// The ops of log number `log`, or the first one that breaks the
/// conventions, with its position among the pairs.
fn gather<'h>(
    pairs: &[Pair<'h>],
    log_of: &[u32],
    log: u32,
    key: Option<&'h Value>,
    size: usize,
) -> Result<LogOps<'h>, (usize, CheckError)> {
    // `size` ops in all: room for them whatever the mix, and about one
    // value for each.
    let mut ops = LogOps {
        key,
        appends: Vec::with_capacity(size),
        reads: Vec::with_capacity(size),
        values: ValueIds::with_capacity(size),
        value_of: Vec::with_capacity(size),
    };
    let mine = pairs.iter().zip(log_of).enumerate();
    for (position, (pair, _)) in mine.filter(|(_, (_, &l))| l == log) {
        let at = |e| (position, e);
        if pair.invoke.f == "append" {
            let append = parse_append(pair).map_err(at)?;
            let id = ops.number(append.value);
            ops.appends.push(Append { id, ..append });
        } else if let (OpType::Ok, Some(done)) = (pair.outcome(), pair.completion) {
            let entries = parse_entries(done, &mut ops).map_err(at)?;
            ops.reads.push(Read {
                index: done.index,
                invoke: pair.invoke.index,
                process: done.process,
                final_read: pair.invoke.f == "final-read",
                entries,
            });
        }
    }
    Ok(ops)
}

/// An append (its value not numbered yet).
fn parse_append<'h>(pair: &Pair<'h>) -> Result<Append<'h>, CheckError> {
    let value = &pair.invoke.value;
    let offset = match (pair.outcome(), pair.completion) {
        (OpType::Ok, Some(done)) => Some(parse_ack(done, value)?),
        _ => None,
    };
    Ok(Append {
        value,
        id: 0,
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
            if !same_value(&pair[1], appended) {
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
fn parse_entries<'h>(
    done: &'h Op,
    ops: &mut LogOps<'h>,
) -> Result<Vec<(u64, &'h Value, u32)>, CheckError> {
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
            Value::Array(pair) if pair.len() == 2 => {
                let offset = parse_offset(done, &pair[0])?;
                Ok((offset, &pair[1], ops.number(&pair[1])))
            }
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

/// One op showing one value at one offset: a few words, there are millions.
struct Sighting {
    index: u64,
    offset: u64,
    /// The value's number (`LogOps::values`): equal values, equal numbers.
    id: u32,
    /// The op: its position in `LogOps::appends`, or with `READ` set in
    /// `LogOps::reads`.
    op: u32,
}

impl Sighting {
    const READ: u32 = 1 << 31;

    fn is_read(&self) -> bool {
        self.op & Sighting::READ != 0
    }
}

/// What appends tried to do with one value.
#[derive(Clone, Copy, Default)]
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
        let appended: Vec<u32> = ops.appends.iter().map(|a| a.id).collect();
        let first = FirstSightings::of(&sightings, ops.values.len());
        a.offset_conflicts(ops, &first);
        a.read_provenance(ops, &appended, &first);
        a.acks(ops, &appended, &first);
        a.sends(ops);
        a.consumers(ops, &first);
        a.counts.attempted = ops.appends.len();
        a.counts.consumed = first.read.iter().filter(|r| r.is_some()).count();
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

    /// Pushes examples found in no particular order in the order of their
    /// values' JSON text, as a report lists them whatever the history's size.
    fn push_by_value(&mut self, kind: Kind, mut examples: Vec<LogExample>) {
        examples.sort_by_cached_key(|e| e.value.as_ref().map(canonical));
        for example in examples {
            self.lists.push(kind, example);
        }
    }

    fn offset_conflicts(&mut self, ops: &LogOps<'h>, first: &FirstSightings<'_>) {
        let mut duplicates = Vec::new();
        for list in first.by_value.chunk_by(|a, b| a.id == b.id) {
            if list.len() < 2 {
                continue;
            }
            // Anchored where the value first showed up somewhere else.
            let s = list[1];
            let mut offsets: Vec<u64> = list.iter().map(|s| s.offset).collect();
            offsets.sort_unstable();
            let value = ops.value_of[s.id as usize];
            duplicates.push(self.example(s.index, ops.process_of(s), Some(value), offsets));
        }
        self.push_by_value(Kind::Duplicate, duplicates);
        for list in first.by_offset.chunk_by(|a, b| a.offset == b.offset) {
            if list.len() < 2 {
                continue;
            }
            let s = list[1];
            let mut ex = self.example(s.index, ops.process_of(s), None, vec![s.offset]);
            ex.values = list
                .iter()
                .map(|s| ops.value_of[s.id as usize].clone())
                .collect();
            self.lists.push(Kind::InconsistentOffsets, ex);
        }
    }

    /// Values read must come from an append that did not fail.
    fn read_provenance(&mut self, ops: &LogOps<'h>, appended: &[u32], first: &FirstSightings<'_>) {
        // By value number; none for a value no append tried.
        let mut attempts = vec![None::<Attempts>; first.read.len()];
        for (append, &id) in ops.appends.iter().zip(appended) {
            let entry = attempts[id as usize].get_or_insert_with(Attempts::default);
            match append.outcome {
                OpType::Fail => entry.failed = entry.failed.or(append.completion),
                _ => entry.may_exist = true,
            }
        }
        let (mut unexpected, mut aborted) = (Vec::new(), Vec::new());
        for (s, attempt) in first.read.iter().zip(&attempts) {
            let Some(s) = s else { continue };
            let value = ops.value_of[s.id as usize];
            let ex = || self.example(s.index, ops.process_of(s), Some(value), vec![s.offset]);
            match attempt {
                None => unexpected.push(ex()),
                Some(Attempts {
                    may_exist: false,
                    failed,
                }) => aborted.push(LogExample {
                    related: *failed,
                    ..ex()
                }),
                Some(_) => {}
            }
        }
        self.push_by_value(Kind::Unexpected, unexpected);
        self.push_by_value(Kind::AbortedRead, aborted);
    }

    /// Sorts every ack into delivered, lost-write, or unseen.
    fn acks(&mut self, ops: &LogOps<'h>, appended: &[u32], first: &FirstSightings<'_>) {
        let highest_read = first.read.iter().flatten().map(|s| s.offset).max();
        // Only a final read that began after the ack had to return it.
        let last_final_read = ops
            .reads
            .iter()
            .filter(|r| r.final_read)
            .map(|r| r.invoke)
            .max();
        for (append, &id) in ops.appends.iter().zip(appended) {
            let (Some(offset), Some(done)) = (append.offset, append.completion) else {
                continue;
            };
            self.counts.produced += 1;
            if first.read.get(id as usize).is_some_and(Option::is_some) {
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

    fn consumers(&mut self, ops: &LogOps<'h>, first: &FirstSightings<'_>) {
        let mut positions: FxHashMap<Process, (u64, u64)> = FxHashMap::default();
        for read in &ops.reads {
            if read.final_read {
                // A final read is its own consumer, starting afresh.
                self.follow(read, &mut None, &first.known);
            } else {
                let mut position = positions.get(&read.process).copied();
                self.follow(read, &mut position, &first.known);
                if let Some(p) = position {
                    positions.insert(read.process, p);
                }
            }
        }
    }

    /// Walks one read's entries from `position` (offset, read index);
    /// `known` is every offset known to hold a value, sorted.
    fn follow(&mut self, read: &Read<'h>, position: &mut Option<(u64, u64)>, known: &[u64]) {
        for &(offset, value, _) in &read.entries {
            if let Some((prev, prev_read)) = *position {
                let step = |a: &Self| {
                    let mut ex =
                        a.example(read.index, read.process, Some(value), vec![prev, offset]);
                    ex.related = Some(prev_read);
                    ex
                };
                if offset <= prev {
                    let ex = step(self);
                    self.lists.push(Kind::NonmonotonicPoll, ex);
                } else if offset > prev + 1 {
                    // The next offset, the usual case, jumps over nothing.
                    let from = known.partition_point(|&o| o <= prev);
                    let jumped = known[from..].iter().take_while(|&&o| o < offset);
                    let skipped: Vec<u64> = jumped.take(MAX_EXAMPLES).copied().collect();
                    if !skipped.is_empty() {
                        let mut ex = step(self);
                        ex.skipped = skipped;
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
fn sightings(ops: &LogOps<'_>) -> Vec<Sighting> {
    let acks = ops.appends.iter().enumerate().filter_map(|(at, a)| {
        Some(Sighting {
            index: a.completion?,
            offset: a.offset?,
            id: a.id,
            op: at as u32,
        })
    });
    let reads = ops.reads.iter().enumerate().flat_map(|(at, r)| {
        r.entries.iter().map(move |&(offset, _, id)| Sighting {
            index: r.index,
            offset,
            id,
            op: at as u32 | Sighting::READ,
        })
    });
    let mut all: Vec<Sighting> = Vec::with_capacity(
        ops.appends.len() + ops.reads.iter().map(|r| r.entries.len()).sum::<usize>(),
    );
    all.extend(acks.chain(reads));
    all.sort_by_key(|s| s.index);
    all
}

/// The first sighting of each distinct (offset, value), grouped both ways.
struct FirstSightings<'s> {
    /// By offset, then first seen first: the values at each offset.
    by_offset: Vec<&'s Sighting>,
    /// By value number, then first seen first: the offsets of each value.
    by_value: Vec<&'s Sighting>,
    /// Every offset known to hold a value, sorted.
    known: Vec<u64>,
    /// The first read of each value, by value number.
    read: Vec<Option<&'s Sighting>>,
}

impl<'s> FirstSightings<'s> {
    fn of(sightings: &'s [Sighting], values: usize) -> Self {
        // A value is nearly always at one offset: its first one is kept by
        // value number, and only the others in a set.
        let mut first_offset: Vec<Option<u64>> = vec![None; values];
        let mut other_offsets: FxHashSet<(u64, u32)> = FxHashSet::default();
        let mut read = vec![None; values];
        let mut firsts = Vec::with_capacity(values);
        for s in sightings {
            let id = s.id as usize;
            if s.is_read() && read[id].is_none() {
                read[id] = Some(s);
            }
            let new = match first_offset[id] {
                None => {
                    first_offset[id] = Some(s.offset);
                    true
                }
                Some(offset) => offset != s.offset && other_offsets.insert((s.offset, s.id)),
            };
            if new {
                firsts.push(s);
            }
        }
        // Stable: within an offset or a value, first seen stays first.
        let mut by_offset = firsts.clone();
        by_offset.sort_by_key(|s| s.offset);
        let mut by_value = firsts;
        by_value.sort_by_key(|s| s.id);
        let mut known: Vec<u64> = by_offset.iter().map(|s| s.offset).collect();
        known.dedup();
        FirstSightings {
            by_offset,
            by_value,
            known,
            read,
        }
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
    let mut offsets: Vec<u64> = last.entries.iter().map(|&(o, _, _)| o).collect();
    offsets.sort_unstable();
    offsets.dedup();
    match (offsets.first(), offsets.last()) {
        (Some(&lo), Some(&hi)) => {
            let holes = (hi - lo).saturating_add(1) - offsets.len() as u64;
            usize::try_from(holes).unwrap_or(usize::MAX)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
