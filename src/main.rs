//! `chaos`: the control node of a Jepsen-style chaos harness.

use chaos::{cli, commands, exit};
use clap::Parser;

fn main() {
    // Rust ignores SIGPIPE, which turns `chaos cluster status | head` into a
    // panic on the next print; a command-line tool should just stop. (Our
    // sockets are unaffected: std writes to them with MSG_NOSIGNAL.)
    // SAFETY: at the start of main, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Inside a node (compose/disk-N.yml mounts this executable there): the
    // fault filesystem's own command line, kept out of `chaos --help`.
    // Before anything starts a thread: `faultfs wrap` forks.
    let mut args = std::env::args_os();
    if std::env::args_os().nth(1).is_some_and(|a| a == "faultfs") {
        let program = args.next().unwrap_or_default();
        let mut name = program;
        name.push(" faultfs");
        std::process::exit(chaos_faultfs::cli::main(
            std::iter::once(name).chain(args.skip(1)),
        ));
    }
    // The packet delayer, run in a node's network namespace (`chaos
    // netdelay --delay 100ms ...`): before any thread, as it blocks signals.
    if std::env::args_os().nth(1).is_some_and(|a| a == "netdelay") {
        let mut name = args.next().unwrap_or_default();
        name.push(" netdelay");
        std::process::exit(chaos_netdelay::cli::main(
            std::iter::once(name).chain(args.skip(1)),
        ));
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => exit::bad_arguments(e),
    };
    let code = match cli.command {
        cli::Command::Check(args) => commands::check::run(&args),
        cli::Command::Images(args) => commands::images::run(&args),
        cli::Command::Cluster(args) => commands::cluster::run(&args),
        cli::Command::Nemesis(args) => commands::nemesis::run(&args),
        cli::Command::Heal(args) => commands::heal::run(&args),
        cli::Command::Run(args) => commands::run::run(&args),
        cli::Command::Report(args) => commands::report::run(&args),
    };
    std::process::exit(code);
}
