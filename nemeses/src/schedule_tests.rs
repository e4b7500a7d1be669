//! The schedule against an in-memory cluster whose partitions take a while
//! to apply: a stop that comes mid-apply waits for the apply, then undoes
//! it, so nothing escapes the heal.

use super::*;
use crate::cluster::Node;
use crate::event::NemesisOp;
use crate::grudge::{Grudge, PartitionShape};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;
use tokio::sync::watch;

/// Records what was done to it; a partition takes [`Self::APPLY_TAKES`].
/// Of the process faults it has only `stop`/`start`: the others are the
/// trait's defaults (Unsupported). It loses packets and rolls files back
/// too.
#[derive(Default)]
struct SlowPartitions {
    events: Mutex<Vec<&'static str>>,
    applying: AtomicBool,
    /// Its partitions are undone behind the run's back at once.
    vanish: AtomicBool,
}

impl SlowPartitions {
    const APPLY_TAKES: Duration = Duration::from_millis(300);

    fn events(&self) -> Vec<&'static str> {
        self.events.lock().unwrap().clone()
    }

    fn log(&self, event: &'static str) {
        self.events.lock().unwrap().push(event);
    }
}

impl Cluster for SlowPartitions {
    fn supports(fault: &FaultSpec) -> Result<(), String> {
        match fault {
            FaultSpec::Partition(_)
            | FaultSpec::Stop
            | FaultSpec::Loss { .. }
            | FaultSpec::Rollback(_) => Ok(()),
            _ => Err("it only partitions, stops and loses packets".into()),
        }
    }
    async fn nodes(&self) -> Result<Vec<Node>, ClusterError> {
        Ok((1..=3)
            .map(|i| Node {
                name: format!("n{i}"),
                address: format!("10.0.0.{i}"),
            })
            .collect())
    }
    async fn stop(&self, _: &str) -> Result<(), ClusterError> {
        self.log("stopped");
        Ok(())
    }
    async fn start(&self, _: &str) -> Result<(), ClusterError> {
        self.log("started");
        Ok(())
    }
    async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        if grudge.nodes().is_empty() {
            self.log("healed");
            return Ok(());
        }
        self.log("partition begun");
        self.applying.store(true, SeqCst);
        tokio::time::sleep(Self::APPLY_TAKES).await;
        self.applying.store(false, SeqCst);
        self.log("partition in force");
        Ok(())
    }
    async fn heal(&self) -> Result<Vec<String>, ClusterError> {
        self.log("healed");
        Ok(vec!["removed the partition".into()])
    }
    async fn lose(
        &self,
        _: &crate::quality::Links,
        _: crate::quality::Percent,
    ) -> Result<(), ClusterError> {
        self.log("lossy");
        Ok(())
    }
    async fn heal_loss(&self) -> Result<Vec<String>, ClusterError> {
        self.log("loss healed");
        Ok(Vec::new())
    }
    async fn snapshot_files(&self, _: &[String], _: u64) -> Result<(), ClusterError> {
        self.log("snapshot taken");
        Ok(())
    }
    async fn roll_back_files(&self, nodes: &[String]) -> Result<Vec<String>, ClusterError> {
        self.log("rolled back");
        Ok(vec![format!("{}: gone: /data/x", nodes[0])])
    }
    async fn drop_snapshots(&self, _: &[String]) -> Result<Vec<String>, ClusterError> {
        self.log("snapshot dropped");
        Ok(Vec::new())
    }
    async fn is_up(&self, _: &str) -> Result<bool, ClusterError> {
        Ok(true)
    }
    async fn in_force(&self, _: &Fault) -> Result<bool, ClusterError> {
        Ok(!self.vanish.load(SeqCst))
    }
}

/// Keeps every event, as a run's history and console would see them.
#[derive(Default)]
struct Kept(Mutex<Vec<Event>>);

impl Sink for Kept {
    async fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Kept {
    /// The `f` of every op the events make.
    fn ops(&self) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter_map(Event::op)
            .map(|op: NemesisOp| op.f)
            .collect()
    }
}

/// A stop signal: `fire` it, and the schedule's `stop()` resolves.
struct Stop(watch::Sender<bool>);

impl Stop {
    fn new() -> Stop {
        Stop(watch::channel(false).0)
    }

    fn fire(&self) {
        self.0.send_replace(true);
    }

    fn fired(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|&fired| fired).await;
        }
    }
}

/// A scratch folder holding a run's journal, and three nodes.
struct Fixture {
    dir: PathBuf,
    journal: Journal,
    nodes: Vec<String>,
    kept: Kept,
}

const HALVES: [FaultSpec; 1] = [FaultSpec::Partition(PartitionShape::Halves)];

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("chaos-schedule-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fixture {
            journal: Journal::open(dir.join("journal.jsonl"), "schedule-test").unwrap(),
            nodes: (1..=3).map(|i| format!("n{i}")).collect(),
            kept: Kept::default(),
            dir,
        }
    }

    /// The `f` of every op; removes the folder.
    fn finish(self) -> Vec<String> {
        std::fs::remove_dir_all(&self.dir).unwrap();
        self.kept.ops()
    }
}

#[tokio::test]
async fn a_stop_during_an_apply_waits_for_it_then_undoes_it() {
    let mut fixture = Fixture::new("stop-mid-apply");
    let cluster = SlowPartitions::default();
    let schedule = Schedule {
        faults: &HALVES,
        interval: Duration::from_millis(10),
        time_limit: Duration::from_secs(600),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    let mut rng = Rng::new(7);
    let stopped = || stop.fired();
    let nemesis = schedule.run(
        &cluster,
        &mut fixture.journal,
        &mut rng,
        &fixture.kept,
        &stopped,
    );
    let stopper = async {
        while !cluster.applying.load(SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        stop.fire();
    };
    let ((), ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(nemesis, stopper)
    })
    .await
    .expect("the loop ends once stopped");

    assert_eq!(
        cluster.events(),
        ["partition begun", "partition in force", "healed"],
        "the apply under way finished, then the loop undid it"
    );
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    match fixture.kept.0.lock().unwrap().last() {
        // What the undo said reaches the history's stop op.
        Some(Event::Stopped {
            error: None, said, ..
        }) => {
            assert_eq!(said, &["removed the partition"])
        }
        other => panic!("the last word is that the fault is undone, not {other:?}"),
    }
    assert_eq!(
        fixture.finish(),
        ["start-partition", "partition-in-force", "stop-partition"]
    );
}

#[tokio::test]
async fn a_stop_between_faults_ends_the_loop_without_a_fault() {
    let mut fixture = Fixture::new("stop-quiet");
    let cluster = SlowPartitions::default();
    let schedule = Schedule {
        faults: &HALVES,
        // Quiet for far longer than the test may take.
        interval: Duration::from_secs(600),
        time_limit: Duration::from_secs(1200),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    stop.fire();
    tokio::time::timeout(
        Duration::from_secs(30),
        schedule.run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        ),
    )
    .await
    .expect("a fired stop ends the quiet wait at once");
    assert!(cluster.events().is_empty());
    assert!(fixture.finish().is_empty());
}

/// Runs one partition held for 1.2 s (one look at it, at 1 s) and returns
/// the ops.
async fn one_watched_partition(name: &str, vanish: bool) -> Vec<String> {
    let mut fixture = Fixture::new(name);
    let cluster = SlowPartitions::default();
    cluster.vanish.store(vanish, SeqCst);
    let schedule = Schedule {
        faults: &HALVES,
        interval: Duration::from_millis(1200),
        time_limit: Duration::from_millis(3200),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    schedule
        .run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        )
        .await;
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    fixture.finish()
}

#[tokio::test]
async fn a_fault_undone_behind_the_runs_back_is_recorded_lost() {
    assert_eq!(
        one_watched_partition("vanishes", true).await,
        [
            "start-partition",
            "partition-in-force",
            "partition-lost",
            "stop-partition"
        ]
    );
    assert_eq!(
        one_watched_partition("holds", false).await,
        ["start-partition", "partition-in-force", "stop-partition"],
        "a fault still in force is not called lost"
    );
}

#[tokio::test]
async fn a_fault_the_backend_lacks_fails_and_is_still_undone_in_the_history() {
    // `pause` is not carried out by this backend: the default method
    // answers Unsupported; the schedule records the failure and goes on.
    let mut fixture = Fixture::new("lacks-pause");
    let cluster = SlowPartitions::default();
    let schedule = Schedule {
        faults: &[FaultSpec::Pause],
        interval: Duration::from_millis(10),
        time_limit: Duration::from_millis(25),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    schedule
        .run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        )
        .await;
    let failed = fixture.kept.0.lock().unwrap()[1].clone();
    match failed {
        Event::Failed { verb, error, .. } => {
            assert_eq!(verb, "pause");
            assert_eq!(
                error,
                "this cluster cannot pause: this backend does not implement it; choose a nemesis without pause"
            );
        }
        other => panic!("expected pause-failed, got {other:?}"),
    }
    assert_eq!(
        fixture.finish(),
        ["start-pause", "pause-failed", "stop-pause"]
    );
}

#[tokio::test]
async fn heal_all_undoes_what_the_journal_holds_and_names_each_stop() {
    let mut fixture = Fixture::new("heal-all");
    let cluster = SlowPartitions::default();
    let grudge = crate::grudge::halves(&fixture.nodes).unwrap();
    let fault = Fault::Partition { grudge };
    fixture.journal.record_apply(&fault).unwrap();
    heal_all(
        &cluster,
        &mut fixture.journal,
        "schedule-test",
        &fixture.kept,
    )
    .await;
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    // The journal's fault, then the sweep.
    assert_eq!(cluster.events(), ["healed", "healed"]);
    assert_eq!(fixture.finish(), ["stop-partition"]);
}

#[test]
fn the_choice_is_one_draw_for_the_fault_then_its_own_draws() {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let faults = [FaultSpec::Kill, FaultSpec::Pause];
    let mut rng = rng_for(42);
    let chosen = choose(&faults, &nodes, &mut rng).unwrap();
    let mut by_hand = Rng::new(42 ^ 0x6e65_6d65_7369_7321);
    let spec = faults[by_hand.below(faults.len())];
    let expected = spec.instantiate(&nodes, &mut by_hand).unwrap();
    assert_eq!(chosen, expected);
    assert_eq!(rng, by_hand);
    let skipped = choose(
        &[FaultSpec::Partition(PartitionShape::Bridge)],
        &nodes[..2],
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(skipped.spec.name(), "partition-bridge");
}

#[tokio::test]
async fn a_stop_fault_is_scheduled_like_any_other() {
    let mut fixture = Fixture::new("stop-fault");
    let cluster = SlowPartitions::default();
    let schedule = Schedule {
        faults: &[FaultSpec::Stop],
        interval: Duration::from_millis(10),
        time_limit: Duration::from_millis(25),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    schedule
        .run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        )
        .await;
    assert_eq!(cluster.events(), ["stopped", "started"]);
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    assert_eq!(
        fixture.finish(),
        ["start-stop", "stop-in-force", "stop-stop"]
    );
}

#[tokio::test]
async fn a_loss_is_scheduled_journaled_and_undone_like_any_other() {
    let mut fixture = Fixture::new("loss-fault");
    let cluster = SlowPartitions::default();
    let faults = [FaultSpec::parse("loss:20%").unwrap()];
    let schedule = Schedule {
        faults: &faults,
        interval: Duration::from_millis(10),
        time_limit: Duration::from_millis(25),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    schedule
        .run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        )
        .await;
    assert_eq!(cluster.events(), ["lossy", "loss healed"]);
    let entries = Journal::read(fixture.dir.join("journal.jsonl")).unwrap();
    assert_eq!(entries.len(), 2, "applied, then healed: {entries:?}");
    assert_eq!(entries[0].fault.verb(), "loss");
    let started = fixture.kept.0.lock().unwrap()[0].clone();
    match started {
        Event::Started { verb, value } => {
            assert_eq!(verb, "loss");
            let value = value.as_str().unwrap().to_string();
            assert!(value.starts_with("20% on n"), "{value}");
        }
        other => panic!("expected start-loss, got {other:?}"),
    }
    assert_eq!(
        fixture.finish(),
        ["start-loss", "loss-in-force", "stop-loss"]
    );
}

/// A rollback's time up is its end (the chunks written back, and the
/// console line says what was not); the heal at a run's end only drops
/// the stash.
#[tokio::test]
async fn a_rollback_ends_by_writing_back_and_a_heal_only_drops_it() {
    let mut fixture = Fixture::new("rollback");
    let cluster = SlowPartitions::default();
    let faults = [FaultSpec::parse("rollback").unwrap()];
    let schedule = Schedule {
        faults: &faults,
        interval: Duration::from_millis(10),
        time_limit: Duration::from_millis(25),
        nodes: &fixture.nodes,
    };
    let stop = Stop::new();
    schedule
        .run(
            &cluster,
            &mut fixture.journal,
            &mut Rng::new(7),
            &fixture.kept,
            &|| stop.fired(),
        )
        .await;
    assert_eq!(cluster.events(), ["snapshot taken", "rolled back"]);
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    let line = fixture
        .kept
        .0
        .lock()
        .unwrap()
        .iter()
        .find(|e| matches!(e, Event::Stopped { .. }))
        .and_then(Event::line)
        .unwrap();
    assert!(
        line.starts_with("nemesis: stop-rollback: n") && line.ends_with(": gone: /data/x"),
        "{line}"
    );

    // Left in force by a run that died: the heal takes it away, and
    // writes nothing back.
    let fault = FaultSpec::parse("rollback")
        .unwrap()
        .instantiate(&fixture.nodes, &mut Rng::new(3))
        .unwrap();
    fixture.journal.record_apply(&fault).unwrap();
    heal_all(
        &cluster,
        &mut fixture.journal,
        "schedule-test",
        &fixture.kept,
    )
    .await;
    assert_eq!(
        cluster.events()[2..],
        ["snapshot dropped", "healed"],
        "a heal never rolls back"
    );
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    assert_eq!(
        fixture.finish(),
        [
            "start-rollback",
            "rollback-in-force",
            "stop-rollback",
            "stop-rollback"
        ]
    );
}
