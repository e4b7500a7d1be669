//! Where the nemesis schedule's events go during a run: each op into the
//! history, each line to the console (and `chaos.log`), and the fault in
//! force to the live status line. The schedule itself
//! ([`chaos_nemeses::schedule`]) knows none of these.

use chaos_checkers::history::{Op, OpType, Process};
use chaos_nemeses::event::one_line;
use chaos_nemeses::{Event, Sink};
use chaos_workloads::RecordHandle;

use super::live::{Active, Console};

pub struct RunEvents<'a> {
    pub handle: &'a RecordHandle,
    pub console: &'a Console,
    pub active: &'a Active,
}

impl Sink for RunEvents<'_> {
    async fn event(&self, event: Event) {
        if let Some(line) = event.line() {
            self.console.say(&line);
        }
        match &event {
            Event::InForce { verb, value, .. } => {
                self.active.set(Some(format!("{verb} {}", one_line(value))))
            }
            Event::Stopped { .. } => self.active.set(None),
            _ => {}
        }
        if let Some(op) = event.op() {
            let op = Op {
                index: 0,
                time: 0,
                process: Process::Nemesis,
                kind: OpType::Info,
                f: op.f,
                key: None,
                value: op.value,
                node: None,
                error: op.error,
            };
            // A history that no longer takes ops has already said why.
            let _ = self.handle.append(op).await;
        }
    }
}
