//! `chaos`: the control node of a Jepsen-style chaos harness.

mod cli;
mod commands;
mod exit;
mod units;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => exit::bad_arguments(e),
    };
    let code = match cli.command {
        cli::Command::Check(args) => commands::check::run(&args),
    };
    std::process::exit(code);
}
