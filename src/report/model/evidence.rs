//! Each checker's evidence as the report states it: its verdict and
//! counts, the accounting ops people check first, the examples under them,
//! and, when it could not decide, why and what would decide it.

use chaos_checkers::history::History;
use chaos_checkers::linear::LinearReport;
use chaos_checkers::log::LogReport;
use chaos_checkers::perf::FaultWindow;
use chaos_checkers::queue::QueueReport;
use chaos_checkers::Validity;

use super::examples::{log_examples, loss_certainty, queue_examples, EXAMPLES};
use super::ops::{during, op};
use super::text::Item;
use crate::report::input::Evidence;

/// The list under `### ... Evidence` for one checker.
pub fn items(evidence: &Evidence<'_>, history: &History, faults: &[FaultWindow]) -> Vec<Item> {
    match evidence {
        Evidence::Linearizable(r) => linearizable(r, faults),
        Evidence::Queue(r) => queue(r, history, faults),
        Evidence::Log(r) => log(r, history, faults),
    }
}

/// Why the checker could not decide, and what would decide it.
pub fn undecided(evidence: &Evidence<'_>) -> Option<String> {
    match evidence {
        Evidence::Linearizable(r) => linear_undecided(r),
        Evidence::Queue(r) => queue_undecided(r),
        Evidence::Log(r) => log_undecided(r),
    }
}

fn linearizable(r: &LinearReport, faults: &[FaultWindow]) -> Vec<Item> {
    let mut top = Item::rich(&format!(
        "Linearizability ({}): **{}**: keys: {} ({} valid / {} invalid / {} unknown); ops checked: {}",
        r.model,
        r.validity.as_str(),
        r.keys.len(),
        r.keys_valid,
        r.keys_invalid,
        r.keys_unknown,
        r.ops
    ));
    for key in r.keys.iter().filter(|k| k.failure.is_some()).take(EXAMPLES) {
        let f = key.failure.as_ref().expect("filtered on failures");
        let mut example = Item::rich(&format!(
            "key `{}`: {} cannot be linearized{}",
            key.key,
            op(&f.op),
            during(&f.op, faults)
        ));
        example.items.push(match &f.reason {
            Some(why) => Item::rich(why),
            None => Item::rich(&format!(
                "state before it: `{}`; longest linearizable prefix: {} ops",
                f.state,
                f.prefix.len()
            )),
        });
        for c in f.concurrent.iter().take(5) {
            example
                .items
                .push(Item::rich(&format!("concurrent: {}", op(c))));
        }
        top.items.push(example);
    }
    for key in r
        .keys
        .iter()
        .filter(|k| k.unknown_reason.is_some())
        .take(EXAMPLES)
    {
        top.items.push(Item::rich(&format!(
            "key `{}`: undecided: {}",
            key.key,
            key.unknown_reason.as_deref().unwrap_or("")
        )));
    }
    vec![top]
}

fn queue(r: &QueueReport, history: &History, faults: &[FaultWindow]) -> Vec<Item> {
    let mut items = vec![
        Item::rich(&format!("Queue: **{}**", r.validity.as_str())),
        Item::rich(&format!(
            "Enqueued (acknowledged): **{}** of {} attempted; dequeued: **{}**",
            r.acknowledged, r.attempted, r.dequeued
        )),
        Item::rich(&format!(
            "Lost/Duplicated/Unexpected/Failed-but-dequeued: **{}/{}/{}/{}**",
            r.lost.count, r.duplicated.count, r.unexpected.count, r.failed_but_dequeued.count
        )),
        Item::rich(&format!(
            "Recovered (indeterminate enqueues later seen): {}; pending (no drain after them): {}",
            r.recovered.count, r.pending.count
        )),
    ];
    items.extend(loss_certainty(r));
    // The sum ops people check first: every acknowledged element is out
    // exactly once, lost, or still waiting for a drain.
    let out_once = r
        .acknowledged
        .saturating_sub(r.lost.count + r.pending.count);
    let mut accounting = Item::rich(&format!(
        "Accounting: acknowledged {} = dequeued {} + lost {} + pending {}{}",
        r.acknowledged,
        out_once,
        r.lost.count,
        r.pending.count,
        if r.drained {
            ""
        } else {
            " (no final drain completed: losses cannot be told from pending)"
        }
    ));
    accounting.items = queue_examples(r, history, faults);
    items.push(accounting);
    items
}

fn log(r: &LogReport, history: &History, faults: &[FaultWindow]) -> Vec<Item> {
    let c = &r.counts;
    let mut accounting = Item::rich(&format!(
        "Accounting: produced (acknowledged) {} = read {} + lost {} + unseen {}; consumed also counts {} value(s) whose append ended indeterminate or never completed",
        c.produced,
        c.delivered,
        c.lost,
        c.unseen,
        c.consumed.saturating_sub(c.delivered)
    ));
    accounting.items = log_examples(r, history, faults);
    vec![
        Item::rich(&format!("Log: **{}**", r.validity.as_str())),
        Item::rich(&format!(
            "Produced: **{}**, Consumed: **{}**",
            c.produced, c.consumed
        )),
        Item::rich(&format!("Lost/Unseen: **{}/{}**", c.lost, c.unseen)),
        Item::rich(&format!(
            "Gaps/Duplicates/Out-of-order: **{}/{}/{}**",
            c.gaps, c.duplicates, c.out_of_order
        )),
        accounting,
    ]
}

fn linear_undecided(r: &LinearReport) -> Option<String> {
    if r.keys_unknown == 0 {
        return None;
    }
    Some(format!(
        "the linearizability search ran out of its budget on {} key(s): re-check `history.jsonl` \
         with `chaos check --time-budget ... --memory-budget ...` and larger budgets, or shorten the run",
        r.keys_unknown
    ))
}

fn queue_undecided(r: &QueueReport) -> Option<String> {
    let mut reasons = Vec::new();
    if !r.lost.is_empty() && !r.loss_is_certain() {
        let drains = match r.indeterminate_drains {
            0 => String::new(),
            n => format!(" and {n} drain(s)"),
        };
        reasons.push(format!(
            "{} acknowledged element(s) never came out, but {} dequeue(s){drains} ended \
             indeterminate (info) and could have taken them unseen, so the loss cannot be decided: \
             a run with fewer indeterminate dequeues (a cluster healthy while they run, a longer \
             client timeout) would decide it",
            r.lost.count, r.indeterminate_dequeues
        ));
    }
    if !r.pending.is_empty() {
        let drain = if r.drained {
            "no drain completed after their acknowledgement"
        } else {
            "the final drain did not complete"
        };
        reasons.push(format!(
            "{} acknowledged element(s) were never looked for because {drain}: \
             a final drain that completes (a cluster healthy at the end, a longer \
             recovery before the drain) would decide them",
            r.pending.count
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn log_undecided(r: &LogReport) -> Option<String> {
    if r.validity != Validity::Unknown || r.counts.unseen == 0 {
        return None;
    }
    let unread: Vec<String> = r
        .keys
        .iter()
        .filter(|k| !k.final_read)
        .map(|k| {
            k.key
                .as_ref()
                .map_or("the log".to_string(), |key| format!("log `{key}`"))
        })
        .collect();
    let why = match unread.is_empty() {
        true => "no final read completed after they were acknowledged".to_string(),
        false => format!("no final read completed on {}", unread.join(", ")),
    };
    Some(format!(
        "{} acknowledged append(s) lie beyond every offset a read reached and {why}, \
         so whether they were lost cannot be decided: a final read that completes \
         (a cluster healthy at the end, a longer final phase) would decide it",
        r.counts.unseen
    ))
}
