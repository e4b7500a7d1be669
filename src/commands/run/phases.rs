//! One run on a cluster that is up, as named phases in order:
//!
//! 1. [`Run::set_up`]: the clients' addresses, the journal and the lease,
//!    the workload's set-up (a stream, a consumer), the history.
//! 2. [`Run::under_faults`]: the workers and the nemesis schedule until
//!    the time limit, the live status line.
//! 3. [`Run::heal`]: every fault of the run undone, from the journal.
//! 4. [`Run::final_ops`]: once the cluster is healthy, the op that decides
//!    what was lost (skipped after an interrupt).
//! 5. [`Run::clean_up`]: the run's data off a cluster that outlives it,
//!    the history closed, the node logs collected.
//! 6. [`Run::check_and_report`]: the checker and the reports.
//!
//! A signal is heard only through [`Interrupts`]: it cuts the phase it
//! comes in short, and the run goes on to heal and report what it has.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chaos_nemeses::lease::Lease;
use chaos_nemeses::schedule::{self, Schedule};
use chaos_nemeses::Journal;
use chaos_workloads::protocol::ClientProgram;
use chaos_workloads::system::{SetupError, WorkerTask, Workers};
use chaos_workloads::{
    shutdown, Driver, NodeTarget, RecordHandle, Recorder, RunSetup, ShutdownTrigger, Stats,
    WorkerConfig,
};

use super::events::RunEvents;
use super::interrupts::Interrupts;
use super::live::{self, Active, Console};
use super::plan::Plan;
use super::{journal_and_lease, RunTarget, INTERRUPTED};
use crate::error::Failure;
use crate::results::{self, meta, TestMeta};

/// After an interrupt, how long a fault being applied may take to finish
/// before the heal starts without it (a Kubernetes kill waits for the new
/// pod to be Ready; a Docker partition takes well under a second).
const FAULT_GRACE: Duration = Duration::from_secs(30);

/// How long the cluster may take to be healthy again after the heal.
const RECOVERY: Duration = Duration::from_secs(120);

/// What one run needs from start to end.
pub struct Context<'a, C> {
    pub cluster: &'a C,
    pub plan: &'a Plan,
    /// The run's results folder.
    pub dir: &'a Path,
    /// The fault journal (`--journal`, or one in the `--results` folder).
    pub journal: std::path::PathBuf,
    pub console: &'a Console,
}

/// A run past its set-up: the workload is ready and the history open.
pub struct Run<'a, C> {
    cx: Context<'a, C>,
    targets: Vec<NodeTarget>,
    setup: RunSetup,
    driver: Box<dyn Driver>,
    journal: Journal,
    lease: Lease,
    recorder: Recorder,
    handle: RecordHandle,
    stats: Arc<Stats>,
}

/// The workers' task and the trigger that stops them.
struct Workload {
    task: WorkerTask,
    stop: ShutdownTrigger,
}

impl<'a, C: RunTarget> Run<'a, C> {
    /// Phase 1. None if interrupted before any op ran (`test.json` then
    /// says so).
    pub async fn set_up(
        cx: Context<'a, C>,
        meta: &mut TestMeta,
        interrupts: &mut Interrupts,
    ) -> Result<Option<Run<'a, C>>, Failure> {
        let system = cx.plan.system;
        let endpoints = cx.cluster.endpoints(cx.plan.port).await?;
        let targets: Vec<NodeTarget> = endpoints
            .iter()
            .map(|(name, address)| NodeTarget {
                name: name.clone(),
                address: system.address(address),
            })
            .collect();
        let (journal, lease) = journal_and_lease(cx.cluster, &cx.journal, cx.dir, &meta.backend)?;
        meta.cluster = Some(cx.cluster.describe());
        meta.system_version = system.version_of(&targets).await;
        meta.endpoints = targets
            .iter()
            .map(|t| format!("{} {}", t.name, t.address))
            .collect();
        let setup = RunSetup {
            seed: cx.plan.seed,
            rate: meta.rate,
            concurrency: meta.concurrency,
            time_limit: cx.plan.time_limit,
            prefix: format!("chaos/{}/", meta.run_id),
            read_mode: cx.plan.read_mode.clone(),
            client: cx.plan.client.as_ref().map(|command| ClientProgram {
                command: command.clone(),
                logs: cx.dir.join("clients"),
            }),
            weights: cx.plan.weights.clone(),
            ops_per_key: cx.plan.ops_per_key,
        };
        let prepare = (cx.plan.workload.prepare)(&setup, &targets);
        let phase = "while setting up the workload: no ops ran";
        let Some(driver) = interrupts.guard(phase, cx.console, prepare).await else {
            meta.ended = Some(meta::INTERRUPTED.into());
            meta.write(cx.dir)?;
            return Ok(None);
        };
        let driver = driver.map_err(setup_failure)?;
        meta.run_start_unix_ns = Some(now_nanos());
        let recorder = Recorder::start(&cx.dir.join("history.jsonl"))
            .map_err(|e| Failure::Harness(format!("cannot start the history: {e}")))?;
        meta.write(cx.dir)?;
        let handle = recorder.handle();
        Ok(Some(Run {
            cx,
            targets,
            setup,
            driver,
            journal,
            lease,
            recorder,
            handle,
            stats: Arc::new(Stats::new()),
        }))
    }

    /// Phase 2: the workers and the schedule until the time limit, or until
    /// a signal; then the workers are stopped. On a signal, a fault being
    /// applied is let finish (up to [`FAULT_GRACE`]) so the heal sees all
    /// of it.
    pub async fn under_faults(
        &mut self,
        nemesis: &str,
        interrupts: &mut Interrupts,
    ) -> Result<(), Failure> {
        let (plan, console) = (self.cx.plan, self.cx.console);
        let workload = self.start_workers()?;
        console.say(&format!(
            "running {} s ({} workers, {} ops/s, seed {}, nemesis {})",
            plan.time_limit.as_secs_f64(),
            self.setup.concurrency,
            self.setup.rate,
            plan.seed,
            if plan.faults.is_empty() {
                "none"
            } else {
                nemesis
            }
        ));
        let names: Vec<String> = self.targets.iter().map(|t| t.name.clone()).collect();
        let schedule = Schedule {
            faults: &plan.faults,
            interval: plan.interval,
            time_limit: plan.time_limit,
            nodes: &names,
        };
        let active = Active::default();
        let events = RunEvents {
            handle: &self.handle,
            console,
            active: &active,
        };
        let mut rng = schedule::rng_for(plan.seed);
        let (stop_faults, faults_stop) = shutdown();
        let faults_stopped = || faults_stop.fired();
        let faults = schedule.run(
            self.cx.cluster,
            &mut self.journal,
            &mut rng,
            &events,
            &faults_stopped,
        );
        tokio::pin!(faults);
        let ticker = live::ticker(console, &self.stats, &active, plan.time_limit);
        let both = async {
            tokio::select! {
                _ = &mut faults => {}
                _ = ticker => {}
            }
        };
        let phase = "under faults: healing, writing a partial report";
        let finished = interrupts.guard(phase, console, both).await.is_some();
        console.done();
        if !finished {
            stop_faults.fire();
            let grace = async {
                tokio::select! {
                    _ = &mut faults => {}
                    _ = tokio::time::sleep(FAULT_GRACE) => console.say(&format!(
                        "a fault was still being applied after {} s: left it; the heal undoes what the journal holds",
                        FAULT_GRACE.as_secs()
                    )),
                }
            };
            let again =
                "again: left the fault being applied; the heal undoes what the journal holds";
            interrupts.guard(again, console, grace).await;
        }
        workload.stop.fire();
        match workload.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => console.say(&format!("workers: {e}")),
            Err(e) => console.say(&format!("workers: {e}")),
        }
        let done = self.stats.snapshot();
        console.say(&format!(
            "workload done: {} ops (ok {}, fail {}, info {})",
            done.invoked, done.ok, done.fail, done.info
        ));
        Ok(())
    }

    fn start_workers(&self) -> Result<Workload, Failure> {
        let (stop, stopped) = shutdown();
        let generator = self
            .cx
            .plan
            .workload
            .generator(&self.setup)
            .map_err(setup_failure)?;
        let task = self
            .driver
            .start(
                generator,
                Workers {
                    config: WorkerConfig::new(self.setup.concurrency, self.targets.clone()),
                    record: self.recorder.handle(),
                    stop: stopped,
                    stats: self.stats.clone(),
                },
            )
            .map_err(setup_failure)?;
        Ok(Workload { task, stop })
    }

    /// Phase 3: every fault of this run still in force undone. The lease
    /// goes with the run (when it is dropped) only if nothing of the run is
    /// left in force; otherwise it keeps naming the journal for `chaos heal`.
    pub async fn heal(&mut self) {
        let console = self.cx.console;
        let active = Active::default();
        let events = RunEvents {
            handle: &self.handle,
            console,
            active: &active,
        };
        let run = self.cx.cluster.journal_id();
        schedule::heal_all(self.cx.cluster, &mut self.journal, &run, &events).await;
        let left = self.journal.outstanding();
        if !left.is_ok_and(|left| !left.iter().any(|e| e.run == run)) {
            self.lease.keep();
            console.say(&format!(
                "faults may still be in force: `chaos heal` undoes them (the lease {} names journal {})",
                self.lease.path().display(),
                self.journal.path().display()
            ));
        }
    }

    /// Phase 4: once the cluster is healthy again, the workload's final op.
    pub async fn final_ops(&self, interrupts: &mut Interrupts) {
        let console = self.cx.console;
        let healthy = self.cx.cluster.wait_healthy(RECOVERY);
        let Some(recovered) = interrupts
            .guard("while the cluster recovered", console, healthy)
            .await
        else {
            return;
        };
        if let Err(e) = recovered {
            console.say(&format!(
                "the cluster is not healthy after the run, so no final reads: {e}"
            ));
            return;
        }
        let Some(f) = self.cx.plan.workload.final_op else {
            return;
        };
        let say = |line: &str| console.say(line);
        let finish = self.driver.finish(f, &self.targets, &self.handle, &say);
        interrupts
            .guard("during the final reads", console, finish)
            .await;
    }

    /// Phase 5: the run's data off a cluster that outlives it (bounded by
    /// the clients' own timeouts; a failure is said, never fatal), the
    /// history closed, the node logs next to it (missing logs cost the
    /// report a section, never the verdict).
    pub async fn clean_up(self) -> Result<(), Failure> {
        let (cluster, console) = (self.cx.cluster, self.cx.console);
        if cluster.outlives_run() {
            match self.driver.remove_data(&self.targets).await {
                Ok(()) => console.say("removed the run's data from the cluster"),
                Err(e) => console.say(&format!("clean-up: {e}")),
            }
        }
        drop(self.handle);
        self.recorder
            .finish()
            .await
            .map_err(|e| Failure::Harness(format!("cannot finish the history: {e}")))?;
        if let Err(e) = cluster.collect_logs(self.cx.dir).await {
            console.say(&format!("node logs: {e}"));
        }
        Ok(())
    }
}

/// Phase 6: `test.json` says how the run ended; the checker and the
/// reports; the exit code (130 for an interrupted run, whatever its
/// verdict).
pub fn check_and_report(
    dir: &Path,
    meta: &mut TestMeta,
    interrupted: bool,
    console: &Console,
) -> Result<i32, Failure> {
    let ended = if interrupted {
        meta::INTERRUPTED
    } else {
        meta::COMPLETED
    };
    meta.ended = Some(ended.into());
    meta.write(dir)?;
    console.say("checking the history");
    let outcome = results::analyse(dir, meta)?;
    println!("report: {}", dir.join("report.md").display());
    println!("{}", outcome.line(meta));
    console.to_log(&outcome.line(meta));
    Ok(if interrupted {
        INTERRUPTED
    } else {
        outcome.exit_code()
    })
}

/// A workload that cannot start: the flags' fault (254) or the cluster's.
fn setup_failure(e: SetupError) -> Failure {
    match e {
        SetupError::BadInput(_) => Failure::BadInput(e.to_string()),
        SetupError::NotReady(_) => Failure::Harness(e.to_string()),
    }
}

fn now_nanos() -> u64 {
    jiff::Timestamp::now()
        .as_nanosecond()
        .try_into()
        .unwrap_or(0)
}
