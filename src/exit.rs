//! Exit codes, the same for every command (see ARCHITECTURE.md).

/// Bad arguments or input: the user can fix the command line.
pub const BAD_INPUT: i32 = 254;
/// The harness could not do its job (no Docker engine, a missing image, a
/// backend call that failed): the environment needs fixing, not the command.
pub const HARNESS: i32 = 255;

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
