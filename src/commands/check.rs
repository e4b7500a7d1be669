//! `chaos check FILE... | DIR`: a verdict on each recorded history.

use crate::cli::{CheckArgs, CheckerKind};
use crate::exit::{fail, BAD_INPUT};
use crate::units::{parse_bytes, parse_duration};
use chaos_checkers::history::format::{read_history, Format, ReadError};
use chaos_checkers::history::History;
use chaos_checkers::linear::nil_read::is_nil_read;
use chaos_checkers::linear::{self, LinearOptions, LinearReport, ModelKind, NilRead, OpSummary};
use chaos_checkers::{available_memory, log, queue, Validity};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn run(args: &CheckArgs) -> i32 {
    let memory_budget = match memory_budget(args) {
        Ok(budget) => budget,
        Err(message) => return fail(BAD_INPUT, message),
    };
    let check_one = |args: &CheckArgs, file: &Path| check(args, file, memory_budget, false);
    match args.files.as_slice() {
        // One history: its full summary (or report), as always.
        [file] if !file.is_dir() => match check(args, file, memory_budget, true) {
            Ok(checked) => {
                print!("{}", checked.text);
                checked.validity.exit_code()
            }
            Err(message) => fail(BAD_INPUT, message),
        },
        paths => match histories(paths) {
            Ok(files) => run_many(args, &files, check_one),
            Err(message) => fail(BAD_INPUT, message),
        },
    }
}

/// The files to check: each file named, and the files directly in each
/// folder named (sorted by name; hidden files and subfolders are skipped),
/// except that a run's results folder (it holds `test.json`) means its
/// `history.jsonl`.
fn histories(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        // A run's results folder: its history, not its reports.
        let run_history = path.join("history.jsonl");
        if path.join("test.json").is_file() && run_history.is_file() {
            files.push(run_history);
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("{}: cannot list the folder: {e}", path.display()))?;
        let mut inside: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if inside.is_empty() {
            return Err(format!(
                "{}: the folder holds no files; pass history files or a folder of them",
                path.display()
            ));
        }
        inside.sort();
        files.extend(inside);
    }
    Ok(files)
}

/// Several histories: one line per file (`path: verdict (summary)`) and a
/// total, or one JSON object per file with `--json`. The exit code is the
/// worst: bad input (254) over invalid (1) over unknown (2) over valid (0).
fn run_many(
    args: &CheckArgs,
    files: &[PathBuf],
    check: impl Fn(&CheckArgs, &Path) -> Result<Checked, String>,
) -> i32 {
    let (mut valid, mut invalid, mut unknown, mut bad) = (0, 0, 0, 0);
    for file in files {
        let name = file.display().to_string();
        match check(args, file) {
            Ok(checked) => {
                match checked.validity {
                    Validity::Valid => valid += 1,
                    Validity::Invalid => invalid += 1,
                    Validity::Unknown => unknown += 1,
                }
                if args.json {
                    let mut json = checked.json;
                    if let Some(fields) = json.as_object_mut() {
                        fields.insert("file".into(), Value::String(name));
                    }
                    println!("{json}");
                } else {
                    println!("{}", checked.text.lines().next().unwrap_or_default());
                }
            }
            Err(message) => {
                bad += 1;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": name, "bad_input": message})
                    );
                } else {
                    println!("{name}: bad input: {message}");
                }
            }
        }
    }
    if !args.json {
        let mut total = format!(
            "total: {} files, {valid} valid, {invalid} invalid, {unknown} unknown",
            files.len()
        );
        if bad > 0 {
            total += &format!(", {bad} bad input");
        }
        println!("{total}");
    }
    if bad > 0 {
        BAD_INPUT
    } else if invalid > 0 {
        Validity::Invalid.exit_code()
    } else if unknown > 0 {
        Validity::Unknown.exit_code()
    } else {
        Validity::Valid.exit_code()
    }
}

/// One history checked: its verdict, what a single-file `chaos check`
/// prints (the summary, or the report as JSON), and the report as a value.
struct Checked {
    validity: Validity,
    text: String,
    json: Value,
}

/// `--memory-budget` as the searches will get it: larger than the memory
/// available, it is capped (with a note: the user asked for more than the
/// machine can give, and the check should still run); absent, the checker
/// takes its default (half the memory available).
fn memory_budget(args: &CheckArgs) -> Result<Option<usize>, String> {
    let Some(text) = &args.memory_budget else {
        return Ok(None);
    };
    let requested = parse_bytes(text).map_err(|e| format!("--memory-budget: {e}"))?;
    if args.checker != CheckerKind::Linearizable {
        return Ok(Some(requested));
    }
    if let Some(available) = available_memory::available() {
        if requested as u64 > available.bytes {
            eprintln!(
                "chaos: note: --memory-budget {text} is more than the memory available \
                 ({} MiB, {}): using {} MiB",
                available.bytes >> 20,
                available.limited_by,
                available.bytes >> 20
            );
            return Ok(Some(available.bytes as usize));
        }
    }
    Ok(Some(requested))
}

/// Reads and checks one history. `last`: the process ends once this is
/// printed, so the history is left for the exit to free: freeing the two
/// million ops of a large history one by one takes a tenth of a second or
/// more, and nothing would use the memory again.
fn check(
    args: &CheckArgs,
    file: &Path,
    memory_budget: Option<usize>,
    last: bool,
) -> Result<Checked, String> {
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let history = read_history(file, format).map_err(|e| e.to_string())?;
    let name = file.display().to_string();
    let checked = check_history(args, &history, &name, memory_budget);
    if last {
        std::mem::forget(history);
    }
    checked
}

fn check_history(
    args: &CheckArgs,
    history: &History,
    name: &str,
    memory_budget: Option<usize>,
) -> Result<Checked, String> {
    // Whatever the checker, a history whose completions do not pair with
    // their invocations is refused here, at the line of the op at fault.
    let pairs = history
        .pairs()
        .map_err(|e| ReadError::at_op(name, history, e.index, &e.message).to_string())?;
    let client_ops = history.ops.iter().filter(|op| op.is_client()).count();
    if client_ops == 0 {
        // Nothing to judge is not the same as nothing wrong.
        let reason = "the history has no client operations";
        return Ok(Checked {
            validity: Validity::Unknown,
            text: format!("{name}: unknown: {reason}\n"),
            json: serde_json::json!({"validity": "unknown", "reason": reason}),
        });
    }
    match args.checker {
        CheckerKind::Linearizable => {
            drop(pairs);
            linearizable(args, history, name, memory_budget)
        }
        CheckerKind::Queue => {
            let options = queue::QueueOptions {
                allow_duplicates: args.allow_duplicates,
            };
            let report = queue::check_queue_pairs(&pairs, &options)
                .map_err(|e| unchecked(name, history, e, "queue"))?;
            emit(args, &report, report.validity, || {
                queue_summary(name, &report)
            })
        }
        CheckerKind::Log => {
            let report =
                log::check_log_pairs(&pairs).map_err(|e| unchecked(name, history, e, "log"))?;
            emit(args, &report, report.validity, || {
                log_summary(name, &report)
            })
        }
    }
}

fn linearizable(
    args: &CheckArgs,
    history: &History,
    name: &str,
    memory_budget: Option<usize>,
) -> Result<Checked, String> {
    let options = LinearOptions {
        model: args.model.parse()?,
        initial: serde_json::from_str(&args.initial).map_err(|e| {
            format!(
                "--initial {:?} is not JSON ({e}); quote strings: '\"abc\"'",
                args.initial
            )
        })?,
        split_keys: !args.no_split,
        threads: args.threads,
        time_budget_per_key: parse_duration(&args.time_budget)
            .map_err(|e| format!("--time-budget: {e}"))?,
        memory_budget,
        all_keys: args.all_keys,
        nil_read: args.nil_read.parse()?,
    };
    if options.model == ModelKind::Kv && !matches!(options.initial, Value::Null | Value::String(_))
    {
        return Err(format!(
            "--initial {}: the kv model's initial value is a string; quote it: --initial '\"abc\"'",
            args.initial
        ));
    }
    let report = linear::check(history, &options).map_err(|e| {
        let message = format!(
            "{}; is --model {} the model of this history?",
            e.message, options.model
        );
        ReadError::at_op(name, history, e.index, &message).to_string()
    })?;
    emit(args, &report, report.validity, || {
        linear_summary(name, &report, options.nil_read)
    })
}

/// A queue or log checker's refusal, at the line of the op at fault.
fn unchecked(name: &str, history: &History, e: queue::CheckError, checker: &str) -> String {
    let (index, message) = match e {
        queue::CheckError::Pair(e) => (e.index, e.message),
        queue::CheckError::Malformed { index, message } => (
            index,
            format!(
                "{message}; is --checker {checker} the checker of this history? \
                 (docs/checkers.md gives each checker's op conventions)"
            ),
        ),
    };
    ReadError::at_op(name, history, index, &message).to_string()
}

fn emit<R: Serialize>(
    args: &CheckArgs,
    report: &R,
    validity: Validity,
    summary: impl FnOnce() -> String,
) -> Result<Checked, String> {
    let json =
        serde_json::to_value(report).map_err(|e| format!("cannot render the report: {e}"))?;
    let text = if args.json {
        let pretty = serde_json::to_string_pretty(&json)
            .map_err(|e| format!("cannot render the report: {e}"))?;
        format!("{pretty}\n")
    } else {
        summary()
    };
    Ok(Checked {
        validity,
        text,
        json,
    })
}

fn op_line(op: &OpSummary) -> String {
    let result = match op.outcome {
        chaos_checkers::history::OpType::Ok => format!("ok {}", op.result),
        other => other.as_str().to_string(),
    };
    format!(
        "op {} (process {}: {} {} -> {})",
        op.index, op.process, op.f, op.value, result
    )
}

fn linear_summary(name: &str, report: &LinearReport, nil_read: NilRead) -> String {
    let stopped = match report.keys_stopped {
        0 => String::new(),
        n => format!(", {n} stopped"),
    };
    let mut out = format!(
        "{name}: {} ({} model, ops: {}, keys: {} ({} valid, {} invalid, {} unknown{stopped}))\n",
        report.validity.as_str(),
        report.model,
        report.ops,
        report.keys.len(),
        report.keys_valid,
        report.keys_invalid,
        report.keys_unknown
    );
    let stopped: Vec<String> = report
        .keys
        .iter()
        .filter(|k| k.stopped)
        .map(|k| k.key.to_string())
        .collect();
    for key in report
        .keys
        .iter()
        .filter(|k| k.validity != Validity::Valid && !k.stopped)
    {
        if let Some(reason) = &key.unknown_reason {
            out += &format!("  key {}: unknown: {reason}\n", key.key);
        }
        if let Some(failure) = &key.failure {
            out += &format!(
                "  key {}: {} cannot be linearized\n",
                key.key,
                op_line(&failure.op)
            );
            if nil_read == NilRead::Value && is_nil_read(report.model, &failure.op) {
                out += "    a read of nil: Jepsen's Knossos reads it as \"not known\", \
                        matching any state; to check it so, pass --nil-read any\n";
            }
            match &failure.reason {
                // Decided without a search reaching the op: no state, no prefix.
                Some(why) => out += &format!("    {why}\n"),
                None => {
                    out += &format!("    state before it: {}\n", failure.state);
                    out += &format!(
                        "    longest linearizable prefix: {} ops\n",
                        failure.prefix.len()
                    );
                }
            }
            for op in &failure.concurrent {
                out += &format!("    concurrent: {}\n", op_line(op));
            }
        }
    }
    if !stopped.is_empty() {
        out += &format!(
            "  keys {}: {} (--all-keys decides them)\n",
            stopped.join(", "),
            linear::STOPPED_REASON
        );
    }
    out
}

fn queue_summary(name: &str, report: &queue::QueueReport) -> String {
    let json = serde_json::to_value(report).unwrap_or_default();
    format!(
        "{name}: {} (queue)\n{}\n",
        report.validity.as_str(),
        counts(&json)
    )
}

fn log_summary(name: &str, report: &log::LogReport) -> String {
    let json = serde_json::to_value(report).unwrap_or_default();
    format!(
        "{name}: {} (log)\n{}\n",
        report.validity.as_str(),
        counts(&json)
    )
}

/// The counts of a report, `name: n` each, for the short summary: plain
/// numbers, and anomaly sets (objects with a `count`), however nested.
fn counts(json: &serde_json::Value) -> String {
    let mut lines = Vec::new();
    collect_counts(json, &mut lines);
    lines.join("\n")
}

fn collect_counts(json: &serde_json::Value, lines: &mut Vec<String>) {
    let Some(fields) = json.as_object() else {
        return;
    };
    for (name, value) in fields {
        match (value.as_u64(), value.get("count").and_then(|c| c.as_u64())) {
            (Some(n), _) | (None, Some(n)) => lines.push(format!("  {name}: {n}")),
            // Groups of counts (the log report's anomalies), not per-key detail.
            _ if value.is_object() => collect_counts(value, lines),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::histories;

    #[test]
    fn a_runs_folder_means_its_history_and_other_folders_their_files() {
        let dir = std::env::temp_dir().join(format!("chaos-check-dirs-{}", std::process::id()));
        let run = dir.join("run");
        let corpus = dir.join("corpus");
        for d in [&run, &corpus] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in ["test.json", "history.jsonl", "report.md", "results.json"] {
            std::fs::write(run.join(f), "{}").unwrap();
        }
        for f in ["b.log", "a.log", ".hidden"] {
            std::fs::write(corpus.join(f), "").unwrap();
        }
        let files = histories(&[run.clone(), corpus.clone()]).unwrap();
        assert_eq!(
            files,
            [
                run.join("history.jsonl"),
                corpus.join("a.log"),
                corpus.join("b.log")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
