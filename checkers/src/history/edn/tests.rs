use super::*;
use crate::history::format::arb;
use proptest::prelude::*;
use serde_json::json;

fn read(text: &str) -> Result<History, ReadError> {
    read_edn(text, "history.edn")
}

fn error(text: &str) -> String {
    read(text).unwrap_err().to_string()
}

fn value(text: &str) -> Value {
    to_json(parse_one(text).unwrap())
}

fn written(history: &History) -> String {
    let mut out = Vec::new();
    write_edn(history, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn reads_kv_style_lines() {
    let text = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
                {:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"}\n";
    let history = read(text).unwrap();
    assert_eq!(history.ops.len(), 2);
    let op = &history.ops[1];
    assert_eq!((op.index, op.time), (1, 1));
    assert_eq!(op.process, Process::Client(9));
    assert_eq!(op.kind, OpType::Ok);
    assert_eq!(op.f, "append");
    assert_eq!(op.key, Some(json!("0")));
    assert_eq!(op.value, json!("x 9 0 y"));
}

#[test]
fn reads_records_nemesis_and_extra_keys() {
    let text = "#jepsen.history.Op{:index 4, :time 123, :type :info, :process :nemesis, \
                :f :start-partition, :value [:isolated {\"n1\" #{\"n2\" \"n3\"}}], :extra 1, \"x\" 2}";
    let op = &read(text).unwrap().ops[0];
    assert_eq!((op.index, op.time), (4, 123));
    assert_eq!(op.process, Process::Nemesis);
    assert_eq!(op.value, json!(["isolated", {"n1": ["n2", "n3"]}]));
}

#[test]
fn vector_form_reads_like_line_form() {
    let lines = "{:index 0, :time 5, :type :invoke, :process 0, :f :read, :value nil}\n\
                 {:index 1, :time 9, :type :ok, :process 0, :f :read, :value 3}\n";
    let vector = "; Jepsen history\n[\n  {:index 0, :time 5, :type :invoke,\n   :process 0, :f :read, :value nil}\n  \
                  #jepsen.history.Op {:index 1, :time 9, :type :ok, :process 0, :f :read, :value 3}\n]\n";
    let from_lines = read(lines).unwrap();
    assert_eq!(from_lines.ops.len(), 2);
    assert_eq!(read(vector).unwrap(), from_lines);
    assert_eq!(read("[]").unwrap(), History::default());
}

#[test]
fn a_list_and_bare_maps_read_like_a_vector() {
    let vector = "[{:index 0, :type :invoke, :process 0, :f :read}\n \
                  {:index 1, :type :ok, :process 0, :f :read, :value 3}]";
    let expected = read(vector).unwrap();
    assert_eq!(expected.ops.len(), 2);
    let list = "; printed as a Clojure seq\n({:index 0, :type :invoke, :process 0, :f :read}\n \
                #jepsen.history.Op{:index 1, :type :ok, :process 0, :f :read, :value 3})\n";
    let bare_one_line = "{:index 0, :type :invoke, :process 0, :f :read} \
                         {:index 1, :type :ok, :process 0, :f :read, :value 3}";
    let bare_pretty = "{:index 0,\n :type :invoke,\n :process 0,\n :f :read}\n\
                       {:index 1,\n :type :ok,\n :process 0,\n :f :read,\n :value 3}\n";
    for text in [list, bare_one_line, bare_pretty] {
        assert_eq!(read(text).unwrap(), expected, "{text:?}");
        assert_eq!(
            crate::history::format::parse_history(text, None, "h").unwrap(),
            expected,
            "detected as EDN: {text:?}"
        );
    }
    assert_eq!(read(list).unwrap().lines, vec![2, 3]);
    assert_eq!(read(bare_pretty).unwrap().lines, vec![1, 5]);
    assert_eq!(read("()").unwrap(), History::default());
}

#[test]
fn a_list_cut_short_or_followed_by_more_says_so() {
    let op = "{:process 0, :type :invoke, :f :read}";
    assert_eq!(
        error(&format!("({op}\n")),
        "history.edn:2: expected `)` to close the history list opened on line 1, found the end \
         of the input; the file ends before the history list does: it was cut short, e.g. its \
         writer died while writing it; add the closing `)` (or restore the whole file) and try again"
    );
    assert_eq!(
        error(&format!("({op})\n{op}")),
        "history.edn:2: unexpected content after the `)` that closes the history list"
    );
    // A closing bracket of the wrong kind is not a history cut short.
    assert_eq!(
        error(&format!("[{op})")),
        "history.edn:1: expected `]` to close the history vector opened on line 1, found `)`"
    );
}

/// Jepsen's nemesis writes `:process :nemesis` ops, an `:info` for its
/// invocation and another for its completion, with `f`s a client may use
/// too: none of them is a client op, so none pairs with a client's.
#[test]
fn nemesis_ops_are_never_client_ops() {
    let text = "({:process :nemesis, :type :info, :f :write, :value 9}\n\
                 {:process 0, :type :invoke, :f :read, :value nil}\n\
                 {:process :nemesis, :type :info, :f :write, :value 9}\n\
                 {:process 0, :type :ok, :f :read, :value 9})";
    let history = read(text).unwrap();
    let processes: Vec<Process> = history.ops.iter().map(|op| op.process).collect();
    assert_eq!(
        processes,
        [
            Process::Nemesis,
            Process::Client(0),
            Process::Nemesis,
            Process::Client(0)
        ]
    );
    assert!(!history.ops[0].is_client() && history.ops[1].is_client());
    let pairs = history.pairs().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        (pairs[0].position, pairs[0].completion_position),
        (1, Some(3))
    );
}

#[test]
fn converts_values_to_json() {
    assert_eq!(value("nil"), Value::Null);
    assert_eq!(value(":timed-out"), json!("timed-out"));
    assert_eq!(value("[1 -2 (3) #{4}]"), json!([1, -2, [3], [4]]));
    assert_eq!(
        value("{:a 1, \"b\" 2, 3 4, [5] 6}"),
        json!({"a": 1, "b": 2, "3": 4, "[5]": 6})
    );
    assert_eq!(value("12N"), json!(12));
    assert_eq!(value("18446744073709551615"), json!(u64::MAX));
    assert_eq!(value("-9223372036854775808"), json!(i64::MIN));
    assert_eq!(value("1.5"), json!(1.5));
    assert_eq!(value("-2e3"), json!(-2000.0));
    assert_eq!(value("1/4"), json!(0.25));
    assert_eq!(value("2.5M"), json!(2.5));
    assert_eq!(value("##Inf"), Value::Null);
    assert_eq!(value("true"), json!(true));
    assert_eq!(value("some-symbol"), json!("some-symbol"));
    assert_eq!(value("\\a"), json!("a"));
    assert_eq!(value("\\newline"), json!("\n"));
    assert_eq!(value("#inst \"2024-01-01\""), json!("2024-01-01"));
    assert_eq!(value("[1 #_ 2 3 #_[4 5]]"), json!([1, 3]));
    assert_eq!(value("[1,,2 ; comment ]\n 3]"), json!([1, 2, 3]));
}

#[test]
fn reads_string_escapes() {
    assert_eq!(
        value(r#""a\"b\\c\nd\te\u00e9\uD83D\uDE00""#),
        json!("a\"b\\c\nd\teé😀")
    );
    assert_eq!(value("\"multi\nline é\""), json!("multi\nline é"));
}

#[test]
fn nemesis_and_keyword_errors() {
    let text = "{:process 2, :type :info, :f :write, :value 3, :error :timed-out, :node \"n1\"}";
    let op = &read(text).unwrap().ops[0];
    assert_eq!(op.error.as_deref(), Some("timed-out"));
    assert_eq!(op.node.as_deref(), Some("n1"));
    let text = "{:process 2, :type :fail, :f :write, :error [:timeout \"slow\"]}";
    assert_eq!(
        read(text).unwrap().ops[0].error.as_deref(),
        Some("[:timeout \"slow\"]")
    );
}

#[test]
fn bad_input_says_where_and_what() {
    let ok = "{:process 0, :type :invoke, :f :read}\n";
    let cases = [
        (format!("{ok}{{:process 0, :type \"ok\", :f :read}}"), "history.edn:2: expected a keyword after :type, found \"ok\""),
        ("{:process 0, :type :okay, :f :read}".into(), "history.edn:1: unknown op type :okay (expected :invoke, :ok, :fail or :info)"),
        ("{:process 0, :type :ok, :f :read, :index -3}".into(), "history.edn:1: negative :index -3 (expected an integer >= 0)"),
        ("{:process 0, :type :ok, :f :read, :time 1.5}".into(), "history.edn:1: expected an integer after :time, found 1.5"),
        ("{:process :client, :type :ok, :f :read}".into(), "history.edn:1: expected an integer >= 0 or :nemesis after :process, found :client"),
        (format!("{ok}\n{{:process 0, :f :read}}"), "history.edn:3: op has no :type (expected :invoke, :ok, :fail or :info)"),
        ("{:process 0, :type :ok, :f 3}".into(), "history.edn:1: expected a keyword or a string after :f, found 3"),
        (format!("{ok}{{:process 0, :type :ok,\n :f :read, :value \"abc}}"), "history.edn:3: unterminated string: no closing `\"`; the file ends inside this op: it was cut short, e.g. its writer died while writing it; delete the unfinished op (or restore the whole file) and try again"),
        (format!("{ok}{{:process 0, :type :ok"), "history.edn:2: expected `}` to close the map opened on line 2, found the end of the input; the file ends inside this op: it was cut short, e.g. its writer died while writing it; delete the unfinished op (or restore the whole file) and try again"),
        ("{:process 0, :type :ok, :f :read, :value [1 2}".into(), "history.edn:1: expected `]` to close the vector opened on line 1, found `}`"),
        ("{:process 0, :type}".into(), "history.edn:1: the map opened on line 1 has a key :type with no value"),
        ("[1 2]".into(), "history.edn:1: expected an op map `{...}`, found 1"),
        ("hello".into(), "history.edn:1: expected an op map `{...}`, found hello"),
        (format!("[{ok}]\n{ok}"), "history.edn:3: unexpected content after the `]` that closes the history vector"),
        ("{:value 99999999999999999999, :process 0}".into(), "history.edn:1: integer 99999999999999999999 does not fit in 64 bits"),
        ("{:value \"\\q\"}".into(), "history.edn:1: unknown escape `\\q` in a string (expected \\n, \\t, \\r, \\b, \\f, \\\", \\\\ or \\uXXXX)"),
        ("{:value \"\\uD800x\"}".into(), "history.edn:1: `\\uD800` must be followed by a low surrogate `\\uDC00`..`\\uDFFF`"),
        ("}".into(), "history.edn:1: unexpected `}`: nothing is open"),
        ("{: 1}".into(), "history.edn:1: a keyword needs a name after `:`"),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&text), expected, "{text:?}");
    }
}

#[test]
fn deep_nesting_is_refused() {
    for depth in [MAX_DEPTH + 1, 100_000] {
        let deep = format!("{{:value {}}}", "[".repeat(depth));
        assert!(error(&deep).contains("nested more than 256 deep"));
        let tags = format!("{{:value {}1}}", "#a ".repeat(depth));
        assert!(error(&tags).contains("nested more than 256 deep"));
        let discards = format!("{{:value {}1}}", "#_ ".repeat(depth));
        assert!(error(&discards).contains("nested more than 256 deep"));
    }
    let fine = format!(
        "{{:process 0, :type :ok, :f :r, :value {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(read(&fine).is_ok());
}

#[test]
fn writes_jepsen_style_lines() {
    let history = History::new(vec![
        Op {
            index: 0,
            time: 12,
            process: Process::Client(3),
            kind: OpType::Invoke,
            f: "cas".into(),
            key: None,
            value: json!([1, 2]),
            node: None,
            error: None,
        },
        Op {
            index: 1,
            time: 20,
            process: Process::Nemesis,
            kind: OpType::Info,
            f: "start partition".into(),
            key: Some(json!("k\"1")),
            value: json!({"n1": ["n2"], "not plain": null, "x": 1.0}),
            node: Some("n1".into()),
            error: Some("timed-out".into()),
        },
    ]);
    let text = written(&history);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "{:index 0, :time 12, :type :invoke, :process 3, :f :cas, :value [1 2]}"
    );
    assert_eq!(
        lines[1],
        "{:index 1, :time 20, :type :info, :process :nemesis, :f \"start partition\", :key \"k\\\"1\", \
         :value {:n1 [\"n2\"], \"not plain\" nil, :x 1.0}, :node \"n1\", :error :timed-out}"
    );
    assert_eq!(read(&text).unwrap(), history);
}

#[test]
fn plain_keywords() {
    for name in ["read", "start-partition", "cas?", "a.b", "-x", "x1"] {
        assert!(is_plain_keyword(name), "{name}");
    }
    for name in ["", "1a", "-1", "a b", "a/b", "a:b", "é", ".a", "a#"] {
        assert!(!is_plain_keyword(name), "{name}");
    }
}

proptest! {
    #[test]
    fn ops_round_trip(ops in proptest::collection::vec(arb::op(), 0..8)) {
        let history = History::new(ops);
        prop_assert_eq!(read(&written(&history)), Ok(history));
    }

    #[test]
    fn json_values_round_trip(v in arb::json()) {
        let mut text = String::new();
        push_json(&v, &mut text);
        prop_assert_eq!(to_json(parse_one(&text).unwrap()), v);
    }

    #[test]
    fn never_panics(text in any::<String>()) {
        let _ = read(&text);
        let _ = parse_one(&text);
    }

    #[test]
    fn never_panics_on_edn_like_text(text in "[\\[\\](){}#_:;,\"\\\\ \nuUD0-9a-fNM.+/e-]{0,160}") {
        let _ = read(&text);
        let _ = parse_one(&text);
    }

    #[test]
    fn never_panics_on_mutated_ops(cut in 0usize..120, insert in "[\\[\\](){}#:;,\"\\\\ \n]{0,3}") {
        let line = "{:index 3, :time 9, :type :ok, :process 2, :f :cas, :value [\"a\\nb\" #{1 2} {:k nil}]}";
        let cut = line.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(line.len());
        let (head, tail) = line.split_at(cut);
        let _ = read(&format!("{head}{insert}{tail}"));
        let _ = read(&format!("{head}{insert}"));
    }
}

#[test]
fn each_op_knows_the_line_it_starts_on() {
    let text = "; a comment\n{:process 0, :type :invoke, :f :read}\n\n{:process 0,\n :type :ok, :f :read}\n";
    assert_eq!(read(text).unwrap().lines, vec![2, 4]);
    let vector = "[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read}]";
    assert_eq!(read(vector).unwrap().lines, vec![1, 2]);
}

#[test]
fn a_vector_cut_after_its_last_op_says_to_close_it() {
    let err = error("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read}\n");
    assert_eq!(
        err,
        "history.edn:3: expected `]` to close the history vector opened on line 1, found the end \
         of the input; the file ends before the history vector does: it was cut short, e.g. its \
         writer died while writing it; add the closing `]` (or restore the whole file) and try again"
    );
}
