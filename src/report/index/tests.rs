use super::*;
use crate::report::Share;

fn run(verdict: Option<Validity>, ending: Ending) -> RunRow {
    RunRow {
        system: "etcd".into(),
        workload: "register".into(),
        faults: "partition-halves,kill".into(),
        seed: 7,
        ending,
        verdict,
        faults_lost: 0,
        ops: verdict.map(|_| 3631),
        availability: verdict.map(|_| Availability {
            outside_faults: Share {
                ok: 995,
                completed: 1000,
            },
            during_faults: Share {
                ok: 0,
                completed: 0,
            },
        }),
        p99: verdict.map(|_| 12_400_000),
        report_md: verdict.is_some(),
        report_html: verdict.is_some(),
    }
}

fn entry(test: &str, day: u32, verdict: Option<Validity>) -> IndexEntry {
    IndexEntry {
        folder: format!("{test}/202611{day:02}T032500Z"),
        test: test.into(),
        started: format!("2026-11-{day:02} 03:25Z"),
        run: Some(run(verdict, Ending::Completed)),
        problem: None,
    }
}

/// Newest first, as the index lists them.
fn nights(test: &str, verdicts: &[Option<Validity>]) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = verdicts
        .iter()
        .enumerate()
        .map(|(i, v)| entry(test, i as u32 + 1, *v))
        .collect();
    entries.reverse();
    entries
}

use Validity::{Invalid, Unknown, Valid};

#[test]
fn the_first_red_night_after_the_last_green_is_the_regression() {
    let entries = nights(
        "etcd-register",
        &[
            Some(Valid),
            Some(Invalid),
            Some(Valid),
            None,
            Some(Unknown),
            Some(Invalid),
            Some(Invalid),
        ],
    );
    let strip = &strips(&entries)[0];
    assert_eq!(strip.runs.len(), 7);
    assert_eq!(strip.runs[0].started, "2026-11-01 03:25Z", "oldest first");
    let (first, pass) = regression(strip).expect("the newest decided run failed");
    assert_eq!(first.started, "2026-11-06 03:25Z");
    assert_eq!(pass.unwrap().started, "2026-11-03 03:25Z");
}

#[test]
fn a_green_newest_night_or_a_never_green_test_reads_as_such() {
    let entries = nights("t", &[Some(Invalid), Some(Valid)]);
    assert!(regression(&strips(&entries)[0]).is_none());
    let entries = nights("t", &[Some(Invalid), Some(Invalid)]);
    let (first, pass) = regression(&strips(&entries)[0]).unwrap();
    assert_eq!(first.started, "2026-11-01 03:25Z");
    assert!(pass.is_none());
    let md = index_markdown(&entries);
    assert!(
        md.contains("FAIL since [2026-11-01 03:25Z](t/20261101T032500Z/report.md), never PASS"),
        "{md}"
    );
}

#[test]
fn the_markdown_has_one_row_of_eleven_cells_per_run_with_relative_links() {
    let mut entries = nights("etcd-register", &[Some(Valid), Some(Invalid)]);
    let mut interrupted = entry("nats-queue", 3, Some(Unknown));
    interrupted.run.as_mut().unwrap().ending = Ending::Interrupted;
    let mut died = entry("nats-queue", 4, None);
    died.run.as_mut().unwrap().ending = Ending::Unfinished;
    let broken = IndexEntry {
        folder: "etcd-register/odd | name".into(),
        test: "etcd-register".into(),
        started: "?".into(),
        run: None,
        problem: Some("no test.json: not a run folder".into()),
    };
    entries.splice(0..0, [died, interrupted, broken]);
    let md = index_markdown(&entries);
    let rows: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| date"))
        .skip(2)
        .collect();
    assert_eq!(rows.len(), 5, "{md}");
    for row in &rows {
        let cells = row.replace("\\|", "").matches('|').count() - 1;
        assert_eq!(cells, 11, "{row}");
    }
    assert!(rows[0].contains("**NO VERDICT** (partial: the harness died or is still running; never checked: no results.json)"), "{md}");
    assert!(
        rows[0].ends_with("| [folder](nats-queue/20261104T032500Z/) |"),
        "{md}"
    );
    assert!(rows[1].contains("**UNDECIDED** (interrupted)"), "{md}");
    assert!(
        rows[2].contains("**UNREADABLE** (no test.json: not a run folder)"),
        "{md}"
    );
    assert!(
        rows[2].contains("(etcd-register/odd%20%7C%20name/)"),
        "{md}"
    );
    assert_eq!(
        rows[3],
        "| 2026-11-02 03:25Z | etcd | register | partition-halves,kill | 7 | **FAIL** | 3,631 | 99.5% of 1,000 | – | 12.4ms | [report](etcd-register/20261102T032500Z/report.md) |"
    );
    assert!(md.contains("- `etcd-register`: [🟩](etcd-register/20261101T032500Z/report.md \"2026-11-01 03:25Z PASS\")[🟥]"), "{md}");
    assert!(md.contains("[⬛](etcd-register/odd%20%7C%20name/ \"? UNREADABLE, no test.json: not a run folder\")"), "{md}");
    assert!(md.contains("- `nats-queue`: [🟨]"), "{md}");
}

#[test]
fn the_html_links_the_html_reports_and_escapes_what_it_shows() {
    let mut entries = nights("etcd-register", &[Some(Valid), Some(Invalid)]);
    entries[0].run.as_mut().unwrap().faults = "<kill>".into();
    let html = index_html(&entries);
    assert!(
        html.contains("href=\"etcd-register/20261102T032500Z/report.html\""),
        "{html}"
    );
    assert!(!html.contains("report.md"), "{html}");
    assert!(html.contains("<td>&lt;kill&gt;</td>"), "{html}");
    assert!(html.contains("FAIL since <a href=\"etcd-register/20261102T032500Z/report.html\">2026-11-02 03:25Z</a>, last PASS 2026-11-01 03:25Z"), "{html}");
    assert_eq!(
        html.matches("<tr>").count(),
        1 + 1 + 2,
        "strip row, header, two runs"
    );
}

#[test]
fn an_empty_folder_says_how_runs_get_there() {
    assert!(index_markdown(&[]).contains("No run folder here yet"));
    assert!(index_html(&[]).contains("No run folder here yet"));
}

#[test]
fn links_keep_safe_characters_and_encode_the_rest() {
    assert_eq!(url("a-b/c_d.e~1/"), "a-b/c_d.e~1/");
    assert_eq!(url("a (1)/ü"), "a%20%281%29/%C3%BC");
    assert_eq!(thousands(1234567), "1,234,567");
    assert_eq!(thousands(999), "999");
}
