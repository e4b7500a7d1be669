//! The sequential specifications the linearizability checker knows.

mod fifo_queue;
mod kv;
mod multi_register;
mod register;
mod set;
mod text;

pub use fifo_queue::FifoQueue;
pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use register::Register;
pub use set::Set;

use crate::history::{OpType, Pair};
use serde_json::Value;

/// The value an ok completion observed; `None` for an indeterminate op.
fn observed<'h>(pair: &Pair<'h>) -> Option<&'h Value> {
    match pair.completion {
        Some(c) if c.kind == OpType::Ok => Some(&c.value),
        _ => None,
    }
}

/// The value an op was asked to apply: the invocation's, or the completion's
/// when the client only learned it then (Jepsen writes it on both).
fn argument<'h>(pair: &Pair<'h>) -> &'h Value {
    match (&pair.invoke.value, pair.completion) {
        (Value::Null, Some(c)) => &c.value,
        (v, _) => v,
    }
}

fn unknown_f(model: &str, f: &str, expected: &str) -> String {
    format!("the {model} model has no function :{f} (expected {expected})")
}
