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

/// What the fault filesystem's `clear` reply says its faults changed, for
/// the line a heal prints (and the history's stop op carries):
/// `412 requests failed, 3 reads corrupted`, or `no request changed`
/// (a flakey disk nobody wrote to while it was down tested nothing). None
/// for a reply without the count (a filesystem from before it counted).
fn affected_summary(clear_reply: &Value) -> Option<String> {
    let affected = clear_reply.get("affected")?;
    let count = |key: &str| affected.get(key).and_then(Value::as_u64).unwrap_or(0);
    let parts: Vec<String> = [
        ("failed", "request", "failed"),
        ("dropped", "request", "dropped"),
        ("corrupted_reads", "read", "corrupted"),
        ("corrupted_writes", "write", "corrupted"),
    ]
    .into_iter()
    .filter(|(key, ..)| count(key) > 0)
    .map(|(key, what, how)| match count(key) {
        1 => format!("1 {what} {how}"),
        n => format!("{n} {what}s {how}"),
    })
    .collect();
    Some(if parts.is_empty() {
        "no request changed".into()
    } else {
        parts.join(", ")
    })
}

/// The line an undo prints for node `node` once its filesystem's faults
/// are cleared: `n2: disk faults ended (412 requests failed)`.
pub fn disk_faults_ended(node: &str, clear_reply: &Value) -> String {
    match affected_summary(clear_reply) {
        Some(affected) => format!("{node}: disk faults ended ({affected})"),
        None => format!("{node}: disk faults ended"),
    }
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

    #[test]
    fn a_clear_reply_says_what_the_faults_changed() {
        let reply = json!({"ok": true, "affected": {"failed": 412, "dropped": 0, "corrupted_reads": 3, "corrupted_writes": 0}});
        assert_eq!(
            affected_summary(&reply).as_deref(),
            Some("412 requests failed, 3 reads corrupted")
        );
        let one = json!({"ok": true, "affected": {"dropped": 1}});
        assert_eq!(affected_summary(&one).as_deref(), Some("1 request dropped"));
        let nothing = json!({"ok": true, "affected": {"failed": 0, "dropped": 0, "corrupted_reads": 0, "corrupted_writes": 0}});
        assert_eq!(
            affected_summary(&nothing).as_deref(),
            Some("no request changed")
        );
        assert_eq!(affected_summary(&json!({"ok": true})), None);
    }

    #[test]
    fn the_undo_line_names_the_node_and_what_changed() {
        let reply = json!({"ok": true, "affected": {"failed": 2}});
        assert_eq!(
            disk_faults_ended("n2", &reply),
            "n2: disk faults ended (2 requests failed)"
        );
        assert_eq!(
            disk_faults_ended("n2", &json!({"ok": true})),
            "n2: disk faults ended"
        );
    }
}
