//! The fast search against the textbook one (`reference`), on random
//! histories of every model: backjumping, nogoods and partial-order
//! reduction are where soundness bugs hide, and the two must agree on
//! every history the fast one decides.
//!
//! Histories come from `synth::simulate`: concurrent clients, crashes
//! (info), refusals (fail) and, in most cases, anomalies (stale reads, lost
//! writes, effects reported failed), so both verdicts come up often. A
//! disagreement fails the test with the history, and a minimal one, saved
//! as JSONL under the system's temporary folder, with the `chaos check`
//! command that reproduces it.

use super::reference;
use super::{check, LinearOptions, ModelKind, NilRead};
use crate::history::format::write_jsonl;
use crate::history::{History, Op, OpType, Process};
use crate::synth::{simulate_model, Rng, Simulation};
use crate::Validity;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One shape of history: a model, how the fast checker is run on it, and
/// how big its histories get.
#[derive(Clone, Copy, Debug)]
struct Shape {
    name: &'static str,
    model: ModelKind,
    split_keys: bool,
    /// Keys (kv) or registers (multi-register) the ops spread over.
    keys: u64,
    /// Kv only: put 63 other keys between each pair of the ops' keys, so
    /// their footprint bits (key number mod 64) are shared.
    shared_bits: bool,
    max_steps: u64,
}

const fn shape(name: &'static str, model: ModelKind, split_keys: bool, keys: u64) -> Shape {
    Shape {
        name,
        model,
        split_keys,
        keys,
        shared_bits: false,
        max_steps: 90,
    }
}

/// Unsplit kv histories with several keys are where the fast search's
/// footprints, nogoods and partial-order reduction come into play.
const SHAPES: [Shape; 9] = [
    shape("register", ModelKind::Register, true, 1),
    shape("cas-register", ModelKind::CasRegister, true, 1),
    shape("kv", ModelKind::Kv, true, 3),
    shape("kv-unsplit", ModelKind::Kv, false, 3),
    shape("kv-unsplit-6-keys", ModelKind::Kv, false, 6),
    Shape {
        shared_bits: true,
        ..shape("kv-shared-bits", ModelKind::Kv, false, 3)
    },
    shape("multi-register", ModelKind::MultiRegister, true, 3),
    shape("set", ModelKind::Set, true, 1),
    // Exact queue checking is NP-complete: shorter histories.
    Shape {
        max_steps: 60,
        ..shape("fifo-queue", ModelKind::FifoQueue, true, 1)
    },
];

/// One case: everything follows from its seed.
#[derive(Clone, Copy, Debug)]
struct Case {
    seed: u64,
    shape: Shape,
    sim: Simulation,
    nil_read: NilRead,
}

impl Case {
    fn of(seed: u64) -> Case {
        let shape = SHAPES[(seed % SHAPES.len() as u64) as usize];
        let mut rng = Rng::new(seed);
        let sim = Simulation {
            seed: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            workers: 1 + rng.below(5),
            steps: 10 + rng.below(shape.max_steps - 9) as usize,
            keys: shape.keys,
            crash_percent: [0, 5, 10, 20][rng.below(4) as usize],
            fail_percent: [0, 10][rng.below(2) as usize],
            anomaly_percent: [0, 30, 60, 90][rng.below(4) as usize],
        };
        let nil_read = match super::nil_read::applies_to(shape.model) && rng.chance(25) {
            true => NilRead::Any,
            false => NilRead::Value,
        };
        Case {
            seed,
            shape,
            sim,
            nil_read,
        }
    }

    fn history(&self) -> History {
        let history = simulate_model(self.shape.model, &self.sim);
        match self.shape.shared_bits {
            true => with_shared_bits(history, self.shape.keys),
            false => history,
        }
    }

    /// The fast checker's verdict, as `chaos check` gives it.
    fn fast(&self, history: &History) -> Validity {
        let options = LinearOptions {
            model: self.shape.model,
            split_keys: self.shape.split_keys,
            threads: 1,
            time_budget_per_key: Duration::from_secs(2),
            memory_budget: Some(64 << 20),
            nil_read: self.nil_read,
            ..Default::default()
        };
        check(history, &options)
            .unwrap_or_else(|e| panic!("case {self:?}: the checker refused the history: {e}"))
            .validity
    }

    /// The textbook search's verdict, or `None` past its configurations.
    fn reference(&self, history: &History) -> Option<bool> {
        reference::linearizable(self.shape.model, self.nil_read, history, MAX_CONFIGURATIONS)
            .unwrap_or_else(|e| panic!("case {self:?}: the reference refused the history: {e}"))
    }

    /// Whether the two searches disagree on `history` (both decided).
    fn disagree(&self, history: &History) -> bool {
        let fast = self.fast(history);
        match self.reference(history) {
            Some(valid) => fast != Validity::Unknown && valid != (fast == Validity::Valid),
            None => false,
        }
    }

    fn command(&self, path: &std::path::Path) -> String {
        let mut command = format!(
            "chaos check {} --model {}",
            path.display(),
            self.shape.model
        );
        if !self.shape.split_keys {
            command += " --no-split";
        }
        if self.nil_read == NilRead::Any {
            command += " --nil-read any";
        }
        command
    }
}

/// The reference's limit: far above what these histories need.
const MAX_CONFIGURATIONS: usize = 50_000;

/// `history` after a sequential prefix of puts of the empty string (what
/// every key holds anyway): on key "0", then 63 other keys, then key "1",
/// and so on. The checker numbers keys as it meets them, so keys "0", "1"
/// and "2" become 1, 65 and 129: one footprint bit for all three.
fn with_shared_bits(history: History, keys: u64) -> History {
    let mut names = Vec::new();
    for key in 0..keys {
        names.push(key.to_string());
        if key + 1 < keys {
            names.extend((0..63).map(|other| format!("other-{key}-{other}")));
        }
    }
    let process = Process::Client(1 << 40);
    let put = |kind, key: &str| Op {
        index: 0,
        time: 0,
        process,
        kind,
        f: "put".into(),
        key: Some(json!(key)),
        value: json!(""),
        node: None,
        error: None,
    };
    let prefix = names
        .iter()
        .flat_map(|key| [put(OpType::Invoke, key), put(OpType::Ok, key)]);
    renumbered(prefix.chain(history.ops).collect())
}

/// Ops with `index` their position and `time` following it.
fn renumbered(mut ops: Vec<Op>) -> History {
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
        op.time = i as u64 * 1000;
    }
    History::new(ops)
}

/// The smallest history found by dropping whole ops (an invocation with its
/// completion) from `history` while `keep` still holds.
fn minimise(history: &History, keep: impl Fn(&History) -> bool) -> History {
    let mut smallest = history.clone();
    loop {
        let pairs: Vec<(usize, Option<usize>)> = match smallest.pairs() {
            Ok(pairs) => pairs
                .iter()
                .map(|p| (p.position, p.completion_position))
                .collect(),
            Err(_) => return smallest,
        };
        let shrunk = pairs.iter().rev().find_map(|&(invoke, completion)| {
            let ops = (smallest.ops.iter().enumerate())
                .filter(|&(at, _)| at != invoke && Some(at) != completion)
                .map(|(_, op)| op.clone())
                .collect();
            Some(renumbered(ops)).filter(|candidate| keep(candidate))
        });
        match shrunk {
            Some(candidate) => smallest = candidate,
            None => return smallest,
        }
    }
}

fn save(history: &History, name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(name);
    let mut file = std::fs::File::create(&path)
        .unwrap_or_else(|e| panic!("cannot save a history to {}: {e}", path.display()));
    write_jsonl(history, &mut file)
        .unwrap_or_else(|e| panic!("cannot save a history to {}: {e}", path.display()));
    path
}

/// Verdicts of one shape's cases.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    valid: u64,
    invalid: u64,
    /// The fast checker said unknown (out of budget): not a disagreement.
    fast_unknown: u64,
    /// The reference met more than `MAX_CONFIGURATIONS` configurations.
    reference_undecided: u64,
    /// Time each search took over all cases, and the slowest case of each.
    fast_time: Duration,
    reference_time: Duration,
    slowest_fast: (Duration, u64),
    slowest_reference: (Duration, u64),
}

impl Tally {
    fn cases(&self) -> u64 {
        self.valid + self.invalid + self.fast_unknown + self.reference_undecided
    }
}

/// Runs the cases of `seeds`; panics at the end if any disagreed, naming
/// each with its saved histories. Returns each shape's tally.
fn run(seeds: std::ops::Range<u64>) -> [Tally; SHAPES.len()] {
    let mut tallies = [Tally::default(); SHAPES.len()];
    let mut disagreements = Vec::new();
    for seed in seeds {
        let case = Case::of(seed);
        let history = case.history();
        let tally = &mut tallies[(seed % SHAPES.len() as u64) as usize];
        let started = Instant::now();
        let fast = case.fast(&history);
        let fast_took = started.elapsed();
        let started = Instant::now();
        let reference = case.reference(&history);
        let reference_took = started.elapsed();
        tally.fast_time += fast_took;
        tally.reference_time += reference_took;
        tally.slowest_fast = tally.slowest_fast.max((fast_took, seed));
        tally.slowest_reference = tally.slowest_reference.max((reference_took, seed));
        let Some(valid) = reference else {
            eprintln!(
                "seed {} ({}): the reference is undecided",
                case.seed, case.shape.name
            );
            tally.reference_undecided += 1;
            continue;
        };
        match (fast, valid) {
            (Validity::Unknown, _) => {
                eprintln!(
                    "seed {} ({}): the fast search is undecided",
                    case.seed, case.shape.name
                );
                tally.fast_unknown += 1
            }
            (Validity::Valid, true) => tally.valid += 1,
            (Validity::Invalid, false) => tally.invalid += 1,
            _ => {
                let name = format!("chaos-differential-{}-{seed}", case.shape.name);
                let whole = save(&history, &format!("{name}.jsonl"));
                let small = minimise(&history, |h| case.disagree(h));
                let small_path = save(&small, &format!("{name}-minimal.jsonl"));
                disagreements.push(format!(
                    "seed {seed} ({}): the fast search says {}, the textbook one {}; \
                     history saved as {} ({} ops), minimised as {} ({} ops); reproduce: {}",
                    case.shape.name,
                    fast.as_str(),
                    if valid { "valid" } else { "invalid" },
                    whole.display(),
                    history.ops.len(),
                    small_path.display(),
                    small.ops.len(),
                    case.command(&small_path),
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s) between the fast and the textbook search:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    tallies
}

/// Both verdicts in decent numbers for every shape, and few undecided.
fn assert_informative(tallies: &[Tally; SHAPES.len()]) {
    for (shape, tally) in SHAPES.iter().zip(tallies) {
        let cases = tally.cases();
        let share = |n: u64| n as f64 / cases as f64;
        assert!(
            share(tally.valid) >= 0.2 && share(tally.invalid) >= 0.2,
            "{}: too one-sided to compare the searches: {tally:?}",
            shape.name
        );
        assert!(
            share(tally.fast_unknown + tally.reference_undecided) <= 0.01,
            "{}: too many cases undecided: {tally:?}",
            shape.name
        );
    }
}

fn report(tallies: &[Tally; SHAPES.len()], took: Duration) {
    let total: u64 = tallies.iter().map(Tally::cases).sum();
    eprintln!("differential: {total} cases in {took:.2?}");
    for (shape, tally) in SHAPES.iter().zip(tallies) {
        eprintln!("  {:<18} {tally:?}", shape.name);
    }
}

/// At least 10,000 cases, in the suite's time budget.
#[test]
fn the_fast_search_agrees_with_the_textbook_one() {
    let started = Instant::now();
    let tallies = run(0..10_800);
    report(&tallies, started.elapsed());
    assert!(tallies.iter().map(Tally::cases).sum::<u64>() >= 10_000);
    assert_informative(&tallies);
}

/// Many more, for nightly runs: `cargo test -p chaos-checkers --lib --
/// --ignored differential`. `CHAOS_DIFFERENTIAL_SEED` (a number) starts
/// the seeds elsewhere, to try histories no run has tried;
/// `CHAOS_DIFFERENTIAL_CASES` sets how many (200,000 by default).
#[test]
#[ignore = "nightly: a few minutes"]
fn the_fast_search_agrees_with_the_textbook_one_on_many_more() {
    let number = |name: &str, default: u64| {
        std::env::var(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
    };
    let start = number("CHAOS_DIFFERENTIAL_SEED", 1 << 32);
    let cases = number("CHAOS_DIFFERENTIAL_CASES", 200_000);
    eprintln!("differential: seeds {start}..{}", start + cases);
    let started = Instant::now();
    let tallies = run(start..start + cases);
    report(&tallies, started.elapsed());
    assert_informative(&tallies);
}

#[test]
fn shared_bits_put_the_keys_64_apart() {
    let case = Case {
        shape: SHAPES[5],
        ..Case::of(5)
    };
    assert!(case.shape.shared_bits);
    let history = case.history();
    let first_seen: Vec<&Value> =
        history
            .ops
            .iter()
            .filter_map(|op| op.key.as_ref())
            .fold(Vec::new(), |mut seen, key| {
                if !seen.contains(&key) {
                    seen.push(key);
                }
                seen
            });
    let at = |name: &str| first_seen.iter().position(|k| **k == json!(name));
    assert_eq!((at("0"), at("1"), at("2")), (Some(0), Some(64), Some(128)));
}

#[test]
fn minimise_keeps_only_what_the_property_needs() {
    let op = |process, kind, f: &str, value| Op {
        index: 0,
        time: 0,
        process: Process::Client(process),
        kind,
        f: f.into(),
        key: None,
        value,
        node: None,
        error: None,
    };
    let history = renumbered(vec![
        op(0, OpType::Invoke, "write", json!(1)),
        op(1, OpType::Invoke, "read", Value::Null),
        op(0, OpType::Ok, "write", json!(1)),
        op(1, OpType::Ok, "read", json!(1)),
        op(2, OpType::Invoke, "read", Value::Null),
        op(2, OpType::Ok, "read", json!(7)),
    ]);
    let reads_seven = |h: &History| h.ops.iter().any(|op| op.value == json!(7));
    let small = minimise(&history, reads_seven);
    assert_eq!(small.ops.len(), 2);
    assert_eq!(small.ops[1].value, json!(7));
}
