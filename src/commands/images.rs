//! `chaos images build`: the images, from Debian packages, no registry.

use crate::backends::docker::{compose, images};
use crate::cli::{ImagesArgs, ImagesCommand};
use crate::exit::fail;

pub fn run(args: &ImagesArgs) -> i32 {
    match &args.command {
        ImagesCommand::Build { force, compose_dir } => {
            let built = compose::compose_dir(compose_dir.as_deref())
                .and_then(|dir| images::build(&dir, *force));
            match built {
                Ok(code) => code,
                Err(e) => fail(e.exit_code(), e),
            }
        }
    }
}
