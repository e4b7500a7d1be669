//! The `register` workload's client for etcd 3.4, through its v3 JSON
//! gateway (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`) over one plain
//! HTTP/1.1 connection per process to the node's client address.
//!
//! # Ops
//!
//! - `read` (value null): a range on the key; `ok` with the value, or null
//!   when the key is absent. [`ReadMode::Linearizable`] (the default) goes
//!   through the leader (`serializable: false`); [`ReadMode::Serializable`]
//!   answers from the node's own store (`serializable: true`), which may be
//!   stale: a history of such reads need not be linearizable.
//! - `write v`: a put; `ok v`.
//! - `cas [from to]`: a txn comparing the key's value with `from` and, if
//!   equal, putting `to`; `ok [from to]` if it succeeded.
//!
//! The key is `prefix` + the op's key (a JSON string as is, any other JSON
//! value as its JSON text; no key: the prefix alone). Values are JSON
//! integers, stored as their decimal text.
//!
//! # Which errors are `fail` and which are `info`
//!
//! | what happened | completion | error |
//! |---|---|---|
//! | the cas compare did not match (`succeeded` false) | `fail` | `mismatch` |
//! | connecting to the node failed (refused, unreachable): nothing was sent | `fail` | `refused: ...` |
//! | the connection was found closed before the request was handed to it | reconnect, then as above | |
//! | an op the client cannot encode (unknown `f`, bad value) | `fail` | `bad-op: ...` |
//! | the worker's deadline passed ([`crate::with_timeout`]) | `info` | `timed-out` |
//! | the connection broke after the request was handed to it | `info` | `connection-lost: ...` |
//! | any HTTP status but 200 (5xx, etcd's gRPC errors: no leader, timeouts...) | `info` | `http-<status>: ...` |
//! | a 200 whose body we do not understand | `info` | `bad-response: ...` |
//!
//! A read that ends `info` has no effect either way, but it is still `info`:
//! the rule is "fail only when sure", and the checker treats an `info` read
//! as harmless.

use crate::client::{Client, ClientFactory, Completion, Invocation, NodeTarget, OpenError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Where reads are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Through the leader's read index: linearizable.
    #[default]
    Linearizable,
    /// From the node's own store: may be stale.
    Serializable,
}

/// Opens [`EtcdClient`]s; `NodeTarget::address` is `host:port` or
/// `http://host:port` of the node's client port.
#[derive(Clone, Debug)]
pub struct EtcdRegister {
    pub read_mode: ReadMode,
    /// Prepended to every key.
    pub prefix: String,
}

impl Default for EtcdRegister {
    fn default() -> Self {
        EtcdRegister {
            read_mode: ReadMode::Linearizable,
            prefix: "chaos/".into(),
        }
    }
}

impl EtcdRegister {
    pub fn new(read_mode: ReadMode) -> Self {
        EtcdRegister {
            read_mode,
            ..Default::default()
        }
    }
}

impl EtcdRegister {
    /// Deletes every key under the prefix: the run's clean-up on a cluster
    /// that outlives it (Kubernetes). Tries each node in turn.
    pub async fn remove(&self, targets: &[NodeTarget]) -> Result<(), String> {
        let mut range_end = self.prefix.clone().into_bytes();
        match range_end.last_mut() {
            // The keys from `prefix` up to (not including) the prefix with
            // its last byte incremented: exactly those that start with it.
            Some(last) if *last < u8::MAX => *last += 1,
            _ => return Err(format!("cannot delete under prefix {:?}", self.prefix)),
        }
        let body = json!({"key": B64.encode(&self.prefix), "range_end": B64.encode(&range_end)});
        let mut last = String::from("no nodes");
        for node in targets {
            let mut client = self.open(node, 0).await?;
            let call = client.call("/v3/kv/deleterange", body.clone());
            match tokio::time::timeout(std::time::Duration::from_secs(10), call).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(CallError::Refused(e) | CallError::Unknown(e))) => {
                    last = format!("{}: {e}", node.name)
                }
                Err(_) => last = format!("{}: no answer within 10 s", node.name),
            }
        }
        Err(format!(
            "cannot delete the keys under {}: {last}",
            self.prefix
        ))
    }
}

/// The node's etcd version (`GET /version`: `etcdserver`), for the record.
pub async fn server_version(node: &NodeTarget) -> Result<String, String> {
    let mut client = EtcdRegister::default().open(node, 0).await?;
    let request = hyper::Request::get("/version")
        .header(hyper::header::HOST, client.address.as_str())
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let ask = async {
        let sender = client.connection().await.map_err(|e| match e {
            CallError::Refused(m) | CallError::Unknown(m) => m,
        })?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let version: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        version["etcdserver"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no etcdserver in {version}"))
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), ask)
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
}

impl ClientFactory for EtcdRegister {
    type Client = EtcdClient;

    /// Connects lazily, at the first op: a refusal then shows as that op's
    /// `fail` with error `refused`.
    async fn open(&self, node: &NodeTarget, _process: u64) -> Result<EtcdClient, OpenError> {
        let address = node
            .address
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        if address.is_empty() {
            return Err(format!("node {} has no address", node.name).into());
        }
        Ok(EtcdClient {
            address,
            read_mode: self.read_mode,
            prefix: self.prefix.clone(),
            conn: None,
        })
    }
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct EtcdClient {
    address: String,
    read_mode: ReadMode,
    prefix: String,
    conn: Option<Connection>,
}

/// Why a request got no usable answer.
enum CallError {
    /// Nothing was sent.
    Refused(String),
    /// The request may have reached the node.
    Unknown(String),
}

impl Client for EtcdClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let key = self.key(op.key.as_ref());
        match (op.f.as_str(), &op.value) {
            ("read", _) => {
                let body = json!({
                    "key": B64.encode(&key),
                    "serializable": self.read_mode == ReadMode::Serializable,
                });
                match self.call("/v3/kv/range", body).await {
                    Ok(r) => match r["kvs"].get(0) {
                        None if r.get("header").is_some() => Completion::ok(Value::Null),
                        None => Completion::info(format!("bad-response: {r}")),
                        Some(kv) => match decode_value(&kv["value"]) {
                            Some(v) => Completion::ok(v),
                            None => Completion::info(format!("bad-response: {r}")),
                        },
                    },
                    Err(e) => e.into(),
                }
            }
            ("write", v) => {
                let Some(text) = encode_value(v) else {
                    return Completion::fail(format!("bad-op: write {v}"));
                };
                let body = json!({"key": B64.encode(&key), "value": B64.encode(text)});
                match self.call("/v3/kv/put", body).await {
                    Ok(r) if r.get("header").is_some() => Completion::ok(v.clone()),
                    Ok(r) => Completion::info(format!("bad-response: {r}")),
                    Err(e) => e.into(),
                }
            }
            ("cas", Value::Array(ft)) if ft.len() == 2 => {
                let (Some(from), Some(to)) = (encode_value(&ft[0]), encode_value(&ft[1])) else {
                    return Completion::fail(format!("bad-op: cas {}", op.value));
                };
                let k = B64.encode(&key);
                let body = json!({
                    "compare": [{
                        "key": k,
                        "result": "EQUAL",
                        "target": "VALUE",
                        "value": B64.encode(from),
                    }],
                    "success": [{"request_put": {"key": k, "value": B64.encode(to)}}],
                });
                match self.call("/v3/kv/txn", body).await {
                    // The gateway leaves out `succeeded` when it is false.
                    Ok(r) if r.get("header").is_some() => match r.get("succeeded") {
                        Some(Value::Bool(true)) => Completion::ok(op.value.clone()),
                        None | Some(Value::Bool(false)) => Completion::fail("mismatch"),
                        Some(_) => Completion::info(format!("bad-response: {r}")),
                    },
                    Ok(r) => Completion::info(format!("bad-response: {r}")),
                    Err(e) => e.into(),
                }
            }
            (f, v) => Completion::fail(format!("bad-op: the etcd register cannot do {f} {v}")),
        }
    }

    async fn close(mut self) {
        self.conn = None;
    }
}

impl From<CallError> for Completion {
    fn from(e: CallError) -> Completion {
        match e {
            CallError::Refused(m) => Completion::fail(format!("refused: {m}")),
            CallError::Unknown(m) => Completion::info(m),
        }
    }
}

impl EtcdClient {
    fn key(&self, key: Option<&Value>) -> String {
        match key {
            None => self.prefix.clone(),
            Some(Value::String(s)) => format!("{}{s}", self.prefix),
            Some(v) => format!("{}{v}", self.prefix),
        }
    }

    /// A live connection, opened if there is none or the old one closed.
    async fn connection(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, CallError> {
        if let Some(conn) = &mut self.conn {
            // `ready` fails only if the connection is gone; nothing of ours
            // is on it then, so a fresh one is safe.
            if conn.sender.ready().await.is_err() {
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.address)
                .await
                .map_err(|e| CallError::Refused(format!("{}: {e}", self.address)))?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| CallError::Refused(format!("{}: handshake: {e}", self.address)))?;
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            self.conn = Some(Connection { sender, task });
        }
        Ok(&mut self.conn.as_mut().expect("connected above").sender)
    }

    /// POSTs `body` to `path`; the JSON answer of a 200.
    async fn call(&mut self, path: &str, body: Value) -> Result<Value, CallError> {
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, self.address.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| CallError::Refused(format!("bad request: {e}")))?;
        let sender = self.connection().await?;
        let response = match sender.try_send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                // The request came back unsent only if the connection was
                // not ready to take it; otherwise it may have been written.
                let unsent = e.message().is_some();
                let error = e.into_error();
                self.conn = None;
                return Err(if unsent {
                    CallError::Refused(format!("connection closed: {error}"))
                } else {
                    CallError::Unknown(format!("connection-lost: {error}"))
                });
            }
        };
        let status = response.status();
        let bytes = match response.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                self.conn = None;
                return Err(CallError::Unknown(format!("connection-lost: {e}")));
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        if status != hyper::StatusCode::OK {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.trim().to_string());
            return Err(CallError::Unknown(format!(
                "http-{}: {message}",
                status.as_u16()
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| CallError::Unknown(format!("bad-response: {e}: {text}")))
    }
}

/// A JSON integer as the decimal text etcd stores.
fn encode_value(v: &Value) -> Option<String> {
    if v.is_i64() || v.is_u64() {
        Some(v.to_string())
    } else {
        None
    }
}

/// etcd's base64 value back to a JSON integer (or, if someone else wrote
/// something else, to a string).
fn decode_value(v: &Value) -> Option<Value> {
    // An empty value is left out of the JSON.
    let bytes = match v.as_str() {
        Some(s) => B64.decode(s).ok()?,
        None if v.is_null() => Vec::new(),
        None => return None,
    };
    let text = String::from_utf8(bytes).ok()?;
    Some(match serde_json::from_str::<Value>(&text) {
        Ok(n) if n.is_number() => n,
        _ => Value::String(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_checkers::history::OpType;

    #[test]
    fn values_round_trip_as_decimal_text() {
        assert_eq!(encode_value(&json!(42)), Some("42".into()));
        assert_eq!(encode_value(&json!("x")), None);
        let stored = json!(B64.encode("42"));
        assert_eq!(decode_value(&stored), Some(json!(42)));
        assert_eq!(decode_value(&json!(B64.encode("x"))), Some(json!("x")));
    }

    #[tokio::test]
    async fn a_refused_connection_is_fail() {
        let node = crate::client::refusing_node("http://");
        let mut c = EtcdRegister::default().open(&node, 0).await.unwrap();
        let done = c
            .invoke(&Invocation {
                f: "write".into(),
                key: Some(json!(1)),
                value: json!(3),
            })
            .await;
        assert_eq!(done.kind, OpType::Fail, "{done:?}");
        assert!(done.error.unwrap().starts_with("refused"));
    }

    /// A one-connection server on a thread: reads the request, then writes
    /// `answer` (possibly nothing) and closes.
    fn serve_once(answer: &'static str) -> NodeTarget {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        });
        NodeTarget {
            name: "n1".into(),
            address,
        }
    }

    async fn write_to(node: &NodeTarget) -> Completion {
        let mut c = EtcdRegister::default().open(node, 0).await.unwrap();
        crate::with_timeout(
            std::time::Duration::from_secs(5),
            c.invoke(&Invocation {
                f: "write".into(),
                key: Some(json!(1)),
                value: json!(3),
            }),
        )
        .await
    }

    #[tokio::test]
    async fn a_connection_lost_after_sending_is_info() {
        let done = write_to(&serve_once("")).await;
        assert_eq!(done.kind, OpType::Info, "{done:?}");
        assert!(done.error.unwrap().starts_with("connection-lost"));
    }

    #[tokio::test]
    async fn a_server_error_is_info() {
        let body = r#"{"error":"etcdserver: request timed out","code":14}"#;
        let answer = Box::leak(
            format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let done = write_to(&serve_once(answer)).await;
        assert_eq!(done.kind, OpType::Info, "{done:?}");
        assert_eq!(
            done.error.as_deref(),
            Some("http-503: etcdserver: request timed out")
        );
    }
}
