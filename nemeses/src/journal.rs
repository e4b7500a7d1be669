//! The fault journal: an append-only JSON Lines file recording every fault.
//!
//! The rule that makes `chaos heal` possible: a fault is written down (and
//! fsynced) *before* it is applied, and its heal is written down *after* the
//! heal succeeded. A crash anywhere therefore leaves the journal claiming at
//! least every fault that may be in force — at worst one that never was, and
//! healing that is harmless because heals are idempotent.
//!
//! One line per entry:
//! `{"run":"r1","seq":1,"action":"apply","fault":{"kind":"kill","node":"n1"}}`
//!
//! A crash mid-write can leave a torn last line. Readers skip it (that entry
//! was never acknowledged, so its fault was never applied); a writer opening
//! the file cuts it off before appending. A bad line anywhere else means the
//! file was damaged or edited, and is an error naming the line.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The journal records faults in their one runtime form.
pub use crate::fault::Fault;

/// Whether an entry puts a fault in force or takes it away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Apply,
    Heal,
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The run that wrote the line (`chaos heal` writes under its own id).
    pub run: String,
    /// 1, 2, 3, ... within its run, in the order written.
    pub seq: u64,
    pub action: Action,
    pub fault: Fault,
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot {doing} the fault journal {}: {error}", path.display())]
    Io {
        path: PathBuf,
        doing: &'static str,
        #[source]
        error: io::Error,
    },
    /// A complete line (not the torn last one) that is not a journal entry.
    #[error(
        "fault journal {} line {line} is not a journal entry: {reason}. The file was \
         damaged or edited: fix or delete that line, then run `chaos heal` again",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// Another process holds the journal open for writing.
    #[error(
        "fault journal {} is in use by another chaos process; wait for it to finish \
         (or stop it) before starting another run or `chaos heal`",
        path.display()
    )]
    Busy { path: PathBuf },
}

/// The faults in force after replaying `entries` in order: an apply puts a
/// fault in its slot (replacing what was there), a heal empties the slot.
/// Healing an empty slot is a no-op. Heals match by slot, not by run, so a
/// later `chaos heal` resolves what a crashed run left. Returned in the order
/// they were applied, each with the entry that applied it.
pub fn outstanding(entries: &[Entry]) -> Vec<Entry> {
    let mut active: Vec<Entry> = Vec::new();
    for entry in entries {
        active.retain(|a| !a.fault.same_slot(&entry.fault));
        if entry.action == Action::Apply {
            active.push(entry.clone());
        }
    }
    active
}

/// The entries in a journal's bytes, skipping a torn last line.
fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Entry>, JournalError> {
    let corrupt = |line: usize, reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut entries = Vec::new();
    let mut lines = bytes.split(|&b| b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        // `split` yields what follows the last newline as a final piece: empty
        // for a clean file, otherwise a line whose write never completed.
        let torn = lines.peek().is_none();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if torn => {}
            Err(e) => return Err(corrupt(i + 1, describe(&e))),
        }
    }
    Ok(entries)
}

/// serde_json's message without its "at line 1 column N" (the line number
/// inside one journal line is always 1 and would mislead).
fn describe(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    format!("{message} (at column {})", e.column())
}

/// An open journal, held exclusively by one process (an OS file lock, dropped
/// when the process dies, so a crashed run never blocks `chaos heal`).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    run: String,
    next_seq: u64,
}

impl Journal {
    /// Open (creating if needed) the journal at `path` to write entries for
    /// `run`. Refuses a file with a bad line other than a torn last one, and
    /// cuts such a torn line off so the next entry starts on a line of its own.
    pub fn open(path: impl AsRef<Path>, run: &str) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |doing, error| JournalError::Io {
            path: path.clone(),
            doing,
            error,
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io_error("open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(JournalError::Busy { path }),
            Err(TryLockError::Error(e)) => return Err(io_error("lock", e)),
        }
        if !existed {
            // The new file's name lives in its directory: sync that too, or a
            // power cut could lose the whole journal.
            sync_parent(&path).map_err(|e| io_error("create", e))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error("read", e))?;
        let entries = parse(&path, &bytes)?;
        repair_tail(&mut file, &bytes).map_err(|e| io_error("repair the last line of", e))?;
        let last = entries.iter().filter(|e| e.run == run).map(|e| e.seq).max();
        Ok(Journal {
            path,
            file,
            run: run.to_string(),
            next_seq: last.unwrap_or(0) + 1,
        })
    }

    /// Record that `fault` is about to be applied. Call before applying it; if
    /// this fails, do not apply it. Returns the entry's `seq`.
    pub fn record_apply(&mut self, fault: &Fault) -> Result<u64, JournalError> {
        self.append(Action::Apply, fault)
    }

    /// Record that `fault` has been healed. Call after the heal succeeded.
    pub fn record_heal(&mut self, fault: &Fault) -> Result<u64, JournalError> {
        self.append(Action::Heal, fault)
    }

    /// The faults the journal says are still in force, replayed from disk.
    pub fn outstanding(&self) -> Result<Vec<Entry>, JournalError> {
        Ok(outstanding(&Journal::read(&self.path)?))
    }

    /// Every entry of the journal at `path`, without opening it for writing
    /// (so it works while a run holds it). A missing file has no entries.
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<Entry>, JournalError> {
        let path = path.as_ref();
        match fs::read(path) {
            Ok(bytes) => parse(path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(JournalError::Io {
                path: path.to_path_buf(),
                doing: "read",
                error,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run(&self) -> &str {
        &self.run
    }

    fn append(&mut self, action: Action, fault: &Fault) -> Result<u64, JournalError> {
        let entry = Entry {
            run: self.run.clone(),
            seq: self.next_seq,
            action,
            fault: fault.clone(),
        };
        let mut line = serde_json::to_vec(&entry).expect("journal entries always serialise");
        line.push(b'\n');
        // One write of the whole line, then fsync: after we return, neither a
        // kill -9 nor a power cut can lose it.
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| JournalError::Io {
                path: self.path.clone(),
                doing: "append to",
                error,
            })?;
        self.next_seq += 1;
        Ok(entry.seq)
    }
}

/// After a crash mid-write the file may end in a partial line. A partial JSON
/// entry is cut off; a complete one missing only its newline gets it, so the
/// next append does not glue onto it.
fn repair_tail(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if serde_json::from_slice::<Entry>(&bytes[start..]).is_ok() {
        file.write_all(b"\n")?;
    } else {
        file.set_len(start as u64)?;
    }
    file.sync_data()
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
