//! Our own history format: one [`Op`] per line as a JSON object.
//!
//! The fields are those of `Op` (see op.rs). The reader checks them one by one
//! rather than through serde's derive, so that a bad line gets a message that
//! says which field is wrong and what was expected.

use super::format::{clip, shorten, ReadError};
use super::{History, Op, OpType, Process};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// Writes one JSON object per op, each on its own line.
pub fn write_jsonl(history: &History, out: &mut impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for op in &history.ops {
        serde_json::to_writer(&mut out, op)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads one op per line; blank lines are skipped.
///
/// A missing `index` is the op's position among the ops read, a missing
/// `time` is the index, and a missing `value` is null, as in the EDN reader.
/// Fields that are not op fields are ignored.
///
/// A large file is read in pieces of whole lines, one per core: a history
/// of a million ops is two million lines, and reading them is most of what
/// checking a queue or a log costs.
pub fn read_jsonl(text: &str, source: &str) -> Result<History, ReadError> {
    read_in_pieces(text, source, pieces_for(text.len()))
}

fn read_in_pieces(text: &str, source: &str, pieces: usize) -> Result<History, ReadError> {
    // Where the last line with something on it starts: a broken last line
    // is most likely a history cut short.
    let last_start = text[..text.trim_end().len()]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let bounds = split_at_lines(text, pieces);
    let pieces: Vec<Result<Piece, (usize, String)>> = if bounds.len() < 2 {
        bounds
            .iter()
            .map(|&b| read_piece(text, b, last_start, Piece::default()))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let readers: Vec<_> = bounds
                .iter()
                .map(|&b| scope.spawn(move || read_piece(text, b, last_start, Piece::default())))
                .collect();
            readers
                .into_iter()
                .map(|r| r.join().expect("reading lines does not panic"))
                .collect()
        })
    };
    assemble(pieces, source)
}

/// The pieces' ops as one history, in order; the first piece with a bad
/// line gives the error.
fn assemble(
    pieces: Vec<Result<Piece, (usize, String)>>,
    source: &str,
) -> Result<History, ReadError> {
    let total = pieces.iter().flatten().map(|p| p.ops.len()).sum();
    let mut history = Assembler::new(total);
    for piece in pieces {
        let piece = piece.map_err(|(line, m)| history.error(source, line, m))?;
        history.add(piece);
    }
    Ok(history.finish())
}

/// Puts pieces together in file order: an index that was missing becomes
/// the op's position in the whole file, and line numbers count the lines
/// of the pieces before.
pub(super) struct Assembler {
    ops: Vec<Op>,
    lines: Vec<usize>,
    lines_before: usize,
    expected: usize,
}

impl Assembler {
    /// For about `expected` ops (0: not known).
    pub(super) fn new(expected: usize) -> Self {
        Assembler {
            ops: Vec::new(),
            lines: Vec::with_capacity(expected),
            lines_before: 0,
            expected,
        }
    }

    /// Adds the next piece; gives it back emptied, its arrays keeping
    /// their room for another piece.
    pub(super) fn add(&mut self, mut piece: Piece) -> Piece {
        // A missing index stood for the position within the piece.
        let before = self.ops.len() as u64;
        for &(at, time_missing) in &piece.no_index {
            let op = &mut piece.ops[at];
            op.index += before;
            if time_missing {
                op.time = op.index;
            }
        }
        if self.ops.is_empty() {
            // The first piece's array, whose pages are already in memory,
            // becomes the history's: a copy would touch as many again.
            self.ops = std::mem::take(&mut piece.ops);
            self.ops
                .reserve_exact(self.expected.saturating_sub(self.ops.len()));
        } else {
            self.ops.append(&mut piece.ops);
        }
        let lines_before = self.lines_before;
        self.lines
            .extend(piece.lines.drain(..).map(|l| l + lines_before));
        self.lines_before += piece.line_count;
        piece.no_index.clear();
        piece.line_count = 0;
        piece
    }

    /// The error of a bad line of the next piece.
    pub(super) fn error(&self, source: &str, line: usize, message: String) -> ReadError {
        ReadError::new(source, self.lines_before + line, message)
    }

    pub(super) fn finish(self) -> History {
        History::with_lines(self.ops, self.lines)
    }
}

/// Pieces worth a thread each: one below a few megabytes.
fn pieces_for(bytes: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(bytes / (4 << 20)).max(1)
}

/// `pieces` spans of about equal size, each ending after a newline (the
/// last at the end of `text`), none empty.
fn split_at_lines(text: &str, pieces: usize) -> Vec<(usize, usize)> {
    let mut bounds = Vec::with_capacity(pieces);
    let mut start = 0;
    for i in 1..=pieces {
        let end = if i == pieces {
            text.len()
        } else {
            let at = (text.len() * i / pieces).max(start);
            text[at..].find('\n').map_or(text.len(), |n| at + n + 1)
        };
        if end > start {
            bounds.push((start, end));
            start = end;
        }
    }
    bounds
}

/// The ops of one piece of the file.
#[derive(Default)]
pub(super) struct Piece {
    ops: Vec<Op>,
    /// The line (from 1, within the piece) each op starts on.
    lines: Vec<usize>,
    /// Ops without an index (their position within the piece stands in
    /// for it until the pieces before are counted), and whether their
    /// time was missing too.
    no_index: Vec<(usize, bool)>,
    line_count: usize,
}

/// Reads the lines of `text[start..end]` into `piece` (empty; its arrays
/// may have room from an earlier piece). `last_start`: where the file's
/// last line that is not blank starts, for what a broken one most likely
/// means.
pub(super) fn read_piece(
    text: &str,
    (start, end): (usize, usize),
    last_start: usize,
    mut piece: Piece,
) -> Result<Piece, (usize, String)> {
    // Room for every line at once: growing arrays of millions of ops
    // copies them over and over.
    let lines = text.as_bytes()[start..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    piece.ops.reserve(lines);
    piece.lines.reserve(lines);
    for (n, raw) in text[start..end].lines().enumerate() {
        piece.line_count = n + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let position = piece.ops.len();
        let is_last = raw.as_ptr() as usize - text.as_ptr() as usize == last_start;
        let parsed = match parse_fast(line, position) {
            Some(parsed) => parsed,
            None => parse_line(line, position, is_last).map_err(|m| (n + 1, m))?,
        };
        if !parsed.index_given {
            piece.no_index.push((position, !parsed.time_given));
        }
        piece.ops.push(parsed.op);
        piece.lines.push(n + 1);
    }
    Ok(piece)
}

/// An op read from a line, with whether its index and time were given.
struct Parsed {
    op: Op,
    index_given: bool,
    time_given: bool,
}

/// A line as serde reads it straight into its fields: the common case,
/// without building a map of the object first. Anything it does not take
/// (a field of the wrong type, a duplicate field, ...) goes to `parse_line`,
/// which reads what it can and says what is wrong; this path takes nothing
/// that one would refuse.
#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(default, deserialize_with = "given")]
    index: Option<u64>,
    #[serde(default, deserialize_with = "given")]
    time: Option<u64>,
    process: Process,
    #[serde(rename = "type")]
    kind: OpType,
    #[serde(borrow)]
    f: std::borrow::Cow<'a, str>,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default, deserialize_with = "exact_value")]
    value: Value,
    #[serde(default)]
    node: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

/// A number that is there: `null` is refused, as `parse_line` does.
fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(Some)
}

/// A value whose arrays hold exactly their elements: a log's reads are
/// millions of `[offset, value]` pairs, and serde_json's own reading gives
/// each room for four.
fn exact_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    use serde::de::DeserializeSeed;
    let mut scratch = Vec::new();
    ExactValue(&mut scratch).deserialize(d)
}

/// Reads one value; elements of the arrays being read wait in the stack
/// it holds until their array is complete.
struct ExactValue<'s>(&'s mut Vec<Value>);

impl<'de> serde::de::DeserializeSeed<'de> for ExactValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ExactValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let start = self.0.len();
        while let Some(v) = seq.next_element_seed(ExactValue(&mut *self.0))? {
            self.0.push(v);
        }
        Ok(Value::Array(self.0.drain(start..).collect()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ExactValue(&mut *self.0))?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

fn parse_fast(line: &str, position: usize) -> Option<Parsed> {
    // serde would also read a struct from an array of its fields.
    if !line.starts_with('{') {
        return None;
    }
    let l: Line<'_> = serde_json::from_str(line).ok()?;
    let index = l.index.unwrap_or(position as u64);
    Some(Parsed {
        op: Op {
            index,
            time: l.time.unwrap_or(index),
            process: l.process,
            kind: l.kind,
            f: l.f.into_owned(),
            key: l.key,
            value: l.value,
            node: text_field(l.node),
            error: text_field(l.error),
        },
        index_given: l.index.is_some(),
        time_given: l.time.is_some(),
    })
}

fn parse_line(line: &str, position: usize, is_last: bool) -> Result<Parsed, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| json_error(&e, is_last))?;
    let Value::Object(mut fields) = value else {
        return Err(format!(
            "expected a JSON object for an op, found {}",
            describe(&value)
        ));
    };
    let given_index = fields.remove("index");
    let given_time = fields.remove("time");
    let (index_given, time_given) = (given_index.is_some(), given_time.is_some());
    let index = match given_index {
        Some(v) => non_negative(&v, "index")?,
        None => position as u64,
    };
    let time = match given_time {
        Some(v) => non_negative(&v, "time")?,
        None => index,
    };
    let op = Op {
        index,
        time,
        process: process(required(
            &mut fields,
            "process",
            "a process number or \"nemesis\"",
        )?)?,
        kind: kind(required(&mut fields, "type", "invoke, ok, fail or info")?)?,
        f: function(required(
            &mut fields,
            "f",
            "the op's function, like \"read\"",
        )?)?,
        // A null key means no key, as in Op's serde derive.
        key: fields.remove("key").filter(|v| !v.is_null()),
        value: fields.remove("value").unwrap_or(Value::Null),
        node: text_field(fields.remove("node")),
        error: text_field(fields.remove("error")),
    };
    Ok(Parsed {
        op,
        index_given,
        time_given,
    })
}

// serde_json's message ends with "at line 1 column N"; on a single line only
// the column says anything. A line that ends before its object does is most
// likely a history cut short (its writer died mid-line) when it is the last.
fn json_error(e: &serde_json::Error, is_last: bool) -> String {
    let shown = e.to_string();
    let what = shown
        .rsplit_once(" at line ")
        .map_or(shown.as_str(), |(what, _)| what);
    let error = format!("invalid JSON at column {}: {what}", e.column());
    match (e.is_eof(), is_last) {
        (true, true) => format!(
            "the last line ends mid-op ({error}): the history was cut short, \
             e.g. its writer died while writing it; delete that line (or restore \
             the whole file) and try again"
        ),
        (true, false) => format!(
            "the line ends before its op does ({error}): each op is one JSON object \
             on one line; join the op's lines or fix it"
        ),
        _ => error,
    }
}

fn required(fields: &mut Map<String, Value>, name: &str, expected: &str) -> Result<Value, String> {
    fields
        .remove(name)
        .ok_or_else(|| format!("op has no \"{name}\" (expected {expected})"))
}

fn non_negative(v: &Value, name: &str) -> Result<u64, String> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    match v.as_i64() {
        Some(n) => Err(format!(
            "negative \"{name}\" {n} (expected an integer >= 0)"
        )),
        None => Err(format!(
            "expected an integer >= 0 for \"{name}\", found {}",
            describe(v)
        )),
    }
}

fn process(v: Value) -> Result<Process, String> {
    if let Some(p) = v.as_u64() {
        return Ok(Process::Client(p));
    }
    if v.as_str() == Some("nemesis") {
        return Ok(Process::Nemesis);
    }
    Err(format!(
        "expected an integer >= 0 or \"nemesis\" for \"process\", found {}",
        describe(&v)
    ))
}

fn kind(v: Value) -> Result<OpType, String> {
    match &v {
        Value::String(s) => OpType::parse(s).ok_or_else(|| {
            format!(
                "unknown op type {} (expected invoke, ok, fail or info)",
                describe(&v)
            )
        }),
        _ => Err(format!(
            "expected a string for \"type\", found {}",
            describe(&v)
        )),
    }
}

fn function(v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(format!(
            "expected a string for \"f\", found {}",
            describe(&other)
        )),
    }
}

// Other tools may write a structured error or node; keep it as JSON text
// rather than refuse the whole history.
fn text_field(v: Option<Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => shorten(s),
        other => clip(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::format::arb;
    use proptest::prelude::*;
    use serde_json::json;

    fn read(text: &str) -> Result<History, ReadError> {
        read_jsonl(text, "h.jsonl")
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    fn sample() -> History {
        History::new(vec![
            Op {
                index: 0,
                time: 12,
                process: Process::Client(3),
                kind: OpType::Invoke,
                f: "cas".into(),
                key: Some(json!("k1")),
                value: json!([1, 2]),
                node: Some("n1".into()),
                error: None,
            },
            Op {
                index: 1,
                time: 30,
                process: Process::Nemesis,
                kind: OpType::Info,
                f: "start-partition".into(),
                key: None,
                value: json!({"n1": ["n2", "n3"]}),
                node: None,
                error: Some("timed-out".into()),
            },
        ])
    }

    #[test]
    fn writes_one_object_per_line() {
        let mut out = Vec::new();
        write_jsonl(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            r#"{"index":0,"time":12,"process":3,"type":"invoke","f":"cas","key":"k1","value":[1,2],"node":"n1"}"#
        );
        assert!(lines[1].contains(r#""process":"nemesis""#));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn round_trips() {
        let mut out = Vec::new();
        write_jsonl(&sample(), &mut out).unwrap();
        assert_eq!(read(&String::from_utf8(out).unwrap()), Ok(sample()));
    }

    #[test]
    fn skips_blank_lines_and_fills_defaults() {
        let text = "\n  \n{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"extra\":true}\r\n\n\
                    {\"index\":7,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":3,\"key\":null}\n";
        let history = read(text).unwrap();
        assert_eq!(history.ops.len(), 2);
        let (first, second) = (&history.ops[0], &history.ops[1]);
        assert_eq!(
            (first.index, first.time, &first.value),
            (0, 0, &Value::Null)
        );
        assert_eq!(
            (second.index, second.time, &second.value),
            (7, 7, &json!(3))
        );
        assert_eq!(second.key, None);
    }

    #[test]
    fn bad_lines_say_where_and_what() {
        let ok = r#"{"process":0,"type":"invoke","f":"read"}"#;
        let cases = [
            (
                format!("{ok}\n{ok}\n{{\"process\":0,\"type\":\"okay\",\"f\":\"read\"}}"),
                "h.jsonl:3: unknown op type \"okay\" (expected invoke, ok, fail or info)",
            ),
            (
                r#"{"process":0,"type":"ok","f":"read","index":-1}"#.to_string(),
                "h.jsonl:1: negative \"index\" -1 (expected an integer >= 0)",
            ),
            (
                r#"{"process":"client","type":"ok","f":"read"}"#.to_string(),
                "h.jsonl:1: expected an integer >= 0 or \"nemesis\" for \"process\", found \"client\"",
            ),
            (
                r#"{"process":1,"f":"read"}"#.to_string(),
                "h.jsonl:1: op has no \"type\" (expected invoke, ok, fail or info)",
            ),
            (
                r#"{"process":1,"type":"ok","f":["read"]}"#.to_string(),
                "h.jsonl:1: expected a string for \"f\", found [\"read\"]",
            ),
            (
                r#"{"process":1,"type":"ok","f":"read","time":1.5}"#.to_string(),
                "h.jsonl:1: expected an integer >= 0 for \"time\", found 1.5",
            ),
            ("[1,2]".to_string(), "h.jsonl:1: expected a JSON object for an op, found [1,2]"),
        ];
        for (text, expected) in cases {
            assert_eq!(error(&text), expected);
        }
        let broken = error("\n{\"process\":1,");
        assert!(
            broken.starts_with("h.jsonl:2: the last line ends mid-op (invalid JSON at column 13: "),
            "{broken}"
        );
        assert!(broken.contains("cut short"), "{broken}");
        assert!(broken.contains("delete that line"), "{broken}");
        assert!(!broken.contains("at line 1 column"), "{broken}");
        let wrapped = error("{\"process\":1,\n\"type\":\"ok\",\"f\":\"read\"}\n");
        assert!(
            wrapped.starts_with("h.jsonl:1: the line ends before its op does"),
            "{wrapped}"
        );
        assert!(wrapped.contains("one JSON object on one line"), "{wrapped}");
    }

    /// What serde would read into the fields directly but the field by
    /// field reader refuses is refused, with the field by field message.
    #[test]
    fn the_fast_reader_takes_nothing_the_careful_one_refuses() {
        let cases = [
            (
                r#"{"process":0,"type":"ok","f":"read","index":null}"#,
                "h.jsonl:1: expected an integer >= 0 for \"index\", found null",
            ),
            (
                r#"{"process":0,"type":"ok","f":"read","time":null}"#,
                "h.jsonl:1: expected an integer >= 0 for \"time\", found null",
            ),
            (
                r#"[0,0,0,"ok","read"]"#,
                "h.jsonl:1: expected a JSON object for an op, found [0,0,0,\"ok\",\"read\"]",
            ),
            (
                r#"{"process":2.0,"type":"ok","f":"read"}"#,
                "h.jsonl:1: expected an integer >= 0 or \"nemesis\" for \"process\", found 2.0",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected);
        }
        // A repeated field: serde's derive refuses it, the map keeps the last.
        let twice = r#"{"process":0,"type":"invoke","f":"read","value":1,"value":2}"#;
        assert_eq!(read(twice).unwrap().ops[0].value, json!(2));
    }

    /// A large file is read in pieces: the ops, their lines, the indexes
    /// that stand for a missing one, and the line of an error are those of
    /// reading it line by line.
    #[test]
    fn reading_in_pieces_is_reading_line_by_line() {
        let mut text = String::new();
        for i in 0..3000u64 {
            match i % 7 {
                0 => text += "\n",
                1 => text += &format!("{{\"process\":{},\"type\":\"invoke\",\"f\":\"read\"}}\n", i % 5),
                2 => text += &format!("{{\"time\":{i},\"process\":{},\"type\":\"ok\",\"f\":\"read\",\"value\":[{i}]}}\r\n", i % 5),
                _ => text += &format!("{{\"index\":{i},\"time\":{},\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"key\":\"k{i}\"}}\n", 2 * i),
            }
        }
        let whole = read_in_pieces(&text, "h.jsonl", 1).unwrap();
        let by_position = |p: usize, op: &Op| op.index == p as u64 && op.time == p as u64;
        let invoke = |op: &Op| op.kind == OpType::Invoke;
        let mut late = whole.ops.iter().enumerate().skip(2000);
        assert!(late.any(|(p, op)| invoke(op) && by_position(p, op)));
        for pieces in [2, 3, 7, 50] {
            let read = read_in_pieces(&text, "h.jsonl", pieces).unwrap();
            assert_eq!(read, whole, "{pieces} pieces");
            assert_eq!(read.lines, whole.lines, "{pieces} pieces");
        }
        let ok = "\"type\":\"ok\"";
        let at = text.match_indices(ok).nth(200).unwrap().0;
        let broken = format!("{}\"type\":\"okay\"{}", &text[..at], &text[at + ok.len()..]);
        let expected = read_in_pieces(&broken, "h.jsonl", 1).unwrap_err();
        assert!(expected.line > 2, "{expected}");
        for pieces in [2, 3, 7, 50] {
            assert_eq!(
                read_in_pieces(&broken, "h.jsonl", pieces).unwrap_err(),
                expected
            );
        }
        let cut = &text[..text.len() - 9];
        let expected = read_in_pieces(cut, "h.jsonl", 1).unwrap_err();
        assert!(expected.message.contains("cut short"), "{expected}");
        assert_eq!(read_in_pieces(cut, "h.jsonl", 7).unwrap_err(), expected);
    }

    #[test]
    fn a_history_cut_mid_object_names_its_last_line() {
        let ok = r#"{"process":0,"type":"invoke","f":"write","value":1}"#;
        let err = read(&format!(
            "{ok}\n\n{ok}\n{{\"process\":0,\"type\":\"ok\",\"f\":\"wri\n\n"
        ))
        .unwrap_err();
        assert_eq!(err.line, 4);
        assert!(
            err.message.starts_with("the last line ends mid-op"),
            "{err}"
        );
    }

    #[test]
    fn each_op_knows_its_line() {
        let ok = r#"{"process":0,"type":"invoke","f":"read"}"#;
        let history = read(&format!("\n{ok}\n\n{ok}\n")).unwrap();
        assert_eq!(history.lines, vec![2, 4]);
        assert_eq!(history.line_of_index(1), Some(4));
    }

    #[test]
    fn structured_error_and_node_are_kept_as_json_text() {
        let line = r#"{"process":1,"type":"info","f":"w","error":["timeout",5],"node":3}"#;
        let op = &read(line).unwrap().ops[0];
        assert_eq!(op.error.as_deref(), Some(r#"["timeout",5]"#));
        assert_eq!(op.node.as_deref(), Some("3"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "{{\"process\":1,\"type\":\"ok\",\"f\":\"r\",\"value\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(read(&deep).is_err());
    }

    proptest! {
        #[test]
        fn ops_round_trip(ops in proptest::collection::vec(arb::op(), 0..8)) {
            let history = History::new(ops);
            let mut out = Vec::new();
            write_jsonl(&history, &mut out).unwrap();
            prop_assert_eq!(read(&String::from_utf8(out).unwrap()), Ok(history));
        }

        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = read(&text);
        }

        #[test]
        fn never_panics_on_json_like_text(text in "[{}\\[\\]\":,0-9a-z \\-.\n]{0,120}") {
            let _ = read(&text);
        }
    }
}
