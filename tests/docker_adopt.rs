//! Adopting a cluster the user started: a compose project of our own making
//! here, but without any of our labels, as a team's system would be. Faults
//! work on it by project name and by label, heal cleans up, and `down`
//! removes only our helpers, never the user's containers.

mod common;

use std::process::Command;

use common::*;

const PORT: &str = "7000";

/// A user's three-node "system": nc listeners, one compose project.
struct UserProject {
    project: String,
    file: std::path::PathBuf,
}

impl UserProject {
    fn start(tag: &str) -> UserProject {
        let project = run_id(tag);
        let dir = std::env::temp_dir().join(&project);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("docker-compose.yml");
        let service = |name: &str| {
            format!(
                "  {name}:\n    image: chaos/base:bookworm\n    command: [\"nc\", \"-lk\", \"{PORT}\"]\n    labels: {{com.example.team: \"{project}\"}}\n"
            )
        };
        let text = format!(
            "version: \"2.4\"\nservices:\n{}{}{}",
            service("db1"),
            service("db2"),
            service("db3")
        );
        std::fs::write(&file, text).unwrap();
        let user = UserProject { project, file };
        let out = user.compose(&["up", "-d"]);
        assert!(out.status.success(), "compose up: {}", stderr(&out));
        user
    }

    fn compose(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker-compose")
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .output()
            .expect("docker-compose runs")
    }

    fn container(&self, service: &str) -> String {
        let out = self.compose(&["ps", "-q", service]);
        let id = stdout(&out).trim().to_string();
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.Name}}", &id])
            .output()
            .unwrap();
        stdout(&out).trim().trim_start_matches('/').to_string()
    }

    fn address(&self, service: &str) -> String {
        let out = Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &self.container(service),
            ])
            .output()
            .unwrap();
        stdout(&out).trim().to_string()
    }

    fn running(&self) -> usize {
        let out = self.compose(&["ps", "-q", "--filter", "status=running"]);
        stdout(&out).lines().count()
    }
}

impl Drop for UserProject {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "1"]);
        let _ = std::fs::remove_dir_all(self.file.parent().unwrap());
    }
}

#[test]
fn a_users_compose_project_can_be_partitioned_paused_and_healed() {
    if !docker_or_skip("a_users_compose_project_can_be_partitioned_paused_and_healed") {
        return;
    }
    let has_compose = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_compose,
        "docker-compose is needed (apt-get install docker-compose)"
    );
    let user = UserProject::start("adopt");
    let p = user.project.clone();
    let dir = std::env::temp_dir().join(format!("chaos-{p}"));
    let journal = journal_in(&dir);
    let j = journal.to_str().unwrap();
    let (db1, db2, db3) = (
        user.container("db1"),
        user.container("db2"),
        user.container("db3"),
    );
    let (ip1, ip3) = (user.address("db1"), user.address("db3"));

    // By project name: node names are the compose service names.
    let out = chaos(&[
        "nemesis",
        "partition",
        "--shape",
        "halves",
        "--project",
        &p,
        "--journal",
        j,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("partitioned {p}: db1 | db2,db3\n"));
    assert!(!tcp(&db2, &ip1, 7000), "db2 -> db1 under the partition");
    assert!(tcp(&db2, &ip3, 7000), "db2 -> db3 under the partition");

    // By label: the same containers, a fault of another kind.
    let label = format!("com.example.team={p}");
    let out = chaos(&["nemesis", "pause", "db3", "--label", &label, "--journal", j]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // (A frozen container's kernel still completes a TCP handshake, so the
    // state is the thing to check here; etcd's test checks "no answer".)
    let state = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Status}}", &db3])
        .output()
        .unwrap();
    assert_eq!(stdout(&state).trim(), "paused");

    // Heal what the journal lists for this project, under both run ids
    // (`project:<p>` and `label:com.example.team=<p>`); scoped, so that
    // nothing else on the engine is touched.
    let out = chaos(&["heal", "--journal", j, "--project", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains(&format!(
            "undid pause db3 on {p} (run label:com.example.team={p}"
        )),
        "{report}"
    );
    assert!(
        report.contains("removed chain CHAOS-PARTITION (2 DROP rules) from db1"),
        "{report}"
    );
    assert!(
        tcp(&db2, &ip1, 7000) && tcp(&db2, &ip3, 7000),
        "links after heal"
    );
    let state = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Status}}", &db3])
        .output()
        .unwrap();
    assert_eq!(stdout(&state).trim(), "running");
    for c in [&db1, &db2, &db3] {
        assert!(!iptables_rules(c, &p).contains("CHAOS"), "{c}");
    }
    let sidecars = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=io.chaos.sidecar-of",
            "--filter",
            &format!("label=io.chaos.run=project:{p}"),
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&sidecars), "");

    // `down` of an adopted cluster takes away our helpers only.
    let out = chaos(&[
        "nemesis",
        "partition",
        "--shape",
        "one",
        "--project",
        &p,
        "--journal",
        j,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = chaos(&["cluster", "down", "--project", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("was not started by chaos: its containers are left running"),
        "{}",
        stdout(&out)
    );
    assert_eq!(user.running(), 3);
    let out = chaos(&["heal", "--journal", j, "--project", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        tcp(&db2, &ip1, 7000) && tcp(&db1, &ip3, 7000),
        "links after the second heal"
    );
    let _ = std::fs::remove_dir_all(dir);
}
