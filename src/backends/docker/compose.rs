//! The systems we can start, their compose files, and the compose CLI.
//!
//! The compose files live in the repository's `compose/` folder. The binary
//! finds it from `--compose-dir`, `CHAOS_COMPOSE_DIR`, or by walking up from
//! the executable (`target/debug/chaos` → the workspace) and then from the
//! current directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use chaos_nemeses::disk::choice::Mechanism;
use chaos_workloads::{registry, System};

use super::DockerError;

/// A system and a node count: one compose file.
#[derive(Clone, Copy)]
pub struct Spec {
    pub system: &'static System,
    pub nodes: usize,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spec({})", self.stem())
    }
}

impl Spec {
    pub fn new(system: &str, nodes: usize) -> Result<Spec, DockerError> {
        let system = registry::system(system).map_err(|e| DockerError::BadInput(e.0))?;
        if !system.clusters.iter().any(|(n, _)| *n == nodes) {
            let counts: Vec<String> = system
                .clusters
                .iter()
                .map(|(n, _)| format!("--nodes {n}"))
                .collect();
            return Err(DockerError::BadInput(format!(
                "no {} cluster with {nodes} nodes: use {}",
                system.name,
                counts.join(" or ")
            )));
        }
        Ok(Spec { system, nodes })
    }

    /// `etcd-3`: the compose file's stem.
    pub fn stem(self) -> String {
        format!("{}-{}", self.system.name, self.nodes)
    }

    pub fn file(self, compose_dir: &Path) -> PathBuf {
        compose_dir.join(format!("{}.yml", self.stem()))
    }

    /// The override that puts each node's data on a disk the harness
    /// faults: the fault filesystem (`disk-3.yml`) or dm-flakey
    /// (`dm-3.yml`). The same for every system.
    pub fn disk_file(self, compose_dir: &Path, mechanism: Mechanism) -> PathBuf {
        let stem = match mechanism {
            Mechanism::FaultFs => "disk",
            Mechanism::DmFlakey => "dm",
        };
        compose_dir.join(format!("{stem}-{}.yml", self.nodes))
    }

    /// The file's default subnet (first three octets), as in compose/README.md.
    pub fn default_net(self) -> &'static str {
        self.system
            .clusters
            .iter()
            .find(|(n, _)| *n == self.nodes)
            .map_or("10.213.0", |(_, net)| net)
    }
}

/// A compose file every checkout has: the default system's smallest cluster.
fn landmark() -> String {
    let system = registry::default_system();
    format!("{}-{}.yml", system.name, system.clusters[0].0)
}

/// The `compose/` folder: explicit, `CHAOS_COMPOSE_DIR`, or found by walking
/// up from the executable and then from the current directory.
pub fn compose_dir(explicit: Option<&Path>) -> Result<PathBuf, DockerError> {
    let landmark = landmark();
    let is_compose_dir = |dir: &Path| dir.join(&landmark).is_file();
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
                "{} has no compose files ({landmark}, ...): point --compose-dir or CHAOS_COMPOSE_DIR at the repository's compose/ folder",
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

/// Run `compose -f FILE [-f FILE...] ARGS...` with `env` added to ours
/// (later files override earlier ones, as compose merges them); the output
/// is captured so a failure can be reported on one line.
pub async fn run(
    command: &[String],
    files: &[&Path],
    env: &[(&str, String)],
    args: &[&str],
) -> Result<Output, DockerError> {
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    for file in files {
        cmd.arg("-f").arg(file);
    }
    cmd.args(args);
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
        assert_eq!(unknown.to_string(), "--system \"redis\": use etcd or nats");
        let four = Spec::new("etcd", 4).unwrap_err();
        assert_eq!(
            four.to_string(),
            "no etcd cluster with 4 nodes: use --nodes 3 or --nodes 5"
        );
    }

    /// Both disk overlays exist for every node count, and each node of
    /// compose/dm-N.yml starts through the node script with the very
    /// arguments the backend uses (a damage helper mounts the disk with
    /// them) and carries the labels the backend reads.
    #[test]
    fn the_dm_overlays_start_each_node_on_its_own_device() {
        use chaos_nemeses::disk::dm_flakey::device_name;
        use chaos_nemeses::disk::dm_node::{start_args, BACKING_FILE, DATA, DISK_MIB};
        let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose");
        let project =
            "${COMPOSE_PROJECT_NAME:?set COMPOSE_PROJECT_NAME to name the cluster (not -p)}";
        for system in chaos_workloads::SYSTEMS {
            for &(nodes, _) in system.clusters {
                let spec = Spec::new(system.name, nodes).unwrap();
                for mechanism in [Mechanism::FaultFs, Mechanism::DmFlakey] {
                    assert!(spec.disk_file(&compose, mechanism).is_file());
                }
                let file = spec.disk_file(&compose, Mechanism::DmFlakey);
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(
                    text.contains("x-dm: &dm\n  privileged: true\n"),
                    "{}",
                    file.display()
                );
                assert!(text.contains("\"${CHAOS_DM_START:?"), "{}", file.display());
                assert!(text.contains("\"${CHAOS_DISK_EXEC:?"), "{}", file.display());
                assert_eq!(text.matches("<<: *dm").count(), nodes, "{}", file.display());
                for k in 1..=nodes {
                    let device = device_name(project, &format!("n{k}"));
                    let args: Vec<String> = start_args(&device, BACKING_FILE, DISK_MIB, DATA)
                        .iter()
                        .map(|a| format!("\"{a}\""))
                        .collect();
                    let entrypoint = format!(
                        "entrypoint: [\"/bin/sh\", \"-c\", *start, \"chaos-dm\", {}, *exec]",
                        args.join(", ")
                    );
                    assert!(
                        text.contains(&entrypoint),
                        "{}: n{k}: {entrypoint}",
                        file.display()
                    );
                    let labels = format!(
                        "labels: {{{}: dm-flakey, {}: \"{device}\"}}",
                        super::super::labels::DISK,
                        super::super::labels::DM_DEVICE
                    );
                    assert!(text.contains(&labels), "{}: n{k}: {labels}", file.display());
                }
            }
        }
    }

    /// What the registry says of each system matches its files: a compose
    /// file per node count with that subnet and image, and a Dockerfile
    /// that `compose/images/build.sh` tags with the system's image.
    #[test]
    fn every_system_has_its_compose_and_image_files() {
        let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose");
        for system in chaos_workloads::SYSTEMS {
            for &(nodes, net) in system.clusters {
                let spec = Spec::new(system.name, nodes).unwrap();
                let file = spec.file(&compose);
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                let image = format!("${{{}:-{}}}", system.image.env, system.image.default);
                assert!(text.contains(&image), "{} lacks {image}", file.display());
                let subnet = format!("${{CHAOS_NET:-{net}}}");
                assert!(text.contains(&subnet), "{} lacks {subnet}", file.display());
            }
            let dockerfile = compose.join(format!("images/{}.Dockerfile", system.name));
            let text = std::fs::read_to_string(&dockerfile)
                .unwrap_or_else(|e| panic!("{}: {e}", dockerfile.display()));
            let first = text.lines().next().unwrap_or_default();
            assert_eq!(
                first.split_whitespace().nth(1),
                Some(system.image.default),
                "{}: the first line names the image build.sh tags",
                dockerfile.display()
            );
        }
    }
}
