//! The reference's own sequential specifications, written from
//! docs/checkers.md and independent of `models`: plain states of value
//! texts, no interning, no hashing tricks, no pruning hints. A value is
//! its canonical JSON text, so `1` and `"1"` stay apart as in the checker.

use crate::history::{OpType, Pair};
use crate::linear::{ModelKind, NilRead};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Every model's state. Keys and values are JSON texts, except a kv
/// key's string, which is the string itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Register(String),
    /// A key absent holds the empty string; none holds it present, so
    /// equal states are equal maps.
    Kv(BTreeMap<String, String>),
    /// A register never written holds nil.
    Registers(BTreeMap<String, String>),
    Set(BTreeSet<String>),
    Queue(VecDeque<String>),
}

#[derive(Clone, Debug)]
pub enum Op {
    Read(String),
    Write(String),
    Cas(String, String),
    Get(String, String),
    Put(String, String),
    Append(String, String),
    /// Micro-ops: (is a write, register, value).
    Txn(Vec<(bool, String, String)>),
    Add(String),
    SetRead(BTreeSet<String>),
    Enqueue(String),
    /// What the dequeue returned (`"null"`: the queue was empty), or
    /// `None` when it never said (info): it removed the head, if any.
    Dequeue(Option<String>),
}

const NIL: &str = "null";

pub fn init(model: ModelKind) -> State {
    match model {
        ModelKind::Register | ModelKind::CasRegister => State::Register(NIL.into()),
        ModelKind::Kv => State::Kv(BTreeMap::new()),
        ModelKind::MultiRegister => State::Registers(BTreeMap::new()),
        ModelKind::Set => State::Set(BTreeSet::new()),
        ModelKind::FifoQueue => State::Queue(VecDeque::new()),
    }
}

/// The op `pair` (not a `fail`) is to the search, or `None` when it
/// neither changes nor observes anything.
pub fn op(model: ModelKind, nil_read: NilRead, pair: &Pair<'_>) -> Result<Option<Op>, String> {
    let ok = pair.outcome() == OpType::Ok;
    let result = pair.completion.map_or(&Value::Null, |c| &c.value);
    // What a read observed, if anything.
    let seen = if !ok || (result.is_null() && nil_read == NilRead::Any) {
        None
    } else {
        Some(result)
    };
    // What a write wrote: the invocation's value, or the completion's when
    // the invocation has none.
    let written = match &pair.invoke.value {
        Value::Null => result,
        value => value,
    };
    let key = pair.invoke.key.as_ref().unwrap_or(&Value::Null).to_string();
    let f = pair.invoke.f.as_str();
    let op = match (model, f) {
        (ModelKind::Register | ModelKind::CasRegister, "read") => {
            seen.map(|v| Op::Read(v.to_string()))
        }
        (ModelKind::Register | ModelKind::CasRegister, "write") => {
            Some(Op::Write(written.to_string()))
        }
        (ModelKind::CasRegister, "cas") => match written.as_array().map(Vec::as_slice) {
            Some([from, to]) => Some(Op::Cas(from.to_string(), to.to_string())),
            _ => return Err(format!("a cas of {written}")),
        },
        (ModelKind::Kv, "get") => seen.map(|v| Op::Get(key, string(v))),
        (ModelKind::Kv, "put") => Some(Op::Put(key, string(written))),
        (ModelKind::Kv, "append") => Some(Op::Append(key, string(written))),
        (ModelKind::MultiRegister, "txn") => {
            // An ok txn's completion holds the reads; an info's reads saw nothing.
            let micros = if ok { result } else { written };
            let mut txn = Vec::new();
            for micro in micros.as_array().into_iter().flatten() {
                let [f, k, v] = micro.as_array().map(Vec::as_slice).unwrap_or_default() else {
                    return Err(format!("a micro-op {micro}"));
                };
                let write = matches!(f.as_str(), Some("w" | "write"));
                if write || (ok && !(v.is_null() && nil_read == NilRead::Any)) {
                    txn.push((write, k.to_string(), v.to_string()));
                }
            }
            (!txn.is_empty()).then_some(Op::Txn(txn))
        }
        (ModelKind::Set, "add") => Some(Op::Add(written.to_string())),
        (ModelKind::Set, "read") => match seen {
            Some(Value::Array(items)) => {
                Some(Op::SetRead(items.iter().map(Value::to_string).collect()))
            }
            Some(other) => return Err(format!("a set read of {other}")),
            None => None,
        },
        (ModelKind::FifoQueue, "enqueue") => Some(Op::Enqueue(written.to_string())),
        (ModelKind::FifoQueue, "dequeue") => Some(Op::Dequeue(ok.then(|| result.to_string()))),
        _ => return Err(format!("no :{f} in the {model} model")),
    };
    Ok(op)
}

/// A kv value: a string, or nil for the empty string.
fn string(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The state after `op`, or `None` if `op` cannot happen in `state`.
pub fn step(state: &State, op: &Op) -> Option<State> {
    let mut next = state.clone();
    match (&mut next, op) {
        (State::Register(value), Op::Read(seen)) => (value == seen).then_some(())?,
        (State::Register(value), Op::Write(new)) => *value = new.clone(),
        (State::Register(value), Op::Cas(from, to)) => {
            (value == from).then_some(())?;
            *value = to.clone();
        }
        (State::Kv(strings), Op::Get(key, seen)) => {
            (strings.get(key).map_or("", String::as_str) == seen).then_some(())?
        }
        (State::Kv(strings), Op::Put(key, new)) => {
            strings.insert(key.clone(), new.clone());
            // Kept canonical: a key holding "" is a key never written.
            strings.retain(|_, string| !string.is_empty());
        }
        (State::Kv(strings), Op::Append(key, more)) => {
            strings.entry(key.clone()).or_default().push_str(more);
            strings.retain(|_, string| !string.is_empty());
        }
        (State::Registers(registers), Op::Txn(micros)) => {
            for (write, key, value) in micros {
                if *write {
                    registers.insert(key.clone(), value.clone());
                } else if registers.get(key).map_or(NIL, String::as_str) != value {
                    return None;
                }
            }
        }
        (State::Set(elements), Op::Add(element)) => {
            elements.insert(element.clone());
        }
        (State::Set(elements), Op::SetRead(seen)) => (elements == seen).then_some(())?,
        (State::Queue(queue), Op::Enqueue(element)) => queue.push_back(element.clone()),
        (State::Queue(queue), Op::Dequeue(seen)) => match (queue.pop_front(), seen.as_deref()) {
            // Saw it empty; or said nothing, and removed the head if any.
            (None, Some(NIL) | None) | (Some(_), None) => {}
            (Some(_), Some(NIL)) => return None,
            (Some(head), Some(seen)) if head == seen => {}
            _ => return None,
        },
        (state, op) => unreachable!("{op:?} is not an op of {state:?}"),
    }
    Some(next)
}
