//! The real objects behind each model of the linearizability checker, for
//! `simulate`: they record ops as `docs/checkers.md` says clients must.

use super::{simulate, Object, Rng, Simulation};
use crate::history::{History, OpType};
use crate::linear::ModelKind;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A register of small numbers: read and write, and cas when `cas`.
/// A read of a register never written returns nil.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Register {
    pub value: Value,
    pub cas: bool,
}

impl Object for Register {
    fn invoke(&mut self, rng: &mut Rng, _: u64) -> (String, Option<Value>, Value) {
        match rng.below(if self.cas { 3 } else { 2 }) {
            0 => ("read".into(), None, Value::Null),
            1 => ("write".into(), None, json!(rng.below(5))),
            _ => ("cas".into(), None, json!([rng.below(5), rng.below(5)])),
        }
    }

    fn apply(&mut self, f: &str, _: &Option<Value>, value: &Value) -> (OpType, Value) {
        match f {
            "read" => (OpType::Ok, self.value.clone()),
            "write" => {
                self.value = value.clone();
                (OpType::Ok, value.clone())
            }
            _ if self.value == value[0] => {
                self.value = value[1].clone();
                (OpType::Ok, value.clone())
            }
            _ => (OpType::Fail, value.clone()),
        }
    }
}

/// String keys `"0"`.. holding strings: get, put, append. A get of a key
/// never written returns nil.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kv {
    pub keys: u64,
    pub strings: BTreeMap<String, String>,
}

impl Object for Kv {
    fn invoke(&mut self, rng: &mut Rng, serial: u64) -> (String, Option<Value>, Value) {
        let key = Some(json!(rng.below(self.keys.max(1)).to_string()));
        match rng.below(3) {
            0 => ("get".into(), key, Value::Null),
            1 => ("put".into(), key, json!(format!("p{serial} "))),
            _ => ("append".into(), key, json!(format!("a{serial} "))),
        }
    }

    fn apply(&mut self, f: &str, key: &Option<Value>, value: &Value) -> (OpType, Value) {
        let key = key.as_ref().and_then(Value::as_str).unwrap_or_default();
        let text = value.as_str().unwrap_or_default();
        match f {
            "get" => (
                OpType::Ok,
                self.strings.get(key).map_or(Value::Null, |s| json!(s)),
            ),
            "put" => {
                self.strings.insert(key.to_string(), text.to_string());
                (OpType::Ok, value.clone())
            }
            _ => {
                self.strings
                    .entry(key.to_string())
                    .or_default()
                    .push_str(text);
                (OpType::Ok, value.clone())
            }
        }
    }
}

/// Registers `0`.. read and written in transactions of one to three
/// micro-ops `["r" k nil]` / `["w" k v]`; the completion fills the reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultiRegister {
    pub keys: u64,
    pub registers: BTreeMap<u64, u64>,
}

impl Object for MultiRegister {
    fn invoke(&mut self, rng: &mut Rng, _: u64) -> (String, Option<Value>, Value) {
        let micros: Vec<Value> = (0..1 + rng.below(3))
            .map(|_| {
                let key = rng.below(self.keys.max(1));
                match rng.below(2) {
                    0 => json!(["r", key, null]),
                    _ => json!(["w", key, rng.below(4)]),
                }
            })
            .collect();
        ("txn".into(), None, Value::Array(micros))
    }

    fn apply(&mut self, _: &str, _: &Option<Value>, value: &Value) -> (OpType, Value) {
        let micros = value.as_array().map(Vec::as_slice).unwrap_or_default();
        let done = micros
            .iter()
            .map(|micro| {
                let key = micro[1].as_u64().unwrap_or_default();
                match micro[0].as_str() {
                    Some("w") => {
                        self.registers
                            .insert(key, micro[2].as_u64().unwrap_or_default());
                        micro.clone()
                    }
                    _ => json!(["r", key, self.registers.get(&key)]),
                }
            })
            .collect();
        (OpType::Ok, Value::Array(done))
    }
}

/// A FIFO queue of distinct numbers; a dequeue of an empty queue returns nil.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queue(pub VecDeque<Value>);

impl Object for Queue {
    fn invoke(&mut self, rng: &mut Rng, serial: u64) -> (String, Option<Value>, Value) {
        if rng.chance(55) {
            ("enqueue".into(), None, json!(serial))
        } else {
            ("dequeue".into(), None, Value::Null)
        }
    }

    fn apply(&mut self, f: &str, _: &Option<Value>, value: &Value) -> (OpType, Value) {
        match f {
            "enqueue" => {
                self.0.push_back(value.clone());
                (OpType::Ok, value.clone())
            }
            _ => (OpType::Ok, self.0.pop_front().unwrap_or(Value::Null)),
        }
    }
}

/// A grow-only set of numbers; a read returns all of them, sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Set(pub BTreeSet<u64>);

impl Object for Set {
    fn invoke(&mut self, rng: &mut Rng, serial: u64) -> (String, Option<Value>, Value) {
        if rng.chance(60) {
            ("add".into(), None, json!(serial))
        } else {
            ("read".into(), None, Value::Null)
        }
    }

    fn apply(&mut self, f: &str, _: &Option<Value>, value: &Value) -> (OpType, Value) {
        if f == "add" {
            self.0.insert(value.as_u64().unwrap_or_default());
            return (OpType::Ok, value.clone());
        }
        (OpType::Ok, json!(self.0.iter().collect::<Vec<_>>()))
    }
}

/// A history of `model`'s object under `sim`.
pub fn simulate_model(model: ModelKind, sim: &Simulation) -> History {
    let keys = sim.keys;
    match model {
        ModelKind::Register => simulate(Register::default(), sim),
        ModelKind::CasRegister => simulate(
            Register {
                cas: true,
                ..Default::default()
            },
            sim,
        ),
        ModelKind::Kv => simulate(
            Kv {
                keys,
                ..Default::default()
            },
            sim,
        ),
        ModelKind::MultiRegister => simulate(
            MultiRegister {
                keys,
                ..Default::default()
            },
            sim,
        ),
        ModelKind::Set => simulate(Set::default(), sim),
        ModelKind::FifoQueue => simulate(Queue::default(), sim),
    }
}
