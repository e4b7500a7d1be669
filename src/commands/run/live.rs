//! What a run says while it runs. At a terminal: one status line redrawn
//! every second (elapsed / remaining, ops/s, ok / fail / info, the fault in
//! force), with event lines (faults, phases) printed above it. Elsewhere (a
//! CI log, a CronJob's pod log): the same status as a plain line every ten
//! seconds, nothing redrawn. Event lines and the ten-second status also go
//! to the run's `chaos.log`, stamped with the UTC time.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chaos_workloads::{Snapshot, Stats};

/// The fault in force, for the status line.
#[derive(Default)]
pub struct Active(Mutex<Option<String>>);

impl Active {
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|a| a.clone()).unwrap_or(None)
    }

    pub fn set(&self, fault: Option<String>) {
        if let Ok(mut a) = self.0.lock() {
            *a = fault;
        }
    }
}

/// Clears the terminal line the cursor is on.
const CLEAR_LINE: &str = "\r\x1b[2K";

pub struct Console {
    terminal: bool,
    /// The status line on screen now (terminal only; empty: none).
    status: Mutex<String>,
    /// The run's `chaos.log`, once its folder exists.
    log: Mutex<Option<File>>,
    /// When the last status went to the log.
    logged: Mutex<Option<Instant>>,
}

/// `2026-11-24T03:25:07.123Z`.
fn utc_now() -> String {
    let t = crate::runid::utc(jiff::Timestamp::now());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.subsec_nanosecond() / 1_000_000
    )
}

impl Console {
    pub fn new() -> Console {
        Console {
            terminal: std::io::stderr().is_terminal(),
            status: Mutex::new(String::new()),
            log: Mutex::new(None),
            logged: Mutex::new(None),
        }
    }

    /// From now on, lines also go to `path` (appended). A log that cannot be
    /// opened costs the run its `chaos.log`, nothing else: said once.
    pub fn log_to(&self, path: &Path) {
        match File::options().create(true).append(true).open(path) {
            Ok(file) => {
                if let Ok(mut log) = self.log.lock() {
                    *log = Some(file);
                }
            }
            Err(e) => self.say(&format!("cannot write {}: {e}", path.display())),
        }
    }

    /// A line for `chaos.log` only (what the run prints on stdout).
    pub fn to_log(&self, line: &str) {
        if let Ok(mut log) = self.log.lock() {
            if let Some(file) = log.as_mut() {
                let _ = writeln!(file, "{} {line}", utc_now());
            }
        }
    }

    /// An event line, kept in the scroll-back above the status line.
    pub fn say(&self, line: &str) {
        self.to_log(line);
        let status = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        let mut err = std::io::stderr().lock();
        if self.terminal && !status.is_empty() {
            let _ = write!(err, "{CLEAR_LINE}");
        }
        let _ = writeln!(err, "chaos: {line}");
        if self.terminal && !status.is_empty() {
            let _ = write!(err, "{status}");
        }
    }

    fn status(&self, text: String) {
        if let Ok(mut logged) = self.logged.lock() {
            if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                self.to_log(&text);
                *logged = Some(Instant::now());
            }
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "{CLEAR_LINE}{text}");
            if let Ok(mut status) = self.status.lock() {
                *status = text;
            }
        } else {
            let _ = writeln!(err, "chaos: {text}");
        }
    }

    /// Takes the status line off the screen (the run's main phase is over).
    pub fn done(&self) {
        if let Ok(mut status) = self.status.lock() {
            if self.terminal && !status.is_empty() {
                eprint!("{CLEAR_LINE}");
            }
            status.clear();
        }
    }

    fn every(&self) -> Duration {
        Duration::from_secs(if self.terminal { 1 } else { 10 })
    }
}

/// `12s / 60s  95 ops/s  ok 1130  fail 3  info 2  fault: partition n1 | n2 n3`
pub fn status_line(
    elapsed: Duration,
    limit: Duration,
    ops_per_second: f64,
    now: &Snapshot,
    fault: Option<&str>,
) -> String {
    format!(
        "{:>3}s / {}s  {:>5.0} ops/s  ok {}  fail {}  info {}  fault: {}",
        elapsed.as_secs().min(limit.as_secs()),
        limit.as_secs(),
        ops_per_second,
        now.ok,
        now.fail,
        now.info,
        fault.unwrap_or("none")
    )
}

/// Redraws the status until dropped.
pub async fn ticker(console: &Console, stats: &Stats, active: &Active, limit: Duration) {
    let start = Instant::now();
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(console.every()).await;
        let now = stats.snapshot();
        let completed = now.ok + now.fail + now.info;
        let seconds = last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = completed.saturating_sub(last.1) as f64 / seconds;
        last = (Instant::now(), completed);
        console.status(status_line(
            start.elapsed(),
            limit,
            rate,
            &now,
            active.get().as_deref(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_every_counter_and_the_fault() {
        let snapshot = Snapshot {
            elapsed: Duration::from_secs(12),
            invoked: 1140,
            ok: 1130,
            fail: 3,
            info: 2,
        };
        let line = status_line(
            Duration::from_secs(12),
            Duration::from_secs(60),
            95.4,
            &snapshot,
            Some("partition n1 | n2 n3"),
        );
        assert_eq!(
            line,
            " 12s / 60s     95 ops/s  ok 1130  fail 3  info 2  fault: partition n1 | n2 n3"
        );
        let quiet = status_line(
            Duration::from_secs(70),
            Duration::from_secs(60),
            0.0,
            &snapshot,
            None,
        );
        assert!(quiet.starts_with(" 60s / 60s"), "{quiet}");
        assert!(quiet.ends_with("fault: none"), "{quiet}");
    }
}
