//! The control socket: a unix stream socket that takes one JSON object per
//! line and answers each with one JSON line, `{"ok":true,...}` or
//! `{"ok":false,"error":"..."}`. The requests are listed in
//! docs/disk-faults.md; this file parses and checks them, serves the
//! socket, and is the client `chaos-faultfs ctl` uses.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::Latency;
use crate::flakey::{Direction, Mode};

/// A checked request.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Throw away everything not synced.
    DropUnsynced,
    /// Write everything back and fsync it (sync(2) for this filesystem).
    Sync,
    /// Write everything back, and every later change as it is made.
    WriteThrough,
    Flakey {
        up: Duration,
        down: Duration,
        mode: Mode,
    },
    Corrupt {
        direction: Direction,
        probability: f64,
        seed: u64,
    },
    Latency(Latency),
    /// End every fault; the cache stays.
    Clear,
    Status,
}

/// The wire form, before checks.
#[derive(Deserialize)]
// Ops without fields are empty struct variants: serde checks unknown
// fields only on those, not on unit variants.
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum Request {
    DropUnsynced {},
    Sync {},
    WriteThrough {},
    Flakey {
        up_ms: u64,
        down_ms: u64,
        mode: Option<String>,
        byte: Option<u32>,
        value: Option<u8>,
        direction: Option<Direction>,
    },
    Corrupt {
        direction: Direction,
        probability: f64,
        #[serde(default)]
        seed: u64,
    },
    Latency {
        #[serde(default)]
        reads_ms: u64,
        #[serde(default)]
        writes_ms: u64,
        #[serde(default)]
        fsync_ms: u64,
    },
    Clear {},
    Status {},
}

/// Parse and check one request line; the error is one sentence for the
/// reply.
pub fn parse(line: &str) -> Result<Command, String> {
    let request: Request = serde_json::from_str(line).map_err(|e| format!("bad request: {e}"))?;
    Ok(match request {
        Request::DropUnsynced {} => Command::DropUnsynced,
        Request::Sync {} => Command::Sync,
        Request::WriteThrough {} => Command::WriteThrough,
        Request::Clear {} => Command::Clear,
        Request::Status {} => Command::Status,
        Request::Flakey {
            up_ms,
            down_ms,
            mode,
            byte,
            value,
            direction,
        } => {
            if up_ms.checked_add(down_ms).is_none_or(|total| total == 0) {
                return Err("flakey: up_ms + down_ms must be more than 0".into());
            }
            let mode = flakey_mode(mode.as_deref(), byte, value, direction)?;
            Command::Flakey {
                up: Duration::from_millis(up_ms),
                down: Duration::from_millis(down_ms),
                mode,
            }
        }
        Request::Corrupt {
            direction,
            probability,
            seed,
        } => {
            if !(0.0..=1.0).contains(&probability) {
                return Err(format!(
                    "corrupt: probability must be between 0 and 1, not {probability}"
                ));
            }
            Command::Corrupt {
                direction,
                probability,
                seed,
            }
        }
        Request::Latency {
            reads_ms,
            writes_ms,
            fsync_ms,
        } => Command::Latency(Latency {
            reads: Duration::from_millis(reads_ms),
            writes: Duration::from_millis(writes_ms),
            fsync: Duration::from_millis(fsync_ms),
        }),
    })
}

fn flakey_mode(
    mode: Option<&str>,
    byte: Option<u32>,
    value: Option<u8>,
    direction: Option<Direction>,
) -> Result<Mode, String> {
    let simple = match mode {
        None | Some("error_all") => Some(Mode::ErrorAll),
        Some("error_reads") => Some(Mode::ErrorReads),
        Some("drop_writes") => Some(Mode::DropWrites),
        Some("error_writes") => Some(Mode::ErrorWrites),
        Some("corrupt_bio_byte") => None,
        Some(other) => {
            return Err(format!(
                "flakey: unknown mode {other:?} (error_all, error_reads, drop_writes, error_writes, corrupt_bio_byte)"
            ))
        }
    };
    if let Some(simple) = simple {
        if byte.is_some() || value.is_some() || direction.is_some() {
            return Err(format!(
                "flakey: byte, value and direction belong to corrupt_bio_byte, not {}",
                simple.name()
            ));
        }
        return Ok(simple);
    }
    let (Some(nth), Some(value), Some(direction)) = (byte, value, direction) else {
        return Err("flakey: corrupt_bio_byte needs byte, value and direction".into());
    };
    if nth == 0 {
        return Err("flakey: byte counts from 1 (the first byte is 1)".into());
    }
    Ok(Mode::CorruptBioByte {
        nth,
        value,
        direction,
    })
}

/// The reply to a request that could not be carried out.
pub fn error_reply(message: &str) -> Value {
    json!({"ok": false, "error": message})
}

/// Serve `listener` until the process ends: each connection in a thread of
/// its own, each line answered by `handle` (or by the parse error).
pub fn serve<H>(listener: UnixListener, handle: H)
where
    H: Fn(Command) -> Value + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handle = Arc::clone(&handle);
        thread::spawn(move || {
            // A client that goes away mid-line only ends its own thread.
            let _ = answer(stream, &*handle);
        });
    }
}

fn answer(stream: UnixStream, handle: &dyn Fn(Command) -> Value) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match parse(&line) {
            Ok(command) => handle(command),
            Err(message) => error_reply(&message),
        };
        writeln!(out, "{reply}")?;
    }
    Ok(())
}

/// Send one request line and return the reply line.
pub fn request(socket: &Path, line: &str) -> io::Result<Value> {
    let stream = UnixStream::connect(socket)?;
    let mut out = stream.try_clone()?;
    writeln!(out, "{}", line.trim())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    serde_json::from_str(&reply).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the reply was not JSON ({e}): {reply:?}"),
        )
    })
}

/// What `ctl` sends for its argument: a JSON object as given, or a bare op
/// name (`status`, `drop-unsynced`, `sync`, `clear`) as `{"op":NAME}`.
pub fn request_line(arg: &str) -> String {
    let arg = arg.trim();
    if arg.starts_with('{') {
        arg.to_string()
    } else {
        json!({ "op": arg }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_parses() {
        assert_eq!(
            parse(r#"{"op":"drop-unsynced"}"#),
            Ok(Command::DropUnsynced)
        );
        assert_eq!(parse(r#"{"op":"sync"}"#), Ok(Command::Sync));
        assert_eq!(parse(r#"{"op":"clear"}"#), Ok(Command::Clear));
        assert_eq!(parse(r#"{"op":"status"}"#), Ok(Command::Status));
        assert_eq!(
            parse(r#"{"op":"flakey","up_ms":10,"down_ms":20,"mode":"drop_writes"}"#),
            Ok(Command::Flakey {
                up: Duration::from_millis(10),
                down: Duration::from_millis(20),
                mode: Mode::DropWrites
            })
        );
        assert_eq!(
            parse(
                r#"{"op":"flakey","up_ms":0,"down_ms":5,"mode":"corrupt_bio_byte","byte":3,"value":255,"direction":"r"}"#
            ),
            Ok(Command::Flakey {
                up: Duration::ZERO,
                down: Duration::from_millis(5),
                mode: Mode::CorruptBioByte {
                    nth: 3,
                    value: 255,
                    direction: Direction::Read
                }
            })
        );
        assert_eq!(
            parse(r#"{"op":"corrupt","direction":"w","probability":0.01,"seed":9}"#),
            Ok(Command::Corrupt {
                direction: Direction::Write,
                probability: 0.01,
                seed: 9
            })
        );
        assert_eq!(
            parse(r#"{"op":"latency","fsync_ms":50}"#),
            Ok(Command::Latency(Latency {
                fsync: Duration::from_millis(50),
                ..Latency::default()
            }))
        );
    }

    #[test]
    fn no_mode_is_dm_flakeys_default_every_io_fails() {
        let parsed = parse(r#"{"op":"flakey","up_ms":1,"down_ms":1}"#).unwrap();
        assert!(matches!(
            parsed,
            Command::Flakey {
                mode: Mode::ErrorAll,
                ..
            }
        ));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let refused = |line: &str, says: &str| {
            let err = parse(line).unwrap_err();
            assert!(err.contains(says), "{line}: {err}");
        };
        refused("not json", "bad request");
        refused(r#"{"op":"reboot"}"#, "unknown variant");
        refused(r#"{"op":"status","extra":1}"#, "unknown field");
        refused(r#"{"op":"flakey","up_ms":0,"down_ms":0}"#, "more than 0");
        refused(
            r#"{"op":"flakey","up_ms":1,"down_ms":1,"mode":"melt"}"#,
            "unknown mode",
        );
        refused(
            r#"{"op":"flakey","up_ms":1,"down_ms":1,"mode":"drop_writes","byte":1}"#,
            "belong to corrupt_bio_byte",
        );
        refused(
            r#"{"op":"flakey","up_ms":1,"down_ms":1,"mode":"corrupt_bio_byte","byte":1}"#,
            "needs byte, value and direction",
        );
        refused(
            r#"{"op":"flakey","up_ms":1,"down_ms":1,"mode":"corrupt_bio_byte","byte":0,"value":1,"direction":"w"}"#,
            "counts from 1",
        );
        refused(
            r#"{"op":"flakey","up_ms":1,"down_ms":1,"mode":"corrupt_bio_byte","byte":1,"value":256,"direction":"w"}"#,
            "bad request",
        );
        refused(
            r#"{"op":"corrupt","direction":"x","probability":0.5}"#,
            "bad request",
        );
        refused(
            r#"{"op":"corrupt","direction":"r","probability":1.5}"#,
            "between 0 and 1",
        );
    }

    #[test]
    fn ctl_arguments_become_request_lines() {
        assert_eq!(request_line("status"), r#"{"op":"status"}"#);
        assert_eq!(request_line(r#" {"op":"sync"} "#), r#"{"op":"sync"}"#);
    }

    #[test]
    fn the_socket_answers_each_line() {
        let dir = std::env::temp_dir().join(format!("faultfs-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ctl.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            serve(
                listener,
                |command| json!({"ok": true, "got": format!("{command:?}")}),
            )
        });
        let reply = request(&path, r#"{"op":"status"}"#).unwrap();
        assert_eq!(reply, json!({"ok": true, "got": "Status"}));
        let reply = request(&path, r#"{"op":"nope"}"#).unwrap();
        assert_eq!(reply["ok"], false);
        assert!(reply["error"].as_str().unwrap().contains("unknown variant"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
