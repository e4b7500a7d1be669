//! A cluster from the user's own compose file (`chaos run --compose FILE`):
//! started under a project name of the run's (`chaos-own-<run id>`), so
//! nothing of it can be confused with another cluster, and removed whole
//! after the run. The file carries none of our labels; the compose project
//! label finds its containers, and the services' names name the nodes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;

use super::cluster::{discover, DockerCluster, Selector};
use super::{compose, lifecycle, DockerError};

/// How often readiness is looked at.
const POLL: Duration = Duration::from_millis(500);

/// A user's compose project that this run started.
pub struct OwnProject {
    pub project: String,
    file: PathBuf,
    command: Vec<String>,
}

impl OwnProject {
    pub fn selector(&self) -> Selector {
        Selector::Project(self.project.clone())
    }

    /// The project `file` will run as, once compose has read the file.
    pub async fn new(file: &Path, run_id: &str) -> Result<OwnProject, DockerError> {
        if !file.is_file() {
            return Err(DockerError::BadInput(format!(
                "--compose {}: no such file",
                file.display()
            )));
        }
        let command = compose::compose_command().await?;
        let own = OwnProject {
            project: format!("chaos-own-{}", run_id.to_ascii_lowercase()),
            file: file.to_path_buf(),
            command,
        };
        // A file compose cannot read is the user's to fix: said before
        // anything starts.
        let config = own.compose(&["config", "--quiet"]).await?;
        if !config.status.success() {
            return Err(DockerError::BadInput(format!(
                "--compose {}: {}",
                file.display(),
                compose::last_line(&config)
            )));
        }
        Ok(own)
    }

    /// `compose up -d`. On failure the caller removes what came up.
    pub async fn start(&self) -> Result<(), DockerError> {
        let up = self.compose(&["up", "-d", "--remove-orphans"]).await?;
        if up.status.success() {
            return Ok(());
        }
        Err(DockerError::Harness(format!(
            "compose could not start {}: {}",
            self.file.display(),
            compose::last_line(&up)
        )))
    }

    /// Waits until every container runs (and is healthy, where it has a
    /// health check), then until `ready` (a shell command) exits 0.
    pub async fn wait_ready(
        &self,
        docker: &Docker,
        ready: Option<&str>,
        timeout: Duration,
    ) -> Result<(), DockerError> {
        let start = Instant::now();
        let selector = self.selector();
        let want = discover(docker, &selector).await?.len();
        if want == 0 {
            return Err(DockerError::BadInput(format!(
                "--compose {}: it started no containers",
                self.file.display()
            )));
        }
        let left = timeout.saturating_sub(start.elapsed());
        lifecycle::wait_healthy_or_say(docker, &selector, want, left, "--ready-timeout")
            .await
            .map_err(|e| DockerError::Harness(format!("{}: {e}", self.file.display())))?;
        let Some(ready) = ready else {
            return Ok(());
        };
        let mut last = String::new();
        while start.elapsed() < timeout {
            let output = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(ready)
                .current_dir(self.file.parent().unwrap_or(Path::new(".")))
                .env("COMPOSE_PROJECT_NAME", &self.project)
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(timeout.saturating_sub(start.elapsed()), output).await {
                Ok(Ok(out)) if out.status.success() => return Ok(()),
                Ok(Ok(out)) => last = compose::last_line(&out),
                Ok(Err(e)) => {
                    return Err(DockerError::BadInput(format!(
                        "--ready {ready:?} cannot run: {e}"
                    )))
                }
                Err(_) => break,
            }
            tokio::time::sleep(POLL).await;
        }
        Err(DockerError::Harness(format!(
            "--ready {ready:?} did not pass within {} s (last: {last})",
            timeout.as_secs_f64()
        )))
    }

    /// Our helpers first (the sidecars of faults), then the project with
    /// its networks and volumes; then a look that nothing is left.
    pub async fn remove(&self, docker: &Docker) -> Result<(), DockerError> {
        lifecycle::down(docker, &self.selector()).await.ok();
        let down = self
            .compose(&["down", "--volumes", "--remove-orphans", "--timeout", "1"])
            .await?;
        if !down.status.success() {
            return Err(DockerError::Harness(format!(
                "compose down of {}: {}",
                self.project,
                compose::last_line(&down)
            )));
        }
        let left = discover(docker, &self.selector()).await?;
        if !left.is_empty() {
            return Err(DockerError::Harness(format!(
                "{} container(s) of {} are left: `docker ps -a --filter label=com.docker.compose.project={}`",
                left.len(),
                self.project,
                self.project
            )));
        }
        Ok(())
    }

    /// Opens the project as a cluster.
    pub async fn cluster(&self, docker: &Docker) -> Result<DockerCluster, DockerError> {
        DockerCluster::open(docker.clone(), self.selector()).await
    }

    async fn compose(&self, args: &[&str]) -> Result<std::process::Output, DockerError> {
        let env = [("COMPOSE_PROJECT_NAME", self.project.clone())];
        let mut all = vec!["-p", self.project.as_str()];
        all.extend_from_slice(args);
        compose::run(&self.command, &[&self.file], &env, &all).await
    }
}
