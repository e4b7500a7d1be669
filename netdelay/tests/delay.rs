//! Delay and jitter measured with ping between two real network
//! namespaces, the delayer in the sender's: what the sender sends the peer
//! is held, the replies are not, so a round trip is the delay plus a
//! fraction of a millisecond. And the way out: SIGTERM lets every held
//! packet go at once, HEAL removes the rules, and the link is as before.

mod common;

use std::time::Duration;

use chaos_netdelay::iptables;
use common::*;

#[test]
fn every_packet_is_held_for_the_delay() {
    if !netns_or_skip("every_packet_is_held_for_the_delay", true) {
        return;
    }
    let pair = Pair::new();
    let (before, _) = ping(&pair, 10, 20);
    let delayer = pair.delayer(&["--queue", "0", "--delay", "100ms"]);
    pair.apply(0);
    let (rtts, dups) = ping(&pair, 50, 20);
    let (code, lines) = delayer.terminate();
    let m = median(&rtts);
    eprintln!(
        "delay 100ms: median RTT {m:.2} ms (before {:.3} ms), min {:.2}, max {:.2}, {} replies",
        median(&before),
        quantile(&rtts, 0.0),
        quantile(&rtts, 1.0),
        rtts.len()
    );
    assert_eq!(rtts.len(), 50, "every ping answered");
    assert_eq!(dups, 0);
    assert!((90.0..110.0).contains(&m), "median {m} ms");
    assert!(quantile(&rtts, 0.0) >= 100.0, "none leaves early");
    assert_eq!(code, 0);
    assert_eq!(counters(&lines), (50, 0, 0, 0), "{lines:?}");
}

#[test]
fn jitter_spreads_the_delay_uniformly_or_normally() {
    if !netns_or_skip("jitter_spreads_the_delay_uniformly_or_normally", true) {
        return;
    }
    let pair = Pair::new();
    pair.apply(1);
    for distribution in ["uniform", "normal"] {
        let delayer = pair.delayer(&[
            "--queue",
            "1",
            "--delay",
            "100ms",
            "--jitter",
            "20ms",
            "--distribution",
            distribution,
            "--seed",
            "4",
        ]);
        let (rtts, _) = ping(&pair, 50, 20);
        delayer.terminate();
        let (p10, m, p90) = (quantile(&rtts, 0.1), median(&rtts), quantile(&rtts, 0.9));
        let (lo, hi) = (quantile(&rtts, 0.0), quantile(&rtts, 1.0));
        eprintln!("delay 100ms jitter 20ms {distribution}: p10 {p10:.1} median {m:.1} p90 {p90:.1} min {lo:.1} max {hi:.1} ms");
        assert_eq!(rtts.len(), 50);
        assert!((88.0..112.0).contains(&m), "median {m}");
        // Uniform over 80..120: p90 - p10 is 32 ms; normal, sd 20: 51 ms.
        assert!(p90 - p10 > 15.0, "the spread is visible: {p10}..{p90}");
        if distribution == "uniform" {
            assert!(
                lo >= 79.9 && hi <= 121.5,
                "within mean ± jitter: {lo}..{hi}"
            );
        }
    }
}

#[test]
fn sigterm_lets_held_packets_go_and_heal_leaves_nothing() {
    if !netns_or_skip("sigterm_lets_held_packets_go_and_heal_leaves_nothing", true) {
        return;
    }
    let pair = Pair::new();
    pair.apply(2);
    // APPLY is idempotent: twice, one hook, one rule.
    pair.apply(2);
    let check = pair.sh(iptables::CHECK, &[]);
    assert_eq!(iptables::check_outcome(&check), Some((1, 1)), "{check}");

    let delayer = pair.delayer(&["--queue", "2", "--delay", "5s"]);
    let pid = delayer.pid();
    // 20 datagrams held for 5 s; SIGTERM 300 ms after the first.
    let term = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        delayer.terminate()
    });
    let arrivals = udp_run(
        &pair,
        20,
        Duration::from_millis(5),
        Duration::from_millis(500),
    );
    let (code, lines) = term.join().unwrap();
    let worst = arrivals.iter().map(|a| a.one_way_ms).fold(0.0, f64::max);
    eprintln!(
        "held 5 s, SIGTERM at 300 ms: {} arrived, the last after {worst:.0} ms; {lines:?}",
        arrivals.len()
    );
    assert_eq!(copies(&arrivals).len(), 20, "every held datagram let go");
    assert!(
        worst < 1500.0,
        "released at the signal, not after 5 s: {worst} ms"
    );
    assert_eq!(code, 0);
    assert_eq!(counters(&lines), (20, 0, 0, 0));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "no process left"
    );

    let healed = pair.sh(iptables::HEAL, &[]);
    assert_eq!(iptables::heal_outcome(&healed), Some(Some(1)), "{healed}");
    assert!(
        !pair.mangle_rules().contains("CHAOS-DELAY"),
        "no chain left"
    );
    assert_eq!(
        iptables::heal_outcome(&pair.sh(iptables::HEAL, &[])),
        Some(None)
    );
    let check = pair.sh(iptables::CHECK, &[]);
    assert_eq!(iptables::check_outcome(&check), Some((0, 0)));
    let (rtts, _) = ping(&pair, 20, 20);
    eprintln!("after heal: median RTT {:.3} ms", median(&rtts));
    assert_eq!(rtts.len(), 20);
    assert!(median(&rtts) < 5.0, "RTT back to normal: {}", median(&rtts));
}

#[test]
fn a_killed_delayer_does_not_black_hole_the_link() {
    if !netns_or_skip("a_killed_delayer_does_not_black_hole_the_link", true) {
        return;
    }
    let pair = Pair::new();
    pair.apply(3);
    // No delayer yet: the rule is in place and bypassed.
    let (rtts, _) = ping(&pair, 5, 20);
    assert_eq!(rtts.len(), 5, "bypassed before the delayer starts");
    let delayer = pair.delayer(&["--queue", "3", "--delay", "100ms"]);
    let (rtts, _) = ping(&pair, 5, 20);
    assert!(median(&rtts) >= 100.0, "delayed while it runs");
    delayer.kill();
    assert!(
        pair.mangle_rules().contains("--queue-num 3 --queue-bypass"),
        "the rule is still there"
    );
    let (rtts, _) = ping(&pair, 20, 20);
    eprintln!(
        "after SIGKILL, rule in place: {} of 20 answered, median {:.3} ms",
        rtts.len(),
        median(&rtts)
    );
    assert_eq!(rtts.len(), 20, "nothing black-holed");
    assert!(median(&rtts) < 5.0);
}
