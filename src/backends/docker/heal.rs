//! `chaos heal`: undo what a crashed or interrupted run left behind.
//!
//! First the run leases (see [`chaos_nemeses::lease`]): a cluster whose run
//! is alive is never touched, whatever else this heal does; the lease of a
//! run that died names its journal, wherever its `--results` pointed. Then
//! two passes. The journals list the faults still in force (applied, never
//! healed): each is undone on its cluster — found again from the run id the
//! journal line carries — and its heal recorded. Then a scan, the safety net
//! for anything the journal cannot know about (a journal deleted, a fault
//! applied by hand): every node of our clusters in scope is checked for our
//! chain and for a frozen cgroup, each running node on dm-flakey for a
//! device left in a fault mode, and every sidecar and rollback stash is
//! removed; with no scope, dm-flakey devices whose cluster is gone are
//! removed too. One line per
//! thing removed; the lease of a dead run goes once nothing of it is left.

use std::path::{Path, PathBuf};

use bollard::Docker;
use chaos_nemeses::journal::Entry;
use chaos_nemeses::lease::{self, Found};
use chaos_nemeses::nemesis::{self, NemesisError};
use chaos_nemeses::{Cluster, Journal, JournalError};

use chaos_nemeses::disk::dm_flakey;

use super::cluster::{DockerCluster, Selector};
use super::inventory::{known_clusters, our_clusters};
use super::DockerError;
use super::{dm, rollback, sidecar};
use crate::runid::new_run_id;

/// Which clusters `chaos heal` may touch. Both empty: all of ours, and every
/// adopted cluster one of our sidecars sits in. Never one whose run is alive.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub run: Option<String>,
    pub project: Option<String>,
    /// Also runs whose lease was taken on another host.
    pub force: bool,
}

/// What heal did: one line per fault undone or thing removed, the failures
/// (heal went on past each), and what it left alone because a live run
/// owns it.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
    pub refused: Vec<String>,
}

impl Report {
    fn refuse(&mut self, why: String) {
        if !self.refused.contains(&why) {
            self.refused.push(why);
        }
    }
}

/// Who holds what, as this heal sees it: the runs' leases, and the runs
/// with faults in a journal that a live process holds open (a
/// `chaos nemesis partition --hold`, or a run of an older harness).
struct Owners {
    leases: Vec<Found>,
    force: bool,
    /// (run, journal) for each such run.
    in_busy_journals: Vec<(String, PathBuf)>,
}

impl Owners {
    /// Why `run`'s cluster is not ours to touch, if it is not.
    fn refusal(&self, run: &str) -> Option<String> {
        if let Some(live) = lease::owner_of(&self.leases, run, self.force) {
            return Some(live.refusal());
        }
        self.in_busy_journals
            .iter()
            .find(|(r, _)| r == run)
            .map(|(_, journal)| {
                format!(
                    "run {run} has faults in journal {}, which a live chaos process holds: stop that process to heal them",
                    journal.display()
                )
            })
    }
}

/// `journal`: the one to read; None: the default one and every journal a
/// dead run's lease names.
pub async fn heal(
    docker: &Docker,
    journal: Option<&Path>,
    scope: &Scope,
) -> Result<Report, DockerError> {
    let leases =
        lease::list(&lease::default_dir()).map_err(|e| DockerError::Harness(e.to_string()))?;
    let mut owners = Owners {
        leases: leases
            .into_iter()
            .filter(|l| l.info.backend == "docker")
            .collect(),
        force: scope.force,
        in_busy_journals: Vec::new(),
    };
    let journals = journals_to_read(journal, &owners);
    require_named(docker, scope, &journals, &owners).await?;
    let mut report = Report::default();
    for path in &journals {
        heal_journal(docker, path, scope, &mut owners, &mut report).await?;
    }
    let scanned = scan(docker, scope, &owners, &mut report).await?;
    drop_dead_leases(&owners, scope, &scanned, &mut report);
    Ok(report)
}

const DEFAULT_JOURNAL: &str = "results/journal.jsonl";

fn journals_to_read(given: Option<&Path>, owners: &Owners) -> Vec<PathBuf> {
    if let Some(path) = given {
        return vec![path.to_path_buf()];
    }
    let mut paths = vec![PathBuf::from(DEFAULT_JOURNAL)];
    for lease in owners.leases.iter().filter(|l| l.may_touch(owners.force)) {
        let same = |p: &PathBuf| std::path::absolute(p).ok().as_ref() == Some(&lease.info.journal);
        if !paths.iter().any(same) {
            paths.push(lease.info.journal.clone());
        }
    }
    paths
}

/// A run or project named on the command line must be one we know of: a
/// typo in a nightly clean-up step must not look like success.
async fn require_named(
    docker: &Docker,
    scope: &Scope,
    journals: &[PathBuf],
    owners: &Owners,
) -> Result<(), DockerError> {
    let (selector, what) = match (&scope.run, &scope.project) {
        (Some(run), _) => (Selector::for_run(run), format!("run {run}")),
        (None, Some(project)) => (
            Selector::Project(project.clone()),
            format!("compose project {project}"),
        ),
        (None, None) => return Ok(()),
    };
    if DockerCluster::open(docker.clone(), selector.clone())
        .await
        .is_ok()
    {
        return Ok(());
    }
    if let Some(run) = &scope.run {
        let in_a_journal = journals
            .iter()
            .any(|p| Journal::read(p).is_ok_and(|entries| entries.iter().any(|e| &e.run == run)));
        let has_lease = owners.leases.iter().any(|l| &l.info.run == run);
        let has_sidecar = !sidecar::list(docker, Some(run)).await?.is_empty();
        if in_a_journal || has_lease || has_sidecar {
            return Ok(());
        }
    }
    Err(DockerError::BadInput(format!(
        "no cluster, journal entry or sidecar of {what}: {}",
        known_clusters(docker).await?
    )))
}

/// The lease of a dead run in scope goes once its journal holds nothing of
/// it in force: from then on there is nothing it could point a heal to.
fn drop_dead_leases(owners: &Owners, scope: &Scope, scanned: &[String], report: &mut Report) {
    for found in owners.leases.iter().filter(|l| l.may_touch(owners.force)) {
        let run = &found.info.run;
        let in_scope = match (&scope.run, &scope.project) {
            (Some(r), _) => r == run,
            (None, Some(_)) => scanned.contains(run),
            (None, None) => true,
        };
        if !in_scope {
            continue;
        }
        let left = Journal::read(&found.info.journal)
            .map(|entries| chaos_nemeses::journal::outstanding(&entries))
            .map(|o| o.iter().any(|e| &e.run == run));
        match left {
            Ok(false) => match found.remove() {
                Ok(()) => report.lines.push(format!(
                    "removed the lease of run {run} (pid {} is gone; nothing of it is in force)",
                    found.info.pid
                )),
                Err(e) => report.errors.push(e.to_string()),
            },
            Ok(true) => {}
            Err(e) => report.errors.push(e.to_string()),
        }
    }
}

fn journal_error(e: JournalError) -> DockerError {
    match e {
        JournalError::Corrupt { .. } => DockerError::BadInput(e.to_string()),
        _ => DockerError::Harness(e.to_string()),
    }
}

/// Pass one: the journal's outstanding faults, newest first.
async fn heal_journal(
    docker: &Docker,
    path: &Path,
    scope: &Scope,
    owners: &mut Owners,
    report: &mut Report,
) -> Result<(), DockerError> {
    if !path.exists() {
        return Ok(());
    }
    // Opening for writing takes the journal's lock: a live run holding it is
    // left alone rather than healed under.
    let mut journal = match Journal::open(path, &format!("heal-{}", new_run_id())) {
        Ok(journal) => journal,
        Err(JournalError::Busy { .. }) => {
            // Its faults are that process's: read (no lock needed) which
            // runs they are on, so the scan leaves those clusters alone too.
            let entries = Journal::read(path).map_err(journal_error)?;
            let mut runs: Vec<String> = chaos_nemeses::journal::outstanding(&entries)
                .into_iter()
                .map(|e| e.run)
                .filter(|run| scope.run.as_ref().is_none_or(|r| r == run))
                .collect();
            runs.dedup();
            for run in runs {
                owners
                    .in_busy_journals
                    .push((run.clone(), path.to_path_buf()));
                report.refuse(owners.refusal(&run).expect("just added"));
            }
            return Ok(());
        }
        Err(e) => return Err(journal_error(e)),
    };
    let outstanding = journal.outstanding().map_err(journal_error)?;
    let mut runs: Vec<&str> = Vec::new();
    for entry in &outstanding {
        if !runs.contains(&entry.run.as_str()) {
            runs.push(&entry.run);
        }
    }
    for run in runs {
        if scope.run.as_ref().is_some_and(|r| r != run) {
            continue;
        }
        if let Some(why) = owners.refusal(run) {
            report.refuse(why);
            continue;
        }
        // A Kubernetes run's faults are not ours to mark healed from here.
        if let Some(k8s) = run.strip_prefix(crate::backends::k8s::RUN_PREFIX) {
            report.lines.push(format!(
                "run {run} is on Kubernetes: `chaos heal --backend k8s --namespace NS --selector LABELS` heals it ({k8s})"
            ));
            continue;
        }
        let entries: Vec<&Entry> = outstanding.iter().filter(|e| e.run == run).collect();
        let cluster = match DockerCluster::open(docker.clone(), Selector::for_run(run)).await {
            // The journal says we partitioned it: look on every node, even
            // one whose sidecar has gone.
            Ok(cluster) => cluster.healing_everywhere(),
            Err(DockerError::BadInput(_)) if scope.project.is_none() => {
                for entry in entries {
                    report.lines.push(format!(
                        "run {run}: its cluster is gone, nothing to undo for {}",
                        one_line_fault(entry)
                    ));
                    journal.record_heal(&entry.fault).map_err(journal_error)?;
                }
                continue;
            }
            Err(DockerError::BadInput(_)) => continue,
            Err(e) => return Err(e),
        };
        if scope.project.as_ref().is_some_and(|p| p != cluster.name()) {
            continue;
        }
        for entry in entries.into_iter().rev() {
            match nemesis::undo(&cluster, &mut journal, &entry.fault).await {
                Ok(removed) => {
                    report.lines.extend(removed);
                    report.lines.push(format!(
                        "undid {} on {} (run {run}, journal entry {})",
                        one_line_fault(entry),
                        cluster.name(),
                        entry.seq
                    ));
                }
                Err(NemesisError::Journal(e)) => return Err(journal_error(e)),
                Err(NemesisError::Cluster(e)) => report
                    .errors
                    .push(format!("cannot undo {}: {e}", one_line_fault(entry))),
            }
        }
    }
    Ok(())
}

fn one_line_fault(entry: &Entry) -> String {
    super::one_line(&entry.fault.to_string().replace('\n', "; "))
}

/// Pass two: the clusters in scope, checked whatever the journal says.
/// Returns the run ids of the clusters it looked at.
async fn scan(
    docker: &Docker,
    scope: &Scope,
    owners: &Owners,
    report: &mut Report,
) -> Result<Vec<String>, DockerError> {
    let mut selectors: Vec<Selector> = Vec::new();
    if let Some(project) = &scope.project {
        selectors.push(Selector::Project(project.clone()));
    } else if let Some(run) = &scope.run {
        selectors.push(Selector::for_run(run));
    } else {
        for cluster in our_clusters(docker).await? {
            selectors.push(Selector::Project(cluster.project));
        }
        // Adopted clusters: only where our sidecars are.
        for s in sidecar::list(docker, None).await? {
            let selector = Selector::for_run(&s.run);
            if !selectors.contains(&selector) {
                selectors.push(selector);
            }
        }
    }
    let mut runs_seen = Vec::new();
    for selector in selectors {
        let cluster = match DockerCluster::open(docker.clone(), selector).await {
            Ok(c) => c,
            Err(DockerError::BadInput(_)) => continue,
            Err(e) => return Err(e),
        };
        runs_seen.push(cluster.run_id().to_string());
        if let Some(why) = owners.refusal(cluster.run_id()) {
            report.refuse(why);
            continue;
        }
        if let Err(e) = scan_cluster(&cluster, report).await {
            report.errors.push(e.to_string());
        }
    }
    // dm-flakey devices whose cluster is gone entirely (removed by hand):
    // the kernel keeps them, and their loop devices, until someone
    // removes them.
    if scope.project.is_none() && scope.run.is_none() {
        let known: Vec<String> = our_clusters(docker)
            .await?
            .into_iter()
            .map(|c| c.project)
            .collect();
        let orphans: Vec<String> = dm::host_devices()
            .into_iter()
            .filter(|d| dm_flakey::project_of(d).is_some_and(|p| !known.iter().any(|k| k == p)))
            .collect();
        match dm::remove_devices(docker, &orphans).await {
            Ok(lines) => report.lines.extend(
                lines
                    .into_iter()
                    .map(|l| format!("{l} (its cluster is gone)")),
            ),
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    // Sidecars and stashes whose cluster is gone entirely.
    let run = scope.run.as_deref();
    for (volume, of_run) in rollback::stashes(docker, run).await? {
        if scope.project.is_none()
            && !runs_seen.contains(&of_run)
            && owners.refusal(&of_run).is_none()
            && rollback::remove_volume(docker, &volume).await?
        {
            report
                .lines
                .push(format!("removed stash {volume} (its cluster is gone)"));
        }
    }
    for s in sidecar::list(docker, run).await? {
        if scope.project.is_none()
            && !runs_seen.contains(&s.run)
            && owners.refusal(&s.run).is_none()
        {
            sidecar::remove(docker, &s.id).await?;
            report
                .lines
                .push(format!("removed sidecar {} (its node is gone)", s.name));
        }
    }
    Ok(runs_seen)
}

async fn scan_cluster(cluster: &DockerCluster, report: &mut Report) -> Result<(), DockerError> {
    let docker = cluster.docker();
    let nodes = cluster.refresh().await?;
    let sidecars = sidecar::list(docker, Some(cluster.run_id())).await?;
    // Our own clusters get a sidecar on every node just to look; an adopted
    // cluster can only hold our chains and qdisc where one of our sidecars
    // sits (or where the journal says we put them: the first pass looked
    // there).
    match cluster.heal_network(cluster.is_managed()).await {
        Ok(lines) => report.lines.extend(lines),
        Err(e) => report.errors.push(e.to_string()),
    }
    if cluster.is_managed() {
        for node in nodes.iter().filter(|n| n.state == "paused") {
            cluster.resume(&node.name).await?;
            report.lines.push(format!(
                "resumed {} ({}) of {}: it was paused",
                node.name,
                node.container,
                cluster.name()
            ));
        }
        // Paused nodes thawed above: every running node on dm-flakey can
        // be looked at.
        let nodes = cluster.refresh().await?;
        match cluster.heal_devices(&nodes).await {
            Ok(lines) => report.lines.extend(lines),
            Err(e) => report.errors.push(e.to_string()),
        }
        for node in nodes.iter().filter(|n| !n.has_netns()) {
            report.lines.push(format!(
                "note: {} ({}) of {} is {} and no journal this heal read says why (a lease names the journal of a run that died; --journal names another): `chaos nemesis restart {} --project {}` starts it",
                node.name,
                node.container,
                cluster.name(),
                node.state,
                node.name,
                cluster.name()
            ));
        }
    }
    // A stash a lost journal entry left: removed, never written back.
    report.lines.extend(cluster.remove_stashes().await?);
    // Report only the sidecars that were there before we looked: the ones
    // this scan started just to look are not news.
    for name in cluster.remove_sidecars().await? {
        if sidecars.iter().any(|s| s.name == name) {
            report.lines.push(format!("removed sidecar {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_faults_in_a_held_journal_is_left_alone() {
        let owners = Owners {
            leases: Vec::new(),
            force: true,
            in_busy_journals: vec![("r1".into(), PathBuf::from("j/journal.jsonl"))],
        };
        let why = owners.refusal("r1").expect("held");
        assert!(
            why.contains("journal j/journal.jsonl, which a live chaos process holds"),
            "{why}"
        );
        assert_eq!(owners.refusal("r2"), None);
    }
}
