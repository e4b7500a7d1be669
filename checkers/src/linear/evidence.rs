//! What an invalid verdict shows: enough to find and draw the anomaly.

use super::model::Model;
use super::search::Deepest;
use super::split::KeyProblem;
use crate::history::{OpType, Pair, Process};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many of the last linearized ops the evidence spells out in full.
const PREFIX_TAIL: usize = 8;

/// The longest state the evidence shows whole, in characters; a longer one
/// keeps its head and tail around an ellipsis.
pub const STATE_WIDTH: usize = 80;

/// `text` if it has at most `width` characters; else its first and last
/// characters around ` …(N chars)… `, at most `width` in all, N saying how many were
/// left out: what people read of a long state (a kv string that grew by
/// thousands of appends), in the summary, in `--json` and in reports.
pub fn shorten(text: &str, width: usize) -> String {
    let chars = text.chars().count();
    if chars <= width {
        return text.to_string();
    }
    let marker = |cut: usize| format!(" …({cut} chars)… ");
    // The marker's own width, with the widest count it could show.
    let room = width.saturating_sub(marker(chars).chars().count()).max(2);
    let head = room.div_ceil(2);
    let tail = room - head;
    let cut = chars - head - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(chars - tail).collect();
    format!("{start}{}{end}", marker(cut))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The op that cannot be linearized: every order the search tried
    /// reached this op's completion without a way to place it.
    pub op: OpSummary,
    /// The model state at the furthest point, just before `op`, as people
    /// read it (a kv key's string, a queue's elements, a register's value),
    /// shortened to `STATE_WIDTH` characters (see `shorten`).
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
        state: shorten(&model.describe(&deepest.state, &key.values), STATE_WIDTH),
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

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn short_states_are_shown_whole() {
        assert_eq!(shorten("\"x 1 y\"", 80), "\"x 1 y\"");
        let exactly = "a".repeat(80);
        assert_eq!(shorten(&exactly, 80), exactly);
    }

    #[test]
    fn long_states_keep_head_and_tail() {
        let text = format!("\"{}{}\"", "h".repeat(500), "t".repeat(500));
        let short = shorten(&text, 80);
        assert!((70..=80).contains(&short.chars().count()), "{short}");
        assert!(short.starts_with("\"hhh"), "{short}");
        assert!(short.ends_with("ttt\""), "{short}");
        assert!(short.contains(" …("), "{short}");
        let cut: usize = short
            .split(" …(")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("says how many characters it left out");
        let kept = short.chars().count() - format!(" …({cut} chars)… ").chars().count();
        assert_eq!(kept + cut, text.chars().count());
    }

    #[test]
    fn multibyte_text_is_cut_on_characters() {
        let text = "é".repeat(200);
        let short = shorten(&text, 80);
        assert!(short.chars().count() <= 80);
        assert!(short.starts_with('é') && short.ends_with('é'));
    }
}
