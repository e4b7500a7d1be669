//! `chaos heal`: undo what a crashed or interrupted run left in force.

use crate::backends::docker::engine;
use crate::backends::docker::heal::{self, Scope};
use crate::backends::k8s::{self, K8sCluster, Target};
use crate::cli::{Backend, HealArgs};
use crate::error::Failure;
use crate::exit::HARNESS;

pub fn run(args: &HealArgs) -> i32 {
    super::block_on(command(args))
}

async fn command(args: &HealArgs) -> Result<i32, Failure> {
    let (lines, errors) = match args.backend {
        Backend::Docker => {
            let docker = engine::connect().await?;
            let scope = Scope {
                run: args.run.clone(),
                project: args.project.clone(),
            };
            let report = heal::heal(&docker, &args.journal, &scope).await?;
            (report.lines, report.errors)
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
            k8s::heal::heal(&cluster, &args.journal).await?
        }
    };
    if lines.is_empty() && errors.is_empty() {
        println!("nothing to heal");
    }
    for line in &lines {
        println!("{line}");
    }
    for error in &errors {
        eprintln!("chaos: {error}");
    }
    Ok(if errors.is_empty() { 0 } else { HARNESS })
}
