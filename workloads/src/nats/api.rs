//! The JetStream JSON API as the NATS clients use it: request subjects and
//! bodies, and the parsing of replies. Pure (no I/O), so that what a reply
//! means, and above all which errors mean "nothing was stored", is tested
//! on its own.
//!
//! We speak the API directly over core NATS requests rather than through
//! the client library's JetStream layer: every reply is seen as the server
//! sent it (nothing retried or hidden), and the wire format is exactly
//! nats-server 2.9's.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

/// JetStream error codes (`err_code`) after which a publish certainly
/// stored nothing: checks the stream leader makes before it proposes the
/// message (and that every replica repeats when applying it).
///
/// - 10054 message size exceeds the stream's maximum
/// - 10060 expected stream does not match (`Nats-Expected-Stream`)
/// - 10070 wrong last message id (`Nats-Expected-Last-Msg-Id`)
/// - 10071 wrong last sequence (`Nats-Expected-Last-Sequence`)
///
/// Everything else is `info`: "store failed", "insufficient resources",
/// "JetStream cluster not available" and the like can come from the leader
/// after it proposed the message, or from a leader that just lost its
/// office while the proposal went through.
pub const NOTHING_STORED: [u64; 4] = [10054, 10060, 10070, 10071];

/// `err_code` of a message get past the end of the stream.
pub const NO_MESSAGE_FOUND: u64 = 10037;

/// An error reply of the JetStream API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP-like: 400, 404, 500, 503.
    pub code: u64,
    /// JetStream's own code; 0 when the server gave none.
    pub err_code: u64,
    pub description: String,
}

impl ApiError {
    /// As recorded in a completion's `error`: `jetstream-10071: wrong last sequence: 3`.
    pub fn label(&self) -> String {
        format!("jetstream-{}: {}", self.err_code, self.description)
    }

    /// True when the request certainly stored nothing (see [`NOTHING_STORED`]).
    pub fn nothing_stored(&self) -> bool {
        NOTHING_STORED.contains(&self.err_code)
    }
}

/// The error object of a reply, if it has one.
fn api_error(reply: &Value) -> Option<ApiError> {
    let error = reply.get("error")?;
    Some(ApiError {
        code: error["code"].as_u64().unwrap_or(0),
        err_code: error["err_code"].as_u64().unwrap_or(0),
        description: error["description"].as_str().unwrap_or("").to_string(),
    })
}

fn json_reply(payload: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(payload).map_err(|e| {
        format!(
            "bad-response: {e}: {}",
            String::from_utf8_lossy(payload)
                .chars()
                .take(200)
                .collect::<String>()
        )
    })
}

/// A message body: the op's value as JSON text.
pub fn encode_value(value: &Value) -> Option<Vec<u8>> {
    if value.is_null() {
        return None;
    }
    serde_json::to_vec(value).ok()
}

/// A message body back to the value: JSON if it is JSON, else the text (a
/// message someone else published, which the checkers flag as unexpected).
pub fn decode_value(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The answer to a publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PubAck {
    /// Stored in `stream` at sequence `seq`.
    Stored {
        stream: String,
        seq: u64,
        duplicate: bool,
    },
    Rejected(ApiError),
}

/// Parses a publish acknowledgement: `{"stream":"s","seq":5}` or
/// `{"error":{...}}`. Err: a reply that is neither.
pub fn parse_pub_ack(payload: &[u8]) -> Result<PubAck, String> {
    let reply = json_reply(payload)?;
    if let Some(error) = api_error(&reply) {
        return Ok(PubAck::Rejected(error));
    }
    match (reply["stream"].as_str(), reply["seq"].as_u64()) {
        (Some(stream), Some(seq)) => Ok(PubAck::Stored {
            stream: stream.to_string(),
            seq,
            duplicate: reply["duplicate"].as_bool().unwrap_or(false),
        }),
        _ => Err(format!("bad-response: not a publish ack: {reply}")),
    }
}

/// `$JS.API.STREAM.CREATE.<stream>`: creates the stream, or answers with
/// the existing one if its configuration is the same (an error if not).
pub fn stream_create_subject(stream: &str) -> String {
    format!("$JS.API.STREAM.CREATE.{stream}")
}

/// `$JS.API.STREAM.INFO.<stream>`.
/// `$JS.API.STREAM.DELETE.<stream>`.
pub fn stream_delete_subject(stream: &str) -> String {
    format!("$JS.API.STREAM.DELETE.{stream}")
}

pub fn stream_info_subject(stream: &str) -> String {
    format!("$JS.API.STREAM.INFO.{stream}")
}

/// How a stream keeps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Until limits (we set none): a log.
    Limits,
    /// Until a consumer acknowledges them: a queue.
    WorkQueue,
}

/// A file-backed stream on one subject, without limits. Only fields
/// nats-server 2.9 knows; the server fills in the rest.
pub fn stream_config(
    stream: &str,
    subject: &str,
    retention: Retention,
    replicas: usize,
) -> Vec<u8> {
    json!({
        "name": stream,
        "subjects": [subject],
        "retention": match retention {
            Retention::Limits => "limits",
            Retention::WorkQueue => "workqueue",
        },
        "storage": "file",
        "num_replicas": replicas,
        "discard": "old",
    })
    .to_string()
    .into_bytes()
}

/// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>` (the 2.9 form).
pub fn durable_create_subject(stream: &str, durable: &str) -> String {
    format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}")
}

/// A durable pull consumer with explicit acks, replicated like its stream,
/// redelivering a message unacknowledged after `ack_wait` forever.
pub fn durable_config(stream: &str, durable: &str, ack_wait: Duration) -> Vec<u8> {
    json!({
        "stream_name": stream,
        "config": {
            "durable_name": durable,
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "ack_wait": ack_wait.as_nanos() as u64,
            "max_deliver": -1,
            "replay_policy": "instant",
        },
    })
    .to_string()
    .into_bytes()
}

/// `$JS.API.STREAM.MSG.GET.<stream>`: answered by the stream's leader only.
pub fn msg_get_subject(stream: &str) -> String {
    format!("$JS.API.STREAM.MSG.GET.{stream}")
}

/// The first message on `subject` at sequence `seq` or after: steps over
/// holes (deleted or never written sequences), so a reader meets a missing
/// offset as a jump, which the log checker can judge.
pub fn msg_get_next(seq: u64, subject: &str) -> Vec<u8> {
    json!({"seq": seq, "next_by_subj": subject})
        .to_string()
        .into_bytes()
}

/// The answer to a message get.
#[derive(Clone, Debug, PartialEq)]
pub enum Got {
    Message {
        seq: u64,
        value: Value,
    },
    /// Nothing at or after the sequence asked for: the end of the stream.
    End,
    Error(ApiError),
}

/// Parses `{"message":{"seq":5,"data":"<base64>",...}}` or an error.
pub fn parse_msg_get(payload: &[u8]) -> Result<Got, String> {
    let reply = json_reply(payload)?;
    if let Some(error) = api_error(&reply) {
        return Ok(if error.err_code == NO_MESSAGE_FOUND {
            Got::End
        } else {
            Got::Error(error)
        });
    }
    let message = &reply["message"];
    let Some(seq) = message["seq"].as_u64() else {
        return Err(format!("bad-response: not a stored message: {reply}"));
    };
    // An empty body is left out.
    let body = match message.get("data").and_then(Value::as_str) {
        Some(data) => B64
            .decode(data)
            .map_err(|e| format!("bad-response: data of seq {seq}: {e}"))?,
        None => Vec::new(),
    };
    Ok(Got::Message {
        seq,
        value: decode_value(&body),
    })
}

/// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`: a pull request.
pub fn pull_subject(stream: &str, consumer: &str) -> String {
    format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}")
}

/// One message, or at once a 404 status when none is ready.
pub fn pull_one_now() -> Vec<u8> {
    br#"{"batch":1,"no_wait":true}"#.to_vec()
}

/// One message, waiting up to `expires` for it (then a 408 status).
pub fn pull_one_within(expires: Duration) -> Vec<u8> {
    json!({"batch": 1, "expires": expires.as_nanos() as u64})
        .to_string()
        .into_bytes()
}

/// `$JS.API.CONSUMER.INFO.<stream>.<consumer>`.
pub fn consumer_info_subject(stream: &str, consumer: &str) -> String {
    format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}")
}

/// What a consumer still holds: messages not yet delivered, and delivered
/// but not acknowledged (they come again after the ack wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backlog {
    pub num_pending: u64,
    pub num_ack_pending: u64,
}

pub fn parse_backlog(payload: &[u8]) -> Result<Backlog, String> {
    let reply = json_reply(payload)?;
    if let Some(error) = api_error(&reply) {
        return Err(error.label());
    }
    match (
        reply["num_pending"].as_u64(),
        reply["num_ack_pending"].as_u64(),
    ) {
        (Some(num_pending), Some(num_ack_pending)) => Ok(Backlog {
            num_pending,
            num_ack_pending,
        }),
        // Zero counts are left out of the JSON.
        _ if reply.get("name").is_some() => Ok(Backlog {
            num_pending: reply["num_pending"].as_u64().unwrap_or(0),
            num_ack_pending: reply["num_ack_pending"].as_u64().unwrap_or(0),
        }),
        _ => Err(format!("bad-response: not a consumer info: {reply}")),
    }
}

/// A stream's or consumer's raft group, from an INFO reply: its leader, and
/// whether every other replica is current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub leader: Option<String>,
    pub replicas: usize,
    pub all_current: bool,
}

/// Parses the `cluster` object of a STREAM.INFO / CONSUMER.INFO reply (or
/// of a create reply, which has the same shape).
pub fn parse_group(payload: &[u8]) -> Result<Group, ApiOrText> {
    let reply = json_reply(payload).map_err(ApiOrText::Text)?;
    if let Some(error) = api_error(&reply) {
        return Err(ApiOrText::Api(error));
    }
    let cluster = &reply["cluster"];
    let replicas = cluster["replicas"].as_array().map(Vec::as_slice);
    Ok(Group {
        leader: cluster["leader"].as_str().map(str::to_string),
        replicas: replicas.map_or(0, <[Value]>::len),
        all_current: replicas
            .unwrap_or_default()
            .iter()
            .all(|r| r["current"].as_bool() == Some(true)),
    })
}

/// An API error, or a reply that is not JSON of the expected shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiOrText {
    Api(ApiError),
    Text(String),
}

impl std::fmt::Display for ApiOrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiOrText::Api(e) => f.write_str(&e.label()),
            ApiOrText::Text(t) => f.write_str(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_as_json_text() {
        assert_eq!(encode_value(&json!(42)), Some(b"42".to_vec()));
        assert_eq!(encode_value(&Value::Null), None);
        assert_eq!(decode_value(b"42"), json!(42));
        assert_eq!(decode_value(b"[1,2]"), json!([1, 2]));
        assert_eq!(decode_value(b"hello"), json!("hello"));
        assert_eq!(decode_value(b""), json!(""));
    }

    #[test]
    fn a_pub_ack_gives_stream_and_sequence() {
        assert_eq!(
            parse_pub_ack(br#"{"stream":"s","seq":7}"#),
            Ok(PubAck::Stored {
                stream: "s".into(),
                seq: 7,
                duplicate: false
            })
        );
        assert!(matches!(
            parse_pub_ack(br#"{"stream":"s","seq":7,"duplicate":true}"#),
            Ok(PubAck::Stored {
                duplicate: true,
                ..
            })
        ));
        assert!(parse_pub_ack(b"").is_err());
        assert!(parse_pub_ack(br#"{"stream":"s"}"#).is_err());
    }

    #[test]
    fn only_checks_made_before_storing_mean_nothing_stored() {
        let reply = |code: u64, err: u64, text: &str| {
            format!(r#"{{"error":{{"code":{code},"err_code":{err},"description":"{text}"}}}}"#)
        };
        let Ok(PubAck::Rejected(wrong_seq)) =
            parse_pub_ack(reply(400, 10071, "wrong last sequence: 3").as_bytes())
        else {
            panic!("an error reply is a rejection")
        };
        assert!(wrong_seq.nothing_stored());
        assert_eq!(wrong_seq.label(), "jetstream-10071: wrong last sequence: 3");
        for (code, err, text) in [
            (503, 10077, "maximum messages exceeded"),
            (503, 10008, "JetStream system temporarily unavailable"),
            (500, 0, "something new"),
        ] {
            let Ok(PubAck::Rejected(e)) = parse_pub_ack(reply(code, err, text).as_bytes()) else {
                panic!("an error reply is a rejection")
            };
            assert!(!e.nothing_stored(), "{e:?} must be info");
        }
    }

    #[test]
    fn a_message_get_gives_the_entry_or_the_end() {
        let data = B64.encode("17");
        let found = format!(
            r#"{{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{{"subject":"a","seq":9,"data":"{data}","time":"2024-01-01T00:00:00Z"}}}}"#
        );
        assert_eq!(
            parse_msg_get(found.as_bytes()),
            Ok(Got::Message {
                seq: 9,
                value: json!(17)
            })
        );
        let end = br#"{"error":{"code":404,"err_code":10037,"description":"no message found"}}"#;
        assert_eq!(parse_msg_get(end), Ok(Got::End));
        let gone = br#"{"error":{"code":404,"err_code":10059,"description":"stream not found"}}"#;
        assert!(matches!(parse_msg_get(gone), Ok(Got::Error(e)) if e.err_code == 10059));
        let empty = br#"{"message":{"subject":"a","seq":3}}"#;
        assert_eq!(
            parse_msg_get(empty),
            Ok(Got::Message {
                seq: 3,
                value: json!("")
            })
        );
        assert!(parse_msg_get(br#"{"message":{"data":"MQ=="}}"#).is_err());
    }

    #[test]
    fn request_bodies_are_what_the_server_expects() {
        let next: Value = serde_json::from_slice(&msg_get_next(5, "x.y")).unwrap();
        assert_eq!(next, json!({"seq": 5, "next_by_subj": "x.y"}));
        let pull: Value =
            serde_json::from_slice(&pull_one_within(Duration::from_millis(2))).unwrap();
        assert_eq!(pull, json!({"batch": 1, "expires": 2_000_000}));
        let now: Value = serde_json::from_slice(&pull_one_now()).unwrap();
        assert_eq!(now, json!({"batch": 1, "no_wait": true}));
    }

    #[test]
    fn backlog_and_group_come_from_info_replies() {
        let info = br#"{"name":"c","num_pending":2,"num_ack_pending":1,"cluster":{"leader":"n2","replicas":[{"name":"n1","current":true},{"name":"n3","current":false}]}}"#;
        assert_eq!(
            parse_backlog(info),
            Ok(Backlog {
                num_pending: 2,
                num_ack_pending: 1
            })
        );
        assert_eq!(
            parse_group(info),
            Ok(Group {
                leader: Some("n2".into()),
                replicas: 2,
                all_current: false
            })
        );
        let leaderless = br#"{"config":{},"cluster":{"name":"c"}}"#;
        assert_eq!(parse_group(leaderless).unwrap().leader, None);
        let missing =
            br#"{"error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#;
        assert!(matches!(parse_group(missing), Err(ApiOrText::Api(e)) if e.code == 404));
        assert!(parse_backlog(missing).is_err());
    }
}
