//! One history entry and the vocabulary around it (see docs/history.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// How an operation entry stands: the invocation, or one of three completions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    /// The operation took effect.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Unknown: it may take effect at any moment after its invocation, or never.
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<OpType> {
        match s {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }
}

/// Who performed an operation: a client process, or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

// In JSON a client process is a number and the nemesis is the string "nemesis".
impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some() => Ok(Process::Client(n.as_u64().unwrap())),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "process must be a non-negative integer or \"nemesis\", not {other}"
            ))),
        }
    }
}

/// One entry of a history. Field names follow ARCHITECTURE.md and Jepsen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0, in the order entries happened.
    pub index: u64,
    /// Nanoseconds since the run began (monotonic clock).
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function: `read`, `write`, `cas`, `enqueue`, `append`, ...
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }
}

/// Every op of a run, in the order they happened.
///
/// A history read from a file also knows the line each op starts on, so an
/// error about an op can name `file:line`. Two histories are equal when
/// their ops are: where they were read from is not part of them.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
    /// The line (from 1) of its source each op starts on, by position in
    /// `ops`; empty for a history not read from text.
    pub lines: Vec<usize>,
}

impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        self.ops == other.ops
    }
}

impl History {
    pub fn new(ops: Vec<Op>) -> Self {
        History {
            ops,
            lines: Vec::new(),
        }
    }

    /// A history read from text: `lines[i]` is the line `ops[i]` starts on.
    pub fn with_lines(ops: Vec<Op>, lines: Vec<usize>) -> Self {
        debug_assert_eq!(ops.len(), lines.len());
        History { ops, lines }
    }

    /// The source line of the op at `position` in `ops`, when known.
    pub fn line(&self, position: usize) -> Option<usize> {
        self.lines.get(position).copied()
    }

    /// The source line of the op whose `index` is `index`, when known.
    pub fn line_of_index(&self, index: u64) -> Option<usize> {
        let at = usize::try_from(index).ok();
        let position = match at.and_then(|i| self.ops.get(i)) {
            Some(op) if op.index == index => at,
            _ => self.ops.iter().position(|op| op.index == index),
        }?;
        self.line(position)
    }

    /// `op 7 (line 9)`, or `op 7` when the line is not known.
    fn describe(&self, position: usize) -> String {
        let index = self.ops[position].index;
        match self.line(position) {
            Some(line) => format!("op {index} (line {line})"),
            None => format!("op {index}"),
        }
    }

    /// Pairs each client invocation with its completion.
    ///
    /// An invocation with no completion by the end of the history is treated
    /// as `info`: the process may have crashed after the operation took effect.
    pub fn pairs(&self) -> Result<Vec<Pair<'_>>, PairError> {
        let mut open: rustc_hash::FxHashMap<Process, usize> = Default::default();
        let mut pairs: Vec<Pair<'_>> = Vec::new();
        for (pos, op) in self.ops.iter().enumerate() {
            if !op.is_client() {
                continue;
            }
            let error = |message: String| PairError {
                index: op.index,
                position: pos,
                message,
            };
            match op.kind {
                OpType::Invoke => {
                    if let Some(&prev) = open.get(&op.process) {
                        let prev = &pairs[prev];
                        return Err(error(format!(
                            "process {} invokes {} while its {} of {} is still open; \
                             a process runs one op at a time: add the open op's completion \
                             before this line, or give this op a process of its own",
                            op.process,
                            op.f,
                            prev.invoke.f,
                            self.describe(prev.position)
                        )));
                    }
                    open.insert(op.process, pairs.len());
                    pairs.push(Pair {
                        invoke: op,
                        completion: None,
                        position: pos,
                        completion_position: None,
                    });
                }
                _ => match open.remove(&op.process) {
                    Some(i) => {
                        if pairs[i].invoke.f != op.f {
                            return Err(error(format!(
                                "process {} completes :{} but invoked :{} in {}; \
                                 a completion repeats the f of its invocation: correct one of the two",
                                op.process,
                                op.f,
                                pairs[i].invoke.f,
                                self.describe(pairs[i].position)
                            )));
                        }
                        pairs[i].completion = Some(op);
                        pairs[i].completion_position = Some(pos);
                    }
                    None => {
                        return Err(error(format!(
                            "process {} completes an op ({} {}) it never invoked; \
                             every ok, fail or info must follow an invoke by the same process: \
                             pass the whole history from its first op, or add the missing invoke",
                            op.process,
                            op.kind.as_str(),
                            op.f
                        )))
                    }
                },
            }
        }
        Ok(pairs)
    }
}

/// A client invocation and its completion, if any.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'h> {
    pub invoke: &'h Op,
    pub completion: Option<&'h Op>,
    /// Position of the invocation in `History::ops`.
    pub position: usize,
    /// Position of the completion in `History::ops`.
    pub completion_position: Option<usize>,
}

impl Pair<'_> {
    /// The outcome: `Info` when the op never completed.
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }
}

/// A history whose invocations and completions do not pair up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("op {index}: {message}")]
pub struct PairError {
    /// The `index` of the op at fault.
    pub index: u64,
    /// Its position in `History::ops` (its line is `History::line(position)`).
    pub position: usize,
    pub message: String,
}
