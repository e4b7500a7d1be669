//! The fake Kubernetes API server the backend's tests talk to: kube's
//! tower-test mock behind a real `kube::Client`, answering from a script
//! and recording every request (method, path and query, body, whether it
//! is a websocket upgrade), with the pods it lists and the checks every
//! test makes of the requests (in the namespace, covered by PERMISSIONS).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaos::backends::k8s::permissions::required;
use chaos::backends::k8s::{K8sCluster, Target, SIDECAR};
use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};

pub const NS: &str = "staging";

/// One request the fake API server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub body: Vec<u8>,
    /// Was it a websocket upgrade (exec)?
    pub upgrade: bool,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap()
    }

    /// The decoded values of query parameter `key`, in order.
    pub fn query(&self, key: &str) -> Vec<String> {
        let query = self.uri.split_once('?').map(|(_, q)| q).unwrap_or("");
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| decode(v))
            .collect()
    }
}

/// Percent-decoding of a query value (`+` is a space).
pub fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The fake API server's script: the answer to a request, or None to
/// never answer (a hung server).
pub type Script = Box<dyn FnMut(&Seen) -> Option<Response<Body>> + Send>;

/// A client talking to a fake API server playing `script`; the requests it
/// sees are recorded in the returned list.
pub fn fake(mut script: Script) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let request = Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                body: body.collect_bytes().await.unwrap_or_default().to_vec(),
                upgrade: parts
                    .headers
                    .get(http::header::UPGRADE)
                    .is_some_and(|v| v == "websocket"),
            };
            log.lock().unwrap().push(request.clone());
            match script(&request) {
                Some(response) => send.send_response(response),
                None => held.push(send),
            }
        }
    });
    (kube::Client::new(service, NS), seen)
}

pub fn ok(value: Value) -> Option<Response<Body>> {
    Some(Response::new(Body::from(
        serde_json::to_vec(&value).unwrap(),
    )))
}

pub fn text(body: &str) -> Option<Response<Body>> {
    Some(Response::new(Body::from(body.as_bytes().to_vec())))
}

/// An API error as the API server sends it: a `Status` with its code.
pub fn status(code: u16, reason: &str, message: &str) -> Option<Response<Body>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    Some(
        Response::builder()
            .status(code)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap(),
    )
}

/// Pod `etcd-<ordinal>` of StatefulSet `sts`, Running with `ip`.
pub fn pod_of(sts: &str, ordinal: usize, ip: &str, uid: &str, ready: bool) -> Value {
    let name = format!("{sts}-{ordinal}");
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NS, "uid": uid,
            "labels": {"app": "etcd", "apps.kubernetes.io/pod-index": ordinal.to_string()},
            "annotations": {"io.chaos/process": "etcd"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts, "uid": "sts-uid"}]
        },
        "spec": {
            "shareProcessNamespace": true,
            "containers": [{"name": "etcd", "image": "etcd"}, {"name": SIDECAR, "image": "chaos/harness"}]
        },
        "status": {
            "phase": "Running", "podIP": ip,
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [
                {"name": "etcd", "ready": ready, "restartCount": 0, "image": "etcd", "imageID": "",
                 "state": {"running": {}}},
                {"name": SIDECAR, "ready": true, "restartCount": 0, "image": "chaos/harness", "imageID": "",
                 "state": {"running": {}}}
            ]
        }
    })
}

pub fn pod(ordinal: usize, ip: &str, uid: &str, ready: bool) -> Value {
    pod_of("etcd", ordinal, ip, uid, ready)
}

pub fn pod_list(pods: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods})
}

pub fn three() -> Value {
    // Listed out of order: the backend sorts by ordinal.
    pod_list(vec![
        pod(2, "10.0.0.12", "u2", true),
        pod(0, "10.0.0.10", "u0", true),
        pod(1, "10.0.0.11", "u1", true),
    ])
}

pub fn target() -> Target {
    let mut target = Target::new(NS, "app=etcd");
    target.own_pod = Some("chaos-nightly-abcde".into());
    target.expected_nodes = Some(3);
    target.api_timeout = Duration::from_millis(500);
    target.ready_timeout = Duration::from_secs(3);
    target
}

pub fn is_list(s: &Seen) -> bool {
    s.method == "GET" && s.path() == format!("/api/v1/namespaces/{NS}/pods")
}

/// Every request stayed in our namespace and is one the Role grants.
pub fn assert_covered(seen: &[Seen]) {
    assert!(!seen.is_empty(), "the backend made no request");
    for s in seen {
        assert!(
            required(&s.method, &s.uri, NS).is_some(),
            "{} {} is outside namespace {NS} or not covered by PERMISSIONS",
            s.method,
            s.uri
        );
    }
}

pub fn one_line(message: &str) {
    assert!(!message.contains('\n'), "not one line: {message}");
}

pub async fn discovered(script: Script) -> (K8sCluster, Arc<Mutex<Vec<Seen>>>) {
    let (client, seen) = fake(script);
    let cluster = K8sCluster::discover(client, target())
        .await
        .expect("discovery");
    (cluster, seen)
}

/// The exec requests seen (websocket upgrades): pod path and command,
/// sorted by pod.
pub fn execs_seen(seen: &[Seen]) -> Vec<(String, Vec<String>)> {
    let mut execs: Vec<(String, Vec<String>)> = seen
        .iter()
        .filter(|s| s.upgrade)
        .map(|s| (s.path().to_string(), s.query("command")))
        .collect();
    execs.sort();
    execs
}

pub fn exec_path(pod: &str) -> String {
    format!("/api/v1/namespaces/{NS}/pods/{pod}/exec")
}
