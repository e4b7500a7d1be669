//! An in-process system under test: cas registers behind one mutex, with
//! optional faults. It is linearizable by construction (each op takes effect
//! atomically under the lock, between its invocation and its completion), so
//! any anomaly a checker finds in its history is a bug of the harness. For
//! tests, benchmarks and the harness's own self-check; no real system is
//! this kind.

use crate::client::{Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError};
use crate::rng::Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What can go wrong, each in percent of ops (or of opens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Before and after taking effect an op yields to the scheduler up to
    /// this many times, so that workers interleave.
    pub max_yields: u32,
    /// Ops that sleep 1 ms before taking effect.
    pub slow_percent: u64,
    /// Ops that take effect and never answer: a lost reply (the worker's
    /// timeout makes them `info`, and they did happen).
    pub lost_reply_percent: u64,
    /// Ops that never take effect and never answer: a lost request
    /// (`info` too, and they did not happen).
    pub lost_request_percent: u64,
    /// Opens that are refused.
    pub refuse_open_percent: u64,
}

type Registers = Arc<Mutex<HashMap<String, Value>>>;

/// The server, and the factory of its clients.
#[derive(Debug)]
pub struct FakeRegister {
    registers: Registers,
    faults: Faults,
    rng: Rng,
    opens: AtomicU64,
}

impl FakeRegister {
    /// Registers start null. `seed` drives the faults.
    pub fn new(faults: Faults, seed: u64) -> Self {
        FakeRegister {
            registers: Arc::default(),
            faults,
            rng: Rng::new(seed),
            opens: AtomicU64::new(0),
        }
    }

    /// The value of the register `key` holds now (null if never written).
    pub fn get(&self, key: Option<&Value>) -> Value {
        let registers = self.registers.lock().unwrap_or_else(|e| e.into_inner());
        registers.get(&name(key)).cloned().unwrap_or(Value::Null)
    }
}

pub struct FakeClient {
    registers: Registers,
    faults: Faults,
    rng: Rng,
}

impl ClientFactory for FakeRegister {
    type Client = FakeClient;

    async fn open(&self, _node: &NodeTarget, _process: u64) -> Result<FakeClient, OpenError> {
        let mut rng = self.rng.fork(self.opens.fetch_add(1, Ordering::Relaxed));
        if rng.chance(self.faults.refuse_open_percent) {
            return Err("connection refused".into());
        }
        Ok(FakeClient {
            registers: self.registers.clone(),
            faults: self.faults,
            rng,
        })
    }
}

impl Client for FakeClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        self.jitter().await;
        if self.rng.chance(self.faults.lost_request_percent) {
            std::future::pending::<()>().await;
        }
        if self.rng.chance(self.faults.slow_percent) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let completion = self.apply(op);
        self.jitter().await;
        if self.rng.chance(self.faults.lost_reply_percent) {
            std::future::pending::<()>().await;
        }
        completion
    }
}

impl FakeClient {
    async fn jitter(&mut self) {
        if self.faults.max_yields == 0 {
            return;
        }
        for _ in 0..self.rng.below(u64::from(self.faults.max_yields) + 1) {
            tokio::task::yield_now().await;
        }
    }

    /// The op, atomically.
    fn apply(&self, op: &Invocation) -> Completion {
        let mut registers = self.registers.lock().unwrap_or_else(|e| e.into_inner());
        let register = registers
            .entry(name(op.key.as_ref()))
            .or_insert(Value::Null);
        match (op.f.as_str(), &op.value) {
            ("read", _) => Completion::ok(register.clone()),
            ("write", v) => {
                *register = v.clone();
                Completion::ok(v.clone())
            }
            ("cas", Value::Array(ft)) if ft.len() == 2 => {
                if *register != ft[0] {
                    return Completion::fail("mismatch");
                }
                *register = ft[1].clone();
                Completion::ok(op.value.clone())
            }
            (f, v) => Completion::fail(format!("the fake register cannot do {f} {v}")),
        }
    }
}

fn name(key: Option<&Value>) -> String {
    key.map(Value::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::OpType;
    use serde_json::json;

    fn op(f: &str, value: Value) -> Invocation {
        Invocation {
            f: f.into(),
            key: Some(json!(1)),
            value,
        }
    }

    fn node() -> NodeTarget {
        NodeTarget {
            name: "n1".into(),
            address: "in-process".into(),
        }
    }

    #[tokio::test]
    async fn behaves_as_a_cas_register() {
        let server = FakeRegister::new(Faults::default(), 1);
        let mut c = server.open(&node(), 0).await.unwrap();
        assert_eq!(
            c.invoke(&op("read", Value::Null)).await,
            Completion::ok(Value::Null)
        );
        assert_eq!(c.invoke(&op("write", json!(3))).await.kind, OpType::Ok);
        assert_eq!(c.invoke(&op("cas", json!([2, 4]))).await.kind, OpType::Fail);
        assert_eq!(c.invoke(&op("cas", json!([3, 4]))).await.kind, OpType::Ok);
        assert_eq!(
            c.invoke(&op("read", Value::Null)).await,
            Completion::ok(json!(4))
        );
        assert_eq!(server.get(Some(&json!(1))), json!(4));
        assert_eq!(server.get(Some(&json!(2))), Value::Null);
    }

    #[tokio::test]
    async fn a_lost_reply_takes_effect_and_a_lost_request_does_not() {
        let lost_reply = Faults {
            lost_reply_percent: 100,
            ..Faults::default()
        };
        let server = FakeRegister::new(lost_reply, 1);
        let mut c = server.open(&node(), 0).await.unwrap();
        let write = op("write", json!(7));
        let call = tokio::time::timeout(Duration::from_millis(5), c.invoke(&write));
        assert!(call.await.is_err());
        assert_eq!(server.get(Some(&json!(1))), json!(7));

        let lost_request = Faults {
            lost_request_percent: 100,
            ..Faults::default()
        };
        let server = FakeRegister::new(lost_request, 1);
        let mut c = server.open(&node(), 0).await.unwrap();
        let write = op("write", json!(7));
        let call = tokio::time::timeout(Duration::from_millis(5), c.invoke(&write));
        assert!(call.await.is_err());
        assert_eq!(server.get(Some(&json!(1))), Value::Null);
    }
}
