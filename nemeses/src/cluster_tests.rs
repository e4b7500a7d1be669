//! The trait must be implementable with plain `async fn`, usable generically,
//! and its futures must be `Send`. An in-memory cluster proves all three.

use super::*;
use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Killed,
    Stopped,
}

/// A fake backend: node states and the installed grudge, behind a mutex.
struct Memory {
    nodes: Vec<Node>,
    states: Mutex<BTreeMap<NodeName, State>>,
    grudge: Mutex<Grudge>,
}

impl Memory {
    fn new(count: usize) -> Memory {
        let nodes: Vec<Node> = (1..=count)
            .map(|i| Node {
                name: format!("n{i}"),
                address: format!("10.0.0.{i}"),
            })
            .collect();
        let states = nodes.iter().map(|n| (n.name.clone(), State::Up)).collect();
        Memory {
            nodes,
            states: Mutex::new(states),
            grudge: Mutex::new(Grudge::new()),
        }
    }

    async fn set(&self, node: &str, state: State) -> Result<(), ClusterError> {
        ClusterError::find(&self.nodes, node)?;
        self.states.lock().unwrap().insert(node.to_string(), state);
        Ok(())
    }
}

/// It has no freezer: `pause` and `resume` are the trait's defaults.
impl Cluster for Memory {
    fn supports(fault: &FaultSpec) -> Result<(), String> {
        match fault {
            FaultSpec::Pause => Err("the memory backend has no freezer".into()),
            _ => Ok(()),
        }
    }
    async fn nodes(&self) -> Result<Vec<Node>, ClusterError> {
        Ok(self.nodes.clone())
    }
    async fn kill(&self, node: &str) -> Result<(), ClusterError> {
        self.set(node, State::Killed).await
    }
    async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        self.set(node, State::Up).await
    }
    async fn stop(&self, node: &str) -> Result<(), ClusterError> {
        self.set(node, State::Stopped).await
    }
    async fn start(&self, node: &str) -> Result<(), ClusterError> {
        self.set(node, State::Up).await
    }
    async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        for node in grudge.nodes() {
            ClusterError::find(&self.nodes, node)?;
        }
        *self.grudge.lock().unwrap() = grudge.clone();
        Ok(())
    }
    async fn heal(&self) -> Result<Vec<String>, ClusterError> {
        *self.grudge.lock().unwrap() = Grudge::new();
        Ok(Vec::new())
    }
    async fn is_up(&self, node: &str) -> Result<bool, ClusterError> {
        ClusterError::find(&self.nodes, node)?;
        Ok(self.states.lock().unwrap()[node] == State::Up)
    }
}

/// Run a future that never waits on I/O to completion; no runtime needed.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn assert_send<T: Send>(_: &T) {}

/// Written against the trait only, the way the nemesis schedule will be.
async fn kill_and_restart_everyone<C: Cluster>(cluster: &C) -> Result<Vec<bool>, ClusterError> {
    let names: Vec<NodeName> = cluster.nodes().await?.into_iter().map(|n| n.name).collect();
    for name in &names {
        cluster.kill(name).await?;
    }
    let mut up = Vec::new();
    for name in &names {
        up.push(cluster.is_up(name).await?);
        cluster.restart(name).await?;
    }
    Ok(up)
}

#[test]
fn generic_code_drives_a_backend_and_its_futures_are_send() {
    let cluster = Memory::new(3);
    let fut = kill_and_restart_everyone(&cluster);
    assert_send(&fut);
    assert_eq!(block_on(fut), Ok(vec![false, false, false]));
    assert_eq!(block_on(cluster.is_up("n2")), Ok(true));
    block_on(cluster.stop("n2")).unwrap();
    assert_eq!(block_on(cluster.is_up("n2")), Ok(false));
}

#[test]
fn partition_then_heal_round_trip() {
    let cluster = Memory::new(5);
    let nodes: Vec<NodeName> = block_on(cluster.nodes())
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    let g = crate::grudge::halves(&nodes).unwrap();
    block_on(cluster.partition(&g)).unwrap();
    assert_eq!(*cluster.grudge.lock().unwrap(), g);
    block_on(cluster.heal()).unwrap();
    block_on(cluster.heal()).unwrap();
    assert!(cluster.grudge.lock().unwrap().is_empty());
}

#[test]
fn errors_say_what_went_wrong_and_what_to_do() {
    let cluster = Memory::new(3);
    let err = block_on(cluster.kill("n9")).unwrap_err();
    assert_eq!(
        err,
        ClusterError::UnknownNode {
            node: "n9".into(),
            known: vec!["n1".into(), "n2".into(), "n3".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "no node named n9 in this cluster (nodes: n1, n2, n3)"
    );
    assert_eq!(
        ClusterError::find(&[], "n1").unwrap_err().to_string(),
        "no node named n1: this cluster has no nodes; check that the cluster is running"
    );
    assert_eq!(
        block_on(cluster.pause("n1")).unwrap_err().to_string(),
        "this cluster cannot pause: this backend does not implement it; choose a nemesis without pause"
    );
    assert_eq!(
        ClusterError::Backend("docker start n1: no such container".into()).to_string(),
        "cluster backend failed: docker start n1: no such container"
    );
    let mut g = Grudge::new();
    g.add_drop("n1", "n7");
    assert!(matches!(
        block_on(cluster.partition(&g)),
        Err(ClusterError::UnknownNode { .. })
    ));
}

#[test]
fn a_fault_the_backend_lacks_is_refused_in_one_line_before_anything_starts() {
    let faults = FaultSpec::parse_list("partition-halves,pause").unwrap();
    assert_eq!(
        check_supported::<Memory>("memory", &faults).unwrap_err(),
        "--backend memory cannot pause (the memory backend has no freezer): leave pause out of --nemesis"
    );
    let fine = FaultSpec::parse_list("partition-one,kill").unwrap();
    assert_eq!(check_supported::<Memory>("memory", &fine), Ok(()));
    // What it would have met at run time: the trait's default answer.
    let cluster = Memory::new(3);
    assert!(matches!(
        block_on(cluster.resume("n1")),
        Err(ClusterError::Unsupported { .. })
    ));
}
