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
pub fn read_jsonl(text: &str, source: &str) -> Result<History, ReadError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    let last = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, _)| n)
        .last();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let op = parse_line(line, ops.len(), Some(n) == last)
            .map_err(|m| ReadError::new(source, n + 1, m))?;
        ops.push(op);
        lines.push(n + 1);
    }
    Ok(History::with_lines(ops, lines))
}

fn parse_line(line: &str, position: usize, is_last: bool) -> Result<Op, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| json_error(&e, is_last))?;
    let Value::Object(mut fields) = value else {
        return Err(format!(
            "expected a JSON object for an op, found {}",
            describe(&value)
        ));
    };
    let index = match fields.remove("index") {
        Some(v) => non_negative(&v, "index")?,
        None => position as u64,
    };
    let time = match fields.remove("time") {
        Some(v) => non_negative(&v, "time")?,
        None => index,
    };
    Ok(Op {
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
