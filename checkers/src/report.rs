//! What the queue and log checkers share: their error type and the way
//! they report an anomaly (a count and the first examples).

use crate::history::{Op, PairError};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many examples of each finding a report keeps.
pub const MAX_EXAMPLES: usize = 8;

/// Why a queue or log history could not be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Invocations and completions do not pair up.
    #[error(transparent)]
    Pair(#[from] PairError),
    /// An op's value does not follow the conventions of the checker.
    #[error("op {index}: {message}")]
    Malformed { index: u64, message: String },
}

impl CheckError {
    pub(crate) fn malformed(op: &Op, message: impl Into<String>) -> Self {
        CheckError::Malformed {
            index: op.index,
            message: message.into(),
        }
    }
}

/// How many times something was found, and the first examples by op index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Found<E> {
    pub count: usize,
    pub examples: Vec<E>,
}

impl<E> Default for Found<E> {
    fn default() -> Self {
        Found {
            count: 0,
            examples: Vec::new(),
        }
    }
}

impl<E> Found<E> {
    /// Keeps the count of `all` and its first [`MAX_EXAMPLES`] by `index`.
    pub(crate) fn from_all(mut all: Vec<E>, index: impl Fn(&E) -> u64) -> Self {
        // Stable, so examples anchored at the same op keep their discovery order.
        all.sort_by_key(|e| index(e));
        let count = all.len();
        all.truncate(MAX_EXAMPLES);
        Found {
            count,
            examples: all,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Identity of a JSON value: its compact text with object keys sorted, so it
/// does not depend on how serde_json orders maps.
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

/// A value's identity (equal iff `canonical` is) without writing out the
/// common ones: histories of a million ops have as many elements or log
/// values, nearly all integers or strings, and writing each out as text
/// cost more than the rest of a check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Identity<'h> {
    /// A non-negative integer (serde_json keeps every one as such).
    Unsigned(u64),
    Negative(i64),
    Text(&'h str),
    /// Anything else, as its canonical text.
    Canonical(String),
}

impl<'h> Identity<'h> {
    fn of(v: &'h Value) -> Self {
        match v {
            Value::Number(n) if n.is_u64() => Identity::Unsigned(n.as_u64().unwrap_or(0)),
            Value::Number(n) if n.is_i64() => Identity::Negative(n.as_i64().unwrap_or(0)),
            Value::String(s) => Identity::Text(s),
            other => Identity::Canonical(canonical(other)),
        }
    }
}

/// Whether two values are the same element (their canonical texts agree).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    Identity::of(a) == Identity::of(b)
}

/// Distinct values numbered from 0 in the order they are first seen.
#[derive(Default)]
pub(crate) struct ValueIds<'h> {
    /// Non-negative integers, the usual elements and log values, apart:
    /// a table of plain numbers is several times smaller and quicker.
    unsigned: FxHashMap<u64, u32>,
    other: FxHashMap<Identity<'h>, u32>,
}

impl<'h> ValueIds<'h> {
    /// Room for about `n` values without growing.
    pub fn with_capacity(n: usize) -> Self {
        ValueIds {
            unsigned: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            other: FxHashMap::default(),
        }
    }

    /// The number of `v`, given one if it is new.
    pub fn id(&mut self, v: &'h Value) -> u32 {
        let next = self.len() as u32;
        match v {
            Value::Number(n) if n.is_u64() => {
                *self.unsigned.entry(n.as_u64().unwrap_or(0)).or_insert(next)
            }
            _ => *self.other.entry(Identity::of(v)).or_insert(next),
        }
    }

    pub fn len(&self) -> usize {
        self.unsigned.len() + self.other.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_the_same_when_their_canonical_text_is() {
        let values = [
            json!(1),
            json!(-1),
            json!(1.0),
            json!("1"),
            json!(null),
            json!([1, "a"]),
            json!({"a": 1, "b": [2]}),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(true),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(
                    same_value(a, b),
                    canonical(a) == canonical(b),
                    "{a} and {b}"
                );
            }
        }
        let parsed: Value = serde_json::from_str(r#"{"b": [2], "a": 1}"#).unwrap();
        assert!(same_value(&parsed, &values[6]));
        let mut ids = ValueIds::default();
        let one = json!(1);
        assert_eq!(ids.id(&values[0]), 0);
        assert_eq!(ids.id(&values[3]), 1);
        assert_eq!(ids.id(&one), 0);
        assert_eq!(ids.len(), 2);
        assert_eq!(ids.id(&values[2]), 2, "1.0 is not 1");
    }
}
