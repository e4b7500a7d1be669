//! What an `ok` read whose value is nil tells: our reading, or Knossos's.
//!
//! We take the value at its word: the read saw nil (the register held nil,
//! a kv key the empty string). Jepsen's Knossos takes nil as "the client
//! does not know what it read", which matches any state; Jepsen clients
//! write such reads, so their histories need Knossos's reading
//! (`--nil-read any`) to mean what their authors meant.

use super::evidence::OpSummary;
use super::ModelKind;
use crate::history::{OpType, Pair};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NilRead {
    /// The read saw nil: a value like any other.
    #[default]
    Value,
    /// The read tells nothing (Knossos): it is ignored, like a read that
    /// never completed.
    Any,
}

impl NilRead {
    pub fn as_str(self) -> &'static str {
        match self {
            NilRead::Value => "value",
            NilRead::Any => "any",
        }
    }
}

impl fmt::Display for NilRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NilRead {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "value" => Ok(NilRead::Value),
            "any" => Ok(NilRead::Any),
            other => Err(format!(
                "unknown --nil-read {other:?} (expected value: a nil read saw nil, \
                 or any: a nil read matches any state, as in Knossos)"
            )),
        }
    }
}

/// The models whose reads `NilRead` is about. A set read and a dequeue
/// return something else than a register's value: an empty list, an empty
/// queue's nil, which do tell what was read.
pub fn applies_to(model: ModelKind) -> bool {
    matches!(
        model,
        ModelKind::Register | ModelKind::CasRegister | ModelKind::Kv | ModelKind::MultiRegister
    )
}

/// What a read observed: the ok completion's value, or `None` when the
/// read tells nothing (it did not complete ok, or it returned nil and nil
/// reads match anything).
pub(crate) fn read_value<'h>(pair: &Pair<'h>, nil_read: NilRead) -> Option<&'h Value> {
    match pair.completion {
        Some(c) if c.kind == OpType::Ok => match (&c.value, nil_read) {
            (Value::Null, NilRead::Any) => None,
            (value, _) => Some(value),
        },
        _ => None,
    }
}

/// Whether `op`, reported as the op that cannot be linearized, is a read
/// that returned nil under `model`: one `--nil-read any` would ignore.
pub fn is_nil_read(model: ModelKind, op: &OpSummary) -> bool {
    if op.outcome != OpType::Ok || !applies_to(model) {
        return false;
    }
    match model {
        ModelKind::MultiRegister => op.result.as_array().is_some_and(|micros| {
            micros.iter().any(|m| {
                matches!(m.as_array().map(Vec::as_slice),
                    Some([Value::String(f), _, Value::Null]) if f == "r" || f == "read")
            })
        }),
        ModelKind::Kv => matches!(op.f.as_str(), "get" | "read") && op.result.is_null(),
        _ => op.f == "read" && op.result.is_null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;

    fn op(kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(0),
            kind,
            f: f.into(),
            key: None,
            value,
            node: None,
            error: None,
        }
    }

    fn summary(f: &str, outcome: OpType, result: Value) -> OpSummary {
        let invoke = op(OpType::Invoke, f, Value::Null);
        let done = op(outcome, f, result);
        OpSummary::of(&Pair {
            invoke: &invoke,
            completion: Some(&done),
            position: 0,
            completion_position: Some(1),
        })
    }

    #[test]
    fn names_round_trip_and_a_bad_one_says_both() {
        for mode in [NilRead::Value, NilRead::Any] {
            assert_eq!(mode.to_string().parse::<NilRead>(), Ok(mode));
        }
        let err = "unknown".parse::<NilRead>().unwrap_err();
        assert!(
            err.contains("expected value") && err.contains("or any"),
            "{err}"
        );
        assert_eq!(NilRead::default(), NilRead::Value);
    }

    #[test]
    fn only_an_ok_nil_read_tells_nothing_under_any() {
        let invoke = op(OpType::Invoke, "read", Value::Null);
        let nil = op(OpType::Ok, "read", Value::Null);
        let three = op(OpType::Ok, "read", json!(3));
        fn pair<'h>(invoke: &'h Op, c: &'h Op) -> Pair<'h> {
            Pair {
                invoke,
                completion: Some(c),
                position: 0,
                completion_position: Some(1),
            }
        }
        let (nil, three) = (pair(&invoke, &nil), pair(&invoke, &three));
        assert_eq!(read_value(&nil, NilRead::Value), Some(&Value::Null));
        assert_eq!(read_value(&nil, NilRead::Any), None);
        assert_eq!(read_value(&three, NilRead::Any), Some(&json!(3)));
        let info = op(OpType::Info, "read", Value::Null);
        assert_eq!(read_value(&pair(&invoke, &info), NilRead::Value), None);
    }

    #[test]
    fn a_nil_read_is_recognised_per_model() {
        let read_nil = summary("read", OpType::Ok, Value::Null);
        assert!(is_nil_read(ModelKind::CasRegister, &read_nil));
        assert!(is_nil_read(ModelKind::Register, &read_nil));
        assert!(is_nil_read(ModelKind::Kv, &read_nil));
        assert!(is_nil_read(
            ModelKind::Kv,
            &summary("get", OpType::Ok, Value::Null)
        ));
        assert!(!is_nil_read(ModelKind::Set, &read_nil));
        assert!(!is_nil_read(
            ModelKind::FifoQueue,
            &summary("dequeue", OpType::Ok, Value::Null)
        ));
        assert!(!is_nil_read(
            ModelKind::CasRegister,
            &summary("read", OpType::Ok, json!(1))
        ));
        assert!(!is_nil_read(
            ModelKind::CasRegister,
            &summary("write", OpType::Ok, Value::Null)
        ));
        assert!(!is_nil_read(
            ModelKind::CasRegister,
            &summary("read", OpType::Info, Value::Null)
        ));
        let txn = |micros| summary("txn", OpType::Ok, micros);
        assert!(is_nil_read(
            ModelKind::MultiRegister,
            &txn(json!([["w", 1, 2], ["r", 0, null]]))
        ));
        assert!(!is_nil_read(
            ModelKind::MultiRegister,
            &txn(json!([["w", 0, null], ["r", 0, 1]]))
        ));
    }
}
