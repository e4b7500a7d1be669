use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn specs_parse_and_print_back() {
    for (text, shown) in [
        ("100ms", "100ms"),
        ("100ms~20ms", "100ms~20ms"),
        ("1.5ms", "1500us"),
        ("250us", "250us"),
        ("2s", "2s"),
        ("0.5s~100ms/normal", "500ms~100ms/normal"),
        ("loss=20%/correlation=75%", "loss=20%/correlation=75%"),
        (
            "correlation=25%/reorder=25%/duplicate=1%/loss=1%/normal/100ms~20ms",
            "100ms~20ms/normal/loss=1%/duplicate=1%/reorder=25%/correlation=25%",
        ),
        ("duplicate=5%", "duplicate=5%"),
        ("10ms/reorder=25%", "10ms/reorder=25%"),
        ("100ms~20ms/uniform", "100ms~20ms"),
    ] {
        let netem: Netem = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(netem.to_string(), shown, "{text}");
        assert_eq!(shown.parse::<Netem>(), Ok(netem), "round trip of {shown}");
    }
    let netem: Netem = "100ms~20ms/pareto".parse().unwrap();
    assert_eq!(netem.delay, Some(ms(100)));
    assert_eq!(netem.jitter, Some(ms(20)));
    assert_eq!(netem.distribution, Distribution::Pareto);
    assert_eq!("100ms".parse::<Netem>(), Ok(Netem::delayed(ms(100))));
}

#[test]
fn bad_specs_are_refused_in_one_line_saying_why() {
    for (text, why) in [
        ("-5ms", "cannot be negative"),
        ("100ms~-5ms", "cannot be negative"),
        ("0ms", "from 1us to 10s"),
        ("11s", "from 1us to 10s"),
        ("1.5us", "whole microseconds"),
        ("100", "write it with us, ms or s"),
        ("100 ms", "not a delay such as"),
        ("loss=120%", "loss: 120% is out of range"),
        ("loss=-5%", "not a percentage"),
        ("loss=20", "write it with %"),
        ("reorder=25%", "reorder needs a delay"),
        ("loss=5%/reorder=25%", "reorder needs a delay"),
        ("20ms~30ms", "more than the delay"),
        ("100ms/normal", "a distribution shapes the jitter"),
        ("100ms/correlation=25%", "give a loss"),
        ("100ms~10ms/duplicate=5%/correlation=25%", "give a loss"),
        ("loss=100%/correlation=50%", "below 100%"),
        ("loss=20%/correlation=100%", "below 100%"),
        ("loss=90%/correlation=50%", "raise the correlation"),
        (
            "correlation=25%",
            "needs a delay, loss, duplicate or reorder",
        ),
        ("100ms/200ms", "delay: given twice"),
        ("loss=1%/loss=2%", "loss: given twice"),
        ("100ms~1ms/normal/pareto", "pareto: given twice"),
        ("", "unknown netem item"),
        ("delay=100ms", "unknown netem item"),
        ("100ms,loss=1%", "is not a delay"),
        ("gaussian", "known: DELAY[~JITTER]"),
    ] {
        let e = text.parse::<Netem>().unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
        assert!(!e.contains('\n'), "{text}: {e}");
    }
}

#[test]
fn tc_options_name_every_part_in_microseconds() {
    let all: Netem = "100ms~20ms/normal/loss=1%/duplicate=2%/reorder=25%"
        .parse()
        .unwrap();
    assert_eq!(
        all.tc(),
        "limit 10000 delay 100000us 20000us distribution normal loss random 1% duplicate 2% reorder 25%"
    );
    // 20 % in bursts: p = 0.2 × 0.25 / 0.8, r = 1 − 0.75; mean burst 4.
    let bursts: Netem = "loss=20%/correlation=75%".parse().unwrap();
    assert_eq!(
        bursts.tc(),
        "limit 10000 loss gemodel 6.2500% 25.0000% 100% 0%"
    );
    assert_eq!(Netem::delayed(ms(100)).tc(), "limit 10000 delay 100000us");
    let loss: Netem = "loss=12.5%".parse().unwrap();
    assert_eq!(loss.tc(), "limit 10000 loss random 12.5%");
    assert_eq!(
        args(&loss, &["10.0.0.2".into(), "10.0.0.3".into()]),
        ["limit 10000 loss random 12.5%", "10.0.0.2", "10.0.0.3"]
    );
    let mut uniform = all;
    uniform.distribution = Distribution::Uniform;
    assert!(!uniform.tc().contains("distribution"), "netem's default");
}

#[test]
fn scripts_delete_only_our_root_qdisc() {
    for s in [APPLY, HEAL, CHECK] {
        assert!(s.contains("c4b0:"));
        assert!(!s.contains("c4a0:"), "the rate limit's handle");
        for line in s.lines().filter(|l| l.contains("echo \"qdisc del")) {
            assert!(line.contains(r#"= "htb c4b0: root" ]"#), "{line}");
        }
        assert!(!s.contains("filter del") && !s.contains("class del"));
        assert!(
            !s.contains("tc qdisc del"),
            "deletes go through the checked batch"
        );
    }
    // The probe deletes only its own interface, never a qdisc.
    assert!(!PROBE.contains("qdisc del"));
    for line in PROBE.lines().filter(|l| l.contains("link del")) {
        assert!(line.contains(r#"ip link del "$p""#), "{line}");
    }
    assert!(PROBE.contains("p=c4b-probe"));
}

#[test]
fn outcomes_are_read() {
    assert_eq!(apply_outcome("delayed 2\n"), Some(2));
    assert_eq!(apply_outcome("RTNETLINK answers: File exists\n"), None);
    assert_eq!(heal_outcome("removed 1\n"), Some(Some(1)));
    assert_eq!(heal_outcome("none\n"), Some(None));
    let check = "on eth0 filters 2: limit 10000 delay 100ms  20ms\nnetems 1 filters 2\n";
    assert_eq!(check_outcome(check), Some((1, 2)));
    assert_eq!(check_outcome("tc: not found\n"), None);
    assert!(in_force((1, 2), 2));
    assert!(!in_force((0, 0), 2), "deleted by hand");
    assert!(!in_force((1, 1), 2));
    assert_eq!(
        probe_outcome("netem yes\ntables: normal pareto\n"),
        Some(Ok(vec![Distribution::Normal, Distribution::Pareto]))
    );
    assert_eq!(probe_outcome("netem yes\ntables:\n"), Some(Ok(vec![])));
    assert_eq!(
        probe_outcome("netem no: tc qdisc add ...: Error: Specified qdisc kind is unknown.\n"),
        Some(Err(
            "tc qdisc add ...: Error: Specified qdisc kind is unknown.".into()
        ))
    );
    assert_eq!(probe_outcome("cannot make a probe interface\n"), None);
}
