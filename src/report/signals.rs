//! The node log lines a report shows next to the faults: elections, leader
//! changes, timeouts, as the system's description phrases them, and the
//! fatal lines of a node that stops for good. Timestamps are read from the formats our images write
//! (etcd 3.4's capnslog and raft lines, NATS 2.9) and placed on the run's
//! clock; containers log in UTC.

use super::input::NodeSignal;
use chaos_checkers::perf::FaultWindow;

/// Signal lines of one node's log: those holding one of `phrases` (lower
/// case, the system's own), with their time since `run_start` (nanoseconds
/// since the Unix epoch); lines before the run are left out.
pub fn signals(node: &str, log: &str, run_start: u64, phrases: &[&str]) -> Vec<NodeSignal> {
    // A line without a time of its own (a Go runtime's `panic:` and the
    // stack under it) takes the time of the last line that had one.
    let mut last_time = None;
    log.lines()
        .filter_map(|line| {
            let (at, text) = match timestamp(line) {
                Some((at, text)) => {
                    last_time = Some(at);
                    (at, text)
                }
                None => (last_time?, line),
            };
            // The phrases are looked for in the message only: etcd's JSON
            // lines carry settings such as `election-timeout` beside it.
            // A JSON line at a level that ends the process is a signal
            // whatever it says (a node that will not start again).
            let level = json_level(line).filter(|l| ["fatal", "panic", "dpanic"].contains(l));
            let lower = text.to_ascii_lowercase();
            if level.is_none() && !phrases.iter().any(|p| lower.contains(p)) {
                return None;
            }
            let time = at.checked_sub(run_start)?;
            Some(NodeSignal {
                node: node.to_string(),
                time,
                line: match level {
                    Some(level) => format!("{level}: {}", text.trim()),
                    None => text.trim().to_string(),
                },
            })
        })
        .collect()
}

/// The `level` of a JSON log line (zap's, as etcd writes it).
fn json_level(line: &str) -> Option<&str> {
    if line.starts_with('{') {
        json_field(line, "level")
    } else {
        None
    }
}

/// The signals inside a fault window, or within `margin` ns of one.
pub fn near_faults(
    signals: Vec<NodeSignal>,
    faults: &[FaultWindow],
    margin: u64,
) -> Vec<NodeSignal> {
    signals
        .into_iter()
        .filter(|s| {
            faults.iter().any(|w| {
                let end = w.end.unwrap_or(u64::MAX).saturating_add(margin);
                w.start.saturating_sub(margin) <= s.time && s.time <= end
            })
        })
        .collect()
}

/// The time a line was written (ns since the epoch) and the rest of it.
fn timestamp(line: &str) -> Option<(u64, &str)> {
    // etcd:  2026-11-24 03:20:48.745907 I | raft: ...
    // raft:  raft2026/11/24 03:20:48 INFO: ... became leader at term 2
    // NATS:  [1] 2026/11/24 03:20:49.372769 [INF] ...
    // etcd's zap logger: {"level":"info","ts":"2026-11-24T03:24:54.664Z",...,"msg":"..."}
    if line.starts_with('{') {
        let ts = json_field(line, "ts")?;
        let (date, clock) = ts.strip_suffix('Z').unwrap_or(ts).split_once('T')?;
        return Some((epoch(date, clock)?, json_field(line, "msg").unwrap_or(line)));
    }
    let line = line.strip_prefix("raft").unwrap_or(line);
    let line = match line.strip_prefix('[') {
        Some(rest) => rest.split_once("] ")?.1,
        None => line,
    };
    let (date, rest) = line.split_once(' ')?;
    let (clock, text) = rest.split_once(' ')?;
    Some((epoch(date, clock)?, text))
}

/// The string value of `"name":"..."` in a one-line JSON object (no
/// escapes inside the value are understood: enough for ts and msg).
fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// Nanoseconds since the epoch of a UTC `date` (`2026-11-24` or
/// `2026/11/24`) and `clock` (`03:20:48` with an optional fraction).
fn epoch(date: &str, clock: &str) -> Option<u64> {
    let at: jiff::Timestamp = format!("{}T{clock}Z", date.replace('/', "-"))
        .parse()
        .ok()?;
    u64::try_from(at.as_nanosecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn phrases(system: &str) -> Vec<&'static str> {
        let system = chaos_workloads::registry::system(system).unwrap();
        system.phrases().collect()
    }

    /// 2026-11-24 03:20:48 UTC in ns since the epoch.
    const AT_03_20_48: u64 = 1_795_490_448 * 1_000_000_000;

    #[test]
    fn dates_convert_to_epoch_time() {
        assert_eq!(epoch("1970-01-01", "00:00:00"), Some(0));
        assert_eq!(
            epoch("2000/03/01", "00:00:01.5"),
            Some(11_017 * 86_400 * 1_000_000_000 + 1_500_000_000)
        );
        assert_eq!(epoch("2026-13-01", "00:00:00"), None);
        assert_eq!(epoch("2026-11-24", "25:00:00"), None);
        assert_eq!(
            timestamp("2026-11-24 03:20:48.745907 I | x").map(|t| t.0),
            Some(AT_03_20_48 + 745_907_000)
        );
    }

    #[test]
    fn etcd_and_nats_lines_become_signals_on_the_run_clock() {
        let etcd = "2026-11-24 03:20:48.745907 I | etcdmain: etcd Version: 3.4.23\n\
raft2026/11/24 03:20:50 INFO: 8e9e05c52164694d became leader at term 2\n\
2026-11-24 03:20:51.000001 W | etcdserver: read-only range request took too long; timed out waiting for read index\n\
raft2026/11/24 03:20:47 INFO: 8e9e05c52164694d became candidate at term 1";
        let s = signals("n1", etcd, AT_03_20_48, &phrases("etcd"));
        assert_eq!(
            s.len(),
            2,
            "the version line is not a signal; the line before the run is dropped"
        );
        assert_eq!((s[0].node.as_str(), s[0].time), ("n1", 2_000_000_000));
        assert_eq!(s[0].line, "INFO: 8e9e05c52164694d became leader at term 2");
        assert_eq!(s[1].time, 3_000_001_000);
        let nats = "[1] 2026/11/24 03:20:49.372769 [INF] Starting nats-server\n\
[1] 2026/11/24 03:20:52.500000 [INF] JetStream cluster new metadata leader: n2/chaos\n\
[1] 2026/11/24 03:20:53.000000 [INF] JetStream cluster new stream leader for '$G > s'\n\
[1] 2026/11/24 03:20:54.000000 [INF] JetStream cluster new consumer leader for '$G > s > c'";
        let s = signals("n3", nats, AT_03_20_48, &phrases("nats"));
        assert_eq!(s.len(), 3);
        assert!(s[1].line.contains("new stream leader"));
        assert!(s[2].line.contains("new consumer leader"));
        assert_eq!(
            (s[0].time, s[0].line.as_str()),
            (
                4_500_000_000,
                "[INF] JetStream cluster new metadata leader: n2/chaos"
            )
        );
    }

    #[test]
    fn etcd_json_lines_become_signals() {
        let log = r#"{"level":"info","ts":"2026-11-24T03:20:50.500Z","caller":"raft/node.go:327","msg":"raft.node: dc25 elected leader 322f at term 2"}
{"level":"info","ts":"2026-11-24T03:20:51.000Z","caller":"embed/etcd.go:305","msg":"starting an etcd server","election-timeout":"1s"}"#;
        let s = signals("n2", log, AT_03_20_48, &phrases("etcd"));
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].time, s[0].line.as_str()),
            (
                2_500_000_000,
                "raft.node: dc25 elected leader 322f at term 2"
            )
        );
    }

    #[test]
    fn a_node_that_stops_for_good_is_a_signal() {
        // etcd 3.4 after corrupted writes and a crash, NATS's fatal level.
        let etcd = r#"{"level":"warn","ts":"2026-11-24T03:20:49.000Z","msg":"simple token is not cryptographically signed"}
{"level":"fatal","ts":"2026-11-24T03:20:50.000Z","caller":"mvcc/kvstore.go:538","msg":"failed to unmarshal mvccpb.KeyValue","error":"proto: KeyValue: illegal tag 0"}"#;
        let s = signals("n3", etcd, AT_03_20_48, &phrases("etcd"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].line, "fatal: failed to unmarshal mvccpb.KeyValue");
        let nats = "[1] 2026/11/24 03:20:49.000000 [FTL] Can't start JetStream: corrupt state";
        let s = signals("n1", nats, AT_03_20_48, &phrases("nats"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].line.starts_with("[FTL]"), "{s:?}");
        // A Go panic has no time of its own: it takes the last line's.
        let go = "[1] 2026/11/24 03:20:50.000000 [INF] Starting JetStream\n\
panic: runtime error: index out of range [3] with length 3\n\
goroutine 1 [running]:";
        let s = signals("n2", go, AT_03_20_48, &phrases("nats"));
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(
            (s[0].time, s[0].line.as_str()),
            (
                2_000_000_000,
                "panic: runtime error: index out of range [3] with length 3"
            )
        );
    }

    #[test]
    fn garbage_lines_are_skipped_not_fatal() {
        let log =
            "timeout without a date\n2026-13-40 99:99:99 election\n[1 election\nraft election";
        assert!(signals("n1", log, 0, &phrases("etcd")).is_empty());
    }

    #[test]
    fn only_signals_near_faults_are_kept() {
        let s = |t| NodeSignal {
            node: "n1".into(),
            time: t,
            line: String::new(),
        };
        let w = FaultWindow {
            f: "start-partition".into(),
            value: Value::Null,
            start: 10,
            end: Some(20),
        };
        let kept = near_faults(vec![s(1), s(8), s(15), s(22), s(40)], &[w], 3);
        assert_eq!(
            kept.iter().map(|s| s.time).collect::<Vec<_>>(),
            vec![8, 15, 22]
        );
    }
}
