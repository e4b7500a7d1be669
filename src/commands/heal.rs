//! `chaos heal`: undo what a crashed or interrupted run left in force.

use crate::backends::docker::heal::{self, Scope};
use crate::backends::docker::{engine, DockerError};
use crate::cli::HealArgs;
use crate::exit::HARNESS;

pub fn run(args: &HealArgs) -> i32 {
    super::block_on(command(args))
}

async fn command(args: &HealArgs) -> Result<i32, DockerError> {
    let docker = engine::connect().await?;
    let scope = Scope {
        run: args.run.clone(),
        project: args.project.clone(),
    };
    let report = heal::heal(&docker, &args.journal, &scope).await?;
    if report.lines.is_empty() && report.errors.is_empty() {
        println!("nothing to heal");
    }
    for line in &report.lines {
        println!("{line}");
    }
    for error in &report.errors {
        eprintln!("chaos: {error}");
    }
    Ok(if report.errors.is_empty() { 0 } else { HARNESS })
}
