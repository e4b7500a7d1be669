//! What an invalid verdict shows: enough to find and draw the anomaly.

use super::model::Model;
use super::search::Deepest;
use super::split::KeyProblem;
use crate::history::{OpType, Pair, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many of the last linearized ops the evidence spells out in full.
const PREFIX_TAIL: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The op that cannot be linearized: every order the search tried
    /// reached this op's completion without a way to place it.
    pub op: OpSummary,
    /// The model state at the furthest point, just before `op`.
    pub state: String,
    /// Invocation indexes of the longest linearizable prefix found, in order.
    pub prefix: Vec<u64>,
    /// The last ops of that prefix, in full.
    pub prefix_tail: Vec<OpSummary>,
    /// Ops whose time span overlaps `op`'s: the candidates for reordering.
    pub concurrent: Vec<OpSummary>,
    /// Set when `op` was found impossible in every order without a search
    /// reaching it (see `Model::never_possible`): then `prefix` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub index: u64,
    pub process: Process,
    /// The node the client sent it to, when the history says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub f: String,
    pub value: Value,
    /// What the completion said: its value, or null for info.
    pub result: Value,
    pub outcome: OpType,
    pub invoke_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_time: Option<u64>,
}

impl OpSummary {
    pub fn of(pair: &Pair<'_>) -> Self {
        OpSummary {
            index: pair.invoke.index,
            process: pair.invoke.process,
            node: pair.invoke.node.clone(),
            f: pair.invoke.f.clone(),
            value: pair.invoke.value.clone(),
            result: pair.completion.map_or(Value::Null, |c| c.value.clone()),
            outcome: pair.outcome(),
            invoke_time: pair.invoke.time,
            complete_time: pair.completion.map(|c| c.time),
        }
    }
}

pub fn failure<M: Model>(
    model: &M,
    key: &KeyProblem<'_, M>,
    deepest: &Deepest<M::State>,
) -> Failure {
    let pair = |id: u32| &key.pairs[id as usize];
    let blocked = pair(deepest.blocked);
    let span = |p: &Pair<'_>| (p.position, p.completion_position.unwrap_or(usize::MAX));
    let (start, end) = span(blocked);
    let concurrent = key
        .pairs
        .iter()
        .filter(|p| {
            let (s, e) = span(p);
            s < end && start < e && p.position != blocked.position
        })
        .map(OpSummary::of)
        .collect();
    let tail_from = deepest.order.len().saturating_sub(PREFIX_TAIL);
    Failure {
        op: OpSummary::of(blocked),
        state: model.describe(&deepest.state, &key.values),
        prefix: deepest
            .order
            .iter()
            .map(|&id| pair(id).invoke.index)
            .collect(),
        prefix_tail: deepest.order[tail_from..]
            .iter()
            .map(|&id| OpSummary::of(pair(id)))
            .collect(),
        concurrent,
        reason: None,
    }
}
