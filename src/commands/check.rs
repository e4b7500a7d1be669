//! `chaos check FILE`: a verdict on a recorded history.

use crate::cli::{CheckArgs, CheckerKind};
use crate::exit::{fail, BAD_INPUT};
use crate::units::{parse_bytes, parse_duration};
use chaos_checkers::history::format::{read_history, Format, ReadError};
use chaos_checkers::history::History;
use chaos_checkers::linear::{self, LinearOptions, LinearReport, ModelKind, OpSummary};
use chaos_checkers::{log, queue, Validity};
use serde::Serialize;
use serde_json::Value;

pub fn run(args: &CheckArgs) -> i32 {
    match check(args) {
        Ok(code) => code,
        Err(message) => fail(BAD_INPUT, message),
    }
}

fn check(args: &CheckArgs) -> Result<i32, String> {
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let history = read_history(&args.file, format).map_err(|e| e.to_string())?;
    let name = args.file.display().to_string();
    // Whatever the checker, a history whose completions do not pair with
    // their invocations is refused here, at the line of the op at fault.
    if let Err(e) = history.pairs() {
        return Err(ReadError::at_op(&name, &history, e.index, &e.message).to_string());
    }
    let client_ops = history.ops.iter().filter(|op| op.is_client()).count();
    if client_ops == 0 {
        // Nothing to judge is not the same as nothing wrong.
        println!("{name}: unknown: the history has no client operations");
        return Ok(Validity::Unknown.exit_code());
    }
    match args.checker {
        CheckerKind::Linearizable => linearizable(args, &history, &name),
        CheckerKind::Queue => {
            let options = queue::QueueOptions {
                allow_duplicates: args.allow_duplicates,
            };
            let report = queue::check_queue(&history, &options)
                .map_err(|e| unchecked(&name, &history, e, "queue"))?;
            emit(args, &report, report.validity, || {
                queue_summary(&name, &report)
            })
        }
        CheckerKind::Log => {
            let report =
                log::check_log(&history).map_err(|e| unchecked(&name, &history, e, "log"))?;
            emit(args, &report, report.validity, || {
                log_summary(&name, &report)
            })
        }
    }
}

fn linearizable(args: &CheckArgs, history: &History, name: &str) -> Result<i32, String> {
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
        memory_budget_per_key: parse_bytes(&args.memory_budget)
            .map_err(|e| format!("--memory-budget: {e}"))?,
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
        linear_summary(name, &report)
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
) -> Result<i32, String> {
    if args.json {
        let json = serde_json::to_string_pretty(report)
            .map_err(|e| format!("cannot render the report: {e}"))?;
        println!("{json}");
    } else {
        print!("{}", summary());
    }
    Ok(validity.exit_code())
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

fn linear_summary(name: &str, report: &LinearReport) -> String {
    let mut out = format!(
        "{name}: {} ({} model, ops: {}, keys: {} ({} valid, {} invalid, {} unknown))\n",
        report.validity.as_str(),
        report.model,
        report.ops,
        report.keys.len(),
        report.keys_valid,
        report.keys_invalid,
        report.keys_unknown
    );
    for key in report.keys.iter().filter(|k| k.validity != Validity::Valid) {
        if let Some(reason) = &key.unknown_reason {
            out += &format!("  key {}: unknown: {reason}\n", key.key);
        }
        if let Some(failure) = &key.failure {
            out += &format!(
                "  key {}: {} cannot be linearized\n",
                key.key,
                op_line(&failure.op)
            );
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
