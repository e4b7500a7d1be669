//! Exact linearizability checking.
//!
//! A history is split by key (keys are independent: a history is linearizable
//! iff each key's sub-history is), keys are checked in parallel, each key
//! gets a time budget and all of them share one memory budget. A key whose
//! search runs out of budget is `unknown`, never `valid`.

#[cfg(test)]
mod differential;
mod evidence;
mod intern;
pub mod memory;
mod model;
pub mod models;
pub mod nil_read;
#[cfg(test)]
mod reference;
mod search;
mod split;

pub use evidence::{Failure, OpSummary};
pub use intern::Interner;
pub use model::Model;
pub use nil_read::NilRead;

use crate::history::{History, PairError};
use crate::verdict::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The sequential specifications a history can be checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Register,
    CasRegister,
    Kv,
    MultiRegister,
    Set,
    FifoQueue,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::MultiRegister,
        ModelKind::Set,
        ModelKind::FifoQueue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::Set => "set",
            ModelKind::FifoQueue => "fifo-queue",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown model {s:?} (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

#[derive(Clone, Debug)]
pub struct LinearOptions {
    pub model: ModelKind,
    /// The value every register or key holds before the first write.
    pub initial: Value,
    /// Check each key on its own (the `key` field of ops). Off: one search
    /// over the whole history, with the model's state covering every key.
    pub split_keys: bool,
    /// Threads checking keys in parallel; 0 means one per core.
    pub threads: usize,
    pub time_budget_per_key: Duration,
    /// Memory the searches of every key may hold together (their memos).
    /// `None`: half the memory available when the check starts (see
    /// `memory::budget`); an explicit budget is capped at what is available.
    pub memory_budget: Option<usize>,
    /// Decide every key even once one is invalid. Off (the default): the
    /// history is invalid as soon as one key is, so keys still searching
    /// then are stopped once past a small budget (`STOP_GRACE`) and
    /// reported as not decided; cheaper keys are still decided.
    pub all_keys: bool,
    /// What an ok read of nil tells (register, cas-register, kv and
    /// multi-register): that it read nil (the default), or, as Knossos
    /// reads Jepsen's histories, nothing at all.
    pub nil_read: NilRead,
}

/// Configurations a key may still explore after another key was found
/// invalid: enough to decide a cheap key (a few milliseconds), not enough
/// to let a hard one run on to its budget.
pub const STOP_GRACE: u64 = 1 << 11;

/// Why a key stopped by an invalid key has no verdict.
pub const STOPPED_REASON: &str = "not decided: stopped after the first anomaly";

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            model: ModelKind::CasRegister,
            initial: Value::Null,
            split_keys: true,
            threads: 0,
            time_budget_per_key: Duration::from_secs(60),
            memory_budget: None,
            all_keys: false,
            nil_read: NilRead::Value,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearReport {
    pub validity: Validity,
    pub model: ModelKind,
    /// Operations the search considered (failed ops never happened; reads
    /// that never completed observed nothing).
    pub ops: usize,
    pub keys_valid: usize,
    pub keys_invalid: usize,
    /// Keys out of budget (`unknown_reason` says which budget).
    pub keys_unknown: usize,
    /// Keys stopped undecided because another key was already invalid
    /// (their validity is `unknown`; see `LinearOptions::all_keys`).
    #[serde(default)]
    pub keys_stopped: usize,
    /// Every key, in the order keys first appear in the history.
    pub keys: Vec<KeyReport>,
    /// The memory budget the searches shared, in bytes.
    #[serde(default)]
    pub memory_budget: usize,
    /// The most memory the searches held at once, in bytes (as reckoned
    /// for the budget: what their memos had allocated or were about to).
    #[serde(default)]
    pub memory_peak: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyReport {
    /// The key, or null for a history without keys (or not split).
    pub key: Value,
    pub validity: Validity,
    pub ops: usize,
    /// Configurations the search explored: the size of its memo.
    pub explored: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    /// Stopped undecided because another key was invalid: `unknown`, never
    /// `valid`, with `unknown_reason` saying so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// The history cannot be checked as given (bad pairing, ops the model does
/// not know): the caller's input is wrong, not the system under test.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("op {index}: {message}")]
pub struct CheckError {
    pub index: u64,
    pub message: String,
}

impl From<PairError> for CheckError {
    fn from(e: PairError) -> Self {
        CheckError {
            index: e.index,
            message: e.message,
        }
    }
}

/// Checks `history` against the model of `options`.
pub fn check(history: &History, options: &LinearOptions) -> Result<LinearReport, CheckError> {
    use models::*;
    let initial = options.initial.clone();
    let nil_read = options.nil_read;
    match options.model {
        ModelKind::Register => run(
            &Register {
                initial,
                cas: false,
                nil_read,
            },
            history,
            options,
        ),
        ModelKind::CasRegister => run(
            &Register {
                initial,
                cas: true,
                nil_read,
            },
            history,
            options,
        ),
        ModelKind::Kv => {
            let initial = match initial {
                Value::Null => String::new(),
                Value::String(s) => s,
                other => {
                    return Err(CheckError {
                        index: 0,
                        message: format!(
                            "the kv model's initial value must be a string, not {other}"
                        ),
                    })
                }
            };
            run(&Kv::new(&initial, nil_read), history, options)
        }
        ModelKind::MultiRegister => run(&MultiRegister { initial, nil_read }, history, options),
        ModelKind::Set => run(&Set, history, options),
        ModelKind::FifoQueue => run(&FifoQueue, history, options),
    }
}

fn run<M: Model>(
    model: &M,
    history: &History,
    options: &LinearOptions,
) -> Result<LinearReport, CheckError> {
    let pairs = history.pairs()?;
    let groups = split::by_key(&pairs, options.split_keys);
    let prepared = groups
        .into_iter()
        .map(|group| split::prepare(model, group))
        .collect::<Result<Vec<_>, _>>()?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Small keys first: they are the quickest to prove a history invalid,
    // after which the big ones need not run to their budget. The report
    // keeps the keys in the order of the history.
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    order.sort_by_key(|&i| prepared[i].problem.ops.len());
    let invalid_found = AtomicBool::new(false);
    let stop = (!options.all_keys).then_some(&invalid_found);
    let pool = memory::MemoryPool::new(memory::budget_now(options.memory_budget));
    let keys = split::par_map(&prepared, &order, threads, |key| {
        check_key(model, key, options, &pool, stop)
    });
    let count = |v: Validity| {
        keys.iter()
            .filter(|k| k.validity == v && !k.stopped)
            .count()
    };
    Ok(LinearReport {
        validity: keys.iter().map(|k| k.validity).collect(),
        model: options.model,
        ops: keys.iter().map(|k| k.ops).sum(),
        keys_valid: count(Validity::Valid),
        keys_invalid: count(Validity::Invalid),
        keys_unknown: count(Validity::Unknown),
        keys_stopped: keys.iter().filter(|k| k.stopped).count(),
        keys,
        memory_budget: pool.limit(),
        memory_peak: pool.peak(),
    })
}

fn check_key<M: Model>(
    model: &M,
    key: &split::KeyProblem<'_, M>,
    options: &LinearOptions,
    pool: &memory::MemoryPool,
    invalid_found: Option<&AtomicBool>,
) -> KeyReport {
    let budget = search::Budget {
        deadline: Instant::now().checked_add(options.time_budget_per_key),
        memory: pool,
        stop: invalid_found,
        grace: STOP_GRACE,
    };
    let mut report = KeyReport {
        key: key.key.clone(),
        validity: Validity::Valid,
        ops: key.problem.ops.len(),
        explored: 0,
        unknown_reason: None,
        stopped: false,
        failure: None,
    };
    match search::search(model, key.init.clone(), &key.problem, &budget) {
        search::Outcome::Linearizable { explored } => report.explored = explored,
        search::Outcome::NotLinearizable { explored, deepest } => {
            report.explored = explored;
            report.validity = Validity::Invalid;
            report.failure = Some(evidence::failure(model, key, &deepest));
        }
        search::Outcome::Stopped { explored } => {
            report.explored = explored;
            report.validity = Validity::Unknown;
            report.stopped = true;
            report.unknown_reason = Some(STOPPED_REASON.to_string());
        }
        search::Outcome::Exhausted { explored, reason } => {
            report.explored = explored;
            let problem = &key.problem;
            match model.never_possible(&key.init, &problem.ops, &problem.required, &key.values) {
                Some((blocked, why)) => {
                    let nowhere = search::Deepest {
                        order: Vec::new(),
                        state: key.init.clone(),
                        blocked: blocked as u32,
                    };
                    let mut failure = evidence::failure(model, key, &nowhere);
                    failure.reason = Some(why);
                    report.validity = Validity::Invalid;
                    report.failure = Some(failure);
                }
                None => {
                    report.validity = Validity::Unknown;
                    report.unknown_reason = Some(reason);
                }
            }
        }
    }
    if report.validity == Validity::Invalid {
        if let Some(flag) = invalid_found {
            flag.store(true, Ordering::Relaxed);
        }
    }
    report
}
