//! `chaos images build`: the images, from Debian packages, no registry:
//! the base, every system's, and `chaos/harness` with this binary.

use crate::backends::docker::{compose, images};
use crate::cli::{ImagesArgs, ImagesCommand};
use crate::exit::{fail, HARNESS};

pub fn run(args: &ImagesArgs) -> i32 {
    match &args.command {
        ImagesCommand::Build { force, compose_dir } => {
            // The harness image holds this very binary.
            let binary = match std::env::current_exe() {
                Ok(binary) => binary,
                Err(e) => {
                    return fail(
                        HARNESS,
                        format!(
                            "cannot find this chaos binary to put in {}: {e}",
                            images::HARNESS_IMAGE
                        ),
                    )
                }
            };
            let built = compose::compose_dir(compose_dir.as_deref())
                .and_then(|dir| images::build_all(&dir, *force, Some(&binary)));
            match built {
                Ok(code) => code,
                Err(e) => fail(e.exit_code(), e),
            }
        }
    }
}
