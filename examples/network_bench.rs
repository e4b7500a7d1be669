//! How fast the Docker backend applies and heals the network faults of
//! issue 15 (one-way partition, loss, rate limit, delay) on 5 nodes, and
//! what watching one costs. Numbers for BENCHMARKS.md.
//!
//!     cargo build --release --bin chaos
//!     CHAOS_BIN=target/release/chaos cargo run --release --example network_bench [-- ITERATIONS]
//!
//! `CHAOS_BIN`: the sidecars run the delayer from the chaos executable,
//! which this example is not.
//!
//! A 5-node etcd cluster; the sidecars are started by a first loss (not
//! timed with the rest: see partition_bench for that cost). Then
//! ITERATIONS (default 20) rounds of each fault: apply, one `in_force`
//! look, heal, each timed from the call to its return (all five nodes
//! done). `loss-all` and `rate-all` touch every node, as `halves` does.
//!
//! Target (issue 15, like partitions): apply and heal under 200 ms each.
//! Needs Docker and the images (`chaos images build`).

use std::time::{Duration, Instant};

use chaos::backends::docker::compose::{compose_dir, Spec};
use chaos::backends::docker::lifecycle::{self, UpOptions};
use chaos::backends::docker::{engine, DockerCluster};
use chaos::runid::new_run_id;
use chaos_nemeses::{Cluster, Fault, FaultSpec, Rng};

fn summary(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<40} n={:<3} min {:>7.1} ms  median {:>7.1} ms  max {:>7.1} ms",
        samples.len(),
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(*samples.last().unwrap())
    );
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
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a number of iterations"))
        .unwrap_or(20);
    let docker = engine::connect().await.unwrap_or_else(|e| panic!("{e}"));
    let options = UpOptions {
        spec: Spec::new("etcd", 5).unwrap(),
        project: None,
        run_id: Some(format!("bench-{}", new_run_id())),
        subnet: None,
        timeout: Duration::from_secs(120),
        compose_dir: compose_dir(None).unwrap(),
        disk: None,
    };
    let cluster = Down(lifecycle::up(&docker, &options).await.unwrap());
    let cluster = &cluster.0;
    let names: Vec<String> = cluster.cached_nodes().into_iter().map(|n| n.name).collect();
    let fault = |spec: &str| {
        FaultSpec::parse(spec)
            .unwrap()
            .instantiate(&names, &mut Rng::new(1))
            .unwrap()
    };

    let start = Instant::now();
    let warm = fault("loss-all:20%");
    warm.apply_to(cluster).await.unwrap();
    let first = start.elapsed();
    warm.undo_on(cluster).await.unwrap();
    println!(
        "first loss-all (starts 5 sidecars):      {:.1} ms",
        first.as_secs_f64() * 1000.0
    );

    let start = Instant::now();
    let mechanism = cluster.shaping().await.unwrap();
    println!(
        "netem probe:                             {:.1} ms: {}",
        start.elapsed().as_secs_f64() * 1000.0,
        mechanism.describe()
    );

    for spec in [
        "loss-all:20%",
        "loss:20%",
        "rate-all:1mbit",
        "rate:1mbit",
        "partition-one-way",
        "delay-all:100ms",
        "slow-node",
    ] {
        let fault: Fault = fault(spec);
        let (mut apply, mut look, mut heal) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..iterations {
            let start = Instant::now();
            fault.apply_to(cluster).await.unwrap();
            apply.push(start.elapsed());
            let start = Instant::now();
            assert!(cluster.in_force(&fault).await.unwrap(), "{fault}");
            look.push(start.elapsed());
            let start = Instant::now();
            fault.undo_on(cluster).await.unwrap();
            heal.push(start.elapsed());
        }
        summary(&format!("apply {spec}, 5 nodes"), &mut apply);
        summary(&format!("in_force {spec}"), &mut look);
        summary(&format!("heal {spec}"), &mut heal);
    }
}
