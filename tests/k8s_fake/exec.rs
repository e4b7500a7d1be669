//! An exec run to the end by the fake API server. kube sends an exec as a
//! websocket upgrade and reads the command's output and exit status from
//! the upgraded connection, which a mock's response alone cannot carry
//! (only a real HTTP connection can be upgraded). So the request is sent
//! on, over an in-memory pipe, to a small HTTP server of our own that
//! accepts the upgrade and answers as the API server does (the channel
//! protocol `v5.channel.k8s.io`: stdout on channel 1, the final `Status` on
//! channel 3); the response, upgradable, goes back to the client.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::SinkExt;
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kube::client::Body;
use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// What a command in a container did: its exit code and its output.
#[derive(Clone, Debug)]
pub struct Ran {
    pub code: i32,
    pub output: String,
}

impl Ran {
    /// Exit 0 with `output`.
    pub fn ok(output: &str) -> Ran {
        Ran {
            code: 0,
            output: output.to_string(),
        }
    }
}

const STDOUT: u8 = 1;
const STATUS: u8 = 3;
const PROTOCOL: &str = "v5.channel.k8s.io";

/// The exec request (`parts`, as the client sent it) answered with `ran`:
/// a `101 Switching Protocols` whose connection carries the outcome.
pub async fn upgraded(parts: &http::request::Parts, ran: Ran) -> Response<Body> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |request| answer(request, ran.clone()));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_end), service)
            .with_upgrades()
            .await;
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client_end))
        .await
        .expect("an in-memory HTTP connection");
    tokio::spawn(connection.with_upgrades());
    let mut request = Request::builder()
        .method("GET")
        .uri(parts.uri.path_and_query().unwrap().as_str());
    for (name, value) in &parts.headers {
        request = request.header(name, value);
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .expect("the in-memory server answers");
    // The upgrade travels in the response's extensions, which map keeps.
    response.map(|_| Body::empty())
}

/// The API server's side: accept the upgrade, then send the output and
/// the final status on the websocket.
async fn answer(
    mut request: Request<Incoming>,
    ran: Ran,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let key = request
        .headers()
        .get(SEC_WEBSOCKET_KEY)
        .expect("kube sends a websocket key")
        .as_bytes()
        .to_vec();
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        let _ = ws
            .send(Message::binary(framed(STDOUT, ran.output.as_bytes())))
            .await;
        let status = serde_json::to_vec(&status_of(ran.code)).unwrap();
        let _ = ws.send(Message::binary(framed(STATUS, &status))).await;
        let _ = ws.close(None).await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(&key))
        .header(SEC_WEBSOCKET_PROTOCOL, PROTOCOL)
        .body(Empty::new())
        .unwrap())
}

fn framed(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut message = vec![channel];
    message.extend_from_slice(data);
    message
}

/// The `Status` an exec ends with, as the kubelet words it.
fn status_of(code: i32) -> serde_json::Value {
    if code == 0 {
        return json!({"status": "Success", "metadata": {}});
    }
    json!({
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": format!("command terminated with non-zero exit code: exit status {code}"),
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        "metadata": {}
    })
}
