//! A fake Kubernetes API server for the backend's tests (kube's
//! tower-test mock: no cluster is reachable from our CI machines): the
//! test scripts its answers, and every request it sees is kept to be
//! checked. Pods of a StatefulSet as the API server lists them, the checks
//! every test makes (each request in the namespace and granted by the
//! Role), and execs run to the end ([`exec`]) or refused.
#![allow(dead_code)] // each test binary uses its own share

mod exec;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaos::backends::k8s::permissions::required;
use chaos::backends::k8s::{K8sCluster, K8sError, Target, SIDECAR};
use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};

pub use exec::Ran;

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

/// What the fake API server's exec answers: the command's exit code and
/// its output, or None to leave the request to the [`Script`].
pub type ExecScript = Box<dyn FnMut(&Seen) -> Option<Ran> + Send>;

/// A client talking to a fake API server playing `script`; the requests it
/// sees are recorded in the returned list.
pub fn fake(script: Script) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
    fake_with_exec(script, Box::new(|_| None))
}

/// [`fake`], with the execs `exec` answers run to the end: the websocket
/// upgrade completed in memory, the output and the exit status sent on it
/// as the API server does.
pub fn fake_with_exec(
    mut script: Script,
    mut exec: ExecScript,
) -> (kube::Client, Arc<Mutex<Vec<Seen>>>) {
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
            let ran = if request.upgrade {
                exec(&request)
            } else {
                None
            };
            match ran {
                Some(ran) => send.send_response(exec::upgraded(&parts, ran).await),
                None => match script(&request) {
                    Some(response) => send.send_response(response),
                    None => held.push(send),
                },
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

pub async fn refused(pods: Value, target: Target) -> (K8sError, Vec<Seen>) {
    let (client, seen) = fake(Box::new(move |_| ok(pods.clone())));
    let e = match K8sCluster::discover(client, target).await {
        Err(e) => e,
        Ok(_) => panic!("discovery should have refused"),
    };
    one_line(e.message());
    let seen = seen.lock().unwrap().clone();
    (e, seen)
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

/// A fake server listing three pods; every exec is refused (the mock
/// cannot complete a websocket), so each request can be looked at.
pub async fn three_refusing_exec() -> (K8sCluster, Arc<Mutex<Vec<Seen>>>) {
    discovered(Box::new(|s| {
        if s.upgrade {
            status(400, "BadRequest", "exec is not possible here")
        } else {
            ok(three())
        }
    }))
    .await
}

pub fn exec_path(pod: &str) -> String {
    format!("/api/v1/namespaces/{NS}/pods/{pod}/exec")
}
