use super::*;
use crate::grudge::Grudge;

/// A fresh directory per test, removed when the guard drops.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("chaos-nemeses-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn file(&self) -> PathBuf {
        self.0.join("journal.jsonl")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn kill(node: &str) -> Fault {
    Fault::Kill { node: node.into() }
}
fn pause(node: &str) -> Fault {
    Fault::Pause { node: node.into() }
}
fn stop(node: &str) -> Fault {
    Fault::Stop { node: node.into() }
}
fn partition(spec: &[&str]) -> Fault {
    let components: Vec<Vec<String>> = spec
        .iter()
        .map(|c| c.split_whitespace().map(String::from).collect())
        .collect();
    Fault::Partition {
        grudge: Grudge::complete(&components),
    }
}

/// The outstanding faults, as text, for compact assertions.
fn shown(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| format!("{}#{} {}", e.run, e.seq, e.fault))
        .collect()
}

fn append_raw(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn lines_have_the_documented_shape() {
    let dir = TempDir::new("shape");
    let mut j = Journal::open(dir.file(), "r1").unwrap();
    assert_eq!(j.record_apply(&kill("n1")).unwrap(), 1);
    assert_eq!(j.record_apply(&partition(&["n1", "n2"])).unwrap(), 2);
    assert_eq!(j.record_heal(&kill("n1")).unwrap(), 3);
    let text = fs::read_to_string(dir.file()).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"run":"r1","seq":1,"action":"apply","fault":{"kind":"kill","node":"n1"}}"#,
            "\n",
            r#"{"run":"r1","seq":2,"action":"apply","fault":{"kind":"partition","grudge":{"n1":["n2"],"n2":["n1"]}}}"#,
            "\n",
            r#"{"run":"r1","seq":3,"action":"heal","fault":{"kind":"kill","node":"n1"}}"#,
            "\n",
        )
    );
}

#[test]
fn apply_heal_sequences_leave_the_right_faults_outstanding() {
    let dir = TempDir::new("replay");
    let mut j = Journal::open(dir.file(), "r1").unwrap();
    assert!(j.outstanding().unwrap().is_empty());
    j.record_apply(&kill("n1")).unwrap();
    j.record_apply(&pause("n2")).unwrap();
    j.record_apply(&stop("n3")).unwrap();
    j.record_heal(&kill("n1")).unwrap();
    j.record_apply(&partition(&["n1 n2", "n3"])).unwrap();
    assert_eq!(
        shown(&j.outstanding().unwrap()),
        ["r1#2 pause n2", "r1#3 stop n3", "r1#5 partition n1,n2 | n3"]
    );
    // Pause and kill of the same node are different slots; healing one
    // leaves the other.
    j.record_apply(&kill("n2")).unwrap();
    j.record_heal(&pause("n2")).unwrap();
    // A second partition replaces the first; one heal clears the network,
    // whatever grudge it names.
    j.record_apply(&partition(&["n1", "n2 n3"])).unwrap();
    assert_eq!(
        shown(&j.outstanding().unwrap()),
        ["r1#3 stop n3", "r1#6 kill n2", "r1#8 partition n1 | n2,n3"]
    );
    j.record_heal(&partition(&["n1 n2", "n3"])).unwrap();
    // Applying twice is still one fault; healing what is not in force is a no-op.
    j.record_apply(&stop("n3")).unwrap();
    j.record_heal(&pause("n1")).unwrap();
    assert_eq!(
        shown(&j.outstanding().unwrap()),
        ["r1#6 kill n2", "r1#10 stop n3"]
    );
    j.record_heal(&kill("n2")).unwrap();
    j.record_heal(&stop("n3")).unwrap();
    assert!(j.outstanding().unwrap().is_empty());
}

#[test]
fn a_later_process_sees_what_a_crashed_run_left_and_heals_it() {
    let dir = TempDir::new("crash");
    {
        let mut run = Journal::open(dir.file(), "r1").unwrap();
        run.record_apply(&pause("n1")).unwrap();
        run.record_apply(&partition(&["n1", "n2 n3"])).unwrap();
        // Dropped without healing: the process "crashed".
    }
    let left = Journal::read(dir.file()).unwrap();
    assert_eq!(
        shown(&outstanding(&left)),
        ["r1#1 pause n1", "r1#2 partition n1 | n2,n3"]
    );
    let mut heal = Journal::open(dir.file(), "heal-1").unwrap();
    assert_eq!(
        heal.record_heal(&pause("n1")).unwrap(),
        1,
        "seq counts per run"
    );
    heal.record_heal(&partition(&[])).unwrap();
    assert!(heal.outstanding().unwrap().is_empty());
    drop(heal);
    // The same run id reopened continues its numbering.
    let mut again = Journal::open(dir.file(), "r1").unwrap();
    assert_eq!(again.record_apply(&kill("n3")).unwrap(), 3);
}

#[test]
fn a_torn_last_line_is_skipped_and_cut_off_before_the_next_append() {
    let dir = TempDir::new("torn");
    {
        let mut j = Journal::open(dir.file(), "r1").unwrap();
        j.record_apply(&kill("n1")).unwrap();
        j.record_apply(&pause("n2")).unwrap();
    }
    append_raw(
        &dir.file(),
        br#"{"run":"r1","seq":3,"action":"apply","fault":{"kind":"st"#,
    );
    let entries = Journal::read(dir.file()).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        shown(&outstanding(&entries)),
        ["r1#1 kill n1", "r1#2 pause n2"]
    );

    let mut j = Journal::open(dir.file(), "r1").unwrap();
    assert_eq!(j.record_apply(&stop("n3")).unwrap(), 3);
    let text = fs::read_to_string(dir.file()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(
        !text.contains(r#""kind":"st""#),
        "the torn piece is gone:\n{text}"
    );
    assert_eq!(
        shown(&j.outstanding().unwrap()),
        ["r1#1 kill n1", "r1#2 pause n2", "r1#3 stop n3"]
    );
}

#[test]
fn a_complete_last_line_missing_its_newline_is_kept() {
    let dir = TempDir::new("nonewline");
    fs::write(
        dir.file(),
        br#"{"run":"r1","seq":1,"action":"apply","fault":{"kind":"kill","node":"n1"}}"#,
    )
    .unwrap();
    assert_eq!(Journal::read(dir.file()).unwrap().len(), 1);
    let mut j = Journal::open(dir.file(), "r2").unwrap();
    j.record_apply(&kill("n2")).unwrap();
    assert_eq!(
        shown(&j.outstanding().unwrap()),
        ["r1#1 kill n1", "r2#1 kill n2"]
    );
}

#[test]
fn a_bad_complete_line_is_an_error_naming_it() {
    let dir = TempDir::new("garbage");
    {
        let mut j = Journal::open(dir.file(), "r1").unwrap();
        j.record_apply(&kill("n1")).unwrap();
    }
    append_raw(&dir.file(), b"\nthis is not json\n");
    let err = Journal::read(dir.file()).unwrap_err();
    assert!(
        matches!(err, JournalError::Corrupt { line: 3, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("line 3 is not a journal entry: expected ident (at column 2)"),
        "{message}"
    );
    assert!(message.contains("fix or delete that line"), "{message}");
    // A writer refuses it too: appending after damage would bury it.
    assert!(matches!(
        Journal::open(dir.file(), "r1"),
        Err(JournalError::Corrupt { line: 3, .. })
    ));
}

#[test]
fn unknown_actions_and_fault_kinds_are_errors() {
    let dir = TempDir::new("unknown");
    let good = r#"{"run":"r1","seq":1,"action":"apply","fault":{"kind":"kill","node":"n1"}}"#;
    for (bad, expected) in [
        (
            r#"{"run":"r1","seq":2,"action":"explode","fault":{"kind":"kill","node":"n1"}}"#,
            "unknown variant `explode`",
        ),
        (
            r#"{"run":"r1","seq":2,"action":"apply","fault":{"kind":"skew-clock","node":"n1"}}"#,
            "unknown variant `skew-clock`",
        ),
        (
            r#"{"run":"r1","seq":2,"action":"apply"}"#,
            "missing field `fault`",
        ),
    ] {
        fs::write(dir.file(), format!("{good}\n{bad}\n")).unwrap();
        let message = Journal::read(dir.file()).unwrap_err().to_string();
        assert!(
            message.contains("line 2") && message.contains(expected),
            "{message}"
        );
    }
}

#[test]
fn only_one_process_writes_at_a_time_but_anyone_may_read() {
    let dir = TempDir::new("lock");
    let mut first = Journal::open(dir.file(), "r1").unwrap();
    first.record_apply(&kill("n1")).unwrap();
    let err = Journal::open(dir.file(), "r2").unwrap_err();
    assert!(matches!(err, JournalError::Busy { .. }));
    assert!(err.to_string().contains("in use by another chaos process"));
    assert_eq!(Journal::read(dir.file()).unwrap().len(), 1);
    drop(first);
    Journal::open(dir.file(), "r2").unwrap();
}

#[test]
fn a_missing_journal_reads_as_empty_and_an_unwritable_one_says_where() {
    let dir = TempDir::new("missing");
    assert!(Journal::read(dir.file()).unwrap().is_empty());
    let err = Journal::open(dir.0.join("no-such-dir").join("j.jsonl"), "r1").unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("cannot open the fault journal ") && message.contains("no-such-dir"),
        "{message}"
    );
}

#[test]
fn fault_display_and_serde_round_trip() {
    for fault in [
        kill("n1"),
        pause("n2"),
        stop("n3"),
        partition(&["n1", "n2 n3"]),
    ] {
        let json = serde_json::to_string(&fault).unwrap();
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), fault);
    }
    assert_eq!(
        partition(&["n1", "n2 n3"]).to_string(),
        "partition n1 | n2,n3"
    );
    assert_eq!(pause("n2").to_string(), "pause n2");
}
