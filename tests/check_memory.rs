//! `chaos check`'s memory budget from the outside: one budget for the whole
//! check, never more than the memory available, and past it `unknown`
//! with the reason instead of the process being killed.

use std::path::Path;
use std::process::{Command, Output};

fn corpus(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/porcupine")
        .join(file);
    assert!(
        path.exists(),
        "the shared corpus is missing at {}",
        path.display()
    );
    path.display().to_string()
}

fn chaos(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chaos"));
    command.args(args);
    command
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_budget_beyond_the_available_memory_is_capped_with_a_note() {
    let out = chaos(&[
        "check",
        &corpus("jepsen/etcd_002.log"),
        "--memory-budget",
        "1000000GiB",
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let note = stderr(&out);
    assert!(
        note.starts_with(
            "chaos: note: --memory-budget 1000000GiB is more than the memory available ("
        ),
        "{note}"
    );
    assert_eq!(note.lines().count(), 1, "{note}");
    let budget = json(&out)["memory_budget"].as_u64().unwrap();
    assert!(budget > 0 && budget < 1000000 << 30, "{budget}");
    assert!(
        note.contains(&format!("using {} MiB", budget >> 20)),
        "{note}"
    );

    // Within what is available, the budget is the one asked for, silently.
    let out = chaos(&[
        "check",
        &corpus("jepsen/etcd_002.log"),
        "--memory-budget",
        "100MiB",
        "--json",
    ])
    .output()
    .unwrap();
    assert_eq!(stderr(&out), "");
    assert_eq!(json(&out)["memory_budget"], 100 << 20);
}

#[test]
fn a_budget_that_is_not_a_size_is_refused_in_one_line() {
    let out = chaos(&[
        "check",
        &corpus("jepsen/etcd_002.log"),
        "--memory-budget",
        "plenty",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(254));
    let err = stderr(&out);
    assert!(err.starts_with("chaos: --memory-budget: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Under an address-space limit (`ulimit -v`), c50-bad's two hard keys,
/// which would take gigabytes, end `unknown` with the reason; the process
/// is not killed by a failed allocation. Without the limit being read the
/// default budget is half the machine's memory and the allocation fails.
#[cfg(target_os = "linux")]
#[test]
fn an_address_space_limit_bounds_the_default_budget() {
    use std::os::unix::process::CommandExt;
    const LIMIT: libc::rlim_t = 768 << 20;
    let mut command = chaos(&[
        "check",
        &corpus("kv/c50-bad.txt"),
        "--model",
        "kv",
        "--initial",
        "\"\"",
        "--all-keys",
        "--threads",
        "2",
        "--json",
    ]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: LIMIT,
                rlim_max: LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid, not killed ({:?}): {}",
        out.status,
        stderr(&out)
    );
    let report = json(&out);
    let budget = report["memory_budget"].as_u64().unwrap();
    assert!(
        budget < LIMIT / 2,
        "half of what the limit leaves: {budget}"
    );
    assert!(report["memory_peak"].as_u64().unwrap() <= budget);
    let unknown: Vec<&serde_json::Value> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["validity"] == "unknown")
        .collect();
    assert!(!unknown.is_empty(), "the hard keys outgrow the budget");
    for key in unknown {
        let reason = key["unknown_reason"].as_str().unwrap();
        assert!(reason.contains("for the whole check exceeded"), "{reason}");
    }
}
