//! `chaos-faultfs`: the fault filesystem's own command line (see
//! [`chaos_faultfs::cli`]; the harness runs the same as `chaos faultfs`).

fn main() {
    std::process::exit(chaos_faultfs::cli::main(std::env::args_os()))
}
