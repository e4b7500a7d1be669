//! Exit codes, the same for every command (see ARCHITECTURE.md).

/// `chaos heal` / `chaos cluster down` left a cluster alone because a live
/// run owns it (the run heals its own faults when it ends).
pub const LIVE_RUN: i32 = 3;

/// Bad arguments or input: the user can fix the command line.
pub const BAD_INPUT: i32 = 254;
/// The harness could not do its job (no Docker engine, a missing image, a
/// backend call that failed): the environment needs fixing, not the command.
pub const HARNESS: i32 = 255;

/// Prints help or the version and leaves 0; any other clap error becomes
/// one line (the mistake, and where the flags are listed) and 254, like
/// every other bad input.
pub fn bad_arguments(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            std::process::exit(
                if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    BAD_INPUT
                } else {
                    0
                },
            )
        }
        _ => {
            // The subcommand typed, for where its flags are listed when
            // clap's message has no usage line.
            let command = match std::env::args().nth(1) {
                Some(sub) if !sub.starts_with('-') => format!("chaos {sub}"),
                _ => "chaos".into(),
            };
            eprintln!(
                "chaos: {}",
                one_line_clap(&e.render().to_string(), &command)
            );
            std::process::exit(BAD_INPUT)
        }
    }
}

/// clap's first line, without its `error: ` prefix, and its tip if it gave
/// one; then where the flags are listed.
fn one_line_clap(rendered: &str, command: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let tip = lines.find_map(|l| l.strip_prefix("tip: "));
    // `Usage: chaos run [OPTIONS]` -> `chaos run`.
    let usage = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| command.into());
    match tip {
        Some(tip) => format!("{first} ({tip}; `{usage} --help` lists the flags)"),
        None => format!("{first} (`{usage} --help` lists the flags)"),
    }
}

/// One line on stderr saying what is wrong, and the exit code for it.
pub fn fail(code: i32, message: impl std::fmt::Display) -> i32 {
    eprintln!("chaos: {message}");
    code
}

#[cfg(test)]
mod tests {
    use super::one_line_clap;

    #[test]
    fn clap_errors_become_one_line_naming_the_help() {
        let rendered = "error: unexpected argument '-5' found\n\n  tip: to pass '-5' as a value, use '-- -5'\n\nUsage: chaos run [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line_clap(rendered, "chaos"),
            "unexpected argument '-5' found (to pass '-5' as a value, use '-- -5'; `chaos run --help` lists the flags)"
        );
        assert_eq!(
            one_line_clap("error: invalid value 'x' for '--seed <SEED>': no\n\nFor more information, try '--help'.\n", "chaos run"),
            "invalid value 'x' for '--seed <SEED>': no (`chaos run --help` lists the flags)"
        );
    }
}
