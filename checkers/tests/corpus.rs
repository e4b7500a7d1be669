//! Every history of the shared corpus gets the verdict its VERDICTS.tsv gives.

use chaos_checkers::history::format::read_history;
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::Validity;
use serde_json::Value;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/porcupine"
    ));
    assert!(
        dir.join("VERDICTS.tsv").exists(),
        "the shared corpus is missing at {}: these tests read ../shared/corpus beside the checkout",
        dir.display()
    );
    dir
}

/// (file, expected verdict, model) for every row that has a verdict.
fn verdicts() -> Vec<(String, Validity, ModelKind)> {
    let table = std::fs::read_to_string(corpus().join("VERDICTS.tsv")).expect("VERDICTS.tsv");
    let rows: Vec<_> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let expected = match cols[1] {
                "valid" => Validity::Valid,
                "invalid" => Validity::Invalid,
                _ => return None,
            };
            let model = if cols[2].starts_with("kv") {
                ModelKind::Kv
            } else {
                ModelKind::CasRegister
            };
            Some((cols[0].to_string(), expected, model))
        })
        .collect();
    assert_eq!(
        rows.len(),
        108,
        "VERDICTS.tsv should list 108 decided histories"
    );
    rows
}

fn check(file: &str, model: ModelKind, split_keys: bool) -> Validity {
    let history = read_history(&corpus().join(file), None).unwrap_or_else(|e| panic!("{e}"));
    let options = LinearOptions {
        model,
        initial: Value::Null,
        split_keys,
        threads: 1,
        ..Default::default()
    };
    linear::check(&history, &options)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .validity
}

#[test]
fn every_corpus_history_gets_its_known_verdict() {
    let wrong: Vec<String> = verdicts()
        .into_iter()
        .filter_map(|(file, expected, model)| {
            let got = check(&file, model, true);
            (got != expected).then(|| format!("{file}: expected {expected:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn kv_histories_get_the_same_verdict_without_the_key_split() {
    for (file, expected) in [
        ("kv/c01-ok.txt", Validity::Valid),
        ("kv/c01-bad.txt", Validity::Invalid),
        ("kv/c10-ok.txt", Validity::Valid),
        ("kv/c10-bad.txt", Validity::Invalid),
        ("kv/c50-ok.txt", Validity::Valid),
    ] {
        assert_eq!(
            check(file, ModelKind::Kv, false),
            expected,
            "{file} without split"
        );
    }
}

#[test]
fn an_invalid_history_names_the_op_and_its_concurrent_ops() {
    let history = read_history(&corpus().join("jepsen/etcd_000.log"), None).unwrap();
    let options = LinearOptions {
        model: ModelKind::CasRegister,
        threads: 1,
        ..Default::default()
    };
    let report = linear::check(&history, &options).unwrap();
    let failure = report.keys[0]
        .failure
        .as_ref()
        .expect("an invalid key carries its failure");
    assert!(
        !failure.prefix.is_empty(),
        "the longest linearizable prefix is reported"
    );
    assert!(
        !failure.concurrent.is_empty(),
        "a real history has ops concurrent with the culprit"
    );
    assert!(
        !failure.prefix.contains(&failure.op.index),
        "the culprit is not in the prefix"
    );
}

#[test]
fn an_undecided_search_is_never_valid() {
    // Without the split, c50-bad's hardest keys exceed a small budget: the
    // verdict must then be unknown (or invalid), never valid.
    let history = read_history(&corpus().join("kv/c50-bad.txt"), None).unwrap();
    let options = LinearOptions {
        model: ModelKind::Kv,
        split_keys: false,
        threads: 1,
        memory_budget: Some(64 << 20),
        ..Default::default()
    };
    let report = linear::check(&history, &options).unwrap();
    assert_ne!(report.validity, Validity::Valid);
    if report.validity == Validity::Unknown {
        let reason = report.keys[0].unknown_reason.as_deref().unwrap();
        assert!(reason.contains("memory budget"), "{reason}");
    }
}

/// c50-bad: several keys are invalid and cheap, others take millions of
/// configurations (two exhaust a 2 GiB budget). Once the invalid key is found, the history is invalid: keys still
/// searching then stop (reported as not decided, never valid), while cheap
/// keys are still decided.
#[test]
fn an_invalid_key_stops_the_search_of_the_others() {
    let history = read_history(&corpus().join("kv/c50-bad.txt"), None).unwrap();
    let options = LinearOptions {
        model: ModelKind::Kv,
        initial: Value::String(String::new()),
        threads: 2,
        ..Default::default()
    };
    let report = linear::check(&history, &options).unwrap();
    assert_eq!(report.validity, Validity::Invalid);
    assert!(report.keys_stopped >= 1, "the hard keys are stopped");
    assert!(
        report.keys_invalid >= 2,
        "keys cheaper than the grace are still decided"
    );
    assert_eq!(
        report.keys_valid + report.keys_invalid + report.keys_unknown + report.keys_stopped,
        report.keys.len()
    );
    for key in report.keys.iter().filter(|k| k.stopped) {
        assert_eq!(
            key.validity,
            Validity::Unknown,
            "a stopped key is never valid"
        );
        assert_eq!(key.unknown_reason.as_deref(), Some(linear::STOPPED_REASON));
        assert!(key.failure.is_none());
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["keys_stopped"], report.keys_stopped);

    // On one thread every key after the invalid one starts with the flag
    // set: each stops within a few hundred steps past its grace.
    let one_thread = LinearOptions {
        threads: 1,
        ..options
    };
    let report = linear::check(&history, &one_thread).unwrap();
    assert_eq!(report.validity, Validity::Invalid);
    for key in report.keys.iter().filter(|k| k.stopped) {
        assert!(
            (linear::STOP_GRACE..linear::STOP_GRACE + 512).contains(&key.explored),
            "key {} explored {}",
            key.key,
            key.explored
        );
    }
}

/// `all_keys` decides every key as before: the hard keys run to the
/// budget (a small one here) and say so, none is stopped. The budget is
/// the whole check's: the two threads searching hard keys share it, so
/// together they never hold more.
#[test]
fn all_keys_decides_every_key_even_after_an_invalid_one() {
    let history = read_history(&corpus().join("kv/c50-bad.txt"), None).unwrap();
    let options = LinearOptions {
        model: ModelKind::Kv,
        initial: Value::String(String::new()),
        threads: 2,
        memory_budget: Some(32 << 20),
        all_keys: true,
        ..Default::default()
    };
    let report = linear::check(&history, &options).unwrap();
    assert_eq!(report.validity, Validity::Invalid);
    assert_eq!(report.keys_stopped, 0);
    assert!(report.keys_unknown >= 1, "the hard keys exceed 32 MiB");
    for key in report
        .keys
        .iter()
        .filter(|k| k.validity == Validity::Unknown)
    {
        let reason = key.unknown_reason.as_deref().unwrap();
        assert!(
            reason.contains("memory budget of 32 MiB for the whole check"),
            "{reason}"
        );
    }
    assert_eq!(report.memory_budget, 32 << 20);
    assert!(
        report.memory_peak <= 32 << 20,
        "the threads held {} bytes together",
        report.memory_peak
    );
    assert!(
        report.memory_peak > 24 << 20,
        "the hard keys ran into the budget"
    );
}

/// Without a budget the check takes half the memory available, and a
/// budget larger than the machine has is cut to what it has.
#[test]
fn the_default_memory_budget_is_a_share_of_the_available_memory() {
    let history = read_history(&corpus().join("kv/c10-ok.txt"), None).unwrap();
    let check = |memory_budget| {
        let options = LinearOptions {
            model: ModelKind::Kv,
            initial: Value::String(String::new()),
            memory_budget,
            ..Default::default()
        };
        linear::check(&history, &options).unwrap()
    };
    let available = chaos_checkers::available_memory::available()
        .expect("Linux test machines have /proc/meminfo")
        .bytes as usize;
    let default = check(None);
    assert_eq!(default.validity, Validity::Valid);
    // Available memory moves while tests run: compare within a quarter.
    let half = available / 2;
    assert!(
        default.memory_budget > half * 3 / 4 && default.memory_budget < half * 5 / 4,
        "{} against half of {available}",
        default.memory_budget
    );
    let huge = check(Some(usize::MAX));
    assert!(
        huge.memory_budget < available * 5 / 4,
        "{}",
        huge.memory_budget
    );
    assert!(default.memory_peak > 0 && default.memory_peak < default.memory_budget);
}

/// The failing op's state is the key's string, as people read it, not the
/// model's internal rope; and never longer than 80 characters.
#[test]
fn a_kv_failure_shows_the_string_the_key_held() {
    for file in ["kv/c01-bad.txt", "kv/c10-bad.txt", "kv/c50-bad.txt"] {
        let history = read_history(&corpus().join(file), None).unwrap();
        let options = LinearOptions {
            model: ModelKind::Kv,
            initial: Value::String(String::new()),
            ..Default::default()
        };
        let report = linear::check(&history, &options).unwrap();
        for failure in report.keys.iter().filter_map(|k| k.failure.as_ref()) {
            let state = &failure.state;
            assert!(
                state.starts_with('"') && state.ends_with('"'),
                "{file}: {state}"
            );
            assert!(
                !state.contains("Text {") && !state.contains("Node"),
                "{file}: {state}"
            );
            assert!(state.chars().count() <= 80, "{file}: {state}");
        }
    }
}
