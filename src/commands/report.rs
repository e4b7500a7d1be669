//! `chaos report DIR`: the verdict and reports of a results folder, made
//! again from what the folder holds (`test.json`, `history.jsonl`, node
//! logs). Useful after a harness crash (the history is streamed, so it holds
//! every op that completed) or to re-check with a newer harness.

use crate::cli::ReportArgs;
use crate::exit::fail;
use crate::results::{analyse, TestMeta};

pub fn run(args: &ReportArgs) -> i32 {
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
