//! Histories recovered from raw Jepsen log output.
//!
//! Jepsen logs every op through `jepsen.util`:
//!
//! ```text
//! INFO  jepsen.util - 2    :invoke    :cas    [3 0]
//! INFO  jepsen.util - 2    :info    :cas    :timed-out
//! ```
//!
//! The log separates the fields with tabs (shown as spaces here). After the
//! marker come the process, the type, the function and the value (EDN,
//! running to the end of the line). Some logs have had their tabs expanded to
//! spaces, so any run of spaces and tabs separates the first three fields.
//! Lines without the marker are ignored.
//!
//! These lines carry no usable clock, so `time` is the op's index: the order
//! of the log is the real-time order.

use super::edn::{self, Edn};
use super::format::{shorten, ReadError, JEPSEN_LOG_MARKER};
use super::{History, Op, OpType, Process};
use serde_json::Value;

/// Reads the op lines of a Jepsen log; every other line is ignored.
pub fn read_jepsen_log(text: &str, source: &str) -> Result<History, ReadError> {
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some((_, fields)) = line.split_once(JEPSEN_LOG_MARKER) else {
            continue;
        };
        let op = parse_fields(fields, ops.len() as u64)
            .map_err(|message| ReadError::new(source, n + 1, message))?;
        ops.push(op);
        lines.push(n + 1);
    }
    Ok(History::with_lines(ops, lines))
}

fn parse_fields(fields: &str, index: u64) -> Result<Op, String> {
    let (process_field, rest) = next_field(fields);
    let (kind_field, rest) = next_field(rest);
    let (f_field, rest) = next_field(rest);
    let process = process(process_field)?;
    let kind = kind(kind_field)?;
    let f = function(f_field)?;
    let (value, error) = value_and_error(rest.trim(), process, kind)?;
    Ok(Op {
        index,
        time: index,
        process,
        kind,
        f,
        key: None,
        value,
        node: None,
        error,
    })
}

/// Splits off the first field at the first run of spaces or tabs.
fn next_field(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([' ', '\t']);
    text.split_once([' ', '\t']).unwrap_or((text, ""))
}

fn process(field: &str) -> Result<Process, String> {
    if field == ":nemesis" {
        return Ok(Process::Nemesis);
    }
    field.parse().map(Process::Client).map_err(|_| {
        format!(
            "expected a process (an integer >= 0 or :nemesis) after \"{}\", found {}",
            JEPSEN_LOG_MARKER.trim_end(),
            found(field)
        )
    })
}

fn kind(field: &str) -> Result<OpType, String> {
    let expected = "(expected :invoke, :ok, :fail or :info)";
    match field.strip_prefix(':') {
        Some(name) => OpType::parse(name)
            .ok_or_else(|| format!("unknown op type {} {expected}", found(field))),
        None => Err(format!(
            "expected an op type after the process {expected}, found {}",
            found(field)
        )),
    }
}

// Jepsen prints :f as a keyword; a bare word is taken as the name itself.
fn function(field: &str) -> Result<String, String> {
    let name = field.strip_prefix(':').unwrap_or(field);
    if name.is_empty() {
        return Err(format!(
            "expected the op's function (like :read) after its type, found {}",
            found(field)
        ));
    }
    Ok(name.to_string())
}

/// A client's `:fail` or `:info` whose value is a bare keyword, such as
/// `:timed-out`, is reporting why it failed rather than a value. Nemesis ops
/// are all `:info`, so their values are left alone.
fn value_and_error(
    text: &str,
    process: Process,
    kind: OpType,
) -> Result<(Value, Option<String>), String> {
    if text.is_empty() {
        return Ok((Value::Null, None));
    }
    let value = edn::parse_one(text).map_err(|e| {
        format!(
            "cannot read the value {} as EDN: {}",
            shorten(text),
            e.message
        )
    })?;
    let completion_reason =
        process != Process::Nemesis && matches!(kind, OpType::Fail | OpType::Info);
    match value {
        Edn::Keyword(reason) if completion_reason => Ok((Value::Null, Some(reason))),
        other => Ok((edn::to_json(other), None)),
    }
}

fn found(field: &str) -> String {
    if field.is_empty() {
        "nothing".to_string()
    } else {
        shorten(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn read(text: &str) -> Result<History, ReadError> {
        read_jepsen_log(text, "etcd.log")
    }

    #[test]
    fn reads_tab_separated_ops() {
        let text = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n\
                    INFO  jepsen.core - something else entirely\n\
                    INFO  jepsen.util - 2\t:ok\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n";
        let history = read(text).unwrap();
        assert_eq!(history.ops.len(), 4);
        let cas = &history.ops[1];
        assert_eq!((cas.index, cas.time), (1, 1));
        assert_eq!(
            (cas.process, cas.kind, cas.f.as_str()),
            (Process::Client(2), OpType::Ok, "cas")
        );
        assert_eq!(cas.value, json!([3, 0]));
        let failed = &history.ops[3];
        assert_eq!((failed.kind, &failed.value), (OpType::Fail, &Value::Null));
        assert_eq!(failed.error.as_deref(), Some("timed-out"));
    }

    #[test]
    fn reads_space_aligned_fields() {
        let text = "INFO  jepsen.util - 18  :invoke :write  3\nINFO  jepsen.util - 18  :info   :write  :timed-out\n";
        let history = read(text).unwrap();
        assert_eq!(history.ops[0].value, json!(3));
        assert_eq!(history.ops[1].error.as_deref(), Some("timed-out"));
    }

    #[test]
    fn value_is_the_rest_of_the_line() {
        let text = "x jepsen.util - :nemesis\t:info\t:start\t[:isolated {\"n1\" #{\"n2\"},\t\"n3\" #{}}]\r\n\
                    x jepsen.util - 1\t:ok\t:write\t\"a b\tc\"\n\
                    x jepsen.util - 1\t:invoke\t:read\n";
        let history = read(text).unwrap();
        assert_eq!(history.ops[0].process, Process::Nemesis);
        assert_eq!(
            history.ops[0].value,
            json!(["isolated", {"n1": ["n2"], "n3": []}])
        );
        assert_eq!(history.ops[1].value, json!("a b\tc"));
        assert_eq!(history.ops[2].value, Value::Null);
    }

    #[test]
    fn keywords_stay_values_where_they_are_not_reasons() {
        let text = "x jepsen.util - :nemesis\t:info\t:start\t:partitioned\nx jepsen.util - 3\t:ok\t:read\t:x\n";
        let history = read(text).unwrap();
        assert_eq!(
            (&history.ops[0].value, &history.ops[0].error),
            (&json!("partitioned"), &None)
        );
        assert_eq!(
            (&history.ops[1].value, &history.ops[1].error),
            (&json!("x"), &None)
        );
    }

    #[test]
    fn bad_lines_say_where_and_what() {
        let cases = [
            ("x jepsen.util - -1\t:ok\t:read\t1", "etcd.log:1: expected a process (an integer >= 0 or :nemesis) after \"jepsen.util -\", found \"-1\""),
            ("\nx jepsen.util - 1\t:okay\t:read\t1", "etcd.log:2: unknown op type \":okay\" (expected :invoke, :ok, :fail or :info)"),
            ("x jepsen.util - 1\tok\t:read\t1", "etcd.log:1: expected an op type after the process (expected :invoke, :ok, :fail or :info), found \"ok\""),
            ("x jepsen.util - 1\t:ok", "etcd.log:1: expected the op's function (like :read) after its type, found nothing"),
            ("x jepsen.util - ", "etcd.log:1: expected a process (an integer >= 0 or :nemesis) after \"jepsen.util -\", found nothing"),
            ("x jepsen.util - 1\t:ok\t:read\t[1 2", "etcd.log:1: cannot read the value \"[1 2\" as EDN: expected `]` to close the vector opened on line 1, found the end of the input"),
            ("x jepsen.util - 1\t:ok\t:read\t1 2", "etcd.log:1: cannot read the value \"1 2\" as EDN: unexpected \"2\" after the value"),
        ];
        for (text, expected) in cases {
            assert_eq!(read(text).unwrap_err().to_string(), expected, "{text:?}");
        }
    }

    #[test]
    fn each_op_knows_its_line_among_the_other_loggers() {
        let log = "INFO  jepsen.core - Running test\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n\nINFO  jepsen.util - 0\t:ok\t:read\t1\n";
        assert_eq!(read(log).unwrap().lines, vec![2, 4]);
    }

    #[test]
    fn no_op_lines_is_an_empty_history() {
        assert_eq!(
            read("INFO  jepsen.core - Running test\n"),
            Ok(History::default())
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = read(&text);
        }

        #[test]
        fn never_panics_on_log_like_lines(
            fields in "[0-9:a-z \t\\[\\]{}#\"\\\\-]{0,60}",
        ) {
            let _ = read(&format!("INFO  jepsen.util - {fields}"));
        }
    }
}
