//! A grow-only set: `add` an element, `read` the whole set.

use super::{argument, observed, unknown_f};
use crate::history::Pair;
use crate::linear::intern::Interner;
use crate::linear::model::Model;
use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct Set;

#[derive(Clone, Debug)]
pub enum SetOp {
    Add(u32),
    /// The elements read, interned and sorted.
    Read(Vec<u32>),
}

impl Model for Set {
    type State = Vec<u32>;
    type Op = SetOp;

    fn init(&self, _values: &mut Interner) -> Vec<u32> {
        Vec::new()
    }

    fn prepare(&self, pair: &Pair<'_>, values: &mut Interner) -> Result<Option<SetOp>, String> {
        match pair.invoke.f.as_str() {
            "add" => Ok(Some(SetOp::Add(values.intern(argument(pair))))),
            "read" => match observed(pair) {
                None => Ok(None),
                Some(Value::Array(items)) => {
                    let mut read: Vec<u32> = items.iter().map(|v| values.intern(v)).collect();
                    read.sort_unstable();
                    read.dedup();
                    Ok(Some(SetOp::Read(read)))
                }
                Some(other) => Err(format!("a set read must return a list, not {other}")),
            },
            f => Err(unknown_f("set", f, "add or read")),
        }
    }

    fn step(&self, state: &Vec<u32>, op: &SetOp) -> Option<Vec<u32>> {
        match op {
            SetOp::Add(v) => match state.binary_search(v) {
                Ok(_) => Some(state.clone()),
                Err(i) => {
                    let mut next = state.clone();
                    next.insert(i, *v);
                    Some(next)
                }
            },
            SetOp::Read(read) => (read == state).then(|| state.clone()),
        }
    }

    fn heap_bytes(&self, state: &Self::State) -> usize {
        state.capacity() * 4
    }

    fn describe(&self, state: &Vec<u32>, values: &Interner) -> String {
        let items: Vec<String> = state.iter().map(|v| values.render(*v)).collect();
        format!("#{{{}}}", items.join(" "))
    }
}
