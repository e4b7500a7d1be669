//! Loss measured at the receiver: numbered UDP datagrams from the sender's
//! namespace, and which numbers never arrived. The draws are seeded and
//! nothing else the sender sends the peer is IPv4, so the count replays,
//! and the delayer's own count of what it dropped must be exactly the
//! receiver's count of what is missing.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn packets_are_lost_at_the_drawn_rate_and_counted() {
    if !netns_or_skip("packets_are_lost_at_the_drawn_rate_and_counted", false) {
        return;
    }
    let pair = Pair::new();
    pair.apply(0);
    let delayer = pair.delayer(&["--delay", "1ms", "--loss", "20%", "--seed", "13"]);
    let n = 1500;
    let arrivals = udp_run(
        &pair,
        n,
        Duration::from_millis(1),
        Duration::from_millis(500),
    );
    let (code, lines) = delayer.terminate();
    let seen = copies(&arrivals);
    let lost = n - seen.len() as u32;
    let (lo, hi) = wilson_95(lost, n);
    let (count_lo, count_hi) = binomial_95(n, 0.20);
    eprintln!(
        "loss 20% of {n}: {lost} lost, {:.1}% (95% interval {:.1}%..{:.1}%; 20% would lose {count_lo:.0}..{count_hi:.0}); {lines:?}",
        f64::from(lost) / f64::from(n) * 100.0,
        lo * 100.0,
        hi * 100.0
    );
    assert!(seen.keys().all(|&seq| seq < n));
    assert!(seen.values().all(|&c| c == 1), "nothing arrived twice");
    assert!(
        lo > 0.10 && hi < 0.30,
        "the measured loss tells 20% from 10% and 30%: {lo}..{hi}"
    );
    assert!((count_lo..=count_hi).contains(&f64::from(lost)), "{lost}");
    assert_eq!(code, 0);
    assert_eq!(
        counters(&lines),
        (u64::from(n - lost), 0, 0, u64::from(lost)),
        "the delayer dropped exactly what the receiver missed"
    );
}

#[test]
fn a_lost_packet_is_not_duplicated() {
    if !netns_or_skip("a_lost_packet_is_not_duplicated", false) {
        return;
    }
    let pair = Pair::new();
    pair.apply(1);
    // Half the packets drawn a duplicate: had a lost packet's copy been
    // sent, its number would arrive once and the delayer's lost count
    // would exceed what is missing.
    let delayer = pair.delayer(&[
        "--queue",
        "1",
        "--loss",
        "20%",
        "--duplicate",
        "50%",
        "--seed",
        "17",
    ]);
    let n = 500;
    let arrivals = udp_run(
        &pair,
        n,
        Duration::from_millis(1),
        Duration::from_millis(500),
    );
    let (code, lines) = delayer.terminate();
    let seen = copies(&arrivals);
    let missing = u64::from(n) - seen.len() as u64;
    let dups: usize = seen.values().map(|c| c - 1).sum();
    eprintln!("loss 20% duplicate 50% of {n}: {missing} missing, {dups} duplicates; {lines:?}");
    assert_eq!(code, 0);
    let (delayed, reordered, duplicated, lost) = counters(&lines);
    assert_eq!(reordered, 0);
    assert_eq!(lost, missing, "every lost packet is missing, copy and all");
    assert_eq!(delayed, u64::from(n) - lost);
    assert_eq!(duplicated, dups as u64);
    assert!(missing > 0 && dups > 0, "both drawn: {missing} {dups}");
}
