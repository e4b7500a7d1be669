//! String key-value store with get, put and append, as in Porcupine's kv tests.
//!
//! The state maps each key to its string, so the model also checks histories
//! that were not split by key. Keys absent from the state hold the initial value.

use super::text::{Chunk, Text};
use super::{argument, unknown_f};
use crate::history::Pair;
use crate::linear::intern::Interner;
use crate::linear::model::Model;
use crate::linear::nil_read::{read_value, NilRead};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Kv {
    initial: Text,
    nil_read: NilRead,
}

impl Kv {
    /// Keys hold `initial` before their first write; a get of nil reads
    /// as `nil_read` says (under `NilRead::Value`, as the empty string).
    pub fn new(initial: &str, nil_read: NilRead) -> Self {
        Kv {
            initial: Text::of(&Chunk::new(initial)),
            nil_read,
        }
    }
}

#[derive(Clone, Debug)]
pub enum KvOp {
    Get(u32, Chunk),
    Put(u32, Chunk),
    Append(u32, Chunk),
}

/// Keys (interned) with the strings they hold, sorted by key.
pub type KvState = Vec<(u32, Text)>;

fn chunk(value: &Value) -> Result<Chunk, String> {
    text(value).map(Chunk::new)
}

fn text(value: &Value) -> Result<&str, String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok(""),
        other => Err(format!("kv values must be strings, not {other}")),
    }
}

impl Kv {
    fn get<'s>(&'s self, state: &'s KvState, key: u32) -> &'s Text {
        match state.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => &state[i].1,
            Err(_) => &self.initial,
        }
    }

    fn with(state: &KvState, key: u32, value: Text) -> KvState {
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
            "get" | "read" => read_value(pair, self.nil_read)
                .map(|v| Ok(KvOp::Get(key, Chunk::observed(text(v)?))))
                .transpose(),
            "put" | "write" => Ok(Some(KvOp::Put(key, chunk(argument(pair))?))),
            "append" => Ok(Some(KvOp::Append(key, chunk(argument(pair))?))),
            f => Err(unknown_f("kv", f, "get, put or append")),
        }
    }

    fn step(&self, state: &KvState, op: &KvOp) -> Option<KvState> {
        match op {
            KvOp::Get(k, v) => self.get(state, *k).equals(v).then(|| state.clone()),
            KvOp::Put(k, v) => Some(Self::with(state, *k, Text::of(v))),
            KvOp::Append(k, v) => Some(Self::with(state, *k, self.get(state, *k).append(v))),
        }
    }

    /// Appends only extend a string: once a key's text is not a prefix of
    /// what a get observed, only a put on that key could still help it.
    fn hopeless(
        &self,
        state: &KvState,
        op: &KvOp,
        pending: &mut dyn Iterator<Item = &KvOp>,
    ) -> bool {
        let KvOp::Get(key, seen) = op else {
            return false;
        };
        if self.get(state, *key).may_prefix(seen) {
            return false;
        }
        let mut puts = pending.filter(|p| matches!(p, KvOp::Put(k, _) if k == key));
        puts.next().is_none()
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

    /// A key's string is its own: keys sharing a footprint bit (equal mod
    /// 64) share the part, which holds exactly those keys.
    fn projects_parts(&self) -> bool {
        true
    }

    fn heap_bytes(&self, state: &KvState) -> usize {
        state.capacity() * std::mem::size_of::<(u32, Text)>()
            + state.iter().map(|(_, v)| v.heap_bytes()).sum::<usize>()
    }

    /// The string a key holds, quoted: `"x 1 yx 2 y"`. A history checked
    /// key by key has one key per search, so its state is that key's string
    /// (the initial one while no op has written it); unsplit, every key
    /// written so far with its string: `{"0" "x 1 y", "1" ""}`.
    fn describe(&self, state: &KvState, values: &Interner) -> String {
        match state.as_slice() {
            [] => self.initial.to_string(),
            [(_, text)] => text.to_string(),
            _ => {
                let pairs: Vec<String> = state
                    .iter()
                    .map(|(k, v)| format!("{} {v}", values.render(*k)))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_state_shows_as_its_string() {
        let kv = Kv::new("", NilRead::Value);
        let mut values = Interner::default();
        let key = values.intern(&Value::String("0".into()));
        let other = values.intern(&Value::String("1".into()));
        assert_eq!(kv.describe(&Vec::new(), &values), "\"\"");
        let one = Kv::with(&Vec::new(), key, Text::of(&Chunk::new("x 1 y")));
        let one = Kv::with(&one, key, kv.get(&one, key).append(&Chunk::new("x 2 y")));
        assert_eq!(kv.describe(&one, &values), "\"x 1 yx 2 y\"");
        let two = Kv::with(&one, other, Text::of(&Chunk::new("z")));
        assert_eq!(
            kv.describe(&two, &values),
            "{\"0\" \"x 1 yx 2 y\", \"1\" \"z\"}"
        );
    }
}
