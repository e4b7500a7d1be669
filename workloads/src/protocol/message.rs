//! The protocol's lines (docs/protocol.md): what the harness writes to a
//! client program, and how a reply line becomes a [`Completion`].

use serde_json::{json, Map, Value};

use crate::client::{Completion, Invocation, NodeTarget};

/// The protocol version this harness speaks; `init` carries it.
pub const VERSION: u64 = 1;

/// Who a program is: a worker process, or the admin program that sets up
/// and tears down (no process id, never invokes ops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Worker(u64),
    Admin,
}

/// What every program is told once, first.
pub struct Init<'a> {
    pub role: Role,
    pub node: &'a NodeTarget,
    pub nodes: &'a [NodeTarget],
    pub workload: &'a str,
    pub prefix: &'a str,
    pub seed: u64,
    pub read: &'a str,
}

impl Init<'_> {
    pub fn line(&self) -> String {
        let (role, process) = match self.role {
            Role::Worker(p) => ("worker", json!(p)),
            Role::Admin => ("admin", Value::Null),
        };
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| json!({"name": n.name, "address": n.address}))
            .collect();
        json!({
            "type": "init",
            "protocol": VERSION,
            "role": role,
            "process": process,
            "node": self.node.name,
            "address": self.node.address,
            "nodes": nodes,
            "workload": self.workload,
            "prefix": self.prefix,
            "seed": self.seed,
            "read": self.read,
        })
        .to_string()
    }
}

/// `{"type":"invoke","id":..,"f":..,"key":..,"value":..}`; no `key` for
/// ops without one.
pub fn invoke_line(id: u64, op: &Invocation) -> String {
    let mut m = Map::new();
    m.insert("type".into(), json!("invoke"));
    m.insert("id".into(), json!(id));
    m.insert("f".into(), json!(op.f));
    if let Some(key) = &op.key {
        m.insert("key".into(), key.clone());
    }
    m.insert("value".into(), op.value.clone());
    Value::Object(m).to_string()
}

/// `{"type":"setup","id":..}` or `teardown`.
pub fn admin_line(kind: &str, id: u64) -> String {
    json!({"type": kind, "id": id}).to_string()
}

/// Maelstrom's error codes: (code, name, definite). A definite error says
/// the op certainly did not happen; any other code, and any code not
/// listed, may have.
const CODES: [(u64, &str, bool); 11] = [
    (0, "timeout", false),
    (1, "node-not-found", true),
    (10, NOT_SUPPORTED, true),
    (11, "temporarily-unavailable", true),
    (12, "malformed-request", true),
    (13, "crash", false),
    (14, "abort", true),
    (20, "key-does-not-exist", true),
    (21, "key-already-exists", true),
    (22, "precondition-failed", true),
    (30, "txn-conflict", true),
];

/// The error of an admin request the program does not do (code 10).
pub const NOT_SUPPORTED: &str = "not-supported";

/// A reply that does not follow the protocol: the program is retired.
#[derive(Debug, PartialEq, Eq)]
pub struct BadReply(pub String);

/// Reads the reply to request `id`. `Err` for a line that is not one: not
/// JSON, another id, an unknown type.
pub fn completion(line: &str, id: u64) -> Result<Completion, BadReply> {
    let bad = |why: &str| BadReply(format!("{why}: {}", excerpt(line)));
    let reply: Value = serde_json::from_str(line).map_err(|_| bad("not a JSON line"))?;
    let Some(reply) = reply.as_object() else {
        return Err(bad("not a JSON object"));
    };
    if reply.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(bad(&format!("not a reply to request {id}")));
    }
    let text = |field: &str| reply.get(field).and_then(Value::as_str).map(str::to_string);
    let kind = reply.get("type").and_then(Value::as_str).unwrap_or("");
    Ok(match kind {
        "ok" => Completion::ok(reply.get("value").cloned().unwrap_or(Value::Null)),
        "fail" => Completion::fail(text("error").unwrap_or_else(|| "fail".into())),
        "info" => Completion::info(text("error").unwrap_or_else(|| "info".into())),
        "error" => {
            let code = reply.get("code").and_then(Value::as_u64);
            let known = code.and_then(|c| CODES.iter().find(|(k, _, _)| *k == c));
            let name = match (known, code) {
                (Some((_, name, _)), _) => (*name).to_string(),
                (None, Some(code)) => format!("error-{code}"),
                (None, None) => "error".to_string(),
            };
            let error = match text("text") {
                Some(t) if !t.is_empty() => format!("{name}: {t}"),
                _ => name,
            };
            if known.is_some_and(|(_, _, definite)| *definite) {
                Completion::fail(error)
            } else {
                Completion::info(error)
            }
        }
        _ => return Err(bad("type must be ok, fail, info or error")),
    })
}

/// Whether a reply line is `init_ok`.
pub fn is_init_ok(line: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| {
            v.get("type")
                .and_then(Value::as_str)
                .map(|t| t == "init_ok")
        })
        .unwrap_or(false)
}

/// The start of a line, for an error message.
pub fn excerpt(line: &str) -> String {
    let line = line.trim_end();
    match line.char_indices().nth(120) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::OpType;

    #[test]
    fn replies_map_to_completions_and_definite_codes_to_fail() {
        let c = completion(r#"{"type":"ok","id":3,"value":[1,2]}"#, 3).unwrap();
        assert_eq!(c, Completion::ok(json!([1, 2])));
        let c = completion(r#"{"type":"fail","id":3,"error":"mismatch"}"#, 3).unwrap();
        assert_eq!(c, Completion::fail("mismatch"));
        let c = completion(r#"{"type":"info","id":3}"#, 3).unwrap();
        assert_eq!(c, Completion::info("info"));
        let c = completion(r#"{"type":"error","id":3,"code":22,"text":"was 4"}"#, 3).unwrap();
        assert_eq!(c, Completion::fail("precondition-failed: was 4"));
        let c = completion(r#"{"type":"error","id":3,"code":0}"#, 3).unwrap();
        assert_eq!(c, Completion::info("timeout"));
        // A code nobody documented may have happened.
        let c = completion(r#"{"type":"error","id":3,"code":999,"text":"?"}"#, 3).unwrap();
        assert_eq!(
            (c.kind, c.error.as_deref()),
            (OpType::Info, Some("error-999: ?"))
        );
    }

    #[test]
    fn lines_that_are_not_replies_to_this_request_are_refused() {
        for line in [
            "hello",
            "[1]",
            r#"{"type":"ok","id":4}"#,
            r#"{"type":"ok"}"#,
            r#"{"type":"done","id":3}"#,
        ] {
            assert!(completion(line, 3).is_err(), "{line}");
        }
    }

    #[test]
    fn invocations_carry_a_key_only_when_they_have_one() {
        let op = Invocation {
            f: "cas".into(),
            key: Some(json!(7)),
            value: json!([1, 2]),
        };
        let v: Value = serde_json::from_str(&invoke_line(9, &op)).unwrap();
        assert_eq!(
            v,
            json!({"type":"invoke","id":9,"f":"cas","key":7,"value":[1,2]})
        );
        let op = Invocation {
            f: "dequeue".into(),
            key: None,
            value: Value::Null,
        };
        let v: Value = serde_json::from_str(&invoke_line(1, &op)).unwrap();
        assert!(v.get("key").is_none());
    }

    #[test]
    fn init_says_who_the_program_is() {
        let n1 = NodeTarget {
            name: "n1".into(),
            address: "10.0.0.2:7000".into(),
        };
        let nodes = [n1.clone()];
        let init = Init {
            role: Role::Admin,
            node: &n1,
            nodes: &nodes,
            workload: "queue",
            prefix: "chaos/r/",
            seed: 7,
            read: "",
        };
        let v: Value = serde_json::from_str(&init.line()).unwrap();
        assert_eq!(v["role"], "admin");
        assert_eq!(v["process"], Value::Null);
        assert_eq!(v["protocol"], 1);
        assert_eq!(v["nodes"][0]["address"], "10.0.0.2:7000");
        assert!(is_init_ok(r#"{"type":"init_ok"}"#));
        assert!(!is_init_ok(r#"{"type":"ok"}"#));
    }
}
