//! Exit codes, the same for every command (see ARCHITECTURE.md).

pub const BAD_INPUT: i32 = 254;

/// Prints clap's message and leaves: 0 for `--help`/`--version`, else 254.
pub fn bad_arguments(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let code = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ => BAD_INPUT,
    };
    let _ = e.print();
    std::process::exit(code)
}

/// One line on stderr saying what is wrong, and the exit code for it.
pub fn fail(code: i32, message: impl std::fmt::Display) -> i32 {
    eprintln!("chaos: {message}");
    code
}
