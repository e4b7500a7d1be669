//! The command line, shared by the `chaos-netdelay` binary and `chaos
//! netdelay` (the harness's own executable, run in a node's network
//! namespace). It binds the queue, prints `netdelay: queue N bound` on
//! stdout once packets are delayed, and runs until SIGTERM or SIGINT,
//! then prints `netdelay: passed D delayed, R reordered, U duplicated, L
//! lost`.
//! Exit codes: 0 stopped by a signal, 1 the delayer could not start or
//! failed (one line on stderr), 2 bad arguments (one line on stderr).

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use clap::Parser;

use crate::delayer::{self, Options};
use crate::params::{self, Distribution, Percent};
use crate::plan::Plan;
use crate::sys;

#[derive(Parser)]
#[command(
    name = "chaos-netdelay",
    about = "Delay, reorder, duplicate and drop the packets of an NFQUEUE (see docs/faults.md)"
)]
struct Cli {
    /// The NFQUEUE number to bind (the rules' --queue-num).
    #[arg(long, default_value_t = 0)]
    queue: u16,
    /// The mean delay: 100ms, 1.5s, 250us (at most 60s).
    #[arg(long, default_value = "0", value_parser = params::duration, allow_hyphen_values = true)]
    delay: Duration,
    /// How far a packet's delay strays from the mean (0 for none).
    #[arg(long, default_value = "0", value_parser = params::duration, allow_hyphen_values = true)]
    jitter: Duration,
    /// uniform (mean ± jitter) or normal (jitter as the standard
    /// deviation, clipped at 0).
    #[arg(long, default_value = "uniform", value_parser = str::parse::<Distribution>)]
    distribution: Distribution,
    /// The share of packets dropped (each drawn alone, as netem's `loss
    /// random`): 10%. A lost packet is neither held nor duplicated.
    #[arg(long, default_value = "0%", value_parser = str::parse::<Percent>, allow_hyphen_values = true)]
    loss: Percent,
    /// The share of packets sent at once, overtaking those held: 20%.
    #[arg(long, default_value = "0%", value_parser = str::parse::<Percent>, allow_hyphen_values = true)]
    reorder: Percent,
    /// The share of packets also sent a second time: 5%.
    #[arg(long, default_value = "0%", value_parser = str::parse::<Percent>, allow_hyphen_values = true)]
    duplicate: Percent,
    /// The seed of the draws: the same seed, the same fates in the same
    /// order of packets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The most packets held at once; beyond it the kernel drops new ones
    /// (as netem's limit).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    limit: u32,
}

/// Runs the command line `args` (the first is the program's name); the
/// exit code. Call it before any thread starts: it blocks SIGTERM and
/// SIGINT to read them from a descriptor.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            // clap's first line says what is wrong; the usage after it is
            // for --help.
            let text = e.render().to_string();
            eprintln!(
                "netdelay: {}",
                text.lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ")
            );
            return 2;
        }
    };
    let opts = Options {
        queue: cli.queue,
        plan: Plan {
            delay: cli.delay,
            jitter: cli.jitter,
            distribution: cli.distribution,
            loss: cli.loss,
            reorder: cli.reorder,
            duplicate: cli.duplicate,
        },
        seed: cli.seed,
        limit: cli.limit,
    };
    let signals = match sys::termination_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("netdelay: cannot take SIGTERM and SIGINT: {e}");
            return 1;
        }
    };
    let ready = || {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "netdelay: queue {} bound", opts.queue);
        let _ = out.flush();
    };
    match delayer::run(&opts, &signals, ready) {
        Ok(counters) => {
            println!("netdelay: {counters}");
            if counters.passed_at_exit > 0 {
                println!(
                    "netdelay: {} packets still queued at exit passed at once",
                    counters.passed_at_exit
                );
            }
            if counters.not_duplicated > 0 {
                println!(
                    "netdelay: {} packets drawn to be duplicated were not (longer than {} bytes, or the copy failed)",
                    counters.not_duplicated,
                    delayer::COPY_RANGE
                );
            }
            0
        }
        Err(e) => {
            eprintln!("netdelay: {e}");
            1
        }
    }
}
