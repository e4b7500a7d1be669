//! The final phase's ops: after the workers stopped and the cluster healed,
//! one more op (a log's `final-read`, a queue's `drain`) that decides what
//! was lost. It is recorded like any worker's op, under a process id no
//! worker used ([`RecordHandle::next_free_process`]), so the checkers take
//! it for a reader of its own and not for the continuation of a worker.
//!
//! ```text
//! worker::run(...)  ─►  heal, wait for the cluster  ─►  final_op(factory, node,
//!     &final_invocation("final-read"), &handle, handle.next_free_process(), limit)
//! ```

use crate::client::{with_timeout, Client, ClientFactory, Completion, Invocation, NodeTarget};
use crate::recorder::{RecordHandle, RecorderClosed};
use crate::worker::{entry, settle};
use chaos_checkers::history::OpType;
use serde_json::Value;
use std::time::Duration;

/// An op without key and argument: `final-read`, `drain`.
pub fn final_invocation(f: &str) -> Invocation {
    Invocation {
        f: f.into(),
        key: None,
        value: Value::Null,
    }
}

/// Opens a client on `node` for `process`, records the invocation, performs
/// it, records the completion and closes the client; each of the three
/// steps is bounded by `limit` (so the whole by three times it). As the workers do: a client that cannot be opened is a
/// `fail` with error `no-client: ...` (nothing was sent), and an op past
/// `limit` is `info` with error `timed-out`. Returns the completion as
/// recorded.
pub async fn final_op<F: ClientFactory>(
    factory: &F,
    node: &NodeTarget,
    op: &Invocation,
    recorder: &RecordHandle,
    process: u64,
    limit: Duration,
) -> Result<Completion, RecorderClosed> {
    let opened = match tokio::time::timeout(limit, factory.open(node, process)).await {
        Ok(opened) => opened,
        Err(_) => Err(crate::client::TIMED_OUT.into()),
    };
    let invoke = entry(node, process, OpType::Invoke, op, op.value.clone(), None);
    let completion = match opened {
        Err(e) => {
            recorder.append(invoke).await?;
            Completion::fail(format!("no-client: {e}"))
        }
        Ok(mut client) => {
            // On file before the request goes out, as for the workers.
            recorder.append(invoke).await?;
            let completion = with_timeout(limit, client.invoke(op)).await;
            let _ = tokio::time::timeout(limit, client.close()).await;
            completion
        }
    };
    let completion = settle(op, completion);
    let done = entry(
        node,
        process,
        completion.kind,
        op,
        completion.value.clone(),
        completion.error.clone(),
    );
    recorder.append(done).await?;
    Ok(completion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeRegister, Faults};
    use chaos_checkers::history::Process;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join("chaos-workloads-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn node() -> NodeTarget {
        NodeTarget {
            name: "n1".into(),
            address: "fake".into(),
        }
    }

    #[tokio::test]
    async fn records_invocation_and_completion_under_the_given_process() {
        let path = temp_path("final-op.jsonl");
        let recorder = crate::Recorder::start(&path).unwrap();
        let handle = recorder.handle();
        let fake = FakeRegister::new(Faults::default(), 1);
        let process = handle.next_free_process();
        let done = final_op(
            &fake,
            &node(),
            &final_invocation("read"),
            &handle,
            process,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(done, Completion::ok(Value::Null));
        let history = recorder.finish().await.unwrap();
        std::fs::remove_file(path).unwrap();
        let kinds: Vec<OpType> = history.ops.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, vec![OpType::Invoke, OpType::Ok]);
        assert!(history
            .ops
            .iter()
            .all(|o| o.process == Process::Client(process) && o.f == "read"));
        assert_eq!(history.ops[1].node.as_deref(), Some("n1"));
    }

    #[tokio::test]
    async fn a_client_that_cannot_open_is_a_recorded_fail() {
        let path = temp_path("final-op-refused.jsonl");
        let recorder = crate::Recorder::start(&path).unwrap();
        let handle = recorder.handle();
        let refusing = FakeRegister::new(
            Faults {
                refuse_open_percent: 100,
                ..Faults::default()
            },
            1,
        );
        let done = final_op(
            &refusing,
            &node(),
            &final_invocation("read"),
            &handle,
            4,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(done.kind, OpType::Fail);
        assert!(done.error.unwrap().starts_with("no-client"));
        let history = recorder.finish().await.unwrap();
        std::fs::remove_file(path).unwrap();
        assert_eq!(history.ops.len(), 2);
        assert_eq!(history.ops[1].kind, OpType::Fail);
    }
}
