//! What the fault filesystem's control socket answers (docs/disk-faults.md),
//! read the same way by every backend: each sends a request by running
//! `chaos faultfs ctl SOCKET '<json>'` inside the node and reads its output
//! here. The requests themselves are in [`crate::storage`].

use serde_json::Value;

use crate::fault::Fault;

/// The reply in what `chaos faultfs ctl` printed: its last line that is a
/// JSON object. None when there is none (the command could not reach the
/// socket and said why in words).
pub fn reply(output: &str) -> Option<Value> {
    output
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .find(Value::is_object)
}

/// Does a `status` reply show `fault` in force? A flakey: any flakey; a
/// slow disk: its delay on reads, writes and fsyncs alike.
pub fn shows(status: &Value, fault: &Fault) -> bool {
    match fault {
        Fault::Flakey { .. } => !status["flakey"].is_null(),
        Fault::SlowDisk { delay_ms, .. } => {
            let delay = u64::from(*delay_ms);
            latency(status).iter().all(|(_, ms)| *ms == delay)
        }
        _ => false,
    }
}

/// What a `status` reply shows in force, one short phrase each (`flakey
/// error_writes`, `corrupt r`, `latency 100 ms on reads`): empty when
/// nothing is.
pub fn in_force(status: &Value) -> Vec<String> {
    let mut faults = Vec::new();
    if let Some(mode) = status["flakey"]["mode"].as_str() {
        faults.push(format!("flakey {mode}"));
    }
    for corrupt in status["corrupt"].as_array().into_iter().flatten() {
        let direction = corrupt["direction"].as_str().unwrap_or("?");
        faults.push(format!("corrupt {direction}"));
    }
    for (what, ms) in latency(status) {
        if ms > 0 {
            faults.push(format!("latency {ms} ms on {what}"));
        }
    }
    faults
}

/// The delays of a `status` reply: (what, ms) for reads, writes, fsyncs.
fn latency(status: &Value) -> [(&'static str, u64); 3] {
    let ms = |field: &str| status["latency"][field].as_u64().unwrap_or(0);
    [
        ("reads", ms("reads_ms")),
        ("writes", ms("writes_ms")),
        ("fsyncs", ms("fsync_ms")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Flakey, FlakeyMode};
    use serde_json::json;

    fn status(flakey: Value, reads: u64, writes: u64, fsync: u64) -> Value {
        json!({
            "ok": true, "flakey": flakey, "corrupt": [],
            "latency": {"reads_ms": reads, "writes_ms": writes, "fsync_ms": fsync},
            "unsynced_bytes": 0, "unsynced_files": 0, "cache_limit": 1
        })
    }

    #[test]
    fn the_reply_is_the_last_json_object_printed() {
        let out = "a warning\n{\"ok\":true,\"n\":1}\n{\"ok\":false,\"error\":\"x\"}\n";
        assert_eq!(reply(out), Some(json!({"ok": false, "error": "x"})));
        assert_eq!(reply("chaos faultfs: cannot connect\n"), None);
        assert_eq!(reply("42\n"), None, "a number is no reply");
    }

    #[test]
    fn status_shows_the_fault_it_was_asked_for() {
        let flakey = Fault::Flakey {
            node: "n1".into(),
            flakey: Flakey::new(FlakeyMode::ErrorWrites),
        };
        let slow = Fault::SlowDisk {
            node: "n1".into(),
            delay_ms: 100,
        };
        let clear = status(Value::Null, 0, 0, 0);
        assert!(!shows(&clear, &flakey) && !shows(&clear, &slow));
        assert!(in_force(&clear).is_empty());
        let down = json!({"mode": "error_writes", "down": true, "up_ms": 1, "down_ms": 1});
        let flaking = status(down, 0, 0, 0);
        assert!(shows(&flaking, &flakey) && !shows(&flaking, &slow));
        assert_eq!(in_force(&flaking), ["flakey error_writes"]);
        let slowed = status(Value::Null, 100, 100, 100);
        assert!(shows(&slowed, &slow) && !shows(&slowed, &flakey));
        // Another delay, or one on writes only, is not this fault.
        assert!(!shows(&status(Value::Null, 100, 0, 100), &slow));
        assert_eq!(
            in_force(&status(Value::Null, 0, 5, 0)),
            ["latency 5 ms on writes"]
        );
    }
}
