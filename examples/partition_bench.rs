//! How fast the Docker backend applies and heals a partition, and how fast
//! a cluster starts with cached images. Numbers for BENCHMARKS.md.
//!
//!     cargo run --release --example partition_bench [-- ITERATIONS UP_RUNS]
//!
//! 1. A 5-node etcd cluster: the first `halves` (which also starts the five
//!    sidecars), then ITERATIONS (default 20) rounds of apply `halves` and
//!    heal, each timed from the call to its return (all five nodes done).
//! 2. UP_RUNS (default 3) times: a 3-node etcd cluster from `up` to every
//!    node healthy, then down.
//!
//! Targets (issue 3): apply and heal under 200 ms each; 3-node etcd ready in
//! under 10 s. Needs Docker and the images (`chaos images build`).

use std::time::{Duration, Instant};

use chaos::backends::docker::compose::{compose_dir, Spec};
use chaos::backends::docker::lifecycle::{self, UpOptions};
use chaos::backends::docker::{engine, DockerCluster};
use chaos::runid::new_run_id;
use chaos_nemeses::{grudge, Cluster};

fn summary(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    println!(
        "{name:<34} n={:<3} min {:>7.1} ms  median {:>7.1} ms  max {:>7.1} ms",
        samples.len(),
        ms(samples[0]),
        ms(median),
        ms(*samples.last().unwrap())
    );
}

fn options(system: &str, nodes: usize) -> UpOptions {
    UpOptions {
        spec: Spec::new(system, nodes).unwrap(),
        project: None,
        run_id: Some(format!("bench-{}", new_run_id())),
        subnet: None,
        timeout: Duration::from_secs(120),
        compose_dir: compose_dir(None).unwrap(),
        disk: None,
    }
}

/// Take the cluster down even if a step panicked.
struct Down(DockerCluster);

impl Drop for Down {
    fn drop(&mut self) {
        let docker = self.0.docker().clone();
        let selector = self.0.selector().clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::spawn(move || rt.block_on(lifecycle::down(&docker, &selector)))
            .join()
            .unwrap()
            .unwrap();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let iterations = args.first().copied().unwrap_or(20);
    let up_runs = args.get(1).copied().unwrap_or(3);
    let docker = engine::connect().await.unwrap_or_else(|e| panic!("{e}"));

    let start = Instant::now();
    let cluster = Down(lifecycle::up(&docker, &options("etcd", 5)).await.unwrap());
    println!(
        "5-node etcd up and healthy in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let names: Vec<String> = cluster
        .0
        .cached_nodes()
        .into_iter()
        .map(|n| n.name)
        .collect();
    let halves = grudge::halves(&names).unwrap();

    let start = Instant::now();
    cluster.0.partition(&halves).await.unwrap();
    let first = start.elapsed();
    cluster.0.heal().await.unwrap();
    println!(
        "first halves (starts 5 sidecars):  {:.1} ms",
        first.as_secs_f64() * 1000.0
    );

    let (mut apply, mut heal) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        let start = Instant::now();
        cluster.0.partition(&halves).await.unwrap();
        apply.push(start.elapsed());
        let start = Instant::now();
        cluster.0.heal().await.unwrap();
        heal.push(start.elapsed());
    }
    summary("apply halves, 5 nodes", &mut apply);
    summary("heal, 5 nodes", &mut heal);
    drop(cluster);

    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    for _ in 0..up_runs {
        let start = Instant::now();
        let cluster = lifecycle::up(&docker, &options("etcd", 3)).await.unwrap();
        ups.push(start.elapsed());
        let start = Instant::now();
        lifecycle::down(&docker, cluster.selector()).await.unwrap();
        downs.push(start.elapsed());
    }
    summary("3-node etcd up -> all healthy", &mut ups);
    summary("3-node etcd down", &mut downs);
}
