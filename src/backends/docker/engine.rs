//! Connecting to the Docker engine.
//!
//! bollard speaks API 1.53 by default; Docker 20.10 (Debian bookworm's) speaks
//! 1.41 and refuses newer clients, so every connection negotiates down first.
//! That negotiation is also our ping: if it fails, there is no usable engine,
//! and the user gets one line saying where we looked and what to do.

use std::time::Duration;

use bollard::Docker;

use super::DockerError;

/// Where Docker clients look when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long the first contact may take before we call the engine unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine address in force: `DOCKER_HOST`, or the default socket.
pub fn host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// Connect and check that the engine answers.
pub async fn connect() -> Result<Docker, DockerError> {
    let host = host();
    let unreachable = |detail: &str| {
        if detail.to_ascii_lowercase().contains("permission denied") {
            DockerError::Harness(format!(
                "cannot use the Docker engine at {host}: permission denied: run as root or join the docker group"
            ))
        } else {
            DockerError::Harness(format!(
                "cannot reach the Docker engine at {host}: start it, or set DOCKER_HOST"
            ))
        }
    };
    let docker = match Docker::connect_with_host(&host) {
        Ok(docker) => docker,
        Err(bollard::errors::Error::UnsupportedURISchemeError { .. }) => {
            return Err(DockerError::BadInput(format!(
                "DOCKER_HOST={host} is not an address chaos can use: set it to unix:///path/to/docker.sock or tcp://host:port, or unset it"
            )))
        }
        // e.g. the socket file does not exist
        Err(e) => return Err(unreachable(&e.to_string())),
    };
    match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(&format!("{e:?}"))),
        Err(_) => Err(unreachable("timed out")),
    }
}
