//! `chaos report --index DIR` from the outside, on a folder of run folders
//! made the way runs leave them: test.json and history.jsonl written by
//! hand, results.json and the reports by `chaos report` itself, then runs
//! that were interrupted, died before their check, or are broken.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn chaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(args)
        .output()
        .expect("the chaos binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Root(PathBuf);

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Root {
    fn new(tag: &str) -> Root {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("index-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Root(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap()
    }

    /// `<test>/<stamp>/` with the test.json a run writes first; `ended`
    /// as the run recorded it (None: the harness died).
    fn run(&self, test: &str, stamp: &str, ended: Option<&str>) -> PathBuf {
        let dir = self.0.join(test).join(stamp);
        std::fs::create_dir_all(&dir).unwrap();
        let (system, workload) = test.split_once('-').unwrap();
        let started = format!(
            "{}-{}-{} {}:{}Z",
            &stamp[0..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[9..11],
            &stamp[11..13]
        );
        let mut meta = serde_json::json!({
            "run_id": format!("r-{stamp}"), "test": test, "system": system,
            "workload": workload, "backend": "docker", "nodes": 3,
            "nemesis": "partition-halves,kill", "nemesis_interval_s": 10.0,
            "time_limit_s": 60.0, "concurrency": 2, "rate": 100.0, "seed": 42,
            "read": "linearizable", "keep_cluster": false,
            "results": dir.display().to_string(),
            "command": format!("chaos run --results {}", self.0.display()),
            "harness_version": "0.1.0", "started": started,
            "run_start_unix_ns": 1_700_000_000_000_000_000u64,
        });
        if let Some(ended) = ended {
            meta["ended"] = ended.into();
        }
        std::fs::write(dir.join("test.json"), meta.to_string()).unwrap();
        dir
    }

    /// A run checked by `chaos report`, as `chaos run` ends.
    fn checked(&self, test: &str, stamp: &str, ended: Option<&str>, history: &str) {
        let dir = self.run(test, stamp, ended);
        std::fs::write(dir.join("history.jsonl"), history).unwrap();
        let out = chaos(&["report", dir.to_str().unwrap()]);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{}",
            text(&out.stderr)
        );
    }
}

/// A write, a partition, a read during it, the heal: valid when the read
/// returns 3, invalid when it returns the stale null.
fn register(read: &str) -> String {
    format!(
        r#"{{"index":0,"time":1000000,"process":0,"type":"invoke","f":"write","key":1,"value":3,"node":"n1"}}
{{"index":1,"time":2000000,"process":0,"type":"ok","f":"write","key":1,"value":3,"node":"n1"}}
{{"index":2,"time":3000000,"process":"nemesis","type":"info","f":"start-partition","value":"n1 | n2,n3"}}
{{"index":3,"time":4000000,"process":1,"type":"invoke","f":"read","key":1,"value":null,"node":"n2"}}
{{"index":4,"time":9000000,"process":1,"type":"ok","f":"read","key":1,"value":{read},"node":"n2"}}
{{"index":5,"time":10000000,"process":"nemesis","type":"info","f":"stop-partition","value":"n1 | n2,n3"}}
{{"index":6,"time":11000000,"process":2,"type":"invoke","f":"read","key":1,"value":null,"node":"n3"}}
{{"index":7,"time":12000000,"process":2,"type":"fail","f":"read","key":1,"value":null,"node":"n3","error":"refused"}}
"#
    )
}

/// Acknowledged enqueues and a drain that never completed: unknown.
const QUEUE: &str = r#"{"index":0,"time":1000000,"process":0,"type":"invoke","f":"enqueue","value":1,"node":"n1"}
{"index":1,"time":2000000,"process":0,"type":"ok","f":"enqueue","value":1,"node":"n1"}
"#;

/// The folder of runs every test below indexes.
fn nights(tag: &str) -> Root {
    let root = Root::new(tag);
    root.checked(
        "etcd-register",
        "20261101T032500Z",
        Some("completed"),
        &register("3"),
    );
    root.checked(
        "etcd-register",
        "20261102T032500Z",
        Some("interrupted"),
        &register("3"),
    );
    root.checked(
        "etcd-register",
        "20261103T032500Z",
        Some("completed"),
        &register("null"),
    );
    // Died before its check: test.json only.
    root.run("etcd-register", "20261104T032500Z", None);
    root.checked("nats-queue", "20261102T040000Z", Some("completed"), QUEUE);
    root.checked("nats-queue", "20261102T040000Z-2", Some("completed"), QUEUE);
    // Broken: test.json garbage; no test.json at all; results.json garbage.
    let garbage = root.run("etcd-register", "20261103T120000Z", Some("completed"));
    std::fs::write(garbage.join("test.json"), "{\"run_id\": ").unwrap();
    std::fs::create_dir_all(root.0.join("etcd-register/scratch")).unwrap();
    let torn = root.run("nats-queue", "20261105T000000Z", Some("completed"));
    std::fs::write(torn.join("results.json"), "not json").unwrap();
    // What else a results folder holds: the journal, `latest`.
    std::fs::write(root.0.join("journal.jsonl"), "").unwrap();
    std::os::unix::fs::symlink("nats-queue/20261105T000000Z", root.0.join("latest")).unwrap();
    root
}

/// The rows of index.md's table, in order.
fn rows(md: &str) -> Vec<String> {
    md.lines()
        .skip_while(|l| !l.starts_with("| date |"))
        .skip(2)
        .map(String::from)
        .collect()
}

/// Every link target of a Markdown text: `](target` up to `)` or a space.
fn md_links(md: &str) -> Vec<String> {
    md.split("](")
        .skip(1)
        .map(|rest| rest.split([')', ' ']).next().unwrap().to_string())
        .collect()
}

fn decoded(link: &str) -> String {
    link.replace("%20", " ")
}

#[test]
fn every_run_is_listed_newest_first_with_its_marks() {
    let root = nights("rows");
    let out = chaos(&["report", "--index", root.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("9 run(s), 3 unreadable"),
        "{}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 3, "one line per broken folder: {err}");
    for broken in [
        "chaos: index: etcd-register/20261103T120000Z: test.json is not a chaos test.json",
        "chaos: index: etcd-register/scratch: no test.json",
        "chaos: index: nats-queue/20261105T000000Z: results.json is not a chaos results.json",
    ] {
        assert!(err.contains(broken), "{broken}: {err}");
    }

    let md = root.read("index.md");
    let rows = rows(&md);
    assert_eq!(rows.len(), 9, "{md}");
    let order: Vec<&str> = rows
        .iter()
        .map(|r| r.split(" | ").next().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "| 2026-11-05 00:00Z",
            "| 2026-11-04 03:25Z",
            "| 2026-11-03 12:00Z",
            "| 2026-11-03 03:25Z",
            "| 2026-11-02 04:00Z",
            "| 2026-11-02 04:00Z",
            "| 2026-11-02 03:25Z",
            "| 2026-11-01 03:25Z",
            "| ?",
        ],
        "{md}"
    );
    assert!(
        rows[0].contains("**UNREADABLE** (results.json is not a chaos results.json"),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains("**NO VERDICT** (partial: the harness died or is still running; never checked: no results.json)"), "{}", rows[1]);
    assert!(
        rows[1].ends_with("[folder](etcd-register/20261104T032500Z/) |"),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("**UNREADABLE** (test.json is not a chaos test.json"),
        "{}",
        rows[2]
    );
    assert!(rows[3].starts_with("| 2026-11-03 03:25Z | etcd | register | partition-halves,kill | 42 | **FAIL** | 3 | 50.0% of 2 | 100.0% of 1 | 5ms |"), "{}", rows[3]);
    assert!(
        rows[4].contains("nats-queue/20261102T040000Z-2/report.md"),
        "the -2 run is the later: {}",
        rows[4]
    );
    assert!(rows[4].contains("| **UNDECIDED** |"), "{}", rows[4]);
    assert!(
        rows[6].contains("| **PASS** (interrupted) |"),
        "{}",
        rows[6]
    );
    assert!(rows[7].contains("| **PASS** |"), "{}", rows[7]);
    assert!(
        rows[8].contains("**UNREADABLE** (no test.json: not a run folder)"),
        "{}",
        rows[8]
    );

    assert!(
        md.contains("- `etcd-register`: [⬛](etcd-register/scratch/ ")
            && md.contains(" FAIL since [2026-11-03 03:25Z](etcd-register/20261103T032500Z/report.md), last PASS 2026-11-02 03:25Z\n"),
        "the first red night after the last green: {md}"
    );
}

#[test]
fn the_index_names_no_absolute_path_and_every_link_resolves() {
    let root = nights("links");
    let out = chaos(&["report", "--index", root.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = root.read("index.md");
    let html = root.read("index.html");
    for page in [&md, &html] {
        assert!(!page.contains(root.path()), "an absolute path: {page}");
        assert!(
            !page.contains("chaos run --results"),
            "the command names the folder: {page}"
        );
    }
    let links = md_links(&md);
    assert!(links.len() >= 18, "a square and a row per run: {links:?}");
    for link in &links {
        assert!(!link.starts_with('/'), "{link}");
        assert!(
            root.0.join(decoded(link)).exists(),
            "{link} does not resolve"
        );
    }
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(hrefs.len() >= 18, "{hrefs:?}");
    for href in hrefs {
        assert!(
            !href.ends_with("report.md"),
            "the HTML index links the HTML reports: {href}"
        );
        assert!(
            root.0.join(decoded(href)).exists(),
            "{href} does not resolve"
        );
    }
}

#[test]
fn the_index_is_rebuilt_whole_and_an_empty_folder_still_gets_one() {
    let root = Root::new("empty");
    let out = chaos(&["report", "--index", root.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(root.read("index.md").contains("No run folder here yet"));

    root.checked(
        "etcd-register",
        "20261101T032500Z",
        Some("completed"),
        &register("3"),
    );
    let out = chaos(&["report", "--index", root.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    let md = root.read("index.md");
    assert_eq!(rows(&md).len(), 1, "{md}");
    assert!(!root.0.join(".index.md.new").exists());
}

#[test]
fn a_folder_that_does_not_exist_is_one_line_and_254() {
    let nowhere = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-results");
    let out = chaos(&["report", "--index", nowhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(254));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pass the folder runs are written to"), "{err}");
}
