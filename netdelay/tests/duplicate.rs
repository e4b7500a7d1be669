//! Duplication measured at the receiver: numbered UDP datagrams from the
//! sender's namespace, and how many arrived twice. The copies go out
//! through the raw socket with our mark, which the rule excludes, so a
//! copy is never queued (and duplicated) again. The draws are seeded and
//! nothing else the sender sends the peer is IPv4, so the count replays.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn duplicates_arrive_at_the_drawn_rate_and_are_not_queued_again() {
    if !netns_or_skip(
        "duplicates_arrive_at_the_drawn_rate_and_are_not_queued_again",
        false,
    ) {
        return;
    }
    let pair = Pair::new();
    pair.apply(0);
    let delayer = pair.delayer(&["--delay", "1ms", "--duplicate", "10%", "--seed", "11"]);
    let n = 1000;
    let arrivals = udp_run(
        &pair,
        n,
        Duration::from_millis(1),
        Duration::from_millis(500),
    );
    let (code, lines) = delayer.terminate();
    let seen = copies(&arrivals);
    let dups: usize = seen.values().map(|c| c - 1).sum();
    let (lo, hi) = binomial_95(n, 0.10);
    eprintln!("duplicate 10% of {n}: {dups} duplicates observed (95% interval {lo:.0}..{hi:.0}); {lines:?}");
    assert_eq!(seen.len(), n as usize, "every datagram arrived");
    assert!(
        seen.values().all(|&c| c <= 2),
        "a copy is never copied again"
    );
    assert!((lo..=hi).contains(&(dups as f64)), "{dups}");
    assert_eq!(code, 0);
    assert_eq!(counters(&lines), (u64::from(n), 0, dups as u64, 0));
}

#[test]
fn ping_sees_the_duplicates() {
    if !netns_or_skip("ping_sees_the_duplicates", true) {
        return;
    }
    let pair = Pair::new();
    pair.apply(1);
    let delayer = pair.delayer(&["--queue", "1", "--duplicate", "50%", "--seed", "2"]);
    let (rtts, dups) = ping(&pair, 40, 20);
    let (_, lines) = delayer.terminate();
    eprintln!("duplicate 50% of 40 pings: {dups} DUP! replies; {lines:?}");
    assert_eq!(rtts.len(), 40 + dups);
    // The last ping's second reply may come after ping has its count
    // and exits: at most one duplicate unseen.
    let sent = counters(&lines).2;
    assert!(
        sent == dups as u64 || sent == dups as u64 + 1,
        "{sent} sent, {dups} seen"
    );
    let (lo, hi) = binomial_95(40, 0.5);
    assert!((lo..=hi).contains(&(dups as f64)), "{dups}");
}
