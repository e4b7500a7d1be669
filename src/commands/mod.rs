pub mod check;
pub mod cluster;
pub mod heal;
pub mod images;
pub mod nemesis;
pub mod report;
pub mod run;

use std::future::Future;

use crate::backends::docker::inventory::Target;
use crate::backends::docker::DockerError;
use crate::cli::TargetArgs;
use crate::exit::{fail, HARNESS};

/// Run an async command to its exit code, on tokio's default of one
/// worker thread per core: the work mostly waits on Docker and the nodes.
pub(crate) fn block_on(command: impl Future<Output = Result<i32, DockerError>>) -> i32 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => match runtime.block_on(command) {
            Ok(code) => code,
            Err(e) => fail(e.exit_code(), e),
        },
        Err(e) => fail(HARNESS, format!("cannot start the async runtime: {e}")),
    }
}

impl From<&TargetArgs> for Target {
    fn from(args: &TargetArgs) -> Target {
        Target {
            project: args.project.clone(),
            label: args.label.clone(),
            run: args.run.clone(),
            system: args.system.clone(),
            nodes: args.nodes,
        }
    }
}
