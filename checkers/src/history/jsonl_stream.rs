//! A large JSONL history read block by block: while one block is read from
//! the file, the blocks before it are parsed on the other cores, and the
//! file is never in memory whole. A history of a million ops is a quarter
//! of a gigabyte of text; holding it would fault in as many fresh pages
//! again as the ops themselves, before parsing could start.
//!
//! This is only a faster road to the same history: anything unusual (a
//! format other than JSONL, text that is not UTF-8, a line that does not
//! read) gives up, and the whole-file reader reads the file again and says
//! exactly what is wrong and where.

use super::format::{detect, Format};
use super::jsonl::{read_piece, Assembler, Piece};
use super::History;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::{mpsc, Mutex};

/// Files at least this large are read block by block (tests use smaller
/// sizes: the same roads, in less time).
const LARGE: u64 = if cfg!(test) { 1 << 20 } else { 32 << 20 };
/// About this much text per block.
const BLOCK: usize = if cfg!(test) { 64 << 10 } else { 8 << 20 };

/// A block to parse: its number, its text, and a piece to parse it into
/// (emptied, its arrays keeping the room an earlier block needed).
type Job = (usize, Vec<u8>, Piece);
/// A parsed block: its number, its text buffer back, and its ops (`None`:
/// a line did not read).
type Done = (usize, Vec<u8>, Option<Piece>);

/// The history in `path` if it is a large JSONL file that reads without a
/// problem; `None` otherwise (the caller reads it whole).
pub(super) fn read_large(path: &Path, format: Option<Format>) -> Option<History> {
    let mut file = File::open(path).ok()?;
    if file.metadata().ok()?.len() < LARGE || !matches!(format, None | Some(Format::Jsonl)) {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (to_parse, jobs) = mpsc::sync_channel::<Job>(cores);
    let jobs = Mutex::new(jobs);
    let (to_collect, parsed) = mpsc::channel::<Done>();
    std::thread::scope(|scope| {
        for _ in 0..cores {
            let (jobs, to_collect) = (&jobs, to_collect.clone());
            scope.spawn(move || loop {
                // The lock is held only while waiting for the next job.
                let next = jobs.lock().map(|jobs| jobs.recv());
                let Ok(Ok((n, text, piece))) = next else {
                    break;
                };
                let piece = parse_block(&text, piece);
                if to_collect.send((n, text, piece)).is_err() {
                    break;
                }
            });
        }
        drop(to_collect);
        let mut collector = Collector::default();
        let read = read_blocks(&mut file, format, &to_parse, &parsed, &mut collector);
        drop(to_parse);
        for done in parsed.iter() {
            collector.take(done);
        }
        (read? == collector.next && !collector.failed).then(|| collector.history.finish())
    })
}

/// Parsed blocks put together in order as they come back; their buffers
/// kept for the blocks still to read, so that the memory of a few blocks
/// serves the whole file.
struct Collector {
    history: Assembler,
    /// The number of the next block to add, and blocks back before it.
    next: usize,
    waiting: BTreeMap<usize, Piece>,
    texts: Vec<Vec<u8>>,
    pieces: Vec<Piece>,
    failed: bool,
}

impl Default for Collector {
    fn default() -> Self {
        Collector {
            history: Assembler::new(0),
            next: 0,
            waiting: BTreeMap::new(),
            texts: Vec::new(),
            pieces: Vec::new(),
            failed: false,
        }
    }
}

impl Collector {
    fn take(&mut self, (n, text, piece): Done) {
        self.texts.push(text);
        let Some(piece) = piece else {
            self.failed = true;
            return;
        };
        self.waiting.insert(n, piece);
        while let Some(piece) = self.waiting.remove(&self.next) {
            let emptied = self.history.add(piece);
            self.pieces.push(emptied);
            self.next += 1;
        }
    }
}

/// Reads the file in blocks of whole lines and sends them to be parsed,
/// putting together what comes back meanwhile; the number of blocks sent,
/// or `None` when the file is not JSONL or cannot be read.
fn read_blocks(
    file: &mut File,
    format: Option<Format>,
    to_parse: &mpsc::SyncSender<Job>,
    parsed: &mpsc::Receiver<Done>,
    collector: &mut Collector,
) -> Option<usize> {
    let mut carried: Vec<u8> = Vec::new();
    let mut sent = 0;
    loop {
        while let Ok(done) = parsed.try_recv() {
            collector.take(done);
        }
        let mut block = collector.texts.pop().unwrap_or_default();
        block.clear();
        block.append(&mut carried);
        let ended = fill(file, &mut block)?;
        // A block ends after its last newline; the rest goes with the next.
        let cut = if ended {
            block.len()
        } else {
            match block.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                // One line longer than a block: read on.
                None => {
                    carried = block;
                    continue;
                }
            }
        };
        carried.extend_from_slice(&block[cut..]);
        block.truncate(cut);
        if sent == 0 {
            let text = std::str::from_utf8(&block).ok()?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            if format.or_else(|| detect(text)) != Some(Format::Jsonl) {
                return None;
            }
            if block.starts_with("\u{feff}".as_bytes()) {
                block.drain(..3);
            }
        }
        if !block.is_empty() {
            let piece = collector.pieces.pop().unwrap_or_default();
            to_parse.send((sent, block, piece)).ok()?;
            sent += 1;
        }
        if ended {
            return Some(sent);
        }
    }
}

/// Adds up to a block of the file to `block`; true at the end of the file.
fn fill(file: &mut File, block: &mut Vec<u8>) -> Option<bool> {
    let mut filled = block.len();
    block.resize(filled + BLOCK, 0);
    while filled < block.len() {
        match file.read(&mut block[filled..]) {
            Ok(0) => {
                block.truncate(filled);
                return Some(true);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(false)
}

/// One block's ops; `None` if it is not UTF-8 or a line does not read.
fn parse_block(block: &[u8], piece: Piece) -> Option<Piece> {
    let text = std::str::from_utf8(block).ok()?;
    // Never the file's last line here: a line that does not read sends the
    // file to the whole-file reader, which tells a cut-short history apart.
    read_piece(text, (0, text.len()), usize::MAX, piece).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::format::read_history;
    use crate::history::jsonl::read_jsonl;
    use std::io::Write;

    /// A file of about `LARGE` bytes and more, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, text: impl AsRef<[u8]>) -> Self {
            let path = std::env::temp_dir()
                .join(format!("chaos-jsonl-stream-{}-{name}", std::process::id()));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(text.as_ref())
                .unwrap();
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Over `LARGE` bytes of ops, some without an index, some blank lines,
    /// one line longer than a block.
    fn large_text() -> String {
        let mut text = String::from("\u{feff}");
        let long = "x".repeat(BLOCK + 100);
        let mut i = 0u64;
        while text.len() < LARGE as usize + 3 * BLOCK {
            text += &match i % 5 {
                0 => format!("{{\"process\":{},\"type\":\"invoke\",\"f\":\"append\",\"value\":{i}}}\n", i % 7),
                1 => "\n".to_string(),
                2 if i == 2 => format!("{{\"index\":{i},\"process\":1,\"type\":\"info\",\"f\":\"x\",\"value\":\"{long}\"}}\n"),
                _ => format!("{{\"index\":{i},\"time\":{},\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"value\":[[{i},\"v\"]]}}\r\n", 3 * i),
            };
            i += 1;
        }
        text
    }

    #[test]
    fn a_large_file_read_in_blocks_is_the_file_read_whole() {
        let text = large_text();
        let file = TempFile::new("whole", &text);
        let streamed = read_large(&file.0, None).expect("read block by block");
        let whole = read_jsonl(text.strip_prefix('\u{feff}').unwrap(), "h.jsonl").unwrap();
        assert_eq!(streamed, whole);
        assert_eq!(streamed.lines, whole.lines);
        assert!(streamed.ops.len() > 10_000);
        assert_eq!(read_history(&file.0, None).unwrap(), whole);
    }

    #[test]
    fn anything_unusual_is_left_to_the_whole_file_reader() {
        let text = large_text();
        // A bad line deep in the file: the error names its line.
        let at = text.len() / 2;
        let at = at + text[at..].find('\n').unwrap() + 1;
        let broken = format!("{}{{\"process\":1}}\n{}", &text[..at], &text[at..]);
        let file = TempFile::new("broken", &broken);
        assert!(read_large(&file.0, None).is_none());
        let err = read_history(&file.0, None).unwrap_err();
        let line = 1 + broken[..at].matches('\n').count();
        assert_eq!(err.line, line, "{err}");
        assert!(err.message.contains("op has no \"type\""), "{err}");

        // Not UTF-8 inside a value, deep in the file.
        let mut bytes = text.clone().into_bytes();
        let at = bytes.len() - 20
            + bytes[bytes.len() - 20..]
                .iter()
                .position(|&b| b == b'v')
                .unwrap();
        bytes[at] = 0xff;
        let file = TempFile::new("binary", &bytes);
        assert!(read_large(&file.0, None).is_none());
        let err = read_history(&file.0, None).unwrap_err();
        assert!(err.message.starts_with("not UTF-8"), "{err}");

        let edn = TempFile::new("edn", text.replacen("{\"process\"", "{:process", 1));
        assert!(read_large(&edn.0, None).is_none());
        assert!(read_large(&file.0, Some(Format::Edn)).is_none());
        let small = TempFile::new("small", &text[..1000]);
        assert!(read_large(&small.0, None).is_none());
    }
}
