//! Jepsen's `history.edn`: a small EDN reader, and a writer of op maps.
//!
//! A history is either a sequence of op maps (Jepsen writes one per line,
//! but any whitespace between them will do) or a single vector or list of
//! them. Newer Jepsen writes ops as records,
//! `#jepsen.history.Op{...}`; any tagged literal is read as the value it tags.
//!
//! EDN is richer than JSON, so values lose a little on the way in: keywords
//! and symbols become strings (without the colon), lists and sets become
//! arrays, and map keys become strings. See docs/history.md.

use super::format::{clip, shorten, ReadError};
use super::{History, Op, OpType, Process};
use serde_json::{Map, Number, Value};
use std::io::{self, Write};

/// Nesting deeper than this is refused, so that no input can exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 256;

/// One EDN value, as far as histories need it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Edn {
    Nil,
    Bool(bool),
    /// Any integer that fits an i64 or a u64.
    Int(i128),
    Float(f64),
    Str(String),
    Keyword(String),
    Symbol(String),
    Vector(Vec<Edn>),
    List(Vec<Edn>),
    Set(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

/// A syntax or content error, at a line counted from 1.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EdnError {
    pub line: usize,
    pub message: String,
}

impl EdnError {
    /// Says what to do when the history ends inside an op: it was most
    /// likely cut short (its writer died mid-op).
    fn cut_short(mut self) -> Self {
        const CUT: &str = "it was cut short, e.g. its writer died while writing it";
        let at_end = self.message.ends_with("found the end of the input");
        let wrapper = [("vector", ']'), ("list", ')')]
            .into_iter()
            .find(|(what, _)| self.message.contains(&format!("close the history {what}")));
        if let (true, Some((what, close))) = (at_end, wrapper) {
            self.message += &format!(
                "; the file ends before the history {what} does: {CUT}; \
                 add the closing `{close}` (or restore the whole file) and try again"
            );
        } else if at_end || self.message.starts_with("unterminated string") {
            self.message += &format!(
                "; the file ends inside this op: {CUT}; \
                 delete the unfinished op (or restore the whole file) and try again"
            );
        }
        self
    }

    fn into_read_error(self, source: &str) -> ReadError {
        ReadError::new(source, self.line, self.message)
    }
}

/// Reads a history of op maps: one after another, or a single vector or
/// list of them.
///
/// A missing `:index` is the op's position in the file and a missing `:time`
/// is the index; either way the order of the file is the real-time order.
pub fn read_edn(text: &str, source: &str) -> Result<History, ReadError> {
    read_ops(text)
        .map(|(ops, lines)| History::with_lines(ops, lines))
        .map_err(|e| e.cut_short().into_read_error(source))
}

/// The ops and the line each starts on.
fn read_ops(text: &str) -> Result<(Vec<Op>, Vec<usize>), EdnError> {
    let mut p = Parser::new(text);
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    p.skip_ws()?;
    // A vector, or a list (what printing a Clojure sequence gives): the same.
    let wrapped = match p.peek() {
        Some(b'[') => Some((b']', "history vector")),
        Some(b'(') => Some((b')', "history list")),
        _ => None,
    };
    if let Some((close, what)) = wrapped {
        let open_line = p.line;
        p.pos += 1;
        while !p.at_close(close, what, open_line)? {
            lines.push(p.line);
            ops.push(p.op(ops.len())?);
        }
        p.skip_ws()?;
        if !p.at_end() {
            return p.err(format!(
                "unexpected content after the `{}` that closes the {what}",
                close as char
            ));
        }
    } else {
        while !p.at_end() {
            lines.push(p.line);
            ops.push(p.op(ops.len())?);
            p.skip_ws()?;
        }
    }
    Ok((ops, lines))
}

/// Reads exactly one EDN value from `text`; anything after it is an error.
pub(crate) fn parse_one(text: &str) -> Result<Edn, EdnError> {
    let mut p = Parser::new(text);
    let value = p.parse_value()?;
    p.skip_ws()?;
    match p.at_end() {
        true => Ok(value),
        false => p.err(format!(
            "unexpected {} after the value",
            shorten(p.text.get(p.pos..).unwrap_or(""))
        )),
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread byte. It only ever stops on an ASCII
    /// byte or at the end, so slicing `text` there cannot split a character.
    pos: usize,
    line: usize,
    depth: usize,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b',')
}

fn is_delimiter(b: u8) -> bool {
    is_whitespace(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            line: 1,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.text.as_bytes().get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.text.get(pos..).and_then(|rest| rest.chars().next())
    }

    fn slice(&self, from: usize, to: usize) -> Result<&'a str, EdnError> {
        self.text
            .get(from..to)
            .ok_or_else(|| self.error("internal error: cut inside a character"))
    }

    fn error(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            line: self.line,
            message: message.into(),
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, EdnError> {
        Err(self.error(message))
    }

    /// Runs `f` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EdnError>,
    ) -> Result<T, EdnError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!("values nested more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_ws(&mut self) -> Result<(), EdnError> {
        loop {
            match self.peek() {
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(b) if is_whitespace(b) => self.pos += 1,
                Some(b';') => self.skip_comment(),
                Some(b'#') if self.peek_at(1) == Some(b'_') => {
                    self.pos += 2;
                    self.nested(Self::parse_value)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_comment(&mut self) {
        let rest = self.text.as_bytes().get(self.pos..).unwrap_or_default();
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    /// Skips whitespace, then tells whether the collection ends here,
    /// consuming `close` if so.
    fn at_close(&mut self, close: u8, what: &str, open_line: usize) -> Result<bool, EdnError> {
        self.skip_ws()?;
        match self.peek() {
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(b @ (b'}' | b']' | b')')) => {
                Err(self.unclosed(close, what, open_line, &format!("`{}`", b as char)))
            }
            None => Err(self.unclosed(close, what, open_line, "the end of the input")),
            Some(_) => Ok(false),
        }
    }

    fn unclosed(&self, close: u8, what: &str, open_line: usize, found: &str) -> EdnError {
        self.error(format!(
            "expected `{}` to close the {what} opened on line {open_line}, found {found}",
            close as char
        ))
    }

    fn parse_value(&mut self) -> Result<Edn, EdnError> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return self.err("expected a value, found the end of the input");
        };
        match b {
            b'{' => {
                let open_line = self.line;
                self.pos += 1;
                let entries = self.nested(|p| p.map_entries(open_line))?;
                Ok(Edn::Map(
                    entries.into_iter().map(|(k, v, _)| (k, v)).collect(),
                ))
            }
            b'[' => self.seq(b']', "vector").map(Edn::Vector),
            b'(' => self.seq(b')', "list").map(Edn::List),
            b'"' => self.string().map(Edn::Str),
            b'#' => self.dispatch(),
            b'\\' => self.character(),
            b'}' | b']' | b')' => self.err(format!("unexpected `{}`: nothing is open", b as char)),
            _ => self.atom(),
        }
    }

    /// A vector, list or set body; `self.pos` is on the opening bracket.
    fn seq(&mut self, close: u8, what: &str) -> Result<Vec<Edn>, EdnError> {
        let open_line = self.line;
        self.pos += 1;
        self.nested(|p| {
            let mut items = Vec::new();
            while !p.at_close(close, what, open_line)? {
                items.push(p.parse_value()?);
            }
            Ok(items)
        })
    }

    /// A map body after its `{`, with the line on which each value starts.
    fn map_entries(&mut self, open_line: usize) -> Result<Vec<(Edn, Edn, usize)>, EdnError> {
        let mut entries = Vec::new();
        while !self.at_close(b'}', "map", open_line)? {
            let key = self.parse_value()?;
            if self.at_close(b'}', "map", open_line)? {
                return self.err(format!(
                    "the map opened on line {open_line} has a key {} with no value",
                    describe(&key)
                ));
            }
            let line = self.line;
            entries.push((key, self.parse_value()?, line));
        }
        Ok(entries)
    }

    /// A string body; `self.pos` is on the opening quote.
    fn string(&mut self) -> Result<String, EdnError> {
        let open_line = self.line;
        self.pos += 1;
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(EdnError {
                        line: open_line,
                        message: "unterminated string: no closing `\"`".into(),
                    })
                }
                Some(b'"') => {
                    out.push_str(self.slice(start, self.pos)?);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(self.slice(start, self.pos)?);
                    self.pos += 1;
                    out.push(self.escape()?);
                    start = self.pos;
                }
                Some(b) => {
                    self.line += usize::from(b == b'\n');
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, EdnError> {
        let Some(c) = self.char_at(self.pos) else {
            return self.err("unterminated string: it ends with `\\`");
        };
        self.pos += c.len_utf8();
        match c {
            'n' => Ok('\n'),
            't' => Ok('\t'),
            'r' => Ok('\r'),
            'b' => Ok('\u{8}'),
            'f' => Ok('\u{c}'),
            '"' => Ok('"'),
            '\\' => Ok('\\'),
            'u' => self.unicode_escape(),
            other => self.err(format!(
                "unknown escape `\\{}` in a string (expected \\n, \\t, \\r, \\b, \\f, \\\", \\\\ or \\uXXXX)",
                other.escape_debug()
            )),
        }
    }

    fn hex4(&mut self) -> Result<u32, EdnError> {
        let digits = self.text.get(self.pos..self.pos + 4);
        match digits.filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit())) {
            Some(d) => {
                self.pos += 4;
                u32::from_str_radix(d, 16).map_err(|e| self.error(e.to_string()))
            }
            None => self.err("expected four hex digits after `\\u`"),
        }
    }

    // Clojure strings are UTF-16, so characters beyond the BMP may arrive as
    // an escaped surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, EdnError> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.text.get(self.pos..self.pos + 2) != Some("\\u") {
                return self.err(format!(
                    "`\\u{high:04X}` must be followed by a low surrogate `\\uDC00`..`\\uDFFF`"
                ));
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return self.err(format!(
                    "`\\u{low:04X}` is not a low surrogate after `\\u{high:04X}`"
                ));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code)
            .ok_or_else(|| self.error(format!("`\\u{code:04X}` is not a character on its own")))
    }

    /// Everything after `#`: sets, `##Inf`-style values, regexes and tags.
    fn dispatch(&mut self) -> Result<Edn, EdnError> {
        match self.peek_at(1) {
            Some(b'{') => {
                self.pos += 1;
                self.seq(b'}', "set").map(Edn::Set)
            }
            Some(b'#') => {
                self.pos += 2;
                match self.token() {
                    "Inf" => Ok(Edn::Float(f64::INFINITY)),
                    "-Inf" => Ok(Edn::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Edn::Float(f64::NAN)),
                    other => self.err(format!(
                        "unknown symbolic value ##{other} (expected ##Inf, ##-Inf or ##NaN)"
                    )),
                }
            }
            // A regex: its text is all we could keep.
            Some(b'"') => {
                self.pos += 1;
                self.string().map(Edn::Str)
            }
            _ => {
                self.pos += 1;
                if self.token().is_empty() {
                    return self.err("expected a tag, `{` or `_` after `#`");
                }
                // Whatever the tag (a record such as jepsen.history.Op,
                // #inst, #uuid), the value it tags carries the data.
                self.nested(Self::parse_value)
            }
        }
    }

    /// A character literal such as `\a` or `\newline`, read as a string.
    fn character(&mut self) -> Result<Edn, EdnError> {
        self.pos += 1;
        let Some(first) = self.char_at(self.pos) else {
            return self.err("expected a character after `\\`");
        };
        let start = self.pos;
        self.pos += first.len_utf8();
        self.line += usize::from(first == '\n');
        self.token();
        let name = self.slice(start, self.pos)?;
        let named = match name {
            "newline" => Some('\n'),
            "space" => Some(' '),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "formfeed" => Some('\u{c}'),
            "backspace" => Some('\u{8}'),
            _ if name.len() == first.len_utf8() => Some(first),
            _ => name
                .strip_prefix('u')
                .filter(|hex| hex.len() == 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32),
        };
        match named {
            Some(c) => Ok(Edn::Str(c.to_string())),
            None => self.err(format!("unknown character literal \\{}", clip(name))),
        }
    }

    /// Reads up to the next delimiter.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// nil, booleans, keywords, numbers and symbols.
    fn atom(&mut self) -> Result<Edn, EdnError> {
        let token = self.token();
        match token {
            "" => self.err("unexpected character"),
            "nil" => Ok(Edn::Nil),
            "true" => Ok(Edn::Bool(true)),
            "false" => Ok(Edn::Bool(false)),
            _ => {
                if let Some(name) = token.strip_prefix(':') {
                    if name.is_empty() {
                        return self.err("a keyword needs a name after `:`");
                    }
                    Ok(Edn::Keyword(name.to_string()))
                } else if looks_numeric(token) {
                    number(token).map_err(|m| self.error(m))
                } else {
                    Ok(Edn::Symbol(token.to_string()))
                }
            }
        }
    }

    /// One op: a map, possibly tagged as a record.
    fn op(&mut self, position: usize) -> Result<Op, EdnError> {
        let line = self.line;
        self.skip_record_tag()?;
        if self.peek() != Some(b'{') {
            let found = self.parse_value()?;
            return Err(EdnError {
                line,
                message: format!("expected an op map `{{...}}`, found {}", describe(&found)),
            });
        }
        self.pos += 1;
        let entries = self.nested(|p| p.map_entries(line))?;
        op_from_entries(entries, line, position)
    }

    fn skip_record_tag(&mut self) -> Result<(), EdnError> {
        let tagged = self.peek() == Some(b'#')
            && !matches!(self.peek_at(1), Some(b'{' | b'#' | b'"' | b'_'));
        if tagged {
            self.pos += 1;
            self.token();
            self.skip_ws()?;
        }
        Ok(())
    }
}

fn looks_numeric(token: &str) -> bool {
    let bytes = token.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    digit_at(0) || (matches!(bytes.first(), Some(b'+' | b'-')) && digit_at(1))
}

fn number(token: &str) -> Result<Edn, String> {
    let not_a_number = || format!("`{}` is not a number", clip(token));
    if let Some(digits) = token.strip_suffix('N') {
        return integer(digits);
    }
    if let Some(decimal) = token.strip_suffix('M') {
        return decimal.parse().map(Edn::Float).map_err(|_| not_a_number());
    }
    if let Some((numerator, denominator)) = token.split_once('/') {
        let (Ok(n), Ok(d)) = (numerator.parse::<i128>(), denominator.parse::<i128>()) else {
            return Err(not_a_number());
        };
        return Ok(Edn::Float(n as f64 / d as f64));
    }
    if token.contains(['.', 'e', 'E']) {
        return token.parse().map(Edn::Float).map_err(|_| not_a_number());
    }
    integer(token)
}

fn integer(digits: &str) -> Result<Edn, String> {
    let out_of_range = || format!("integer {} does not fit in 64 bits", clip(digits));
    let value: i128 = digits
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                out_of_range()
            }
            _ => format!("`{}` is not a number", clip(digits)),
        })?;
    if value < i128::from(i64::MIN) || value > i128::from(u64::MAX) {
        return Err(out_of_range());
    }
    Ok(Edn::Int(value))
}

/// The op fields found in one map, before defaults are applied.
#[derive(Default)]
struct Fields {
    index: Option<u64>,
    time: Option<u64>,
    process: Option<Process>,
    kind: Option<OpType>,
    f: Option<String>,
    key: Option<Value>,
    value: Option<Value>,
    node: Option<String>,
    error: Option<String>,
}

fn op_from_entries(
    entries: Vec<(Edn, Edn, usize)>,
    line: usize,
    position: usize,
) -> Result<Op, EdnError> {
    let mut fields = Fields::default();
    for (key, value, at) in entries {
        // Only keyword keys can be op fields; anything else is extra data.
        if let Edn::Keyword(name) = key {
            set_field(&mut fields, &name, value)
                .map_err(|message| EdnError { line: at, message })?;
        }
    }
    let missing = |what: &str| EdnError {
        line,
        message: format!("op has no {what}"),
    };
    let index = fields.index.unwrap_or(position as u64);
    Ok(Op {
        index,
        time: fields.time.unwrap_or(index),
        process: fields
            .process
            .ok_or_else(|| missing(":process (expected an integer or :nemesis)"))?,
        kind: fields
            .kind
            .ok_or_else(|| missing(":type (expected :invoke, :ok, :fail or :info)"))?,
        f: fields
            .f
            .ok_or_else(|| missing(":f (expected a keyword such as :read)"))?,
        key: fields.key,
        value: fields.value.unwrap_or(Value::Null),
        node: fields.node,
        error: fields.error,
    })
}

fn set_field(fields: &mut Fields, name: &str, value: Edn) -> Result<(), String> {
    match name {
        "index" => fields.index = Some(non_negative(&value, name)?),
        "time" => fields.time = Some(non_negative(&value, name)?),
        "process" => fields.process = Some(process(&value)?),
        "type" => fields.kind = Some(kind(&value)?),
        "f" => fields.f = Some(function(value)?),
        // A nil key means no key, as in Op's serde derive.
        "key" => fields.key = Some(to_json(value)).filter(|v| !v.is_null()),
        "value" => fields.value = Some(to_json(value)),
        "node" => fields.node = text_field(value),
        "error" => fields.error = text_field(value),
        _ => {}
    }
    Ok(())
}

fn non_negative(value: &Edn, name: &str) -> Result<u64, String> {
    match value {
        Edn::Int(n) => u64::try_from(*n)
            .map_err(|_| format!("negative :{name} {n} (expected an integer >= 0)")),
        other => Err(format!(
            "expected an integer after :{name}, found {}",
            describe(other)
        )),
    }
}

fn process(value: &Edn) -> Result<Process, String> {
    match value {
        Edn::Int(n) => u64::try_from(*n)
            .map(Process::Client)
            .map_err(|_| format!("negative :process {n} (expected an integer >= 0 or :nemesis)")),
        Edn::Keyword(k) if k == "nemesis" => Ok(Process::Nemesis),
        other => Err(format!(
            "expected an integer >= 0 or :nemesis after :process, found {}",
            describe(other)
        )),
    }
}

fn kind(value: &Edn) -> Result<OpType, String> {
    match value {
        Edn::Keyword(k) => OpType::parse(k).ok_or_else(|| {
            format!(
                "unknown op type :{} (expected :invoke, :ok, :fail or :info)",
                clip(k)
            )
        }),
        other => Err(format!(
            "expected a keyword after :type, found {}",
            describe(other)
        )),
    }
}

fn function(value: Edn) -> Result<String, String> {
    match value {
        Edn::Keyword(s) | Edn::Str(s) | Edn::Symbol(s) => Ok(s),
        other => Err(format!(
            "expected a keyword or a string after :f, found {}",
            describe(&other)
        )),
    }
}

// Jepsen's :error is often a vector such as [:timeout "..."]; keep its EDN
// text rather than refuse the history.
fn text_field(value: Edn) -> Option<String> {
    match value {
        Edn::Nil => None,
        Edn::Keyword(s) | Edn::Str(s) | Edn::Symbol(s) => Some(s),
        other => Some(render(&other)),
    }
}

/// Converts to JSON: keywords and symbols become strings, lists and sets
/// arrays, map keys strings, and non-finite floats null (JSON has none).
pub(crate) fn to_json(value: Edn) -> Value {
    match value {
        Edn::Nil => Value::Null,
        Edn::Bool(b) => Value::Bool(b),
        Edn::Int(n) => int_to_json(n),
        Edn::Float(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s),
        Edn::Vector(items) | Edn::List(items) | Edn::Set(items) => {
            Value::Array(items.into_iter().map(to_json).collect())
        }
        Edn::Map(entries) => {
            let object: Map<String, Value> = entries
                .into_iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect();
            Value::Object(object)
        }
    }
}

fn int_to_json(n: i128) -> Value {
    if let Ok(small) = i64::try_from(n) {
        Value::from(small)
    } else if let Ok(big) = u64::try_from(n) {
        Value::from(big)
    } else {
        Value::Null // the parser never makes one
    }
}

fn key_string(key: Edn) -> String {
    match key {
        Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s,
        other => render(&other),
    }
}

/// An EDN value as it would be written, cut short for an error message.
fn describe(value: &Edn) -> String {
    clip(&render(value))
}

fn render(value: &Edn) -> String {
    let mut out = String::new();
    render_into(value, &mut out);
    out
}

fn render_into(value: &Edn, out: &mut String) {
    match value {
        Edn::Nil => out.push_str("nil"),
        Edn::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Edn::Int(n) => out.push_str(&n.to_string()),
        Edn::Float(x) => out.push_str(&float_text(*x)),
        Edn::Str(s) => push_string(s, out),
        Edn::Keyword(k) => {
            out.push(':');
            out.push_str(k);
        }
        Edn::Symbol(s) => out.push_str(s),
        Edn::Vector(items) => render_seq(items, "[", "]", out),
        Edn::List(items) => render_seq(items, "(", ")", out),
        Edn::Set(items) => render_seq(items, "#{", "}", out),
        Edn::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(k, out);
                out.push(' ');
                render_into(v, out);
            }
            out.push('}');
        }
    }
}

fn render_seq(items: &[Edn], open: &str, close: &str, out: &mut String) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        render_into(item, out);
    }
    out.push_str(close);
}

// Debug, not Display: it keeps a `.0` or an exponent, so the text reads back
// as a float, and it is the shortest text that reads back exactly.
fn float_text(x: f64) -> String {
    if x.is_nan() {
        "##NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "##Inf" } else { "##-Inf" }.into()
    } else {
        format!("{x:?}")
    }
}

/// Writes one op map per line, e.g.
/// `{:index 0, :time 12, :type :invoke, :process 3, :f :cas, :value [1 2]}`.
pub fn write_edn(history: &History, out: &mut impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut line = String::new();
    for op in &history.ops {
        line.clear();
        op_to_edn(op, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn op_to_edn(op: &Op, out: &mut String) {
    out.push_str(&format!(
        "{{:index {}, :time {}, :type :{}, :process ",
        op.index,
        op.time,
        op.kind.as_str()
    ));
    match op.process {
        Process::Client(p) => out.push_str(&p.to_string()),
        Process::Nemesis => out.push_str(":nemesis"),
    }
    out.push_str(", :f ");
    push_name(&op.f, out);
    if let Some(key) = &op.key {
        out.push_str(", :key ");
        push_json(key, out);
    }
    out.push_str(", :value ");
    push_json(&op.value, out);
    if let Some(node) = &op.node {
        out.push_str(", :node ");
        push_string(node, out);
    }
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        push_name(error, out);
    }
    out.push('}');
}

/// A name as a keyword when it can be one, as Jepsen writes `:f` and
/// `:error`, and as a string otherwise; the reader takes either.
fn push_name(name: &str, out: &mut String) {
    if is_plain_keyword(name) {
        out.push(':');
        out.push_str(name);
    } else {
        push_string(name, out);
    }
}

/// Whether `:name` is a keyword that both Clojure and our reader read back
/// as exactly `name`. Deliberately narrower than what EDN allows.
fn is_plain_keyword(name: &str) -> bool {
    const PUNCTUATION: &[u8] = b"*+!-_?<>=";
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    let good_start = first.is_ascii_alphabetic()
        || (PUNCTUATION.contains(&first) && !bytes.get(1).is_some_and(u8::is_ascii_digit));
    good_start
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || PUNCTUATION.contains(b) || *b == b'.')
}

fn push_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&float_text(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(s) => push_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_json(item, out);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_name(k, out);
                out.push(' ');
                push_json(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests;
