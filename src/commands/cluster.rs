//! `chaos cluster up|down|status|logs`.

use std::time::{Duration, Instant};

use crate::backends::docker::compose::{compose_dir, Spec};
use crate::backends::docker::inventory::{self, Target};
use crate::backends::docker::lifecycle::{self, UpOptions};
use crate::backends::docker::{dm, engine, images, DockerError};
use crate::backends::docker::{DockerCluster, Selector};
use crate::cli::{ClusterArgs, ClusterCommand, UpArgs};
use crate::exit::LIVE_RUN;
use crate::units::parse_duration;
use chaos_nemeses::disk::choice::{self, Mechanism};

pub fn run(args: &ClusterArgs) -> i32 {
    super::block_on(command(args))
}

async fn command(args: &ClusterArgs) -> Result<i32, DockerError> {
    match &args.command {
        ClusterCommand::Up(up) => self::up(up).await,
        ClusterCommand::Down(target) => {
            let docker = engine::connect().await?;
            let selector = Target::from(target).resolve(&docker).await?;
            if let Some(live) = live_owner(&docker, &selector).await? {
                eprintln!("chaos: left alone: {}", live.refusal());
                return Ok(LIVE_RUN);
            }
            let lines = lifecycle::down(&docker, &selector).await?;
            if lines.is_empty() {
                // Named, and nothing of that name exists: a typo must not
                // look like a successful clean-up.
                return Err(DockerError::BadInput(format!(
                    "nothing of {selector} exists here: {}",
                    inventory::known_clusters(&docker).await?
                )));
            }
            for line in lines {
                println!("{line}");
            }
            Ok(0)
        }
        ClusterCommand::Status(target) => {
            let docker = engine::connect().await?;
            let target = Target::from(target);
            let named = target.project.is_some() || target.label.is_some() || target.run.is_some();
            let selector = if named || target.system.is_some() || target.nodes.is_some() {
                Some(target.resolve(&docker).await?)
            } else {
                None
            };
            print!("{}", inventory::status(&docker, selector.as_ref()).await?);
            Ok(0)
        }
        ClusterCommand::Logs(logs) => {
            let docker = engine::connect().await?;
            let selector = Target::from(&logs.target).resolve(&docker).await?;
            print!(
                "{}",
                inventory::logs(&docker, &selector, logs.node.as_deref(), logs.tail).await?
            );
            Ok(0)
        }
    }
}

/// The live run that owns the cluster `selector` names, if any: its
/// cluster is not ours to take down under it.
async fn live_owner(
    docker: &bollard::Docker,
    selector: &Selector,
) -> Result<Option<chaos_nemeses::lease::Found>, DockerError> {
    let Ok(cluster) = DockerCluster::open(docker.clone(), selector.clone()).await else {
        return Ok(None);
    };
    let leases = chaos_nemeses::lease::list(&chaos_nemeses::lease::default_dir())
        .map_err(|e| DockerError::Harness(e.to_string()))?;
    Ok(chaos_nemeses::lease::owner_of(&leases, cluster.run_id(), false).cloned())
}

async fn up(args: &UpArgs) -> Result<i32, DockerError> {
    // Everything the user typed is checked before we talk to Docker.
    let spec = Spec::new(&args.system, args.nodes)?;
    let timeout: Duration = parse_duration(&args.timeout)
        .map_err(|e| DockerError::BadInput(format!("--timeout: {e}")))?;
    let forced = args
        .disk_faults
        .as_deref()
        .map(Mechanism::parse)
        .transpose()
        .map_err(DockerError::BadInput)?;
    let compose_dir = compose_dir(args.compose_dir.as_deref())?;
    let docker = engine::connect().await?;
    // dm-flakey only where the host's kernel has it: asked before anything
    // starts.
    let disk = match forced {
        Some(mechanism) => {
            images::require(&docker, &[images::BASE_IMAGE.to_string()]).await?;
            let decision = choice::decide(Some(mechanism), &[]).map_err(DockerError::BadInput)?;
            Some(dm::choose(&docker, &decision, forced, &[]).await?.mechanism)
        }
        None => None,
    };
    let options = UpOptions {
        spec,
        project: args.project.clone(),
        run_id: args.run_id.clone(),
        subnet: args.subnet.clone(),
        timeout,
        compose_dir,
        disk,
    };
    let start = Instant::now();
    let cluster = lifecycle::up(&docker, &options).await?;
    println!(
        "{}: {} nodes healthy in {:.1} s (run {})",
        cluster.name(),
        cluster.cached_nodes().len(),
        start.elapsed().as_secs_f64(),
        cluster.run_id()
    );
    print!(
        "{}",
        inventory::status(&docker, Some(cluster.selector())).await?
    );
    Ok(0)
}
