//! A single register: read and write, and compare-and-set when enabled.

use super::{argument, unknown_f};
use crate::history::Pair;
use crate::linear::intern::Interner;
use crate::linear::model::Model;
use crate::linear::nil_read::{read_value, NilRead};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Register {
    pub initial: Value,
    pub cas: bool,
    pub nil_read: NilRead,
}

#[derive(Clone, Copy, Debug)]
pub enum RegisterOp {
    Read(u32),
    Write(u32),
    Cas { from: u32, to: u32 },
}

impl Register {
    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }
}

impl Model for Register {
    type State = u32;
    type Op = RegisterOp;

    fn init(&self, values: &mut Interner) -> u32 {
        values.intern(&self.initial)
    }

    fn prepare(
        &self,
        pair: &Pair<'_>,
        values: &mut Interner,
    ) -> Result<Option<RegisterOp>, String> {
        match pair.invoke.f.as_str() {
            // A read that did not complete observed nothing and changed nothing
            // (nor, under `NilRead::Any`, did one that returned nil).
            "read" => {
                Ok(read_value(pair, self.nil_read).map(|v| RegisterOp::Read(values.intern(v))))
            }
            "write" => Ok(Some(RegisterOp::Write(values.intern(argument(pair))))),
            "cas" if self.cas => match argument(pair) {
                Value::Array(ft) if ft.len() == 2 => Ok(Some(RegisterOp::Cas {
                    from: values.intern(&ft[0]),
                    to: values.intern(&ft[1]),
                })),
                other => Err(format!("a cas value must be [from to], not {other}")),
            },
            f => Err(unknown_f(
                self.name(),
                f,
                if self.cas {
                    "read, write or cas"
                } else {
                    "read or write"
                },
            )),
        }
    }

    fn step(&self, &state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (v == state).then_some(state),
            RegisterOp::Write(v) => Some(v),
            // An indeterminate cas that did not match had no effect, which the
            // search already covers by never linearizing it.
            RegisterOp::Cas { from, to } => (from == state).then_some(to),
        }
    }

    fn describe(&self, &state: &u32, values: &Interner) -> String {
        values.render(state)
    }
}
