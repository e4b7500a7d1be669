//! The command line's bad input: one line on stderr, exit 2, never a
//! panic; and a queue another delayer holds: one line, exit 1.

mod common;

use std::process::Command;

use common::*;

#[test]
fn bad_arguments_are_refused_in_one_line() {
    for (args, says) in [
        (&["--delay", "-5ms"][..], "negative"),
        (&["--delay", "100"], "unit"),
        (&["--delay", "2m"], "not a duration"),
        (&["--jitter", "61s"], "at most 60s"),
        (&["--reorder", "20"], "write it with %"),
        (&["--duplicate", "120%"], "out of range"),
        (&["--reorder", "-1%"], "negative"),
        (&["--loss", "5"], "write it with %"),
        (&["--loss", "100.5%"], "out of range"),
        (&["--distribution", "pareto"], "uniform, normal"),
        (&["--queue", "70000"], "70000"),
        (&["--limit", "0"], "0"),
        (&["--bogus"], "--bogus"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("netdelay: ") && err.contains(says),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"));
        assert!(out.stdout.is_empty());
    }
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--duplicate") && help.contains("--loss"));
}

#[test]
fn a_queue_already_bound_is_refused_in_one_line() {
    if !netns_or_skip("a_queue_already_bound_is_refused_in_one_line", false) {
        return;
    }
    let pair = Pair::new();
    let first = pair.delayer(&["--queue", "7"]);
    let out = Command::new("ip")
        .args(["netns", "exec", &pair.sender, BIN, "--queue", "7"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "netdelay: queue 7 is already bound by another process"
    );
    let (code, _) = first.terminate();
    assert_eq!(code, 0);
}
