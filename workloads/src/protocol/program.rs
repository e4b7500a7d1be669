//! One running client program: started under `sh -c`, in a process group
//! of its own (so a wrapper script's children go with it), told `init`,
//! then one request line and one reply line at a time. Its stderr goes to a
//! log file of the run. Dropping a [`Program`] kills its whole group: a
//! program that hangs, or whose op the worker gave up on, never outlives
//! its process id.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::message::{excerpt, is_init_ok, Init};

/// The longest reply line read: a drain or final read of a long run is a
/// few MB; a program that prints without newlines is cut off here.
const MAX_LINE: u64 = 64 << 20;

/// After stdin closes, how long a program may take to exit by itself.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// A program that is running and answered `init`.
pub struct Program {
    child: Child,
    /// Its process group (its own pid); None once it was reaped.
    group: Option<i32>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

/// Why a program cannot be used (any more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProgramError(pub String);

impl Program {
    /// Starts `command`, sends `init`, and waits up to `limit` for
    /// `init_ok`.
    pub async fn start(
        command: &str,
        log: &Path,
        init: &Init<'_>,
        limit: Duration,
    ) -> Result<Program, ProgramError> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| ProgramError(format!("cannot open {}: {e}", log.display())))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("CHAOS_PROTOCOL", super::message::VERSION.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ProgramError(format!("cannot start `sh -c {command:?}`: {e}")))?;
        let group = child.id().and_then(|pid| i32::try_from(pid).ok());
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("stdin and stdout are piped")
        };
        let mut program = Program {
            child,
            group,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            log: log.to_path_buf(),
        };
        let answer = tokio::time::timeout(limit, program.exchange(&init.line())).await;
        match answer {
            Ok(Ok(line)) if is_init_ok(&line) => Ok(program),
            Ok(Ok(line)) => Err(ProgramError(format!(
                "answered init with {:?}, not {{\"type\":\"init_ok\"}}",
                excerpt(&line)
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ProgramError(format!(
                "did not answer init within {} s",
                limit.as_secs_f64()
            ))),
        }
    }

    /// Writes one request line and reads the next non-blank line. An
    /// error means the program is of no further use.
    pub async fn exchange(&mut self, request: &str) -> Result<String, ProgramError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| ProgramError("stdin is closed".into()))?;
        // One write(2) per request: the line and its newline together.
        let mut line = Vec::with_capacity(request.len() + 1);
        line.extend_from_slice(request.as_bytes());
        line.push(b'\n');
        let sent = async {
            stdin.write_all(&line).await?;
            stdin.flush().await
        };
        if let Err(e) = sent.await {
            return Err(self.gone(&format!("did not take the request ({e})")).await);
        }
        loop {
            let mut line = Vec::new();
            let read = (&mut self.stdout)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .await;
            match read {
                Ok(0) => return Err(self.gone("closed its stdout").await),
                Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE => {
                    return Err(ProgramError(format!(
                        "wrote a line longer than {} MiB",
                        MAX_LINE >> 20
                    )))
                }
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    if !text.trim().is_empty() {
                        return Ok(text.trim_end().to_string());
                    }
                }
                Err(e) => return Err(self.gone(&format!("cannot be read ({e})")).await),
            }
        }
    }

    /// The program stopped talking: how it ended, if it did, and the last
    /// line of its stderr, which usually says why.
    async fn gone(&mut self, what: &str) -> ProgramError {
        let status = tokio::time::timeout(Duration::from_millis(200), self.child.wait()).await;
        let ended = match status {
            Ok(Ok(status)) => {
                // The leader is reaped, so its pid may be reused: take the
                // group down now, while the id is still its.
                self.kill_group();
                self.group = None;
                format!(", {status}")
            }
            _ => String::new(),
        };
        let said = last_line(&self.log)
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        ProgramError(format!("{what}{ended}{said}"))
    }

    /// Closes stdin (a program exits when it reads end of file) and waits
    /// briefly; then kills the group, whatever remains of it.
    pub async fn stop(mut self) {
        self.stdin = None;
        if let Ok(Ok(_)) = tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            // The leader exited; what it started may not have.
            self.kill_group();
            self.group = None;
        }
    }

    fn kill_group(&self) {
        if let Some(group) = self.group {
            // SAFETY: killpg only sends a signal; the group is this
            // program's own (process_group(0) at spawn).
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // kill_on_drop kills only the leader (`sh`); the group takes the
        // interpreter it started, and anything that started.
        self.kill_group();
    }
}

/// The last non-blank line of a program's stderr log.
fn last_line(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(excerpt(line))
}
