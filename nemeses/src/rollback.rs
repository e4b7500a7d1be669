//! `rollback[-minority|-all]`: parts of a node's data files go back in
//! time. While the node is down, a few chunks of its data files are copied
//! to a stash ([`plan_snapshot`], [`snapshot_script`]); the node runs on
//! and writes over them; at the end of the fault it is crashed again and
//! the stashed chunks are written back over the files
//! ([`restore_script`]): from then on those places hold stale bytes, as
//! after a disk or a backup that lost recent writes in parts. A heal only
//! removes the stash: it never writes stale bytes back.
//!
//! The scripts are plain `sh` with coreutils (`dd`, `stat`), the same text
//! on any backend; each backend decides where the stash lives.

use crate::rng::Rng;
use crate::storage::{quote, DataFiles};

/// How many chunks a snapshot takes per node (fewer when two draws land on
/// the same whole small file).
pub const CHUNKS: usize = 4;

/// How long a chunk is: a file no longer than this is taken whole.
pub const CHUNK_BYTES: u64 = 64 * 1024;

/// The stash's list of chunks, written last: a stash without it is a
/// snapshot that never finished, and nothing of it is written back.
pub const MANIFEST: &str = "manifest";

/// One stretch of one file: `len` bytes from `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub path: String,
    pub offset: u64,
    pub len: u64,
}

/// The chunks to stash from the files `listing` names (a
/// [`crate::storage::list_files_script`] listing), drawn from `seed`: each
/// a file drawn in proportion to its size, then a place in it drawn
/// uniformly (a file of at most [`CHUNK_BYTES`] is taken whole). Err if no
/// file holds data.
pub fn plan_snapshot(listing: &str, seed: u64) -> Result<Vec<Chunk>, String> {
    let files = DataFiles::parse(listing)?;
    let mut rng = Rng::new(seed);
    let mut chunks: Vec<Chunk> = Vec::new();
    for _ in 0..CHUNKS {
        let (size, path) = files.draw(&mut rng);
        let chunk = if size <= CHUNK_BYTES {
            Chunk {
                path,
                offset: 0,
                len: size,
            }
        } else {
            Chunk {
                path,
                offset: rng.below(size - CHUNK_BYTES + 1),
                len: CHUNK_BYTES,
            }
        };
        // The same bytes twice would only be written back twice.
        if !chunks.contains(&chunk) {
            chunks.push(chunk);
        }
    }
    Ok(chunks)
}

/// The script that copies `chunks` into the directory `stash` (chunk `i`
/// to `<stash>/chunks/<i>`), checks each copy's length, and writes the
/// manifest last. Whatever an earlier snapshot left in the stash goes
/// first. Prints one line per chunk.
pub fn snapshot_script(chunks: &[Chunk], stash: &str) -> String {
    let dir = quote(&format!("{stash}/chunks"));
    let manifest = quote(&format!("{stash}/{MANIFEST}"));
    let fresh = quote(&format!("{stash}/{MANIFEST}.new"));
    let mut script = format!("set -e\nrm -rf {dir} {manifest} {fresh}\nmkdir -p {dir}\n");
    let mut lines = Vec::new();
    for (i, Chunk { path, offset, len }) in chunks.iter().enumerate() {
        let file = quote(path);
        let copy = quote(&format!("{stash}/chunks/{i}"));
        script += &format!(
            "dd if={file} of={copy} bs={CHUNK_BYTES} iflag=skip_bytes,count_bytes skip={offset} count={len} status=none\n\
             test \"$(stat -c %s {copy})\" = {len} || {{ printf 'read short of %s bytes at %s of %s\\n' {len} {offset} {file}; exit 1; }}\n\
             printf 'stashed %s bytes at %s of %s\\n' {len} {offset} {file}\n"
        );
        lines.push(quote(&format!("{i} {offset} {len} {path}")));
    }
    script += &format!(
        "printf '%s\\n' {} > {fresh}\nmv {fresh} {manifest}\n",
        lines.join(" ")
    );
    script
}

/// The chunks a stash's manifest lists, in the order of their copies.
/// Err names the first line that is not `<i> <offset> <len> <path>`.
pub fn parse_manifest(text: &str) -> Result<Vec<Chunk>, String> {
    let mut chunks = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.splitn(4, ' ');
        let mut number = || fields.next().and_then(|f| f.parse::<u64>().ok());
        let (index, offset, len) = (number(), number(), number());
        match (index, offset, len, fields.next()) {
            (Some(i), Some(offset), Some(len), Some(path)) if i == n as u64 => chunks.push(Chunk {
                path: path.to_string(),
                offset,
                len,
            }),
            _ => {
                return Err(format!(
                    "line {} of the stash's manifest is not `<i> <offset> <len> <path>`: {line:?}",
                    n + 1
                ))
            }
        }
    }
    Ok(chunks)
}

/// The script that writes each stashed chunk back over its file in place
/// (`dd conv=notrunc`), never making a file longer nor making one again:
/// a file that is gone stays gone, and of a file now shorter only what
/// still lies within it is written. Prints one line per chunk: `restored
/// ...`, or `gone: ...` / `shorter: ...` saying what was not written back.
pub fn restore_script(chunks: &[Chunk], stash: &str) -> String {
    let mut script = String::from("set -e\n");
    for (i, Chunk { path, offset, len }) in chunks.iter().enumerate() {
        let file = quote(path);
        let copy = quote(&format!("{stash}/chunks/{i}"));
        script += &format!(
            "f={file}\n\
             if [ ! -e \"$f\" ]; then\n\
             \x20 printf 'gone: %s: %s bytes at %s not written back (the file is not made again)\\n' \"$f\" {len} {offset}\n\
             else\n\
             \x20 size=$(stat -c %s \"$f\")\n\
             \x20 n={len}\n\
             \x20 if [ \"$size\" -le {offset} ]; then n=0; elif [ $(({offset} + {len})) -gt \"$size\" ]; then n=$((size - {offset})); fi\n\
             \x20 if [ \"$n\" -gt 0 ]; then dd if={copy} of=\"$f\" bs={CHUNK_BYTES} iflag=count_bytes oflag=seek_bytes seek={offset} count=$n conv=notrunc status=none; fi\n\
             \x20 if [ \"$n\" -eq {len} ]; then\n\
             \x20   printf 'restored %s bytes at %s of %s\\n' {len} {offset} \"$f\"\n\
             \x20 else\n\
             \x20   printf 'shorter: %s is now %s bytes: %s of the %s bytes at %s written back\\n' \"$f\" \"$size\" \"$n\" {len} {offset}\n\
             \x20 fi\n\
             fi\n"
        );
    }
    script
}

/// What a restore did on `node`, from [`restore_script`]'s output: one
/// line for the chunks written back whole, and each `gone` or `shorter`
/// line as it is.
pub fn restore_lines(node: &str, output: &str) -> Vec<String> {
    let mut restored = 0u64;
    let mut bytes = 0u64;
    let mut files: Vec<&str> = Vec::new();
    let mut notes = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let whole = line
            .strip_prefix("restored ")
            .and_then(|rest| rest.split_once(" bytes at "))
            .and_then(|(len, rest)| Some((len.parse::<u64>().ok()?, rest.split_once(" of ")?.1)));
        match whole {
            Some((len, file)) => {
                restored += 1;
                bytes += len;
                if !files.contains(&file) {
                    files.push(file);
                }
            }
            None => notes.push(format!("{node}: {line}")),
        }
    }
    let mut lines = vec![format!(
        "{node}: {restored} stashed chunk(s) ({bytes} bytes) written back over {} file(s): stale from now on",
        files.len()
    )];
    lines.extend(notes);
    lines
}

#[cfg(test)]
#[path = "rollback_tests.rs"]
mod tests;
