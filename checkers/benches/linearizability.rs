//! Linearizability checker speed on the shared corpus and on synthetic
//! histories; BENCHMARKS.md records the numbers and the targets.

use chaos_checkers::history::format::read_history;
use chaos_checkers::history::History;
use chaos_checkers::linear::{self, LinearOptions, ModelKind};
use chaos_checkers::synth::{register_history, RegisterSpec};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;

fn corpus(file: &str) -> History {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/porcupine"
    ))
    .join(file);
    read_history(&path, None).unwrap_or_else(|e| panic!("{e}"))
}

fn options(model: ModelKind, split_keys: bool) -> LinearOptions {
    LinearOptions {
        model,
        split_keys,
        threads: 1,
        ..Default::default()
    }
}

fn check(history: &History, options: &LinearOptions) {
    let report = linear::check(history, options).expect("corpus histories are well formed");
    assert_ne!(report.validity, chaos_checkers::Validity::Unknown);
}

fn etcd(c: &mut Criterion) {
    let all: Vec<History> = (0..=102)
        .map(|i| corpus(&format!("jepsen/etcd_{i:03}.log")))
        .collect();
    let cas = options(ModelKind::CasRegister, true);
    let decided: Vec<&History> = all.iter().filter(|h| !h.ops.is_empty()).collect();
    c.bench_function("etcd corpus, all 102 histories", |b| {
        b.iter(|| decided.iter().for_each(|h| check(h, &cas)))
    });
    c.bench_function("etcd_002.log", |b| b.iter(|| check(&all[2], &cas)));
    c.bench_function("etcd_007.log", |b| b.iter(|| check(&all[7], &cas)));
}

fn kv(c: &mut Criterion) {
    let split = options(ModelKind::Kv, true);
    let whole = options(ModelKind::Kv, false);
    // c50-bad is left out: two of its keys exhaust the memory budget (see
    // BENCHMARKS.md), which makes one iteration take seconds.
    let h = corpus("kv/c50-ok.txt");
    c.bench_function("kv c50-ok, split by key", |b| b.iter(|| check(&h, &split)));
    for name in ["c10-ok", "c10-bad"] {
        let h = corpus(&format!("kv/{name}.txt"));
        c.bench_function(&format!("kv {name}, no split"), |b| {
            b.iter(|| check(&h, &whole))
        });
    }
}

fn synthetic(c: &mut Criterion) {
    let h = register_history(&RegisterSpec::jepsen_etcd_like());
    let cas = options(ModelKind::CasRegister, true);
    c.bench_function("seed-000 shape: 370 keys, 5 clients, timeouts", |b| {
        b.iter(|| check(&h, &cas))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = etcd, kv, synthetic
}
criterion_main!(benches);
