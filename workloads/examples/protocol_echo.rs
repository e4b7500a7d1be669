//! The smallest client of the protocol (docs/protocol.md), compiled: the
//! "system" is a map of registers in its own memory, so with one worker it
//! is trivially linearizable and costs nothing. It measures the harness's
//! side of the protocol (`protocol_throughput`, BENCHMARKS.md).
//!
//! Hand-parsed on purpose: a client needs no JSON library to speak the
//! protocol, and the measurement should be of the harness, not of serde.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};

/// The text of `"field":` up to the next `,` or `}` (numbers, null, and
/// `[a,b]` for a cas, which is all this workload sends).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &line[at..];
    let end = if rest.starts_with('[') {
        rest.find(']')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(&rest[..end])
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut registers: HashMap<String, String> = HashMap::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let id = field(&line, "id").unwrap_or("0");
        let reply = if line.contains("\"type\":\"init\"") {
            "{\"type\":\"init_ok\"}".to_string()
        } else if line.contains("\"type\":\"invoke\"") {
            let key = field(&line, "key").unwrap_or("null").to_string();
            let value = field(&line, "value").unwrap_or("null");
            match field(&line, "f") {
                Some("\"write\"") => {
                    registers.insert(key, value.to_string());
                    format!("{{\"type\":\"ok\",\"id\":{id}}}")
                }
                Some("\"cas\"") => {
                    let (from, to) = value
                        .trim_matches(['[', ']'])
                        .split_once(',')
                        .unwrap_or(("", ""));
                    if registers.get(&key).map(String::as_str) == Some(from) {
                        registers.insert(key, to.to_string());
                        format!("{{\"type\":\"ok\",\"id\":{id}}}")
                    } else {
                        format!("{{\"type\":\"fail\",\"id\":{id},\"error\":\"mismatch\"}}")
                    }
                }
                _ => {
                    let v = registers.get(&key).map(String::as_str).unwrap_or("null");
                    format!("{{\"type\":\"ok\",\"id\":{id},\"value\":{v}}}")
                }
            }
        } else {
            format!("{{\"type\":\"ok\",\"id\":{id}}}")
        };
        // One reply per request, flushed: the harness waits for it.
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}
