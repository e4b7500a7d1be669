//! The rate limit (`rate:1mbit`) as `tc` scripts: one place for every
//! backend, like [`crate::iptables`] for partitions and loss.
//!
//! A node's egress to the peers on the fault's links goes through a token
//! bucket (`tbf`) at the rate; everything else it sends (answers to the
//! harness's clients, anything to the outside) is untouched. `tbf` alone
//! shapes a whole interface, so it sits under a classifier: the root qdisc
//! of the interface towards the peers is an `htb` with handle [`HANDLE`]
//! whose unclassified packets bypass its classes (`default 0`, a direct
//! queue of 1000 packets); one `u32` filter per peer address sends that
//! peer's packets to class `c4a0:1`, whose leaf is the `tbf` (handle
//! `c4a1:`). The htb class itself is set far above any rate (100 gbit), so
//! the bucket alone decides. (This kernel has no `prio` qdisc; `htb` and
//! `tbf` are everywhere.)
//!
//! Ownership, as with our iptables chains: a root qdisc whose handle is
//! [`HANDLE`] is ours, and only that is ever replaced or deleted. An
//! interface whose root qdisc is someone else's (any handle but the kernel
//! default's `0:`) is refused, never replaced. Deleting our root qdisc
//! gives the interface its default back.
//!
//! The scripts are POSIX `sh` with `tc` and `ip` (iproute2), run in the
//! node's network namespace with NET_ADMIN, arguments as `$1`, `$2`, ....
//! Pure text: nothing here runs anything.

use crate::quality::Rate;

/// Our root qdisc's handle (`c4a0:`; its tbf leaf is `c4a1:`).
pub const HANDLE: &str = "c4a0:";

/// How long a packet may wait in the bucket's queue before it is dropped
/// (`tbf latency`): the queue holds this much of the rate plus the burst.
/// Enough for TCP to fill the link; a slow link also queues.
pub const QUEUE_LATENCY: &str = "100ms";

/// Lists the network interfaces of the namespace.
const DEVICES: &str = r#"devices() { ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'; }"#;

/// Install: `$1` the rate (`1000000bit`), `$2` the burst in bytes, `$3`
/// the queue latency, then the peer addresses. Ours, if any, goes first
/// (a new rate replaces the old), then one `tc -batch`: per interface the
/// root htb and its tbf leaf, per peer a filter. Prints `limited N` (the
/// peers filtered). Build the arguments with [`args`].
pub const APPLY: &str = r#"set -e
rate=$1 burst=$2 latency=$3
shift 3
DEVICES
for dev in $(devices); do
  case "$(tc qdisc show dev "$dev" root)" in "qdisc htb c4a0: root"*) tc qdisc del dev "$dev" root ;; esac
done
batch='' seen=' ' n=0
for peer in "$@"; do
  dev=$(ip -o route get "$peer" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  if [ -z "$dev" ]; then echo "no route to $peer"; exit 1; fi
  case "$seen" in
    *" $dev "*) ;;
    *)
      root=$(tc qdisc show dev "$dev" root)
      case "$root" in
        "qdisc "*" 0: root"*|"") ;;
        *) echo "$dev has a root qdisc that is not ours, left alone: $root"; exit 1 ;;
      esac
      seen="$seen$dev "
      batch="${batch}qdisc replace dev $dev root handle c4a0: htb default 0 direct_qlen 1000
class add dev $dev parent c4a0: classid c4a0:1 htb rate 100gbit quantum 60000
qdisc add dev $dev parent c4a0:1 handle c4a1: tbf rate $rate burst $burst latency $latency
"
      ;;
  esac
  batch="${batch}filter add dev $dev parent c4a0: protocol ip prio 1 u32 match ip dst $peer/32 flowid c4a0:1
"
  n=$((n + 1))
done
printf '%s' "$batch" | tc -batch -
echo "limited $n""#;

/// Remove our root qdisc from every interface; prints `removed N` (the
/// interfaces that had one) or `none`. Read it with [`heal_outcome`].
pub const HEAL: &str = r#"set -e
DEVICES
n=0
for dev in $(devices); do
  case "$(tc qdisc show dev "$dev" root)" in
    "qdisc htb c4a0: root"*) tc qdisc del dev "$dev" root; n=$((n + 1)) ;;
  esac
done
if [ "$n" -gt 0 ]; then echo "removed $n"; else echo none; fi"#;

/// What is in force: `buckets B filters F`, our tbf leaves and the peer
/// filters leading to them. Read it with [`check_outcome`].
pub const CHECK: &str = r#"DEVICES
b=0 f=0
for dev in $(devices); do
  if tc qdisc show dev "$dev" | grep -q '^qdisc tbf c4a1: parent c4a0:1 '; then b=$((b + 1)); fi
  k=$(tc filter show dev "$dev" parent c4a0: 2>/dev/null | grep -c 'flowid c4a0:1' || true)
  f=$((f + k))
done
echo "buckets $b filters $f""#;

/// What is installed, for reports: `tc qdisc show` of every interface.
pub const SHOW: &str = r#"tc qdisc show"#;

/// The script `script` ([`APPLY`], [`HEAL`], [`CHECK`]) as run: its
/// `DEVICES` line spelled out.
pub fn script(script: &str) -> String {
    script.replace("DEVICES", DEVICES)
}

/// [`APPLY`]'s arguments for `rate` towards `peers`.
pub fn args(rate: Rate, peers: &[String]) -> Vec<String> {
    let mut args = vec![
        rate.tc(),
        rate.burst_bytes().to_string(),
        QUEUE_LATENCY.to_string(),
    ];
    args.extend(peers.iter().cloned());
    args
}

/// What a successful [`HEAL`] said: `Some(Some(n))` for `removed n`,
/// `Some(None)` for `none`, `None` for anything else.
pub fn heal_outcome(output: &str) -> Option<Option<usize>> {
    crate::iptables::heal_outcome(output)
}

/// `(buckets, filters)` from a [`CHECK`] run; None when it failed.
pub fn check_outcome(output: &str) -> Option<(usize, usize)> {
    let last = output.lines().last()?.trim();
    let mut words = last.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("buckets"), Some(b), Some("filters"), Some(f)) => {
            Some((b.parse().ok()?, f.parse().ok()?))
        }
        _ => None,
    }
}

/// Does a [`CHECK`] outcome show a node's share of a rate limit (`peers`
/// receivers of its packets) in force? A bucket, one filter per peer.
pub fn share_in_force(outcome: (usize, usize), peers: usize) -> bool {
    let (buckets, filters) = outcome;
    buckets >= 1 && filters == peers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_only_our_handle_and_spell_out_devices() {
        for s in [APPLY, HEAL, CHECK] {
            let s = script(s);
            assert!(s.contains("c4a0:"));
            assert!(s.contains("devices() {"), "{s}");
            // Only our root qdisc is ever deleted.
            for line in s.lines().filter(|l| l.contains("qdisc del")) {
                assert!(line.contains(r#""qdisc htb c4a0: root"*)"#), "{line}");
            }
        }
    }

    #[test]
    fn args_carry_the_rate_the_bucket_and_the_peers() {
        let rate: Rate = "1mbit".parse().unwrap();
        assert_eq!(
            args(rate, &["10.0.0.2".into(), "10.0.0.3".into()]),
            ["1000000bit", "16384", "100ms", "10.0.0.2", "10.0.0.3"]
        );
    }

    #[test]
    fn outcomes_are_read() {
        assert_eq!(check_outcome("buckets 1 filters 4\n"), Some((1, 4)));
        assert_eq!(check_outcome("tc: not found\n"), None);
        assert!(share_in_force((1, 4), 4));
        assert!(!share_in_force((0, 0), 4), "deleted by hand");
        assert!(!share_in_force((1, 3), 4));
        assert_eq!(heal_outcome("removed 1\n"), Some(Some(1)));
        assert_eq!(heal_outcome("none\n"), Some(None));
    }
}
