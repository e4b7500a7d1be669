//! String key-value store with get, put and append, as in Porcupine's kv tests.
//!
//! The state maps each key to its string, so the model also checks histories
//! that were not split by key. Keys absent from the state hold the initial value.

use super::{argument, observed, unknown_f};
use crate::history::Pair;
use crate::linear::intern::Interner;
use crate::linear::model::Model;
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Kv {
    pub initial: String,
}

#[derive(Clone, Debug)]
pub enum KvOp {
    Get(u32, Arc<str>),
    Put(u32, Arc<str>),
    Append(u32, Arc<str>),
}

/// Keys (interned) with the strings they hold, sorted by key.
pub type KvState = Vec<(u32, Arc<str>)>;

fn text(value: &Value) -> Result<Arc<str>, String> {
    match value {
        Value::String(s) => Ok(s.as_str().into()),
        Value::Null => Ok("".into()),
        other => Err(format!("kv values must be strings, not {other}")),
    }
}

impl Kv {
    fn get<'s>(&'s self, state: &'s KvState, key: u32) -> &'s str {
        match state.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => &state[i].1,
            Err(_) => &self.initial,
        }
    }

    fn with(state: &KvState, key: u32, value: Arc<str>) -> KvState {
        let mut next = state.clone();
        match next.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => next[i].1 = value,
            Err(i) => next.insert(i, (key, value)),
        }
        next
    }
}

impl Model for Kv {
    type State = KvState;
    type Op = KvOp;

    fn init(&self, _values: &mut Interner) -> KvState {
        Vec::new()
    }

    fn prepare(&self, pair: &Pair<'_>, values: &mut Interner) -> Result<Option<KvOp>, String> {
        let key = values.intern(pair.invoke.key.as_ref().unwrap_or(&Value::Null));
        match pair.invoke.f.as_str() {
            "get" | "read" => observed(pair)
                .map(|v| Ok(KvOp::Get(key, text(v)?)))
                .transpose(),
            "put" | "write" => Ok(Some(KvOp::Put(key, text(argument(pair))?))),
            "append" => Ok(Some(KvOp::Append(key, text(argument(pair))?))),
            f => Err(unknown_f("kv", f, "get, put or append")),
        }
    }

    fn step(&self, state: &KvState, op: &KvOp) -> Option<KvState> {
        match op {
            KvOp::Get(k, v) => (self.get(state, *k) == &**v).then(|| state.clone()),
            KvOp::Put(k, v) => Some(Self::with(state, *k, v.clone())),
            KvOp::Append(k, v) => {
                let joined: Arc<str> = format!("{}{}", self.get(state, *k), v).into();
                Some(Self::with(state, *k, joined))
            }
        }
    }

    fn footprint(&self, op: &KvOp) -> u64 {
        let (KvOp::Get(key, _) | KvOp::Put(key, _) | KvOp::Append(key, _)) = op;
        1 << (key % 64)
    }

    fn project(&self, state: &KvState, footprint: u64) -> KvState {
        state
            .iter()
            .filter(|(k, _)| footprint & (1 << (k % 64)) != 0)
            .cloned()
            .collect()
    }

    fn heap_bytes(&self, state: &KvState) -> usize {
        // The vector, plus each string as if not shared (Arc header included).
        state.capacity() * std::mem::size_of::<(u32, Arc<str>)>()
            + state.iter().map(|(_, v)| v.len() + 16).sum::<usize>()
    }

    fn describe(&self, state: &KvState, values: &Interner) -> String {
        let pairs: Vec<String> = state
            .iter()
            .map(|(k, v)| format!("{} {:?}", values.render(*k), v))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }
}
