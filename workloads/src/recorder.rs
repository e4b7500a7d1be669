//! The history recorder: every op of a run, from every worker and the
//! nemesis, streamed to `history.jsonl` as it happens.
//!
//! # Order
//!
//! `index` and `time` are both assigned by the *sender*, under one mutex that
//! is also held while the entry is put on the channel to the writer task.
//! So index order, time order and channel order are the same order by
//! construction, and the time is taken by the worker right where it invokes
//! or completes, not when the writer gets round to it (stamping on receipt
//! would add the writer's queueing delay to every latency). The critical
//! section is a clock read and a non-blocking channel push (~100 ns).
//!
//! A worker records its invocation *before* it sends the request and its
//! completion *after* the reply, so the recorded interval of every op
//! contains the real one: the history never claims an order the system
//! did not have.
//!
//! # Durability
//!
//! The writer task writes each batch of lines with a single `write(2)` on an
//! unbuffered `File`: once written, a line is in the kernel's page cache and
//! survives a crash of the harness, `kill -9` included (a crash of the
//! machine is not covered: that would need an fsync per batch). Lines are
//! only ever written whole and in index order, so the file is always a
//! prefix of the history: a completion in the file has its invocation
//! before it, and an op in flight at a crash just has no completion, which
//! readers take as `info`.
//!
//! [`RecordHandle::append`] returns once its line is written: workers await
//! it for invocations, so every request that reached the system is in the
//! file (and the channel holds at most about two entries per worker: no
//! unbounded queue). Completions use [`RecordHandle::append_nowait`]: the
//! worker's next invocation is written after it anyway (one channel, one
//! order), so waiting would only cost time.

use chaos_checkers::history::jsonl::{read_jsonl, write_jsonl};
use chaos_checkers::history::{History, Op, Process};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Entries the writer takes from the channel at once, and so writes with one
/// system call when workers outpace it.
const BATCH: usize = 512;

/// Where an op landed in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub index: u64,
    /// Nanoseconds since the run began.
    pub time: u64,
}

/// The recorder has stopped: it was finished, or writing the history failed.
/// A run cannot go on without its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the history recorder has stopped")]
pub struct RecorderClosed;

struct Entry {
    op: Op,
    written: Option<oneshot::Sender<()>>,
}

struct Sequencer {
    /// None once the recorder is finished.
    tx: Option<mpsc::UnboundedSender<Entry>>,
    next_index: u64,
    /// Above every client process recorded or handed out by
    /// [`RecordHandle::next_free_process`]: a process id nobody used.
    next_free_process: u64,
}

/// A cheap, cloneable handle through which workers and the nemesis record.
#[derive(Clone)]
pub struct RecordHandle {
    start: Instant,
    sequencer: Arc<Mutex<Sequencer>>,
}

/// Owns the writer task; [`Recorder::finish`] ends the run's history.
pub struct Recorder {
    handle: RecordHandle,
    writer: JoinHandle<io::Result<Vec<Op>>>,
}

impl Recorder {
    /// Creates `path` (which must not exist: a history is evidence, never
    /// overwritten) and starts the writer task on the current tokio runtime.
    /// The run's clock starts now.
    pub fn start(path: &Path) -> io::Result<Recorder> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(file, rx));
        Ok(Recorder {
            handle: RecordHandle {
                start: Instant::now(),
                sequencer: Arc::new(Mutex::new(Sequencer {
                    tx: Some(tx),
                    next_index: 0,
                    next_free_process: 0,
                })),
            },
            writer,
        })
    }

    pub fn handle(&self) -> RecordHandle {
        self.handle.clone()
    }

    /// Stops taking ops (later appends get [`RecorderClosed`]), waits until
    /// every op already appended is written, and returns the whole history.
    pub async fn finish(self) -> io::Result<History> {
        self.handle.lock().tx = None;
        let ops = self.writer.await.map_err(io::Error::other)??;
        Ok(History::new(ops))
    }
}

impl RecordHandle {
    /// The moment the run began: time 0 of the history.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Time since the run began.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A client process id that no op recorded so far used, and that no
    /// earlier call returned: for the final phase's reads, which must not
    /// pass for the continuation of a worker's process. Call it once the
    /// workers have stopped (a worker retiring a process afterwards could
    /// pick the same id).
    pub fn next_free_process(&self) -> u64 {
        let mut sequencer = self.lock();
        let free = sequencer.next_free_process;
        sequencer.next_free_process += 1;
        free
    }

    /// Records `op` and returns once its line is written to the file.
    /// The op's `index` and `time` are assigned here; whatever it carries
    /// in them is overwritten.
    pub async fn append(&self, op: Op) -> Result<Stamp, RecorderClosed> {
        let (written, on_file) = oneshot::channel();
        let stamp = self.send(op, Some(written))?;
        // The writer drops the sender without a word if writing fails.
        on_file.await.map_err(|_| RecorderClosed)?;
        Ok(stamp)
    }

    /// Records `op` without waiting for it to be written; ordered with every
    /// other op all the same.
    pub fn append_nowait(&self, op: Op) -> Result<Stamp, RecorderClosed> {
        self.send(op, None)
    }

    fn send(
        &self,
        mut op: Op,
        written: Option<oneshot::Sender<()>>,
    ) -> Result<Stamp, RecorderClosed> {
        let mut sequencer = self.lock();
        let index = sequencer.next_index;
        let time = self.start.elapsed().as_nanos() as u64;
        op.index = index;
        op.time = time;
        let process = op.process;
        let tx = sequencer.tx.as_ref().ok_or(RecorderClosed)?;
        tx.send(Entry { op, written }).map_err(|_| RecorderClosed)?;
        sequencer.next_index += 1;
        if let Process::Client(p) = process {
            sequencer.next_free_process = sequencer.next_free_process.max(p.saturating_add(1));
        }
        Ok(Stamp { index, time })
    }

    fn lock(&self) -> MutexGuard<'_, Sequencer> {
        // The guarded section cannot panic half-way; a poisoned lock only
        // means another thread panicked elsewhere while holding it.
        self.sequencer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// The write is a blocking system call on a runtime thread. That is
// deliberate: a write to the page cache takes a few microseconds, while
// `tokio::fs` would hop to the blocking pool for every batch and a writer
// thread would cost a cross-thread wake-up per batch, both slower than the
// write itself.
async fn write_loop(mut file: File, mut rx: mpsc::UnboundedReceiver<Entry>) -> io::Result<Vec<Op>> {
    let mut ops: Vec<Op> = Vec::new();
    let mut entries = Vec::with_capacity(BATCH);
    let mut lines = Vec::new();
    let mut acks = Vec::new();
    while rx.recv_many(&mut entries, BATCH).await > 0 {
        let batch = History::new(
            entries
                .drain(..)
                .map(|e| {
                    acks.extend(e.written);
                    e.op
                })
                .collect(),
        );
        debug_assert!(batch
            .ops
            .iter()
            .zip(batch.ops.iter().skip(1))
            .all(|(a, b)| a.index + 1 == b.index && a.time <= b.time));
        lines.clear();
        // The checkers' own writer, so the file reads back with read_jsonl.
        write_jsonl(&batch, &mut lines)?;
        file.write_all(&lines)?;
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        ops.extend(batch.ops);
    }
    Ok(ops)
}

/// Reads a history written by the recorder, also one cut short by a crash:
/// a last line without its newline was being written when the harness died,
/// was never acknowledged, and is dropped.
pub fn read_history(path: &Path) -> Result<History, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    read_jsonl(whole, &path.display().to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::{OpType, Process};
    use serde_json::{json, Value};

    fn op(process: Process, kind: OpType, f: &str) -> Op {
        Op {
            index: 99,
            time: 99,
            process,
            kind,
            f: f.into(),
            key: None,
            value: Value::Null,
            node: None,
            error: None,
        }
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join("chaos-workloads-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[tokio::test]
    async fn stamps_in_order_writes_lines_and_returns_the_history() {
        let path = temp_path("order.jsonl");
        let recorder = Recorder::start(&path).unwrap();
        let h = recorder.handle();
        let a = h
            .append(op(Process::Client(0), OpType::Invoke, "read"))
            .await
            .unwrap();
        // Written before append returned: a crash now would keep it.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        let b = h
            .append_nowait(op(Process::Nemesis, OpType::Info, "start-partition"))
            .unwrap();
        let c = h
            .append_nowait(op(Process::Client(0), OpType::Ok, "read"))
            .unwrap();
        assert_eq!((a.index, b.index, c.index), (0, 1, 2));
        assert!(a.time <= b.time && b.time <= c.time);
        let history = recorder.finish().await.unwrap();
        assert_eq!(history.ops.len(), 3);
        assert_eq!(history.ops[1].process, Process::Nemesis);
        assert_eq!(history.ops[2].time, c.time);
        assert_eq!(read_history(&path).unwrap(), history);
        assert_eq!(
            h.append_nowait(op(Process::Nemesis, OpType::Info, "x")),
            Err(RecorderClosed)
        );
        std::fs::remove_file(path).unwrap();
    }

    #[tokio::test]
    async fn free_process_ids_are_above_every_recorded_one_and_never_repeat() {
        let path = temp_path("free.jsonl");
        let recorder = Recorder::start(&path).unwrap();
        let h = recorder.handle();
        assert_eq!(h.next_free_process(), 0);
        h.append_nowait(op(Process::Client(7), OpType::Invoke, "read"))
            .unwrap();
        h.append_nowait(op(Process::Client(3), OpType::Invoke, "read"))
            .unwrap();
        // The nemesis is no client: it takes no client id.
        h.append_nowait(op(Process::Nemesis, OpType::Info, "x"))
            .unwrap();
        assert_eq!(h.next_free_process(), 8);
        assert_eq!(h.next_free_process(), 9);
        recorder.finish().await.unwrap();
        std::fs::remove_file(path).unwrap();
    }

    #[tokio::test]
    async fn refuses_to_overwrite_a_history() {
        let path = temp_path("exists.jsonl");
        std::fs::write(&path, "").unwrap();
        assert!(Recorder::start(&path).is_err());
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_dropped_on_reading() {
        let path = temp_path("torn.jsonl");
        let whole = json!({"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null});
        std::fs::write(&path, format!("{whole}\n{{\"index\":1,\"ti")).unwrap();
        let history = read_history(&path).unwrap();
        assert_eq!(history.ops.len(), 1);
        std::fs::remove_file(path).unwrap();
    }
}
