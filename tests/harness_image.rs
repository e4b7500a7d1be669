//! `chaos images build` also builds `chaos/harness` from our Debian base,
//! with no registry: the binary that ran the command, iptables and procps
//! (what the partition sidecar needs), and the compose files. The image
//! runs its binary, and a second build with the same binary keeps it.

mod common;

use std::process::Command;

use common::*;

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[test]
fn chaos_images_build_makes_a_harness_image_that_runs_chaos() {
    if !docker_or_skip("chaos_images_build_makes_a_harness_image_that_runs_chaos") {
        return;
    }
    let out = chaos(&["images", "build"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("chaos/harness:latest"),
        "{}",
        stdout(&out)
    );

    let version = docker(&["run", "--rm", "chaos/harness:latest", "--version"]);
    assert!(version.status.success(), "{}", text(&version.stderr));
    assert_eq!(
        text(&version.stdout),
        format!("chaos {}", env!("CARGO_PKG_VERSION"))
    );

    // What the sidecar and the nightly job need besides the binary.
    let tools = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "chaos/harness:latest",
        "-c",
        "iptables --version && ps --version && test -f \"$CHAOS_COMPOSE_DIR/etcd-3.yml\" && echo ready",
    ]);
    assert!(
        text(&tools.stdout).ends_with("ready"),
        "{}{}",
        text(&tools.stdout),
        text(&tools.stderr)
    );

    // The image names the binary it holds, so the next build can keep it.
    let digest = Command::new("sha256sum")
        .arg(env!("CARGO_BIN_EXE_chaos"))
        .output()
        .unwrap();
    let digest = text(&digest.stdout);
    let digest = digest.split_whitespace().next().unwrap();
    let label = docker(&[
        "image",
        "inspect",
        "--format",
        "{{ index .Config.Labels \"io.chaos.binary\" }}",
        "chaos/harness:latest",
    ]);
    assert_eq!(text(&label.stdout), digest);
    let again = chaos(&["images", "build"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing to do"),
        "the same binary: {}",
        stdout(&again)
    );
}
