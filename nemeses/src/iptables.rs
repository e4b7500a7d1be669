//! The partition and loss rules as iptables text: one place for every
//! backend (the Docker sidecars and the Kubernetes partition containers run
//! the same scripts, so `chaos heal` removes the same thing everywhere).
//!
//! A loss (`loss:20%`) is the same construction in a chain of its own,
//! [`LOSS_CHAIN`], whose rules add `-m statistic --mode random
//! --probability p` to each DROP: the scripts are the partition's, with the
//! chain's name changed ([`Chain::script`]), so a loss and a partition can
//! be in force together and each is healed alone. The `statistic` match
//! draws each packet independently: it has no correlation (bursts of loss),
//! which only `tc netem` offers.
//!
//! The rules: one chain of our own, [`CHAIN`], hooked first in INPUT, holding
//! one `-s <peer> -j DROP` per grudged peer — exactly the grudge's meaning (a
//! node drops what it receives from the peers it holds a grudge against), and
//! Jepsen's way. Only node addresses are ever named, so the harness's own path
//! to the nodes is never cut. A partition is installed with one
//! `iptables-restore --noflush`, which replaces the chain's contents
//! atomically: a new partition replaces the old without a moment of full
//! connectivity in between.
//!
//! The scripts are POSIX `sh`, run in a container that shares the node's
//! network namespace and has NET_ADMIN. Pure text: nothing here runs anything.

use crate::quality::Percent;

/// Our chain. Its name is the contract with `chaos heal`: we only ever
/// create, flush and delete this chain, and the one INPUT rule jumping to it.
pub const CHAIN: &str = "CHAOS-PARTITION";

/// Our chain for packet loss. The same contract as [`CHAIN`].
pub const LOSS_CHAIN: &str = "CHAOS-LOSS";

/// One of our chains, and the scripts that manage it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain(pub &'static str);

impl Chain {
    pub const PARTITION: Chain = Chain(CHAIN);
    pub const LOSS: Chain = Chain(LOSS_CHAIN);

    /// `script` (one of [`APPLY`], [`HEAL`], [`SHOW`], [`CHECK`], which
    /// name [`CHAIN`] and no other chain) for this chain.
    pub fn script(self, script: &str) -> String {
        script.replace(CHAIN, self.0)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

/// Install, as one nf_tables transaction: the chain with its rules (`$1`,
/// the output of [`rules`]) and, unless already there, the jump from INPUT.
/// Two iptables runs: every run costs ~15 ms.
pub const APPLY: &str = r#"set -e
hook='-I INPUT 1 -j CHAOS-PARTITION'
iptables -C INPUT -j CHAOS-PARTITION 2>/dev/null && hook=''
printf '%s\n%s\nCOMMIT\n' "$1" "$hook" | iptables-restore --noflush"#;

/// Remove exactly what APPLY adds, and say what was there: `removed N` (the
/// number of DROP rules) or `none`. Every jump to our chain goes, then the
/// chain; nothing else is touched. One look (`iptables -S`) and one
/// transaction (iptables-restore), like APPLY. Read its output with
/// [`heal_outcome`].
pub const HEAL: &str = r#"set -e
rules=$(iptables -S)
case "$rules" in *"-N CHAOS-PARTITION"*) ;; *) echo none; exit 0 ;; esac
n=$(printf '%s\n' "$rules" | grep -c '^-A CHAOS-PARTITION ' || true)
hooks=$(printf '%s\n' "$rules" | grep -c '^-A INPUT -j CHAOS-PARTITION$' || true)
{
  echo '*filter'
  i=0; while [ "$i" -lt "$hooks" ]; do echo '-D INPUT -j CHAOS-PARTITION'; i=$((i + 1)); done
  echo '-F CHAOS-PARTITION'
  echo '-X CHAOS-PARTITION'
  echo COMMIT
} | iptables-restore --noflush
echo "removed $n""#;

/// What is installed: our chain's rules (`iptables -S` lines, each starting
/// with `-`), or `none`.
pub const SHOW: &str = r#"iptables -S CHAOS-PARTITION 2>/dev/null || echo none"#;

/// What is in force, for a run watching its partition: `hooks H drops D`,
/// the jumps from INPUT to our chain and the DROP rules in it. Read it with
/// [`check_outcome`].
pub const CHECK: &str = r#"rules=$(iptables -S) || exit 1
hooks=$(printf '%s\n' "$rules" | grep -c '^-A INPUT -j CHAOS-PARTITION$' || true)
drops=$(printf '%s\n' "$rules" | grep -c '^-A CHAOS-PARTITION .*-j DROP$' || true)
echo "hooks $hooks drops $drops""#;

/// `(hooks, drops)` from a [`CHECK`] run; None when it failed.
pub fn check_outcome(output: &str) -> Option<(usize, usize)> {
    let last = output.lines().last()?.trim();
    let mut words = last.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("hooks"), Some(h), Some("drops"), Some(d)) => {
            Some((h.parse().ok()?, d.parse().ok()?))
        }
        _ => None,
    }
}

/// Does a [`CHECK`] outcome show a node's share of a partition (`peers`
/// grudged nodes) in force? Our chain hooked, one DROP per peer.
pub fn share_in_force(outcome: (usize, usize), peers: usize) -> bool {
    let (hooks, drops) = outcome;
    hooks >= 1 && drops == peers
}

/// The iptables-restore input (less its COMMIT, which [`APPLY`] adds after
/// the hook) making [`CHAIN`] drop packets from `sources`. The chain line
/// flushes it (under --noflush only the chains named are touched), so the
/// result holds exactly these rules. Each rule carries the comment
/// `chaos run <run>`, cleaned so no label can break out of it.
pub fn rules(run: &str, sources: &[String]) -> String {
    chain_rules(Chain::PARTITION, run, sources, "")
}

/// [`rules`] for [`LOSS_CHAIN`]: each DROP taken with probability `loss`.
pub fn loss_rules(run: &str, sources: &[String], loss: Percent) -> String {
    let statistic = format!(
        "-m statistic --mode random --probability {} ",
        loss.probability()
    );
    chain_rules(Chain::LOSS, run, sources, &statistic)
}

/// The iptables-restore text for `chain`: one DROP of `sources` each, with
/// `matches` (ending in a space, or empty) before the comment.
fn chain_rules(chain: Chain, run: &str, sources: &[String], matches: &str) -> String {
    let chain = chain.name();
    let comment: String = format!("chaos run {run}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .:=_-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let mut text = format!("*filter\n:{chain} - [0:0]\n");
    for source in sources {
        text += &format!(
            "-A {chain} -s {source}/32 {matches}-m comment --comment \"{comment}\" -j DROP\n"
        );
    }
    text
}

/// What a successful [`HEAL`] run said: `Some(Some(n))` for `removed n`,
/// `Some(None)` for `none` (there was no chain), `None` for anything else
/// (the script failed; show its output).
pub fn heal_outcome(output: &str) -> Option<Option<usize>> {
    let last = output.lines().last().unwrap_or_default().trim();
    match last.strip_prefix("removed ") {
        Some(n) => Some(Some(n.parse().unwrap_or(0))),
        None if last == "none" => Some(None),
        None => None,
    }
}

/// The rule lines of a [`SHOW`] run (empty when there is no chain).
pub fn shown_rules(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rules_drop_at_random_in_their_own_chain() {
        let text = loss_rules("r1", &["10.0.0.2".into()], "20%".parse().unwrap());
        assert_eq!(
            text,
            "*filter\n:CHAOS-LOSS - [0:0]\n\
             -A CHAOS-LOSS -s 10.0.0.2/32 -m statistic --mode random --probability 0.2000 -m comment --comment \"chaos run r1\" -j DROP\n"
        );
        for script in [APPLY, HEAL, SHOW, CHECK] {
            let loss = Chain::LOSS.script(script);
            assert!(loss.contains(LOSS_CHAIN));
            assert!(!loss.contains(CHAIN), "{loss}");
        }
        // The hook checked and added is the loss chain's.
        assert!(Chain::LOSS
            .script(APPLY)
            .contains("iptables -C INPUT -j CHAOS-LOSS"));
    }

    #[test]
    fn rules_name_only_the_grudged_peers_in_our_chain() {
        let text = rules("r1", &["10.0.0.2".into(), "10.0.0.3".into()]);
        assert_eq!(
            text,
            "*filter\n:CHAOS-PARTITION - [0:0]\n\
             -A CHAOS-PARTITION -s 10.0.0.2/32 -m comment --comment \"chaos run r1\" -j DROP\n\
             -A CHAOS-PARTITION -s 10.0.0.3/32 -m comment --comment \"chaos run r1\" -j DROP\n"
        );
        // No peers: the chain is declared (so flushed) and left empty.
        assert_eq!(rules("r1", &[]), "*filter\n:CHAOS-PARTITION - [0:0]\n");
        // Whatever a label says, it cannot break out of the comment.
        assert!(rules("label:a=\"b\"", &["10.0.0.2".into()]).contains("\"chaos run label:a=_b_\""));
    }

    #[test]
    fn scripts_touch_only_our_chain() {
        for script in [APPLY, HEAL, SHOW, CHECK] {
            assert!(script.contains(CHAIN));
            // Never a flush or delete of anything but our chain.
            assert!(!script.contains("-F\n") && !script.contains("iptables -F"));
            assert!(!script.contains("-X\n") && !script.contains("iptables -X"));
        }
    }

    #[test]
    fn heal_output_is_read() {
        assert_eq!(heal_outcome("removed 4\n"), Some(Some(4)));
        assert_eq!(heal_outcome("none\n"), Some(None));
        assert_eq!(heal_outcome("iptables: Permission denied\n"), None);
        assert_eq!(
            shown_rules("-N CHAOS-PARTITION\n-A CHAOS-PARTITION -s 1.2.3.4/32 -j DROP\n"),
            [
                "-N CHAOS-PARTITION",
                "-A CHAOS-PARTITION -s 1.2.3.4/32 -j DROP"
            ]
        );
        assert!(shown_rules("none\n").is_empty());
        assert_eq!(check_outcome("hooks 1 drops 2\n"), Some((1, 2)));
        assert_eq!(check_outcome("iptables: Permission denied\n"), None);
        assert!(share_in_force((1, 2), 2));
        // `iptables -F` by hand: the hook and the rules gone, the chain left.
        assert!(!share_in_force((0, 0), 2));
        assert!(!share_in_force((1, 1), 2));
    }
}
