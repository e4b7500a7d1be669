//! Many registers read and written together in transactions, as in Knossos.
//!
//! An op is `txn` whose value lists micro-ops `[f k v]`, `f` being `r` or `w`
//! (`read`/`write` too). A read in an ok txn observed `v` (a nil `v` tells
//! nothing under `NilRead::Any`); an indeterminate txn's reads observed
//! nothing and only its writes matter.

use super::{argument, observed, unknown_f};
use crate::history::Pair;
use crate::linear::intern::Interner;
use crate::linear::model::Model;
use crate::linear::nil_read::NilRead;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct MultiRegister {
    pub initial: Value,
    pub nil_read: NilRead,
}

#[derive(Clone, Copy, Debug)]
pub enum Micro {
    Read(u32, u32),
    Write(u32, u32),
}

/// Registers (interned key, interned value), sorted by key.
pub type Registers = Vec<(u32, u32)>;

#[derive(Clone, Debug)]
pub struct Txn(Vec<Micro>);

fn micro_ops(txn: &Value) -> Result<Vec<(bool, &Value, &Value)>, String> {
    let Value::Array(items) = txn else {
        return Err(format!("a txn value must be a list of [f k v], not {txn}"));
    };
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([Value::String(f), k, v]) => match f.as_str() {
                "r" | "read" => Ok((false, k, v)),
                "w" | "write" => Ok((true, k, v)),
                other => Err(format!("micro-op :{other} is neither r nor w")),
            },
            _ => Err(format!("a micro-op must be [f k v], not {item}")),
        })
        .collect()
}

impl MultiRegister {
    fn get(&self, state: &Registers, key: u32, initial: u32) -> u32 {
        match state.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => state[i].1,
            Err(_) => initial,
        }
    }
}

impl Model for MultiRegister {
    type State = (u32, Registers);
    type Op = Txn;

    fn init(&self, values: &mut Interner) -> Self::State {
        (values.intern(&self.initial), Vec::new())
    }

    fn prepare(&self, pair: &Pair<'_>, values: &mut Interner) -> Result<Option<Txn>, String> {
        if !matches!(pair.invoke.f.as_str(), "txn" | "read" | "write") {
            return Err(unknown_f("multi-register", &pair.invoke.f, "txn"));
        }
        // Reads come from what the completion observed; writes from the request.
        let known = observed(pair);
        let ops = micro_ops(known.unwrap_or(argument(pair)))?;
        let mut txn = Vec::with_capacity(ops.len());
        for (write, k, v) in ops {
            let k = values.intern(k);
            if write {
                txn.push(Micro::Write(k, values.intern(v)));
            } else if known.is_some() && !(v.is_null() && self.nil_read == NilRead::Any) {
                txn.push(Micro::Read(k, values.intern(v)));
            }
        }
        Ok((!txn.is_empty()).then_some(Txn(txn)))
    }

    fn step(&self, (initial, state): &Self::State, txn: &Txn) -> Option<Self::State> {
        let mut next = state.clone();
        for micro in &txn.0 {
            match *micro {
                Micro::Read(k, v) => {
                    if self.get(&next, k, *initial) != v {
                        return None;
                    }
                }
                Micro::Write(k, v) => match next.binary_search_by_key(&k, |(k, _)| *k) {
                    Ok(i) => next[i].1 = v,
                    Err(i) => next.insert(i, (k, v)),
                },
            }
        }
        Some((*initial, next))
    }

    fn heap_bytes(&self, state: &Self::State) -> usize {
        state.1.capacity() * 8
    }

    fn describe(&self, (_, state): &Self::State, values: &Interner) -> String {
        let pairs: Vec<String> = state
            .iter()
            .map(|(k, v)| format!("{} {}", values.render(*k), values.render(*v)))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }
}
