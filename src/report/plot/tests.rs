use super::canvas::{CHAR_WIDTH, FONT, PLOT_TOP};
use super::*;
use chaos_checkers::history::{Op, Process};
use chaos_checkers::perf::perf;
use serde_json::{json, Value};

fn op(time: u64, process: u64, kind: OpType, f: &str) -> Op {
    Op {
        index: 0,
        time,
        process: Process::Client(process),
        kind,
        f: f.into(),
        key: None,
        value: Value::Null,
        node: None,
        error: None,
    }
}

fn nemesis(time: u64, f: &str, value: Value) -> Op {
    Op {
        process: Process::Nemesis,
        value,
        ..op(time, 0, OpType::Info, f)
    }
}

/// `n` ops of 3 processes over 10 s: reads and writes, mostly ok, every
/// 7th failing and every 11th info; latencies 1-5 ms, and op `outlier`
/// (if any) taking 2 s. A partition from 2 s to 4 s, a kill from 6 s to
/// 7 s, and one op still open at the end.
fn history(n: u64, outlier: Option<u64>) -> History {
    let mut ops = Vec::new();
    let step = 10_000_000_000 / n;
    for i in 0..n {
        let start = i * step;
        let f = if i % 3 == 0 { "write" } else { "read" };
        let latency = match outlier {
            Some(o) if o == i => 2_000_000_000,
            _ => 1_000_000 + (i * 7919 % 4_000_000),
        };
        let kind = match i {
            i if i % 7 == 0 => OpType::Fail,
            i if i % 11 == 0 => OpType::Info,
            _ => OpType::Ok,
        };
        // A process of its own per op: ops overlap freely.
        ops.push(op(start, i, OpType::Invoke, f));
        ops.push(op(start + latency, i, kind, f));
    }
    ops.push(op(9_999_000_000, n + 1, OpType::Invoke, "read"));
    ops.push(nemesis(
        2_000_000_000,
        "start-partition",
        json!("n1 | n2,n3"),
    ));
    ops.push(nemesis(
        4_000_000_000,
        "stop-partition",
        json!("n1 | n2,n3"),
    ));
    ops.push(nemesis(6_000_000_000, "start-kill", json!("n2")));
    ops.push(nemesis(7_000_000_000, "stop-kill", json!("n2")));
    ops.sort_by_key(|o| o.time);
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
    }
    History::new(ops)
}

fn svgs(h: &History) -> Vec<Plot> {
    plots(h, &perf(h, 100))
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"))
}

fn class<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

fn texts(node: roxmltree::Node<'_, '_>) -> Vec<String> {
    node.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(String::from))
        .collect()
}

fn number(node: &roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
    node.attribute(attribute)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {attribute} on {node:?}"))
}

#[test]
fn both_plots_are_xml_with_titled_axes_a_legend_and_the_faults_named() {
    let h = history(300, None);
    for plot in svgs(&h) {
        let doc = parse(&plot.svg);
        let root = doc.root_element();
        assert!(root.has_tag_name("svg"), "{}", plot.file);
        assert_eq!(class(&doc, "axis").len(), 2, "{}: two axes", plot.file);
        let titles: Vec<String> = class(&doc, "axis-title")
            .iter()
            .filter_map(|n| n.text().map(String::from))
            .collect();
        assert_eq!(titles.len(), 2, "{}: {titles:?}", plot.file);
        assert!(titles.contains(&"time since the run began".to_string()));
        let legend = class(&doc, "legend");
        assert_eq!(legend.len(), 1, "{}", plot.file);
        let legend = texts(legend[0]);
        for entry in ["ok", "fail", "info", "read", "write", "partition", "kill"] {
            assert!(
                legend.contains(&entry.to_string()),
                "{}: {entry} not in {legend:?}",
                plot.file
            );
        }
        let faults: Vec<&str> = class(&doc, "fault")
            .iter()
            .filter_map(|n| n.attribute("data-kind"))
            .collect();
        assert_eq!(faults, ["partition", "kill"], "{}", plot.file);
        assert!(!plot.svg.contains("NaN"), "{}", plot.file);
    }
}

/// The marks of a path: each begins with its one `M`.
fn marks(d: &str) -> usize {
    d.matches('M').count()
}

#[test]
fn a_small_run_has_one_mark_per_completed_op() {
    let h = history(300, None);
    let latency = &svgs(&h)[0].svg;
    let doc = parse(latency);
    let classes = class(&doc, "marks");
    assert_eq!(classes.len(), 6, "read and write, ok fail and info");
    let (mut ops, mut drawn) = (0, 0);
    for c in &classes {
        let d = c.attribute("d").unwrap();
        assert_eq!(marks(d) as f64, number(c, "data-marks"), "{c:?}");
        ops += number(c, "data-ops") as usize;
        drawn += marks(d);
    }
    assert_eq!(ops, 300, "every completed op, not the open one");
    assert_eq!(drawn, 300, "no two ops of a class share a cell here");
    assert!(
        texts(class(&doc, "legend")[0]).contains(&"1 op(s) never completed: not drawn".to_string())
    );
}

#[test]
fn a_hundred_thousand_ops_are_decimated_by_cell_and_the_outlier_keeps_its_mark() {
    let h = history(100_000, Some(54_321));
    let latency = &svgs(&h)[0].svg;
    assert!(latency.len() < 2_000_000, "{} bytes", latency.len());
    let doc = parse(latency);
    let (mut ops, mut drawn) = (0, 0);
    let mut above = Vec::new();
    for c in class(&doc, "marks") {
        let d = c.attribute("d").unwrap();
        assert_eq!(marks(d) as f64, number(&c, "data-marks"));
        ops += number(&c, "data-ops") as usize;
        drawn += marks(d);
        // The y of each mark: the number after the x of each `M`.
        for m in d.split('M').skip(1) {
            let y: f64 = m
                .split(|c: char| c == ' ' || c.is_ascii_alphabetic())
                .nth(1)
                .and_then(|y| y.parse().ok())
                .unwrap();
            // 1-5 ms lie under y 300 on the 1 ms..10 s axis; 2 s far above.
            if y < 250.0 {
                above.push(y);
            }
        }
    }
    assert_eq!(ops, 100_000);
    assert!(drawn < ops / 2, "decimated: {drawn} marks");
    assert_eq!(above.len(), 1, "the 2 s op keeps its own mark: {above:?}");
    let two_seconds = PLOT_TOP + 300.0 * (1.0 - (2e9f64.log10() - 6.0) / 4.0);
    assert!(
        (above[0] - two_seconds).abs() <= CELL,
        "{above:?} {two_seconds}"
    );
    let note = format!("100000 ops in {drawn} marks: one per 2×2 px cell for each f and outcome");
    assert!(texts(class(&doc, "legend")[0]).contains(&note), "{note}");
}

#[test]
fn the_rate_plot_counts_every_completion_by_f_and_outcome() {
    let h = history(3_000, None);
    let p = perf(&h, 100);
    let rate = &plots(&h, &p)[1].svg;
    let doc = parse(rate);
    let series = class(&doc, "series");
    assert_eq!(series.len(), 6);
    let total: f64 = series.iter().map(|s| number(s, "data-ops")).sum();
    assert_eq!(total, 3_000.0);
    let read_ok = series
        .iter()
        .find(|s| {
            s.attribute("data-f") == Some("read") && s.attribute("data-outcome") == Some("ok")
        })
        .unwrap();
    let points = read_ok.attribute("points").unwrap().split(' ').count();
    assert_eq!(p.bucket, 200_000_000);
    assert_eq!(points, 51, "a point per slice of 200 ms over 10 s");
}

/// How far a text reaches either side of its anchor, at its font size.
fn extent(node: &roxmltree::Node<'_, '_>) -> (f64, f64) {
    let size = node
        .attribute("font-size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(FONT);
    let width = node.text().unwrap_or("").chars().count() as f64 * CHAR_WIDTH * size / FONT;
    match node.attribute("text-anchor") {
        Some("middle") => (width / 2.0, width / 2.0),
        Some("end") => (width, 0.0),
        _ => (0.0, width),
    }
}

#[test]
fn no_text_runs_off_an_edge() {
    // Long names: a legend that must wrap, a fault kind too long for its bar.
    let mut h = history(500, None);
    for o in h.ops.iter_mut().filter(|o| o.f == "write") {
        o.f = "compare-and-set-with-a-long-name".into();
    }
    let mut plots = svgs(&h);
    plots.push(Plot {
        file: "empty".to_string(),
        alt: String::new(),
        svg: latency(
            &Completed::of(&History::default()),
            &perf(&History::default(), 100),
        ),
    });
    for plot in plots {
        let doc = parse(&plot.svg);
        let root = doc.root_element();
        let (width, height) = (number(&root, "width"), number(&root, "height"));
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            let (x, y) = (number(&t, "x"), number(&t, "y"));
            let (before, after) = extent(&t);
            let (low, high) = match t.attribute("transform") {
                // Rotated a quarter turn: the text runs up the y axis.
                Some(_) => {
                    assert!((10.0..width).contains(&x), "{}: {t:?}", plot.file);
                    (y - after, y + before)
                }
                None => (x - before, x + after),
            };
            let span = if t.attribute("transform").is_some() {
                height
            } else {
                width
            };
            assert!(
                low >= 0.0 && high <= span,
                "{}: {:?} reaches {low:.0}..{high:.0} of 0..{span}",
                plot.file,
                t.text()
            );
            assert!(y > 0.0 && y <= height, "{}: {t:?}", plot.file);
        }
    }
}

/// A write, a cas that times out (info, a second), and during it a read
/// that returns a value never written: the read cannot be linearized.
fn impossible_read() -> chaos_checkers::linear::Failure {
    let ms = 1_000_000;
    let mut ops = vec![
        op(0, 0, OpType::Invoke, "write"),
        op(2 * ms, 0, OpType::Ok, "write"),
        op(3 * ms, 1, OpType::Invoke, "cas"),
        op(4 * ms, 2, OpType::Invoke, "read"),
        op(5 * ms, 2, OpType::Ok, "read"),
        op(1_003 * ms, 1, OpType::Info, "cas"),
    ];
    let values = [
        json!(1),
        json!(1),
        json!([1, 2]),
        Value::Null,
        json!(7),
        json!([1, 2]),
    ];
    for (i, (o, v)) in ops.iter_mut().zip(values).enumerate() {
        o.index = i as u64;
        o.value = v;
        o.key = Some(json!("k"));
    }
    let report = chaos_checkers::linear::check(
        &History::new(ops),
        &chaos_checkers::linear::LinearOptions {
            model: chaos_checkers::linear::ModelKind::CasRegister,
            threads: 1,
            ..Default::default()
        },
    )
    .unwrap();
    report.keys[0]
        .failure
        .clone()
        .expect("the read of 7 is invalid")
}

#[test]
fn the_anomaly_gives_every_op_a_readable_bar_even_beside_a_long_timeout() {
    let failure = impossible_read();
    assert_eq!(failure.op.index, 3);
    let svg = anomaly(&failure);
    let doc = parse(&svg);
    let bars = class(&doc, "op");
    assert_eq!(bars.len(), 3, "the write, the cas and the read: {svg}");
    for bar in &bars {
        assert!(number(bar, "width") >= 24.0, "{bar:?}");
    }
    let culprit: Vec<_> = bars
        .iter()
        .filter(|b| b.attribute("fill") == Some("#e63946"))
        .collect();
    assert_eq!(culprit.len(), 1);
    assert!(
        texts(doc.root_element()).contains(&"read → 7".to_string()),
        "{svg}"
    );
    let cas = bars
        .iter()
        .find(|b| {
            b.descendants()
                .any(|t| t.text().is_some_and(|t| t.contains("cas")))
        })
        .unwrap();
    assert_eq!(
        cas.attribute("stroke-dasharray"),
        Some("4 2"),
        "unknown outcome"
    );
    let width = number(&doc.root_element(), "width");
    assert!(
        (number(cas, "x") + number(cas, "width") - (width - 16.0)).abs() < 0.5,
        "runs to the edge"
    );
    for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let (before, after) = extent(&t);
        let x = number(&t, "x");
        assert!(
            x - before >= 0.0 && x + after <= width,
            "{:?} is cut off",
            t.text()
        );
    }
}
