//! `chaos report DIR`: the verdict and reports of a results folder, made
//! again from what the folder holds (`test.json`, `history.jsonl`, node
//! logs). Useful after a harness crash (the history is streamed, so it holds
//! every op that completed) or to re-check with a newer harness.
//!
//! `chaos report --index DIR`: the index of every run in a folder of runs
//! (`index.md`, `index.html`), as `chaos run` leaves it after each run.

use crate::cli::ReportArgs;
use crate::exit::fail;
use crate::results::{analyse, index, TestMeta};

pub fn run(args: &ReportArgs) -> i32 {
    if args.index {
        return run_index(args);
    }
    let outcome = TestMeta::read(&args.dir)
        .and_then(|meta| analyse(&args.dir, &meta).map(|outcome| (meta, outcome)));
    match outcome {
        Ok((meta, outcome)) => {
            println!("report: {}", args.dir.join("report.md").display());
            println!("{}", outcome.line(&meta));
            outcome.exit_code()
        }
        Err(e) => fail(e.exit_code(), e),
    }
}

/// 0 once the index is written, whatever folders it found unreadable (each
/// one stderr line); 254 when DIR is no folder, 255 when it cannot be written.
fn run_index(args: &ReportArgs) -> i32 {
    match index::write(&args.dir) {
        Ok(written) => {
            for (folder, why) in &written.unreadable {
                eprintln!("chaos: index: {folder}: {why}");
            }
            println!("index: {}", args.dir.join("index.md").display());
            println!(
                "{} run(s), {} unreadable",
                written.runs,
                written.unreadable.len()
            );
            0
        }
        Err(e) => fail(e.exit_code(), e),
    }
}
