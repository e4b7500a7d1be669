//! `chaos heal`: undo what a crashed or interrupted run left in force.

use std::path::{Path, PathBuf};

use chaos_nemeses::lease;

use crate::backends::docker::engine;
use crate::backends::docker::heal::{self, Scope};
use crate::backends::k8s::{self, K8sCluster, Target};
use crate::cli::{Backend, HealArgs};
use crate::error::Failure;
use crate::exit::{HARNESS, LIVE_RUN};

pub fn run(args: &HealArgs) -> i32 {
    super::block_on(command(args))
}

async fn command(args: &HealArgs) -> Result<i32, Failure> {
    let (lines, errors, refused) = match args.backend {
        Backend::Docker => {
            let docker = engine::connect().await?;
            let scope = Scope {
                run: args.run.clone(),
                project: args.project.clone(),
                force: args.force,
            };
            let report = heal::heal(&docker, args.journal.as_deref(), &scope).await?;
            (report.lines, report.errors, report.refused)
        }
        Backend::K8s => {
            let (Some(namespace), Some(selector)) = (&args.namespace, &args.selector) else {
                return Err(Failure::BadInput(
                    "--backend k8s needs --namespace NS and --selector LABELS: the ones the run was given".into(),
                ));
            };
            let client = K8sCluster::connect().await?;
            let target = Target::new(namespace.clone(), selector.clone());
            let cluster = K8sCluster::discover(client, target).await?;
            // Leases are per machine: a run on this machine that is alive
            // is left alone (one in another pod cannot be seen from here).
            let leases =
                lease::list(&lease::default_dir()).map_err(|e| Failure::Harness(e.to_string()))?;
            let run = cluster.run_id();
            if let Some(live) = lease::owner_of(&leases, &run, args.force) {
                (Vec::new(), Vec::new(), vec![live.refusal()])
            } else {
                let journal = k8s_journal(args.journal.as_deref(), &leases, &run);
                let (lines, errors) = k8s::heal::heal(&cluster, &journal).await?;
                (lines, errors, Vec::new())
            }
        }
    };
    if lines.is_empty() && errors.is_empty() && refused.is_empty() {
        println!("nothing to heal");
    }
    for line in &lines {
        println!("{line}");
    }
    for why in &refused {
        eprintln!("chaos: left alone: {why}");
    }
    for error in &errors {
        eprintln!("chaos: {error}");
    }
    Ok(if !errors.is_empty() {
        HARNESS
    } else if !refused.is_empty() {
        LIVE_RUN
    } else {
        0
    })
}

/// `--journal`, else the journal a dead run's lease names for this
/// cluster, else the default.
fn k8s_journal(given: Option<&Path>, leases: &[lease::Found], run: &str) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| {
            leases
                .iter()
                .rev()
                .find(|l| l.info.run == run)
                .map(|l| l.info.journal.clone())
        })
        .unwrap_or_else(|| PathBuf::from("results/journal.jsonl"))
}
