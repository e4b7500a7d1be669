//! The delayer as a background process of a helper container in the
//! node's network namespace (a Docker sidecar, a pod's `chaos-sidecar`),
//! started, looked at and stopped by scripts, like the rules in
//! [`crate::iptables`]. Pure text: POSIX `sh`, arguments as `$1`, `$2`,
//! ...
//!
//! One delayer per network namespace, known by its pid file. Started in
//! the background with its output in a log file and stdin from /dev/null,
//! so the script that starts it returns (a caller reading the script's
//! output would otherwise wait for the delayer to end). A delayer that
//! exits is reparented to the container's first process, which may never
//! reap it: a zombie counts as gone.

/// Where the running delayer's pid is kept.
pub const PID_FILE: &str = "/tmp/chaos-netdelay.pid";

/// Where its output goes: the ready line, the counters at exit, errors.
pub const LOG_FILE: &str = "/tmp/chaos-netdelay.log";

/// Shared by the scripts: `alive PID` is true while the process runs (not
/// a zombie); `stop` sends SIGTERM to the delayer of the pid file, waits
/// up to 5 s for it to release what it holds, and removes the file.
/// Builtins only where it is looked at often: a heal stops the delayers of
/// every node at once, and each spawned process costs milliseconds of a
/// shared CPU. So `stop` first spins on /proc (the delayer exits within
/// milliseconds), and only then sleeps between looks.
fn functions() -> String {
    format!(
        r#"alive() {{
  stat=
  read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
  case "$stat" in *") Z "*|*") X "*|"") return 1 ;; esac
}}
stop() {{
  [ -f {PID_FILE} ] || return 1
  read -r pid < {PID_FILE} || pid=
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while alive "$pid" && [ "$i" -lt 1000 ]; do i=$((i + 1)); done
    i=0
    while alive "$pid" && [ "$i" -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f {PID_FILE}
}}
"#
    )
}

/// Start the delayer: `$1` the chaos executable, then `chaos netdelay`'s
/// arguments. Any delayer already running is stopped first (a new shaping
/// replaces the old one; the queue's rules let packets pass undelayed
/// meanwhile, `--queue-bypass`). Waits up to 5 s for the ready line and
/// prints `started PID`; if the delayer exits first, prints its last
/// words and fails.
pub fn start_script() -> String {
    let functions = functions();
    format!(
        r#"set -e
{functions}stop || true
exe=$1
shift
: > {LOG_FILE}
"$exe" netdelay "$@" > {LOG_FILE} 2>&1 < /dev/null &
pid=$!
echo "$pid" > {PID_FILE}
i=0
until grep -q ' bound' {LOG_FILE}; do
  if ! alive "$pid"; then
    echo "the delayer exited: $(tail -n 1 {LOG_FILE})" >&2
    rm -f {PID_FILE}
    exit 1
  fi
  if [ "$i" -ge 500 ]; then
    echo "the delayer did not bind its queue within 5 s: $(tail -n 1 {LOG_FILE})" >&2
    stop || true
    exit 1
  fi
  sleep 0.01
  i=$((i + 1))
done
echo "started $pid""#
    )
}

/// Stop the delayer; prints `stopped` (with its counters' line, if it
/// wrote one) or `none` when no delayer was running.
pub fn stop_script() -> String {
    let functions = functions();
    format!(
        r#"{functions}if stop; then
  counters=
  while IFS= read -r line; do
    case "$line" in "netdelay: passed"*) counters=$line ;; esac
  done 2>/dev/null < {LOG_FILE}
  echo "stopped: $counters"
else
  echo none
fi"#
    )
}

/// `alive` or `gone`: is the delayer of the pid file running?
pub fn alive_script() -> String {
    let functions = functions();
    format!(
        r#"{functions}pid=
[ -f {PID_FILE} ] && read -r pid < {PID_FILE}
if [ -n "$pid" ] && alive "$pid"; then echo alive; else echo gone; fi"#
    )
}

/// What a successful [`stop_script`] said: `Some(true)` if a delayer was
/// stopped, `Some(false)` for none, None for anything else.
pub fn stop_outcome(output: &str) -> Option<bool> {
    let last = output.lines().last().unwrap_or_default().trim();
    match last {
        "none" => Some(false),
        _ if last.starts_with("stopped") => Some(true),
        _ => None,
    }
}

/// What an [`alive_script`] said; None when it failed.
pub fn alive_outcome(output: &str) -> Option<bool> {
    match output.lines().last().unwrap_or_default().trim() {
        "alive" => Some(true),
        "gone" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_name_the_same_files_and_never_kill_by_name() {
        for script in [start_script(), stop_script(), alive_script()] {
            assert!(script.contains(PID_FILE));
            // A pattern would match the shell running the script itself,
            // whose command line holds the pattern.
            assert!(!script.contains("pkill") && !script.contains("killall"));
        }
        assert!(start_script().contains("< /dev/null &"));
    }

    #[test]
    fn outcomes_are_read() {
        assert_eq!(
            stop_outcome("stopped: netdelay: passed 3 delayed, 0 reordered\n"),
            Some(true)
        );
        assert_eq!(stop_outcome("none\n"), Some(false));
        assert_eq!(stop_outcome("sh: 1: cannot create\n"), None);
        assert_eq!(alive_outcome("alive\n"), Some(true));
        assert_eq!(alive_outcome("gone\n"), Some(false));
        assert_eq!(alive_outcome(""), None);
    }
}
