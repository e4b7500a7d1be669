//! The systems we can start, their compose files, and the compose CLI.
//!
//! The compose files live in the repository's `compose/` folder. The binary
//! finds it from `--compose-dir`, `CHAOS_COMPOSE_DIR`, or by walking up from
//! the executable (`target/debug/chaos` → the workspace) and then from the
//! current directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::DockerError;

/// A system under test that has compose files in `compose/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Etcd,
    Nats,
}

impl System {
    pub const ALL: [System; 2] = [System::Etcd, System::Nats];

    pub fn parse(name: &str) -> Result<System, DockerError> {
        System::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                DockerError::BadInput(format!(
                    "unknown system '{name}': use --system etcd or --system nats"
                ))
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            System::Etcd => "etcd",
            System::Nats => "nats",
        }
    }

    /// The image its nodes run: the compose file's default, or the override
    /// the compose file reads from the environment.
    pub fn image(self) -> String {
        let (var, default) = match self {
            System::Etcd => ("ETCD_IMAGE", "chaos/etcd:3.4"),
            System::Nats => ("NATS_IMAGE", "chaos/nats:2.9"),
        };
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    }
}

/// Node counts we have compose files for.
pub const NODE_COUNTS: [usize; 2] = [3, 5];

/// A system and a node count: one compose file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub system: System,
    pub nodes: usize,
}

impl Spec {
    pub fn new(system: &str, nodes: usize) -> Result<Spec, DockerError> {
        let system = System::parse(system)?;
        if !NODE_COUNTS.contains(&nodes) {
            return Err(DockerError::BadInput(format!(
                "no {} cluster with {nodes} nodes: use --nodes 3 or --nodes 5",
                system.name()
            )));
        }
        Ok(Spec { system, nodes })
    }

    /// `etcd-3`: the compose file's stem.
    pub fn stem(self) -> String {
        format!("{}-{}", self.system.name(), self.nodes)
    }

    pub fn file(self, compose_dir: &Path) -> PathBuf {
        compose_dir.join(format!("{}.yml", self.stem()))
    }

    /// The file's default subnet (first three octets), as in compose/README.md.
    pub fn default_net(self) -> &'static str {
        match (self.system, self.nodes) {
            (System::Etcd, 3) => "10.213.3",
            (System::Etcd, _) => "10.213.5",
            (System::Nats, 3) => "10.213.13",
            (System::Nats, _) => "10.213.15",
        }
    }
}

/// The `compose/` folder: explicit, `CHAOS_COMPOSE_DIR`, or found by walking
/// up from the executable and then from the current directory.
pub fn compose_dir(explicit: Option<&Path>) -> Result<PathBuf, DockerError> {
    let is_compose_dir = |dir: &Path| dir.join("etcd-3.yml").is_file();
    let named = explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("CHAOS_COMPOSE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(dir) = named {
        return if is_compose_dir(&dir) {
            Ok(dir)
        } else {
            Err(DockerError::BadInput(format!(
                "{} has no compose files (etcd-3.yml, ...): point --compose-dir or CHAOS_COMPOSE_DIR at the repository's compose/ folder",
                dir.display()
            )))
        };
    }
    let starts = [std::env::current_exe().ok(), std::env::current_dir().ok()];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join("compose");
            if is_compose_dir(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(DockerError::BadInput(
        "cannot find the compose/ folder of the chaos repository: pass --compose-dir or set CHAOS_COMPOSE_DIR"
            .to_string(),
    ))
}

/// The compose command: `CHAOS_COMPOSE` if set (as `compose/cluster.sh`
/// does), else `docker compose` (v2) if it works, else `docker-compose` (v1).
pub async fn compose_command() -> Result<Vec<String>, DockerError> {
    if let Some(cmd) = std::env::var("CHAOS_COMPOSE")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return Ok(cmd.split_whitespace().map(str::to_string).collect());
    }
    let works = |program: &'static str, args: &'static [&'static str]| async move {
        tokio::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    };
    if works("docker", &["compose", "version"]).await {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    // v1 is Python: running it just to ask its version costs half a second,
    // so finding it on PATH is enough.
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("docker-compose").is_file())
    });
    if on_path {
        return Ok(vec!["docker-compose".into()]);
    }
    Err(DockerError::Harness(
        "neither `docker compose` nor docker-compose is installed: apt-get install docker-compose"
            .to_string(),
    ))
}

/// Run `compose -f FILE ARGS...` with `env` added to ours; the output is
/// captured so a failure can be reported on one line.
pub async fn run(
    command: &[String],
    file: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> Result<Output, DockerError> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]).arg("-f").arg(file).args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().await.map_err(|e| {
        DockerError::Harness(format!(
            "cannot run {}: {e}: install it or set CHAOS_COMPOSE",
            command.join(" ")
        ))
    })
}

/// The last non-empty line compose printed on stderr: usually the reason.
pub fn last_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(super::one_line)
        .unwrap_or_else(|| format!("exit status {}", output.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_their_files_and_refuse_what_we_do_not_have() {
        let spec = Spec::new("nats", 5).unwrap();
        assert_eq!(spec.stem(), "nats-5");
        assert_eq!(spec.default_net(), "10.213.15");
        let unknown = Spec::new("redis", 3).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown system 'redis': use --system etcd or --system nats"
        );
        assert!(matches!(
            Spec::new("etcd", 4),
            Err(DockerError::BadInput(_))
        ));
    }
}
