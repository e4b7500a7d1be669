//! The images the clusters and the fault helpers run on.
//!
//! Nothing here pulls: our images are built from Debian packages by
//! `compose/images/build.sh` (no registry needed), so a missing image is
//! reported with the command that builds it.

use std::path::Path;

use bollard::Docker;

use super::{api_message, api_status, DockerError};

/// The image of the NET_ADMIN sidecars (iptables, nc, sh).
pub const BASE_IMAGE: &str = "chaos/base:bookworm";

/// What `compose/images/build.sh` builds: the base and every system's
/// default image.
pub fn built() -> Vec<&'static str> {
    let systems = chaos_workloads::SYSTEMS.iter().map(|s| s.image.default);
    std::iter::once(BASE_IMAGE).chain(systems).collect()
}

/// Fail with one line naming the first image that is not present.
pub async fn require(docker: &Docker, images: &[String]) -> Result<(), DockerError> {
    for image in images {
        match docker.inspect_image(image).await {
            Ok(_) => {}
            Err(e) if api_status(&e) == Some(404) => {
                let built = built();
                let hint = if built.contains(&image.as_str()) {
                    "run `chaos images build`".to_string()
                } else if image.starts_with("chaos/") {
                    let overrides: Vec<&str> = chaos_workloads::SYSTEMS
                        .iter()
                        .map(|s| s.image.env)
                        .collect();
                    format!(
                        "`chaos images build` makes only {}: check {}",
                        built.join(", "),
                        overrides.join(" / ")
                    )
                } else {
                    format!("run `docker pull {image}`")
                };
                return Err(DockerError::Harness(format!(
                    "image {image} is missing: {hint}"
                )));
            }
            Err(e) => {
                return Err(DockerError::Harness(format!(
                    "cannot inspect image {image}: {}",
                    api_message(&e)
                )))
            }
        }
    }
    Ok(())
}

/// The nightly job's image: the `chaos` binary on the base, with the
/// compose files (`compose/harness/Dockerfile`); also the partition sidecar
/// of the Kubernetes clusters.
pub const HARNESS_IMAGE: &str = "chaos/harness:latest";

/// The images a run needs (the base and every system's), as `chaos run`
/// builds them when missing.
pub fn build(compose_dir: &Path, force: bool) -> Result<i32, DockerError> {
    build_all(compose_dir, force, None)
}

/// `chaos images build`: run `compose/images/build.sh`, its output going
/// straight to the terminal (a cold build takes a minute or two), with
/// `harness` (a `chaos` binary) also put into [`HARNESS_IMAGE`]. Returns the
/// script's exit code (0, 1 on failure, 254 on a bad argument).
pub fn build_all(
    compose_dir: &Path,
    force: bool,
    harness: Option<&Path>,
) -> Result<i32, DockerError> {
    let script = compose_dir.join("images").join("build.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(&script);
    if force {
        cmd.arg("--force");
    }
    if let Some(binary) = harness {
        cmd.arg("--harness").arg(binary);
    }
    let status = cmd.status().map_err(|e| {
        DockerError::Harness(format!(
            "cannot run {}: {e}: check that bash is installed",
            script.display()
        ))
    })?;
    Ok(status.code().unwrap_or(crate::exit::HARNESS))
}
