//! Synthetic histories, for benchmarks, scale and property tests.
//!
//! Here: register histories, linearizable by construction, for benchmarks
//! and scale tests: clients in groups, each group working one key at a time
//! (as Jepsen's independent generator does), ops taking effect atomically at
//! a random moment of their span, some timing out (info). In `simulate`:
//! small histories of any model's object under random concurrency, crashes,
//! failures and, on request, anomalies, for property and differential tests.

mod objects;
mod simulate;

pub use objects::{simulate_model, Kv, MultiRegister, Queue, Register, Set};
pub use simulate::{simulate, Object, Simulation};

use crate::history::{History, Op, OpType, Process};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
pub struct RegisterSpec {
    pub keys: u64,
    /// Concurrent clients on one key.
    pub clients_per_key: u64,
    /// Keys worked on at the same time.
    pub groups: u64,
    /// Operations (invocations) per key.
    pub ops_per_key: u64,
    /// Percent of operations that end in a timeout (info).
    pub timeout_percent: u64,
    pub seed: u64,
}

impl RegisterSpec {
    /// Shaped like seed 000's Jepsen etcd run: 370 keys, 5 clients, timeouts.
    pub fn jepsen_etcd_like() -> Self {
        RegisterSpec {
            keys: 370,
            clients_per_key: 5,
            groups: 1,
            ops_per_key: 30,
            timeout_percent: 10,
            seed: 1,
        }
    }
}

/// A small deterministic generator (xorshift), so one seed replays one
/// history exactly: for synthetic histories and property tests.
///
/// Not the harness's `chaos-rng` on purpose: nothing a run replays comes
/// from here, while seeds pinned in the checkers' tests (a property test's
/// failing draw kept as a plain test) and the synthetic histories
/// BENCHMARKS.md times name streams of this generator; another algorithm
/// would quietly turn those regression seeds into arbitrary ones.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Mixed (splitmix64's finaliser) so every seed starts its own
        // stream, and never zero: xorshift stays at zero forever from there.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)).max(1))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Client {
    process: u64,
    /// Invocation, and whether it took effect (with its completion) yet.
    pending: Option<(Op, Option<(OpType, Value)>)>,
}

struct Group {
    key: u64,
    invoked: u64,
    register: Value,
    clients: Vec<Client>,
}

/// A cas-register history over `spec.keys` keys, about
/// `2 * keys * ops_per_key` entries.
pub fn register_history(spec: &RegisterSpec) -> History {
    let mut rng = Rng::new(spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut next_process = 0;
    let mut next_key = 0;
    let mut groups: Vec<Group> = Vec::new();
    for _ in 0..spec.groups.min(spec.keys) {
        let clients = (0..spec.clients_per_key)
            .map(|_| {
                next_process += 1;
                Client {
                    process: next_process - 1,
                    pending: None,
                }
            })
            .collect();
        groups.push(Group {
            key: next_key,
            invoked: 0,
            register: Value::Null,
            clients,
        });
        next_key += 1;
    }
    let mut ops = Vec::new();
    while !groups.is_empty() {
        let g = rng.below(groups.len() as u64) as usize;
        let c = rng.below(spec.clients_per_key) as usize;
        let group = &mut groups[g];
        let client = &mut group.clients[c];
        match client.pending.take() {
            None if group.invoked < spec.ops_per_key => {
                group.invoked += 1;
                let (f, value) = match rng.below(3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(rng.below(5))),
                    _ => ("cas", json!([rng.below(5), rng.below(5)])),
                };
                let op = entry(
                    &mut ops,
                    client.process,
                    OpType::Invoke,
                    f,
                    group.key,
                    value,
                );
                client.pending = Some((op, None));
            }
            None => {}
            Some((op, None)) if rng.below(2) == 0 => {
                let effect = apply(&mut group.register, &op);
                client.pending = Some((op, Some(effect)));
            }
            Some((op, _)) if rng.below(100) < spec.timeout_percent => {
                // Timed out, before or after taking effect; a new process goes on.
                entry(
                    &mut ops,
                    client.process,
                    OpType::Info,
                    &op.f,
                    group.key,
                    op.value,
                );
                next_process += 1;
                client.process = next_process - 1;
            }
            Some((op, Some((kind, value)))) => {
                entry(&mut ops, client.process, kind, &op.f, group.key, value);
            }
            pending => client.pending = pending,
        }
        let done =
            group.invoked == spec.ops_per_key && group.clients.iter().all(|c| c.pending.is_none());
        if done {
            if next_key < spec.keys {
                *group = Group {
                    key: next_key,
                    invoked: 0,
                    register: Value::Null,
                    clients: std::mem::take(&mut group.clients),
                };
                next_key += 1;
            } else {
                groups.swap_remove(g);
            }
        }
    }
    History::new(ops)
}

fn apply(register: &mut Value, op: &Op) -> (OpType, Value) {
    match op.f.as_str() {
        "read" => (OpType::Ok, register.clone()),
        "write" => {
            *register = op.value.clone();
            (OpType::Ok, op.value.clone())
        }
        _ if *register == op.value[0] => {
            *register = op.value[1].clone();
            (OpType::Ok, op.value.clone())
        }
        _ => (OpType::Fail, op.value.clone()),
    }
}

fn entry(ops: &mut Vec<Op>, process: u64, kind: OpType, f: &str, key: u64, value: Value) -> Op {
    let index = ops.len() as u64;
    let op = Op {
        index,
        time: index * 1_000,
        process: Process::Client(process),
        kind,
        f: f.to_string(),
        key: Some(json!(key)),
        value,
        node: None,
        error: None,
    };
    ops.push(op.clone());
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_seeds_give_different_streams() {
        let stream = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.below(1 << 20)).collect::<Vec<_>>()
        };
        assert_ne!(stream(0), stream(1));
        assert_ne!(stream(2), stream(3));
        assert_eq!(stream(7), stream(7));
    }
}
