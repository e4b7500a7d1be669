//! Choosing a history format and reading a history from a file or a string.
//!
//! Three formats are read (see docs/history.md): our own JSONL, Jepsen's
//! `history.edn`, and the op lines of a raw Jepsen log. Every reader turns bad
//! input into a [`ReadError`] naming the file and line; none of them panics.

pub use super::edn::{read_edn, write_edn};
pub use super::jepsen_log::read_jepsen_log;
pub use super::jsonl::{read_jsonl, write_jsonl};
pub use super::{History, Op, OpType, Process};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The history formats we can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line: our own `history.jsonl`.
    Jsonl,
    /// Jepsen's `history.edn`: maps one after another (one per line), or
    /// one vector or list of maps.
    Edn,
    /// Raw Jepsen log output; only the `jepsen.util - ` op lines are read.
    JepsenLog,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" => Ok(Format::Jsonl),
            "edn" => Ok(Format::Edn),
            "jepsen-log" => Ok(Format::JepsenLog),
            other => Err(format!(
                "unknown history format \"{other}\" (expected jsonl, edn or jepsen-log)"
            )),
        }
    }
}

/// What is wrong with a history, and where: `file:line: message`.
///
/// `line` counts from 1; 0 means the problem is with the file as a whole
/// (it cannot be read, its format cannot be told), and is then left out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", at_line(*.line))]
pub struct ReadError {
    /// The file (or `-`) as the user named it. Not `source`: thiserror
    /// would take a field of that name for the error's cause.
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl ReadError {
    pub(crate) fn new(source: &str, line: usize, message: impl Into<String>) -> Self {
        ReadError {
            file: source.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl ReadError {
    /// An error about the op of `history` whose `index` is `index`:
    /// `file:line: op N: message`, or `file: op N: message` when the history
    /// does not know the op's line.
    pub fn at_op(source: &str, history: &History, index: u64, message: &str) -> Self {
        match history.line_of_index(index) {
            Some(line) => ReadError::new(source, line, format!("op {index}: {message}")),
            None => ReadError::new(source, 0, format!("op {index}: {message}")),
        }
    }
}

/// `:12` after a file name, nothing for the file as a whole (line 0).
fn at_line(line: usize) -> String {
    match line {
        0 => String::new(),
        n => format!(":{n}"),
    }
}

/// The marker of an op line in a Jepsen log.
pub(crate) const JEPSEN_LOG_MARKER: &str = "jepsen.util - ";

/// Tells the format from the content, or `None` when it cannot be told
/// (including when there is no content at all).
///
/// The first line that is neither blank nor an EDN `;` comment decides:
/// `{"` is JSONL, `{:` is EDN (the key may be on the next line), a
/// `jepsen.util - ` op line is a Jepsen log, and a tagged map such as
/// `#jepsen.history.Op{`, or a `[` or `(` that opens a sequence of maps, is
/// EDN. Otherwise a Jepsen log is recognised by an op line anywhere,
/// because real logs begin with lines from other loggers.
pub fn detect(text: &str) -> Option<Format> {
    let (line, first) = first_significant_line(text)?;
    // Before the log marker: an op's value may well quote a log line.
    if let Some(inside) = first.strip_prefix('{') {
        match inside.trim_start().bytes().next() {
            Some(b'"') => return Some(Format::Jsonl),
            Some(b':') => return Some(Format::Edn),
            // `{` alone on its line: an EDN map whose first key is on the
            // next one (JSONL holds one whole object per line).
            None if next_line_starts_with(text, line, ':') => return Some(Format::Edn),
            _ => {}
        }
    }
    if first.contains(JEPSEN_LOG_MARKER) {
        return Some(Format::JepsenLog);
    }
    if first.starts_with("#jepsen") || tagged_map(first) || opens_sequence_of_maps(first) {
        return Some(Format::Edn);
    }
    text.contains(JEPSEN_LOG_MARKER)
        .then_some(Format::JepsenLog)
}

// A log line may start with a bracketed timestamp, so a bare `[` is not
// enough: the vector (or list) must hold maps, or be alone on its line.
fn opens_sequence_of_maps(line: &str) -> bool {
    match line.strip_prefix('[').or_else(|| line.strip_prefix('(')) {
        Some(rest) => matches!(
            rest.trim_start().bytes().next(),
            None | Some(b'{' | b'#' | b']' | b')')
        ),
        None => false,
    }
}

/// A record such as `#knossos.op.Op{:process 0 ...}`: a tag, then a map.
fn tagged_map(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('#') else {
        return false;
    };
    let tag_end = rest
        .find(|c: char| c.is_whitespace() || c == '{')
        .unwrap_or(rest.len());
    let (tag, after) = rest.split_at(tag_end);
    let symbol = tag.chars().next().is_some_and(|c| c.is_alphabetic())
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_/*+!?<>=".contains(c));
    symbol && after.trim_start().starts_with('{')
}

/// Whether the first non-blank line after line `line` starts with `c`.
fn next_line_starts_with(text: &str, line: usize, c: char) -> bool {
    text.lines()
        .skip(line)
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with(c))
}

/// The first line (numbered from 1, trimmed) that is not blank or a comment.
fn first_significant_line(text: &str) -> Option<(usize, &str)> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .find(|(_, line)| !line.is_empty() && !line.starts_with(';'))
        .map(|(n, line)| (n + 1, line))
}

/// Reads a history from text, in `format` or, when `None`, the detected one.
///
/// `source` names the text in error messages (usually the file name). Text
/// with no content at all is an empty history, not an error: whether an empty
/// history is acceptable is for the checker to say.
pub fn parse_history(
    text: &str,
    format: Option<Format>,
    source: &str,
) -> Result<History, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(format) => format,
        None => match detect(text) {
            Some(format) => format,
            None => return undetected(text, source),
        },
    };
    match format {
        Format::Jsonl => read_jsonl(text, source),
        Format::Edn => read_edn(text, source),
        Format::JepsenLog => read_jepsen_log(text, source),
    }
}

fn undetected(text: &str, source: &str) -> Result<History, ReadError> {
    let Some((line, first)) = first_significant_line(text) else {
        return Ok(History::default());
    };
    Err(ReadError::new(
        source,
        line,
        format!(
            "cannot tell the history format from {}; expected JSONL (lines starting with {{\"), \
             EDN (starting with {{:, [, ( or #jepsen) or a Jepsen log (lines containing \"{}\"); \
             name the format with --format jsonl, --format edn or --format jepsen-log",
            shorten(first),
            JEPSEN_LOG_MARKER.trim_end()
        ),
    ))
}

/// Reads a history file, in `format` or, when `None`, the detected one.
pub fn read_history(path: &Path, format: Option<Format>) -> Result<History, ReadError> {
    let source = path.display().to_string();
    if path.is_dir() {
        return Err(ReadError::new(&source, 0, directory(path)));
    }
    if let Some(history) = super::jsonl_stream::read_large(path, format) {
        return Ok(history);
    }
    let bytes = std::fs::read(path).map_err(|e| ReadError::new(&source, 0, unreadable(&e)))?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(&source, &e))?;
    parse_history(&text, format, &source)
}

/// What to pass instead of a folder: the history inside it, if there is one.
fn directory(path: &Path) -> String {
    let inside = ["history.jsonl", "history.edn"]
        .iter()
        .map(|name| path.join(name))
        .find(|file| file.is_file());
    match inside {
        Some(file) => format!(
            "is a folder, not a history file; pass the history inside it: {}",
            file.display()
        ),
        None => "is a folder, not a history file; pass a history file \
                 (history.jsonl, history.edn or a Jepsen log)"
            .to_string(),
    }
}

fn unreadable(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file; check the path, or pass a history file \
                                (history.jsonl, history.edn or a Jepsen log)"
            .to_string(),
        ErrorKind::PermissionDenied => "cannot read the file: permission denied; \
                                        make it readable to this user, or check a copy"
            .to_string(),
        _ => format!("cannot read the file: {e}; pass a readable history file"),
    }
}

fn not_utf8(source: &str, e: &std::string::FromUtf8Error) -> ReadError {
    let good = e.utf8_error().valid_up_to();
    let before = e.as_bytes().get(..good).unwrap_or_default();
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    ReadError::new(
        source,
        line,
        format!("not UTF-8 text (invalid byte at offset {good}); expected a text history"),
    )
}

/// Quotes a piece of input for an error message, cut short if long.
pub(crate) fn shorten(text: &str) -> String {
    format!("\"{}\"", clip(text).escape_debug())
}

/// Cuts text for an error message to a readable length.
pub(crate) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut chars = text.chars();
    let mut head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        head.push_str("...");
    }
    head
}

/// Proptest strategies shared by the readers' tests.
#[cfg(test)]
pub(crate) mod arb {
    use super::{Op, OpType, Process};
    use proptest::prelude::*;
    use serde_json::Value;

    // Short decimal fractions only: without its `float_roundtrip` feature,
    // serde_json may read a double whose decimal significand exceeds 2^53
    // one ulp off (e.g. 90532.28271484375), so JSONL itself is not exact there.
    fn float() -> impl Strategy<Value = f64> {
        (any::<i16>(), 0u32..11).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{0,8}",
            "[ -~]{0,12}",
            any::<String>(),
            Just("nil".to_string()),
            Just(":kw".to_string()),
        ]
    }

    pub fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            float().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn kind() -> impl Strategy<Value = OpType> {
        prop_oneof![
            Just(OpType::Invoke),
            Just(OpType::Ok),
            Just(OpType::Fail),
            Just(OpType::Info)
        ]
    }

    fn process() -> impl Strategy<Value = Process> {
        prop_oneof![
            any::<u64>().prop_map(Process::Client),
            Just(Process::Nemesis)
        ]
    }

    /// Any op, except a `key` of JSON null: every reader takes a null key
    /// to mean "no key", as `Op`'s own serde derive does.
    pub fn op() -> impl Strategy<Value = Op> {
        let key = proptest::option::of(json().prop_filter("null key", |v| !v.is_null()));
        (
            (any::<u64>(), any::<u64>(), process(), kind(), text()),
            (
                key,
                json(),
                proptest::option::of(text()),
                proptest::option::of(text()),
            ),
        )
            .prop_map(
                |((index, time, process, kind, f), (key, value, node, error))| Op {
                    index,
                    time,
                    process,
                    kind,
                    f,
                    key,
                    value,
                    node,
                    error,
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_names_round_trip() {
        for format in [Format::Jsonl, Format::Edn, Format::JepsenLog] {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        let err = "json".parse::<Format>().unwrap_err();
        assert!(err.contains("expected jsonl, edn or jepsen-log"), "{err}");
    }

    #[test]
    fn detects_each_format() {
        let cases = [
            ("{\"index\":0}\n", Some(Format::Jsonl)),
            ("\n\n  { \"type\": \"ok\"}", Some(Format::Jsonl)),
            ("{:process 0, :type :invoke}", Some(Format::Edn)),
            ("; a comment\n{:type :ok}", Some(Format::Edn)),
            ("[{:type :ok}]", Some(Format::Edn)),
            ("[\n{:type :ok}\n]", Some(Format::Edn)),
            ("#jepsen.history.Op{:index 0}", Some(Format::Edn)),
            (
                "INFO  jepsen.util - 0\t:invoke\t:read\tnil",
                Some(Format::JepsenLog),
            ),
            (
                "[2017-03-01] INFO jepsen.core - starting\nINFO  jepsen.util - 0\t:ok\t:read\t1",
                Some(Format::JepsenLog),
            ),
            ("", None),
            ("   \n\n", None),
            ("hello world", None),
            ("[1 2 3]", None),
            ("{\"f\":\"INFO jepsen.util - 1\"}", Some(Format::Jsonl)),
            ("{:value \"INFO jepsen.util - 1\"}", Some(Format::Edn)),
            ("({:type :ok} {:type :ok})", Some(Format::Edn)),
            ("(\n{:type :ok}\n)", Some(Format::Edn)),
            ("(#jepsen.history.Op{:type :ok})", Some(Format::Edn)),
            ("()", Some(Format::Edn)),
            ("{:type :invoke} {:type :ok}", Some(Format::Edn)),
            ("{\n  :type :ok}", Some(Format::Edn)),
            ("#knossos.op.Op{:process 0}", Some(Format::Edn)),
            ("#knossos.op.Op {:process 0}", Some(Format::Edn)),
            ("(1 2 3)", None),
            ("(defn f [])", None),
            ("{\n\"type\": \"ok\"}", None),
            ("# a heading", None),
            ("#1{:a 1}", None),
        ];
        for (text, expected) in cases {
            assert_eq!(detect(text), expected, "{text:?}");
        }
    }

    #[test]
    fn empty_text_is_an_empty_history() {
        for text in ["", "\n \n", "; only a comment\n", "\u{feff}"] {
            assert_eq!(
                parse_history(text, None, "h"),
                Ok(History::default()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn garbage_names_the_formats_and_the_flag() {
        let err = parse_history("\n\nthis is not a history\n", None, "x.txt").unwrap_err();
        assert_eq!(err.line, 3);
        let shown = err.to_string();
        assert!(
            shown.starts_with("x.txt:3: cannot tell the history format"),
            "{shown}"
        );
        for needle in ["JSONL", "EDN", "Jepsen log", "--format"] {
            assert!(shown.contains(needle), "{shown}");
        }
    }

    #[test]
    fn an_error_about_an_op_is_at_its_line() {
        let text = "\n{\"process\":0,\"type\":\"invoke\",\"f\":\"r\"}\n\n{\"process\":1,\"type\":\"ok\",\"f\":\"r\"}\n";
        let history = parse_history(text, None, "h.jsonl").unwrap();
        let err = history.pairs().unwrap_err();
        assert_eq!((err.index, err.position), (1, 1));
        let shown = ReadError::at_op("h.jsonl", &history, err.index, &err.message).to_string();
        assert!(
            shown.starts_with(
                "h.jsonl:4: op 1: process 1 completes an op (ok r) it never invoked; "
            ),
            "{shown}"
        );
        let unread = History::new(history.ops.clone());
        assert_eq!(
            ReadError::at_op("h", &unread, 1, "bad").to_string(),
            "h: op 1: bad"
        );
    }

    #[test]
    fn error_display_has_line_only_when_known() {
        assert_eq!(
            ReadError::new("h.edn", 12, "bad").to_string(),
            "h.edn:12: bad"
        );
        assert_eq!(ReadError::new("h.edn", 0, "bad").to_string(), "h.edn: bad");
    }

    #[test]
    fn explicit_format_overrides_detection() {
        let line = "{\"index\":0,\"time\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}";
        assert!(parse_history(line, Some(Format::Jsonl), "h").is_ok());
        let err = parse_history(line, Some(Format::Edn), "h").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn missing_and_non_utf8_files_are_errors() {
        let dir = std::env::temp_dir();
        let missing = dir.join(format!("chaos-no-such-history-{}", std::process::id()));
        let err = read_history(&missing, None).unwrap_err();
        assert_eq!(err.line, 0);
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no such file; check the path, or pass a history file \
                 (history.jsonl, history.edn or a Jepsen log)",
                missing.display()
            )
        );

        let bad = dir.join(format!("chaos-non-utf8-history-{}.edn", std::process::id()));
        std::fs::write(&bad, b"{:process 0, :type :invoke, :f :read}\n{:f \xff}\n").unwrap();
        let err = read_history(&bad, None).unwrap_err();
        let _ = std::fs::remove_file(&bad);
        assert_eq!(err.line, 2);
        assert!(err.message.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn a_folder_is_refused_with_the_history_inside_it_named() {
        let dir = std::env::temp_dir().join(format!("chaos-history-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = read_history(&dir, None).unwrap_err();
        assert_eq!(err.line, 0);
        assert!(
            err.message
                .starts_with("is a folder, not a history file; pass a history file"),
            "{err}"
        );
        std::fs::write(dir.join("history.jsonl"), "").unwrap();
        let err = read_history(&dir, None).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            err.message,
            format!(
                "is a folder, not a history file; pass the history inside it: {}",
                dir.join("history.jsonl").display()
            )
        );
    }

    #[test]
    fn shorten_cuts_long_text_on_char_boundaries() {
        let long = "é".repeat(100);
        let short = shorten(&long);
        assert!(short.ends_with("...\""));
        assert_eq!(short.chars().filter(|&c| c == 'é').count(), 60);
    }

    proptest! {
        #[test]
        fn parse_history_never_panics_on_strings(text in any::<String>()) {
            let _ = parse_history(&text, None, "p");
        }

        #[test]
        fn parse_history_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            for format in [None, Some(Format::Jsonl), Some(Format::Edn), Some(Format::JepsenLog)] {
                let _ = parse_history(&text, format, "p");
            }
        }

        #[test]
        fn parse_history_never_panics_on_format_like_text(
            text in "(\\{\"|\\{:|\\[|#jepsen|INFO  jepsen.util - )[\\[\\](){}#:;,\"\\\\ \t\na-z0-9.+_-]{0,120}"
        ) {
            let _ = parse_history(&text, None, "p");
        }
    }
}
