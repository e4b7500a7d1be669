//! How many completions were `ok` inside and outside the fault windows: the
//! report's Assessment and the runs' index say it, so it is counted once.

use chaos_checkers::history::{History, OpType};
use chaos_checkers::perf::FaultWindow;
use serde::{Deserialize, Serialize};

/// Completed client ops and how many of them were `ok`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub ok: usize,
    pub completed: usize,
}

impl Share {
    /// `99.5% ok of 1200`, or `no operations`.
    pub fn percent(&self) -> String {
        match self.completed {
            0 => "no operations".to_string(),
            all => format!("{:.1}% ok of {all}", 100.0 * self.ok as f64 / all as f64),
        }
    }
}

/// Completions outside and during the fault windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub outside_faults: Share,
    pub during_faults: Share,
}

/// Counts each completion by whether it came while a fault was in force
/// (the windows are on the history's clock, counted from its first op).
pub fn availability(history: &History, faults: &[FaultWindow]) -> Availability {
    let start = history.ops.iter().map(|op| op.time).min().unwrap_or(0);
    let mut a = Availability::default();
    for op in history
        .ops
        .iter()
        .filter(|op| op.is_client() && op.kind != OpType::Invoke)
    {
        let t = op.time - start;
        let during = faults
            .iter()
            .any(|w| w.start <= t && w.end.is_none_or(|e| t < e));
        let share = match during {
            true => &mut a.during_faults,
            false => &mut a.outside_faults,
        };
        share.completed += 1;
        share.ok += (op.kind == OpType::Ok) as usize;
    }
    a
}
