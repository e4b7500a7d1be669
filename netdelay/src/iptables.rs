//! The rules that send a node's packets to its peers through the delayer,
//! as iptables text, like the partition and loss chains
//! (nemeses/src/iptables.rs): one chain of our own, [`CHAIN`], one rule per
//! peer, `-d <peer>/32 -m mark ! --mark <DUP_MARK> -j NFQUEUE --queue-num N
//! --queue-bypass`. Only peer addresses are named, so the harness's own
//! path to the node is never delayed. Pure text: nothing here runs
//! anything; the scripts are POSIX `sh`, run in the node's network
//! namespace with NET_ADMIN.
//!
//! Where: the mangle table's OUTPUT, on the sending side (a delay is a
//! property of a packet's way out, as netem sits on egress). Mangle, not
//! filter, because an ACCEPT verdict from the queue ends the packet's walk
//! through the whole table it was queued from: queued from filter, the
//! node's own filter rules after ours would be skipped for every delayed
//! packet; queued from mangle, only the rest of mangle is (nobody filters
//! there), and filter and nat see the packet as usual. For the same
//! reason our hook is appended to mangle's OUTPUT, not inserted first.
//!
//! `--queue-bypass`: while no delayer listens on the queue (it has not
//! started, has exited, or was SIGKILLed), packets pass undelayed instead
//! of being dropped, so a dead delayer never black-holes a node.
//! `! --mark`: the delayer's copies of duplicated packets carry
//! [`DUP_MARK`] and must not be queued (and duplicated) again.

use crate::duplicate::DUP_MARK;

/// Our chain, in the mangle table. Its name is the contract with HEAL:
/// we only ever create, flush and delete this chain and the OUTPUT rule
/// jumping to it.
pub const CHAIN: &str = "CHAOS-DELAY";

/// Install, as one transaction: the chain with its rules (`$1`, the
/// output of [`rules`]) and, unless already there, the jump from OUTPUT.
/// Run again with other rules, it replaces them atomically (the chain line
/// in `$1` flushes the chain under --noflush), with no moment undelayed.
pub const APPLY: &str = r#"set -e
hook='-A OUTPUT -j CHAOS-DELAY'
iptables -t mangle -C OUTPUT -j CHAOS-DELAY 2>/dev/null && hook=''
printf '%s\n%s\nCOMMIT\n' "$1" "$hook" | iptables-restore --noflush"#;

/// Counts our rules in mangle's listing (`iptables -t mangle -S`, read
/// into `$rules`) with shell builtins only: `chain` yes/no, `hooks` (jumps
/// from OUTPUT), `queued` (NFQUEUE rules in our chain). A heal runs on
/// every node at once, and each process a script spawns costs a few
/// milliseconds of a shared CPU: counting with `grep` doubled a heal's
/// time. A macro, so that HEAL and CHECK stay constants (`concat!`).
macro_rules! count_our_rules {
    () => {
        r#"chain=no hooks=0 queued=0
while IFS= read -r rule; do
  case "$rule" in
    "-N CHAOS-DELAY") chain=yes ;;
    "-A OUTPUT -j CHAOS-DELAY") hooks=$((hooks + 1)) ;;
    "-A CHAOS-DELAY "*"-j NFQUEUE"*) queued=$((queued + 1)) ;;
  esac
done <<RULES
$rules
RULES
"#
    };
}

/// Remove exactly what APPLY adds, and say what was there: `removed N` (N
/// the queue rules) or `none`. One look, one transaction.
pub const HEAL: &str = concat!(
    "set -e\nrules=$(iptables -t mangle -S)\n",
    count_our_rules!(),
    r#"if [ "$chain" = no ]; then echo none; exit 0; fi
{
  echo '*mangle'
  i=0; while [ "$i" -lt "$hooks" ]; do echo '-D OUTPUT -j CHAOS-DELAY'; i=$((i + 1)); done
  echo '-F CHAOS-DELAY'
  echo '-X CHAOS-DELAY'
  echo COMMIT
} | iptables-restore --noflush
echo "removed $queued""#
);

/// What is in force: `hooks H queued Q`, the jumps from OUTPUT to our
/// chain and the NFQUEUE rules in it. Read it with [`check_outcome`].
pub const CHECK: &str = concat!(
    "rules=$(iptables -t mangle -S) || exit 1\n",
    count_our_rules!(),
    r#"echo "hooks $hooks queued $queued""#
);

/// The iptables-restore input (less its COMMIT, which [`APPLY`] adds
/// after the hook) sending what this node sends to `peers` (IPv4
/// addresses) to queue `queue`. No peers: the chain is left empty.
pub fn rules(queue: u16, peers: &[String]) -> String {
    let mut text = format!("*mangle\n:{CHAIN} - [0:0]\n");
    for peer in peers {
        text += &format!(
            "-A {CHAIN} -d {peer}/32 -m mark ! --mark {DUP_MARK:#x} -j NFQUEUE --queue-num {queue} --queue-bypass\n"
        );
    }
    text
}

/// `(hooks, queued)` from a [`CHECK`] run; None when it failed.
pub fn check_outcome(output: &str) -> Option<(usize, usize)> {
    let last = output.lines().last()?.trim();
    let mut words = last.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("hooks"), Some(h), Some("queued"), Some(q)) => {
            Some((h.parse().ok()?, q.parse().ok()?))
        }
        _ => None,
    }
}

/// Is a node's share of a delay (`peers` receivers of its packets) in
/// force by a [`CHECK`] outcome? Our chain hooked, one rule per peer.
pub fn share_in_force(outcome: (usize, usize), peers: usize) -> bool {
    let (hooks, queued) = outcome;
    hooks >= 1 && queued == peers
}

/// What a [`HEAL`] said: `Some(Some(n))` for `removed n`, `Some(None)`
/// for `none`, None for anything else (the script failed).
pub fn heal_outcome(output: &str) -> Option<Option<usize>> {
    let last = output.lines().last().unwrap_or_default().trim();
    match last.strip_prefix("removed ") {
        Some(n) => n.parse().ok().map(Some),
        None if last == "none" => Some(None),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_queue_only_the_peers_and_never_our_copies() {
        assert_eq!(
            rules(3, &["10.0.0.2".into(), "10.0.0.3".into()]),
            "*mangle\n:CHAOS-DELAY - [0:0]\n\
             -A CHAOS-DELAY -d 10.0.0.2/32 -m mark ! --mark 0xc4 -j NFQUEUE --queue-num 3 --queue-bypass\n\
             -A CHAOS-DELAY -d 10.0.0.3/32 -m mark ! --mark 0xc4 -j NFQUEUE --queue-num 3 --queue-bypass\n"
        );
        assert_eq!(rules(0, &[]), "*mangle\n:CHAOS-DELAY - [0:0]\n");
    }

    #[test]
    fn scripts_touch_only_our_chain_in_mangle() {
        for script in [APPLY, HEAL, CHECK] {
            assert!(script.contains(CHAIN));
            assert!(!script.contains("iptables -F") && !script.contains("iptables -X"));
            assert!(!script.contains("*filter"));
            for line in script.lines().filter(|l| l.contains("iptables ")) {
                assert!(
                    line.contains("-t mangle") || line.contains("iptables-restore"),
                    "{line}"
                );
            }
        }
        // Appended to OUTPUT: the node's own mangle rules run first.
        assert!(APPLY.contains("hook='-A OUTPUT -j CHAOS-DELAY'"));
    }

    #[test]
    fn outcomes_are_read() {
        assert_eq!(check_outcome("hooks 1 queued 2\n"), Some((1, 2)));
        assert_eq!(check_outcome("iptables: Permission denied\n"), None);
        assert!(share_in_force((1, 2), 2));
        assert!(!share_in_force((0, 2), 2));
        assert!(!share_in_force((1, 1), 2));
        assert_eq!(heal_outcome("removed 2\n"), Some(Some(2)));
        assert_eq!(heal_outcome("none\n"), Some(None));
        assert_eq!(heal_outcome("iptables-restore: line 2 failed\n"), None);
    }
}
