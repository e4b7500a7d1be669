//! Reordering measured at the receiver: numbered UDP datagrams every 2 ms
//! under a 50 ms delay. A reordered datagram skips the delay (its one-way
//! time is well under a millisecond instead of 50), and so arrives ahead of
//! the ones sent before it that are still held.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn reordered_packets_skip_the_delay_and_overtake_the_held_ones() {
    if !netns_or_skip(
        "reordered_packets_skip_the_delay_and_overtake_the_held_ones",
        false,
    ) {
        return;
    }
    let pair = Pair::new();
    pair.apply(0);
    let delayer = pair.delayer(&["--delay", "50ms", "--reorder", "20%", "--seed", "5"]);
    let n = 500;
    let arrivals = udp_run(
        &pair,
        n,
        Duration::from_millis(2),
        Duration::from_millis(500),
    );
    let (code, lines) = delayer.terminate();
    assert_eq!(
        copies(&arrivals).len(),
        n as usize,
        "every datagram arrived"
    );
    let fast = arrivals.iter().filter(|a| a.one_way_ms < 25.0).count();
    // Arrived before a datagram sent earlier: overtook it.
    let mut highest = None;
    let mut overtaken = 0;
    for a in &arrivals {
        if highest.is_some_and(|h| a.seq < h) {
            overtaken += 1;
        }
        highest = highest.max(Some(a.seq));
    }
    let (lo, hi) = binomial_95(n, 0.20);
    eprintln!(
        "reorder 20% of {n} under 50ms: {fast} skipped the delay (95% interval {lo:.0}..{hi:.0}), {overtaken} arrived after a later-sent one; {lines:?}"
    );
    assert!((lo..=hi).contains(&(fast as f64)), "{fast}");
    // Every held datagram sent in the 50 ms before a reordered one is
    // overtaken by it: most of the held ones are.
    assert!(overtaken > n as usize / 2, "{overtaken}");
    assert_eq!(code, 0);
    assert_eq!(
        counters(&lines),
        (u64::from(n) - fast as u64, fast as u64, 0, 0)
    );
}
