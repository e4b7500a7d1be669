//! The same seed gives the same run: the same ops, in the same order, for
//! every workload, and the same faults on the same nodes from the nemesis
//! schedule. `tests/golden/seeds.json` was recorded from `main` before the
//! systems and faults became data (issue 10); a change that alters either
//! sequence fails here, so a replayed `--seed` still replays the run it
//! names.
//!
//! To record again after a change that means to alter the sequences:
//! `CHAOS_GOLDEN_RECORD=1 cargo test --test same_seed_same_run`, and say why
//! in the commit.

use std::path::Path;

use chaos_nemeses::schedule::{self, Skipped};
use chaos_nemeses::FaultSpec;
use chaos_workloads::{registry, Generator, GeneratorConfig, Next};
use serde_json::{json, Value};

const SEEDS: [u64; 3] = [1, 42, 20_261_130];
const OPS: usize = 150;
const FAULTS: usize = 40;
const NODES: [&str; 5] = ["n1", "n2", "n3", "n4", "n5"];
/// Every fault the schedule can pick, each shape once.
const NEMESIS: [&str; 7] = [
    "partition-halves",
    "partition-random-halves",
    "partition-one",
    "partition-majorities-ring",
    "partition-bridge",
    "kill",
    "pause",
];

/// The network faults of issue 15, pinned from when they were added: a
/// list of its own, so that adding them changed nothing above.
const NETWORK: [&str; 6] = [
    "partition-one-way",
    "loss:20%",
    "loss-minority:20%",
    "loss-all:5%",
    "loss-bridge:20%",
    "rate-random-halves:1mbit",
];

/// The first ops of `system`'s `workload`, as `chaos run` generates them
/// for 5 workers.
fn ops(system: &str, workload: &str, seed: u64) -> Vec<Value> {
    let (_, workload) = registry::workload(system, workload).expect("a registered workload");
    let mut generator = Generator::new(
        (workload.mix)(),
        GeneratorConfig {
            seed,
            keys: workload.keys(5, None),
            ..GeneratorConfig::default()
        },
    )
    .expect("a valid generator");
    (0..OPS)
        .map(|_| match generator.next(std::time::Duration::ZERO) {
            Next::Op(planned) => json!([
                planned.invocation.f,
                planned.invocation.key,
                planned.invocation.value
            ]),
            other => panic!("an unlimited generator ended: {other:?}"),
        })
        .collect()
}

fn workload_ops(seed: u64) -> Value {
    json!({
        "etcd-register": ops("etcd", "register", seed),
        "nats-log": ops("nats", "log", seed),
        "nats-queue": ops("nats", "queue", seed),
    })
}

/// The schedule's choices, made by the schedule's own draw from the
/// run's fault RNG: one fault of the list, then its nodes.
fn fault_schedule(seed: u64, list: &[&str]) -> Value {
    let names: Vec<String> = NODES.iter().map(|n| n.to_string()).collect();
    let faults = FaultSpec::parse_list(&list.join(",")).expect("every fault parses");
    let mut rng = schedule::rng_for(seed);
    let out: Vec<Value> = (0..FAULTS)
        .map(|_| match schedule::choose(&faults, &names, &mut rng) {
            Ok(fault) => json!(fault.to_string()),
            Err(Skipped { spec, why }) => json!({"skipped": spec.name(), "why": why}),
        })
        .collect();
    json!(out)
}

fn golden() -> Value {
    let seeds: serde_json::Map<String, Value> = SEEDS
        .iter()
        .map(|&seed| {
            (
                seed.to_string(),
                json!({
                    "ops": workload_ops(seed),
                    "faults": fault_schedule(seed, &NEMESIS),
                    "network-faults": fault_schedule(seed, &NETWORK),
                }),
            )
        })
        .collect();
    Value::Object(seeds)
}

#[test]
fn a_seed_replays_the_same_ops_and_the_same_faults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/seeds.json");
    let now = golden();
    if std::env::var_os("CHAOS_GOLDEN_RECORD").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        return;
    }
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("tests/golden/seeds.json is in the repository"),
    )
    .expect("tests/golden/seeds.json is JSON");
    for seed in SEEDS {
        let seed = seed.to_string();
        for part in ["ops", "faults", "network-faults"] {
            assert_eq!(
                now[&seed][part], recorded[&seed][part],
                "seed {seed}: the {part} differ from the recording"
            );
        }
    }
}
