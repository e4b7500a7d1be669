//! `chaos heal`: undo what a crashed or interrupted run left behind.
//!
//! Two passes. The journal lists the faults still in force (applied, never
//! healed): each is undone on its cluster — found again from the run id the
//! journal line carries — and its heal recorded. Then a scan, the safety net
//! for anything the journal cannot know about (a journal deleted, a fault
//! applied by hand): every node of our clusters in scope is checked for our
//! chain and for a frozen cgroup, and every sidecar is removed. One line per
//! thing removed.

use std::path::Path;

use bollard::Docker;
use chaos_nemeses::journal::Entry;
use chaos_nemeses::{Cluster, Journal, JournalError};

use super::cluster::{DockerCluster, Selector};
use super::inventory::our_clusters;
use super::sidecar;
use super::DockerError;
use crate::nemesis::undo_fault;
use crate::runid::new_run_id;

/// Which clusters `chaos heal` may touch. Both empty: all of ours, and every
/// adopted cluster one of our sidecars sits in.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub run: Option<String>,
    pub project: Option<String>,
}

/// What heal did: one line per fault undone or thing removed, and the
/// failures (heal went on past each).
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

pub async fn heal(
    docker: &Docker,
    journal_path: &Path,
    scope: &Scope,
) -> Result<Report, DockerError> {
    let mut report = Report::default();
    heal_journal(docker, journal_path, scope, &mut report).await?;
    scan(docker, scope, &mut report).await?;
    Ok(report)
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
    report: &mut Report,
) -> Result<(), DockerError> {
    if !path.exists() {
        return Ok(());
    }
    // Opening for writing takes the journal's lock: a live run holding it is
    // refused ("in use by another chaos process") rather than healed under.
    let mut journal =
        Journal::open(path, &format!("heal-{}", new_run_id())).map_err(journal_error)?;
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
        // A Kubernetes run's faults are not ours to mark healed from here.
        if let Some(k8s) = run.strip_prefix(crate::backends::k8s::RUN_PREFIX) {
            report.lines.push(format!(
                "run {run} is on Kubernetes: `chaos heal --backend k8s --namespace NS --selector LABELS` heals it ({k8s})"
            ));
            continue;
        }
        let entries: Vec<&Entry> = outstanding.iter().filter(|e| e.run == run).collect();
        let cluster = match DockerCluster::open(docker.clone(), Selector::for_run(run)).await {
            Ok(cluster) => cluster,
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
            let fault = &entry.fault;
            let undone = match fault {
                // The journal says we partitioned this cluster: look on
                // every node, even one whose sidecar has gone.
                chaos_nemeses::Fault::Partition { .. } => {
                    cluster.heal_nodes(true).await.map(|lines| {
                        report.lines.extend(lines);
                    })
                }
                _ => undo_fault(&cluster, fault).await.map_err(DockerError::from),
            };
            match undone {
                Ok(()) => {
                    report.lines.push(format!(
                        "undid {} on {} (run {run}, journal entry {})",
                        one_line_fault(entry),
                        cluster.name(),
                        entry.seq
                    ));
                    journal.record_heal(fault).map_err(journal_error)?;
                }
                Err(e) => report
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
async fn scan(docker: &Docker, scope: &Scope, report: &mut Report) -> Result<(), DockerError> {
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
        if let Err(e) = scan_cluster(&cluster, report).await {
            report.errors.push(e.to_string());
        }
    }
    // Sidecars whose cluster is gone entirely.
    let run = scope.run.as_deref();
    for s in sidecar::list(docker, run).await? {
        if scope.project.is_none() && !runs_seen.contains(&s.run) {
            sidecar::remove(docker, &s.id).await?;
            report
                .lines
                .push(format!("removed sidecar {} (its node is gone)", s.name));
        }
    }
    Ok(())
}

async fn scan_cluster(cluster: &DockerCluster, report: &mut Report) -> Result<(), DockerError> {
    let docker = cluster.docker();
    let nodes = cluster.refresh().await?;
    let sidecars = sidecar::list(docker, Some(cluster.run_id())).await?;
    // Our own clusters get a sidecar on every node just to look; an adopted
    // cluster can only hold our chain where one of our sidecars sits (or
    // where the journal says we partitioned it: the first pass looked there).
    match cluster.heal_nodes(cluster.is_managed()).await {
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
        for node in nodes.iter().filter(|n| !n.has_netns()) {
            report.lines.push(format!(
                "note: {} ({}) of {} is {} and no journal entry says why: `chaos nemesis restart {} --project {}` starts it",
                node.name,
                node.container,
                cluster.name(),
                node.state,
                node.name,
                cluster.name()
            ));
        }
    }
    // Report only the sidecars that were there before we looked: the ones
    // this scan started just to look are not news.
    for name in cluster.remove_sidecars().await? {
        if sidecars.iter().any(|s| s.name == name) {
            report.lines.push(format!("removed sidecar {name}"));
        }
    }
    Ok(())
}
