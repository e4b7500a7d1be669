//! What a report is made from: the run's parameters, its history and
//! statistics, each checker's verdict, and what its node logs said. The
//! report's model (`model`) turns it into text once, for every format.

use chaos_checkers::history::History;
use chaos_checkers::linear::LinearReport;
use chaos_checkers::log::LogReport;
use chaos_checkers::perf::Perf;
use chaos_checkers::queue::QueueReport;
use chaos_checkers::Validity;

/// One checker's verdict and what it found.
pub enum Evidence<'a> {
    Linearizable(&'a LinearReport),
    Queue(&'a QueueReport),
    Log(&'a LogReport),
}

impl Evidence<'_> {
    pub fn validity(&self) -> Validity {
        match self {
            Evidence::Linearizable(r) => r.validity,
            Evidence::Queue(r) => r.validity,
            Evidence::Log(r) => r.validity,
        }
    }

    /// The property its checker judges: a stale read is a consistency
    /// failure, a lost element a durability one.
    pub fn property(&self) -> (&'static str, &'static str) {
        match self {
            Evidence::Linearizable(_) => ("Consistency", "Consistency (linearizability)"),
            Evidence::Queue(_) | Evidence::Log(_) => ("Durability", "Durability"),
        }
    }
}

/// A node log line worth reading next to the faults (an election, a leader
/// change, a timeout, a fatal line), with when it was written in run time.
#[derive(Debug)]
pub struct NodeSignal {
    pub node: String,
    pub time: u64,
    pub line: String,
}

pub struct RunReport<'a> {
    pub title: String,
    /// When the run began, UTC, as `2026-02-18 15:45Z`.
    pub started: String,
    pub command: String,
    pub cluster: String,
    pub endpoints: Vec<String>,
    pub parameters: Vec<(String, String)>,
    pub artifacts: Vec<String>,
    pub history: &'a History,
    pub perf: &'a Perf,
    pub evidence: Vec<Evidence<'a>>,
    pub signals: Vec<NodeSignal>,
    /// Where the signals were looked for, and what came of it.
    pub search: SignalSearch,
    /// The partition shape (`halves`, `ring`, ...) when the run drew its
    /// partitions from one shape only: the history records the grudge, not
    /// the shape.
    pub partition_shape: Option<String>,
}

/// Which node logs a report looked in for signals, and what it found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalSearch {
    /// `nodes/<node>/log` of each log read, with its number of lines.
    pub logs: Vec<(String, usize)>,
    /// Lines that matched a known pattern, near a fault or not.
    pub matched: usize,
    /// The phrases looked for (the system's).
    pub phrases: Vec<String>,
    /// How far from a fault window a line may be and still be shown (ns).
    pub window: u64,
    /// Why the logs were not searched at all, when they were not.
    pub skipped: Option<String>,
}
