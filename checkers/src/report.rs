//! What the queue and log checkers share: their error type and the way
//! they report an anomaly (a count and the first examples).

use crate::history::{Op, PairError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// How many examples of each finding a report keeps.
pub const MAX_EXAMPLES: usize = 8;

/// Why a queue or log history could not be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// Invocations and completions do not pair up.
    Pair(PairError),
    /// An op's value does not follow the conventions of the checker.
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

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Pair(e) => e.fmt(f),
            CheckError::Malformed { index, message } => write!(f, "op {index}: {message}"),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::Pair(e) => Some(e),
            CheckError::Malformed { .. } => None,
        }
    }
}

impl From<PairError> for CheckError {
    fn from(e: PairError) -> Self {
        CheckError::Pair(e)
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
