//! The nemesis loop against an in-memory cluster whose partitions take a
//! while to apply: a stop that comes mid-apply waits for the apply, then
//! undoes it, so nothing escapes the heal.

use super::*;
use chaos_nemeses::{Cluster, ClusterError, Grudge, Node, PartitionShape};
use chaos_workloads::{shutdown, Recorder};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

/// Records what was done to it; a partition takes [`Self::APPLY_TAKES`].
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
    async fn nodes(&self) -> Result<Vec<Node>, ClusterError> {
        Ok((1..=3)
            .map(|i| Node {
                name: format!("n{i}"),
                address: format!("10.0.0.{i}"),
            })
            .collect())
    }
    async fn kill(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
    }
    async fn restart(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
    }
    async fn stop(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
    }
    async fn start(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
    }
    async fn pause(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
    }
    async fn resume(&self, _: &str) -> Result<(), ClusterError> {
        unreachable!("the schedule only partitions")
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
    async fn heal(&self) -> Result<(), ClusterError> {
        self.log("healed");
        Ok(())
    }
    async fn is_up(&self, _: &str) -> Result<bool, ClusterError> {
        Ok(true)
    }
    async fn in_force(&self, _: &Fault) -> Result<bool, ClusterError> {
        Ok(!self.vanish.load(SeqCst))
    }
}

impl RunTarget for SlowPartitions {
    fn describe(&self) -> String {
        "memory".into()
    }
    fn journal_id(&self) -> String {
        "schedule-test".into()
    }
    async fn endpoints(&self, _: u16) -> Result<Vec<(String, String)>, crate::error::Failure> {
        Ok(Vec::new())
    }
    async fn wait_healthy(&self, _: Duration) -> Result<(), crate::error::Failure> {
        Ok(())
    }
    fn outlives_run(&self) -> bool {
        false
    }
    async fn collect_logs(&self, _: &Path) -> Result<(), crate::error::Failure> {
        Ok(())
    }
}

/// A scratch folder holding a run's journal and history, and three nodes.
struct Fixture {
    dir: PathBuf,
    journal: Journal,
    recorder: Recorder,
    names: Vec<String>,
}

const HALVES: [FaultKind; 1] = [FaultKind::Partition(PartitionShape::Halves)];

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("chaos-schedule-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fixture {
            journal: Journal::open(dir.join("journal.jsonl"), "schedule-test").unwrap(),
            recorder: Recorder::start(&dir.join("history.jsonl")).unwrap(),
            names: (1..=3).map(|i| format!("n{i}")).collect(),
            dir,
        }
    }

    /// The `f` of every op recorded; removes the folder.
    async fn finish(self) -> Vec<String> {
        let history = self.recorder.finish().await.unwrap();
        std::fs::remove_dir_all(&self.dir).unwrap();
        history.ops.into_iter().map(|o| o.f).collect()
    }
}

#[tokio::test]
async fn a_stop_during_an_apply_waits_for_it_then_undoes_it() {
    let mut fixture = Fixture::new("stop-mid-apply");
    let cluster = SlowPartitions::default();
    let handle = fixture.recorder.handle();
    let schedule = Schedule {
        faults: &HALVES,
        interval: Duration::from_millis(10),
        time_limit: Duration::from_secs(600),
        names: &fixture.names,
    };
    let (trigger, stop) = shutdown();
    let (active, console, mut rng) = (Active::default(), Console::new(), Rng::new(7));
    let nemesis = nemesis_loop(
        &cluster,
        &mut fixture.journal,
        &handle,
        &schedule,
        &mut rng,
        &active,
        &console,
        &stop,
    );
    let stopper = async {
        while !cluster.applying.load(SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        trigger.fire();
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
    assert_eq!(active.get(), None);
    drop(handle);
    assert_eq!(
        fixture.finish().await,
        ["start-partition", "partition-in-force", "stop-partition"]
    );
}

#[tokio::test]
async fn a_stop_between_faults_ends_the_loop_without_a_fault() {
    let mut fixture = Fixture::new("stop-quiet");
    let cluster = SlowPartitions::default();
    let handle = fixture.recorder.handle();
    let schedule = Schedule {
        faults: &HALVES,
        // Quiet for far longer than the test may take.
        interval: Duration::from_secs(600),
        time_limit: Duration::from_secs(1200),
        names: &fixture.names,
    };
    let (trigger, stop) = shutdown();
    trigger.fire();
    tokio::time::timeout(
        Duration::from_secs(30),
        nemesis_loop(
            &cluster,
            &mut fixture.journal,
            &handle,
            &schedule,
            &mut Rng::new(7),
            &Active::default(),
            &Console::new(),
            &stop,
        ),
    )
    .await
    .expect("a fired stop ends the quiet wait at once");
    assert!(cluster.events().is_empty());
    drop(handle);
    assert!(fixture.finish().await.is_empty());
}

/// Runs one partition held for 1.2 s (one look at it, at 1 s) and returns
/// the ops.
async fn one_watched_partition(name: &str, vanish: bool) -> Vec<String> {
    let mut fixture = Fixture::new(name);
    let cluster = SlowPartitions::default();
    cluster.vanish.store(vanish, SeqCst);
    let handle = fixture.recorder.handle();
    let schedule = Schedule {
        faults: &HALVES,
        interval: Duration::from_millis(1200),
        time_limit: Duration::from_millis(3200),
        names: &fixture.names,
    };
    let (_trigger, stop) = shutdown();
    nemesis_loop(
        &cluster,
        &mut fixture.journal,
        &handle,
        &schedule,
        &mut Rng::new(7),
        &Active::default(),
        &Console::new(),
        &stop,
    )
    .await;
    assert!(fixture.journal.outstanding().unwrap().is_empty());
    drop(handle);
    fixture.finish().await
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
