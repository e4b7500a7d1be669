//! `chaos-netdelay`: the packet delayer's own command line (see
//! [`chaos_netdelay::cli`]; the harness runs the same as `chaos netdelay`).

fn main() {
    std::process::exit(chaos_netdelay::cli::main(std::env::args_os()))
}
