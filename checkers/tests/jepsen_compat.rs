//! Jepsen's histories read as Jepsen means them: a nil read under
//! `NilRead::Any` (Knossos's convention), EDN written as a list, and the
//! nemesis's ops, which are never a client's.

use chaos_checkers::history::format::parse_history;
use chaos_checkers::history::History;
use chaos_checkers::linear::nil_read::is_nil_read;
use chaos_checkers::linear::{self, LinearOptions, LinearReport, ModelKind, NilRead};
use chaos_checkers::Validity;
use serde_json::{json, Value};

fn edn(text: &str) -> History {
    parse_history(text, None, "history.edn").expect("a well-formed EDN history")
}

fn check(history: &History, model: ModelKind, nil_read: NilRead) -> LinearReport {
    let options = LinearOptions {
        model,
        nil_read,
        threads: 1,
        ..Default::default()
    };
    linear::check(history, &options).expect("a history the model knows")
}

/// Shaped like a Knossos-era Jepsen cas-register history: printed as a
/// list, the nemesis partitioning and healing (its `:info` ops use `f`s no
/// client model knows), and clients whose reads could not tell what they
/// read writing them as ok reads of nil.
const JEPSEN_CAS: &str = "\
({:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process :nemesis, :type :info, :f :start, :value nil}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process :nemesis, :type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\" \"n3\"}}]}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process 2, :type :invoke, :f :cas, :value [1 2]}
 {:process 2, :type :ok, :f :cas, :value [1 2]}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process :nemesis, :type :info, :f :stop, :value nil}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value 2}
 {:process :nemesis, :type :info, :f :stop, :value :network-healed})
";

#[test]
fn a_nil_read_matches_any_state_only_under_nil_read_any() {
    let history = edn(JEPSEN_CAS);
    assert_eq!(history.ops.len(), 14);

    let ours = check(&history, ModelKind::CasRegister, NilRead::Value);
    assert_eq!(ours.validity, Validity::Invalid);
    let failure = ours.keys[0].failure.as_ref().unwrap();
    assert_eq!(
        (failure.op.f.as_str(), &failure.op.result),
        ("read", &Value::Null)
    );
    assert!(is_nil_read(ModelKind::CasRegister, &failure.op));

    let knossos = check(&history, ModelKind::CasRegister, NilRead::Any);
    assert_eq!(knossos.validity, Validity::Valid);
    // The nil reads are ignored, like reads that never completed.
    assert_eq!((ours.ops, knossos.ops), (5, 3));
}

#[test]
fn a_read_of_a_value_never_written_stays_invalid_under_any() {
    let history = edn(&JEPSEN_CAS.replace(":f :read, :value 2}", ":f :read, :value 7}"));
    let report = check(&history, ModelKind::CasRegister, NilRead::Any);
    assert_eq!(report.validity, Validity::Invalid);
    let op = &report.keys[0].failure.as_ref().unwrap().op;
    assert_eq!(op.result, json!(7));
    assert!(!is_nil_read(ModelKind::CasRegister, op));
}

#[test]
fn register_kv_and_multi_register_reads_of_nil() {
    let cases = [
        (
            ModelKind::Register,
            "{:process 0, :type :invoke, :f :write, :value 1}\n\
             {:process 0, :type :ok, :f :write, :value 1}\n\
             {:process 1, :type :invoke, :f :read, :value nil}\n\
             {:process 1, :type :ok, :f :read, :value nil}\n",
        ),
        (
            ModelKind::Kv,
            "{:process 0, :type :invoke, :f :put, :key \"k\", :value \"x\"}\n\
             {:process 0, :type :ok, :f :put, :key \"k\", :value \"x\"}\n\
             {:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n\
             {:process 1, :type :ok, :f :get, :key \"k\", :value nil}\n",
        ),
        (
            ModelKind::MultiRegister,
            "{:process 0, :type :invoke, :f :txn, :value [[:w 0 1]]}\n\
             {:process 0, :type :ok, :f :txn, :value [[:w 0 1]]}\n\
             {:process 1, :type :invoke, :f :txn, :value [[:r 0 nil] [:w 1 5]]}\n\
             {:process 1, :type :ok, :f :txn, :value [[:r 0 nil] [:w 1 5]]}\n\
             {:process 2, :type :invoke, :f :txn, :value [[:r 1 nil]]}\n\
             {:process 2, :type :ok, :f :txn, :value [[:r 1 5]]}\n",
        ),
    ];
    for (model, text) in cases {
        let history = edn(text);
        let ours = check(&history, model, NilRead::Value);
        assert_eq!(ours.validity, Validity::Invalid, "{model}");
        let op = &ours.keys[0].failure.as_ref().unwrap().op;
        assert!(is_nil_read(model, op), "{model}: {op:?}");
        assert_eq!(
            check(&history, model, NilRead::Any).validity,
            Validity::Valid,
            "{model}"
        );
    }
}

/// A dequeue of nil saw the queue empty, and a set read is a list: what
/// they read is known, so `NilRead` leaves those models as they are.
#[test]
fn queue_and_set_reads_are_not_nil_reads() {
    let queue = edn("{:process 0, :type :invoke, :f :enqueue, :value 1}\n\
         {:process 0, :type :ok, :f :enqueue, :value 1}\n\
         {:process 1, :type :invoke, :f :dequeue, :value nil}\n\
         {:process 1, :type :ok, :f :dequeue, :value nil}\n");
    for nil_read in [NilRead::Value, NilRead::Any] {
        let report = check(&queue, ModelKind::FifoQueue, nil_read);
        assert_eq!(report.validity, Validity::Invalid, "{nil_read}");
        let op = &report.keys[0].failure.as_ref().unwrap().op;
        assert!(!is_nil_read(ModelKind::FifoQueue, op));
    }
}

/// A nemesis op with a client's `f` and a value a client read: taken for
/// a client's write that never completed, it would explain the read and
/// make the history valid.
#[test]
fn a_nemesis_op_never_explains_a_client_read() {
    let history = edn("[{:process 0, :type :invoke, :f :read, :value nil}\n\
          {:process :nemesis, :type :invoke, :f :write, :value 99}\n\
          {:process 0, :type :ok, :f :read, :value 99}]\n");
    let report = check(&history, ModelKind::CasRegister, NilRead::Value);
    assert_eq!(report.validity, Validity::Invalid);
    assert_eq!(report.ops, 1);
    let failure = report.keys[0].failure.as_ref().unwrap();
    assert_eq!(failure.op.result, json!(99));
    assert!(failure.concurrent.is_empty(), "{:?}", failure.concurrent);
}
