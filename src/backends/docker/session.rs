//! Running scripts in a sidecar without `docker exec`.
//!
//! A `docker exec` costs ~40 ms of runc work on this machine, and five in
//! parallel ~100 ms on two cores: most of a partition's time. So a sidecar's
//! main process is a small shell loop reading requests on its stdin, and we
//! talk to it over `docker attach`: one attach per sidecar per process, then
//! each request is a line each way, and the cost is the script's own.
//!
//! Protocol, one line each way: `<id> <base64 script>` in,
//! `<id> <exit code> <base64 stdout+stderr>` out. Every attached client sees
//! every answer (and two harness processes may talk to one sidecar), so each
//! client picks out the answers carrying its own ids.
//!
//! Anything going wrong with a session (a sidecar made by an older harness,
//! a closed stream) drops it and falls back to `docker exec`, which always
//! works.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bollard::container::LogOutput;
use bollard::query_parameters::AttachContainerOptionsBuilder;
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::DockerError;

/// The sidecar's main process: answer requests until stdin closes (never,
/// with `StdinOnce=false`: it stays open when clients detach). Scripts get
/// /dev/null as stdin so they cannot eat the requests that follow.
pub const SERVER: &str = r#"while IFS= read -r line; do
  id=${line%% *}
  script=$(printf '%s' "${line#* }" | base64 -d)
  out=$(sh -c "$script" </dev/null 2>&1); code=$?
  printf '%s %s %s\n' "$id" "$code" "$(printf '%s' "$out" | base64 -w0)"
done"#;

/// The version of this protocol, on every sidecar as a label: bump it when
/// SERVER or the framing changes.
pub const PROTOCOL: &str = "stdin-b64-1";

/// How long one script may take before we give up on the session.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

struct Session {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    buffer: String,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Session {
    async fn open(docker: &Docker, container: &str) -> Result<Session, String> {
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = docker
            .attach_container(container, Some(options))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Session {
            input: attached.input,
            output: attached.output,
            buffer: String::new(),
        })
    }

    async fn run(&mut self, script: &str) -> Result<(i64, String), String> {
        // Unique across the clients of one sidecar: pid, then a counter.
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let line = format!("{id} {}\n", STANDARD.encode(script));
        self.input
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        self.input.flush().await.map_err(|e| e.to_string())?;
        loop {
            while let Some(end) = self.buffer.find('\n') {
                let answer: String = self.buffer.drain(..=end).collect();
                let mut parts = answer.trim_end().splitn(3, ' ');
                if parts.next() != Some(id.as_str()) {
                    continue; // another client's answer
                }
                let code = parts
                    .next()
                    .and_then(|c| c.parse().ok())
                    .ok_or("bad answer")?;
                let text = STANDARD
                    .decode(parts.next().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                return Ok((code, String::from_utf8_lossy(&text).into_owned()));
            }
            match tokio::time::timeout(ANSWER_TIMEOUT, self.output.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer += &chunk.to_string(),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => return Err("the sidecar closed its output".into()),
                Err(_) => return Err("no answer in time".into()),
            }
        }
    }
}

/// Open sessions by sidecar id, for one cluster in one runtime.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Arc<Mutex<Session>>>>,
}

impl Sessions {
    /// Run `script` (sh) in `sidecar`: its exit code and output.
    pub async fn run(
        &self,
        docker: &Docker,
        sidecar: &str,
        script: &str,
    ) -> Result<(i64, String), DockerError> {
        if let Ok(session) = self.session(docker, sidecar).await {
            let answer = session.lock().await.run(script).await;
            match answer {
                Ok(answer) => return Ok(answer),
                // A broken session is dropped; the next call attaches anew.
                Err(_) => {
                    self.open.lock().await.remove(sidecar);
                }
            }
        }
        super::sidecar::exec(docker, sidecar, &["sh", "-c", script]).await
    }

    async fn session(&self, docker: &Docker, sidecar: &str) -> Result<Arc<Mutex<Session>>, String> {
        let mut open = self.open.lock().await;
        if let Some(session) = open.get(sidecar) {
            return Ok(session.clone());
        }
        let session = Arc::new(Mutex::new(Session::open(docker, sidecar).await?));
        open.insert(sidecar.to_string(), session.clone());
        Ok(session)
    }

    /// Forget a sidecar's session (it is being removed).
    pub async fn forget(&self, sidecar: &str) {
        self.open.lock().await.remove(sidecar);
    }
}

/// `text` as one sh word.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
