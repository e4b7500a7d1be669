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
//! Peers are IPv4 addresses (the `u32` match is `ip dst`).
//! Pure text: nothing here runs anything.

use crate::quality::Rate;

/// Our root qdisc's handle (`c4a0:`; its tbf leaf is `c4a1:`).
pub const HANDLE: &str = "c4a0:";

/// How long a packet may wait in the bucket's queue before it is dropped
/// (`tbf latency`): the queue holds this much of the rate plus the burst.
/// Enough for TCP to fill the link; a slow link also queues.
pub const QUEUE_LATENCY: &str = "100ms";

/// Install: `$1` the rate (`1000000bit`), `$2` the burst in bytes, `$3`
/// the queue latency, then the peer addresses (build them with [`args`]).
/// One look at the qdiscs (`tc qdisc show`) and the routes to the peers
/// (`ip -batch`), then one `tc -batch`: ours removed wherever it is (a new
/// rate replaces the old), then per interface towards the peers the root
/// htb and its tbf leaf, per peer a filter. Prints `limited N` (the peers).
/// Few processes on purpose: each costs milliseconds in a container.
pub const APPLY: &str = r#"set -e
rate=$1 burst=$2 latency=$3
shift 3
qdiscs=$(tc qdisc show)
routes=$(printf 'route get %s\n' "$@" | ip -o -batch -)
root_of() {
  printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
    if [ "$dev" = "$1" ] && [ "$where" = root ]; then echo "$kind $handle"; fi
  done
}
batch=$(
  printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
    if [ "$kind $handle $where" = "htb c4a0: root" ]; then echo "qdisc del dev $dev root"; fi
  done
  printf '%s\n' "$routes" | {
    seen=' '
    while read -r peer line; do
      case " $line" in *" dev "*) ;; *) echo "no route to $peer: $line" >&2; exit 1 ;; esac
      dev=" $line"; dev=${dev#* dev }; dev=${dev%% *}
      case "$seen" in
        *" $dev "*) ;;
        *)
          seen="$seen$dev "
          root=$(root_of "$dev")
          case "$root" in
            "htb c4a0:"|*" 0:"|"") ;;
            *) echo "$dev has a root qdisc that is not ours, left alone: $root" >&2; exit 1 ;;
          esac
          echo "qdisc add dev $dev root handle c4a0: htb default 0 direct_qlen 1000"
          echo "class add dev $dev parent c4a0: classid c4a0:1 htb rate 100gbit quantum 60000"
          echo "qdisc add dev $dev parent c4a0:1 handle c4a1: tbf rate $rate burst $burst latency $latency"
          ;;
      esac
      echo "filter add dev $dev parent c4a0: protocol ip prio 1 u32 match ip dst $peer/32 flowid c4a0:1"
    done
  }
)
printf '%s\n' "$batch" | tc -batch -
echo "limited $#""#;

/// Remove our root qdisc from every interface; prints `removed N` (the
/// interfaces that had one) or `none`. Read it with [`heal_outcome`].
pub const HEAL: &str = r#"set -e
qdiscs=$(tc qdisc show)
batch=$(printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
  if [ "$kind $handle $where" = "htb c4a0: root" ]; then echo "qdisc del dev $dev root"; fi
done)
if [ -z "$batch" ]; then echo none; exit 0; fi
printf '%s\n' "$batch" | tc -batch -
n=0 rest=$batch
while :; do
  case "$rest" in *"qdisc del"*) n=$((n + 1)); rest=${rest#*qdisc del} ;; *) break ;; esac
done
echo "removed $n""#;

/// What is in force: `buckets B filters F`, our tbf leaves and the peer
/// filters leading to them. Read it with [`check_outcome`].
pub const CHECK: &str = r#"qdiscs=$(tc qdisc show) || exit 1
b=0 f=0
for dev in $(printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where parent _; do
  if [ "$kind $handle $where $parent" = "tbf c4a1: parent c4a0:1" ]; then echo "$dev"; fi
done); do
  b=$((b + 1))
  rest=$(tc filter show dev "$dev" parent c4a0:)
  while :; do
    case "$rest" in *"flowid c4a0:1"*) f=$((f + 1)); rest=${rest#*flowid c4a0:1} ;; *) break ;; esac
  done
done
echo "buckets $b filters $f""#;

/// What is installed, for reports: `tc qdisc show` of every interface.
pub const SHOW: &str = r#"tc qdisc show"#;

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
    fn scripts_delete_only_our_root_qdisc() {
        for s in [APPLY, HEAL, CHECK] {
            assert!(s.contains("c4a0:"));
            // A delete is emitted only under the test that the root
            // qdisc is ours.
            for line in s.lines().filter(|l| l.contains("echo \"qdisc del")) {
                assert!(line.contains(r#"= "htb c4a0: root" ]"#), "{line}");
            }
            assert!(!s.contains("filter del") && !s.contains("class del"));
            assert!(
                !s.contains("tc qdisc del"),
                "deletes go through the checked batch"
            );
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
