//! Disk faults, as data and shell text (issue 12).
//!
//! * [`dm_flakey`]: a node's disk behind a device-mapper `flakey` target
//!   over a loop device: the table for each fault mode, and the scripts that
//!   create the device, switch its mode live and remove it.
//! * [`faultfs`]: reading what the fault filesystem's control socket
//!   answers (a reply, what a `status` shows in force).
//! * [`dm_node`]: a node on such a device: its entrypoint (create or reuse,
//!   format, mount, exec the system), its check, and the scripts a helper
//!   runs on several devices at once.
//! * [`choice`]: which way a run's disk faults go, dm-flakey or the fault
//!   filesystem, from `--disk-faults`, the faults and the kernel.
//!
//! Like [`crate::iptables`] and [`crate::tc`], nothing here runs anything:
//! the scripts are POSIX `sh`, their arguments `$1`, `$2`, ..., and
//! [`with_args`] makes one self-contained script of a script and its
//! arguments, the text a backend (or a test VM) hands to `sh`.

pub mod choice;
pub mod dm_flakey;
pub mod dm_node;
pub mod faultfs;

/// `script` preceded by `set -- ARGS`, each argument one quoted word, so
/// the script finds them as `$1`, `$2`, ... whatever they contain.
pub fn with_args(script: &str, args: &[String]) -> String {
    let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
    format!("set -- {}\n{script}", words.join(" "))
}

/// `text` as one sh word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_quoted_words() {
        let script = with_args("echo \"$2\"", &["a b".into(), "it's".into()]);
        assert_eq!(script, "set -- 'a b' 'it'\\''s'\necho \"$2\"");
    }
}
