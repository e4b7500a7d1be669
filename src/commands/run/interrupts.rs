//! The one place a run hears SIGINT and SIGTERM. Every phase that waits on
//! something outside (a cluster coming up, the set-up, the workload under
//! faults, the recovery, the final ops) waits through [`Interrupts::guard`],
//! which gives up on the phase at the first signal, says which phase it cut
//! short, and remembers it: the phases after it then know the run is
//! interrupted, heal anyway, and skip what only a whole run needs.

use std::future::Future;

use super::live::Console;
use crate::error::Failure;

/// SIGINT and SIGTERM, watched from the start so that neither kills the
/// run with faults in force or the cluster left behind.
pub struct Interrupts {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    /// The phase the first signal cut short.
    cut_short: Option<&'static str>,
}

impl Interrupts {
    pub fn new() -> Result<Interrupts, Failure> {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind, name| {
            signal(kind).map_err(|e| Failure::Harness(format!("cannot watch for {name}: {e}")))
        };
        Ok(Interrupts {
            int: watch(SignalKind::interrupt(), "SIGINT")?,
            term: watch(SignalKind::terminate(), "SIGTERM")?,
            cut_short: None,
        })
    }

    /// The next signal.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    /// `work`'s output, or None if a signal came first: `work` is dropped,
    /// the run is interrupted in `phase`, and the console says so.
    pub async fn guard<F: Future>(
        &mut self,
        phase: &'static str,
        console: &Console,
        work: F,
    ) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            _ = self.recv() => {
                self.interrupted(phase, console);
                None
            }
        }
    }

    /// Records an interrupt in `phase` (the first one counts).
    pub fn interrupted(&mut self, phase: &'static str, console: &Console) {
        console.say(&format!("interrupted {phase}"));
        self.cut_short.get_or_insert(phase);
    }

    /// Was the run interrupted?
    pub fn happened(&self) -> bool {
        self.cut_short.is_some()
    }
}
