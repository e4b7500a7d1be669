//! Delay, jitter, duplication, reordering and correlated loss as `tc
//! netem` scripts, for nodes whose kernel has `sch_netem` (distribution
//! kernels, most Kubernetes nodes; not every kernel: [`PROBE`] asks).
//!
//! The construction is [`crate::tc`]'s with a netem leaf instead of a
//! token bucket: the root qdisc of the interface towards the peers is an
//! `htb` with handle [`HANDLE`] whose unclassified packets bypass its
//! classes (`default 0`); one `u32` filter per peer address sends that
//! peer's packets to class `c4b0:1`, whose leaf is the `netem` (handle
//! `c4b1:`). So only packets to the peers are delayed, duplicated or
//! reordered; the harness's own path to the node is untouched. The handle
//! is not the rate limit's (`c4a0:`): each heals only its own. Both want
//! the interface's root, so where one is in force the other is refused
//! (it is not ours), never stacked.
//!
//! Ownership, as with the rate limit: a root qdisc whose handle is
//! [`HANDLE`] is ours, and only that is ever replaced or deleted. An
//! interface whose root qdisc is someone else's (any handle but the kernel
//! default's `0:`) is refused, never replaced.
//!
//! The scripts are POSIX `sh` with `tc` and `ip` (iproute2), run in the
//! node's network namespace with NET_ADMIN, arguments as `$1`, `$2`, ....
//! Peers are IPv4 addresses. Pure text: nothing here runs anything.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::quality::{decimal, Percent};

/// Our root qdisc's handle (`c4b0:`; its netem leaf is `c4b1:`).
pub const HANDLE: &str = "c4b0:";

/// How many packets the netem queue holds (`limit`). netem's default,
/// 1000, is what a link at 100 Mbit sends in 120 ms: under a 100 ms delay
/// it would drop, which is a loss nobody asked for. Ten times that covers
/// a gigabit link's 100 ms.
pub const LIMIT: u32 = 10_000;

/// The longest delay (or jitter) we accept: beyond it a node is as good
/// as partitioned, which `partition-*` says more plainly.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// How the delays spread around their mean, within ± the jitter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// Flat over [delay − jitter, delay + jitter]: netem's default, no table.
    #[default]
    Uniform,
    /// Tables shipped with iproute2 (`/usr/lib/.../tc/<name>.dist`); `tc`
    /// reads them when the qdisc is installed.
    Normal,
    Pareto,
    ParetoNormal,
}

impl Distribution {
    pub const ALL: [Distribution; 4] = [
        Distribution::Uniform,
        Distribution::Normal,
        Distribution::Pareto,
        Distribution::ParetoNormal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
            Distribution::ParetoNormal => "paretonormal",
        }
    }
}

/// What netem does to the packets to the peers. Every part is optional,
/// but at least one is given. Written as `/`-separated items (no `,` or
/// `:`, which the fault list uses):
///
/// * `100ms`, `1.5ms`, `250us`, `2s`: the delay (mean);
///   `100ms~20ms`: with jitter (each packet's delay drawn around 100 ms:
///   within ± 20 ms when uniform, 20 ms its standard deviation otherwise);
/// * `uniform` (the default), `normal`, `pareto`, `paretonormal`: how the
///   jitter is drawn (needs a jitter);
/// * `loss=5%`, `duplicate=1%`, `reorder=25%`: shares of the packets lost,
///   sent twice, sent at once ahead of the delayed ones (reorder needs a
///   delay);
/// * `correlation=75%`: losses in bursts: after a lost packet the next is
///   lost with this probability, the long-run share still `loss=` (needs
///   a loss below 100 %).
///
/// E.g. `100ms~20ms/normal`, `10ms/reorder=25%`, `loss=20%/correlation=75%`.
///
/// Correlated loss is a two-state (Gilbert) chain, `loss gemodel`, not
/// netem's `loss P C`: on Debian's 6.1 kernel `loss 20% 75%` lost 0 of 600
/// pings (tests/netem_vm.rs), as the correlated draw is an average of
/// uniform draws, rarely below the threshold. The same draw serves the
/// jitter's, duplicates' and reorders' correlation, so those are not
/// offered: it would bend their rates just as much.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Netem {
    pub delay: Option<Duration>,
    pub jitter: Option<Duration>,
    pub distribution: Distribution,
    pub loss: Option<Percent>,
    pub duplicate: Option<Percent>,
    pub reorder: Option<Percent>,
    pub correlation: Option<Percent>,
}

impl Netem {
    /// A delay alone: `Netem::delayed(100 ms)` is `100ms`.
    pub fn delayed(delay: Duration) -> Netem {
        Netem {
            delay: Some(delay),
            ..Netem::default()
        }
    }

    /// Is this a netem anyone could install? One line saying why not.
    pub fn validate(&self) -> Result<(), String> {
        let something = self.delay.is_some()
            || self.loss.is_some()
            || self.duplicate.is_some()
            || self.reorder.is_some();
        if !something {
            return Err("a netem fault needs a delay, loss, duplicate or reorder".into());
        }
        for (what, time) in [("delay", self.delay), ("jitter", self.jitter)] {
            match time {
                Some(t) if t.is_zero() || t > MAX_DELAY || t.subsec_nanos() % 1000 != 0 => {
                    return Err(format!(
                        "a {what} is from 1us to 10s, in whole microseconds: {}",
                        show_time(t)
                    ))
                }
                _ => {}
            }
        }
        match (self.delay, self.jitter) {
            (None, Some(_)) => return Err("a jitter needs a delay: e.g. 100ms~20ms".into()),
            (Some(d), Some(j)) if j > d => {
                return Err(format!(
                    "the jitter ({}) is more than the delay ({}): a packet cannot leave before it is sent",
                    show_time(j),
                    show_time(d)
                ))
            }
            _ => {}
        }
        if self.jitter.is_none() && self.distribution != Distribution::Uniform {
            return Err(format!(
                "a distribution shapes the jitter: give one, e.g. 100ms~20ms/{}",
                self.distribution.name()
            ));
        }
        if self.reorder.is_some() && self.delay.is_none() {
            return Err(
                "reorder needs a delay: the reordered packets are the ones sent at once, ahead of the delayed ones (e.g. 10ms/reorder=25%)"
                    .into(),
            );
        }
        if let Some(correlation) = self.correlation {
            let Some(loss) = self.loss else {
                return Err(
                    "a correlation makes losses come in bursts: give a loss, e.g. loss=20%/correlation=75%"
                        .into(),
                );
            };
            if loss.fraction() >= 1.0 || correlation.fraction() >= 1.0 {
                return Err(format!(
                    "loss={loss}/correlation={correlation}: bursts need a loss and a correlation below 100%"
                ));
            }
            if self.gilbert().is_none() {
                return Err(format!(
                    "loss={loss}/correlation={correlation}: so much loss cannot come in bursts that short (raise the correlation)"
                ));
            }
        }
        Ok(())
    }

    /// Correlated loss as a Gilbert chain: (p, r), the chances of moving
    /// from the good state to the bad one (where every packet is lost) and
    /// back. After a loss the next is lost with 1 − r, the correlation;
    /// the long-run share p / (p + r) is the loss. None without a
    /// correlation, or when p would exceed 1.
    fn gilbert(&self) -> Option<(f64, f64)> {
        let (loss, correlation) = (self.loss?.fraction(), self.correlation?.fraction());
        let r = 1.0 - correlation;
        let p = loss * r / (1.0 - loss);
        (p <= 1.0).then_some((p, r))
    }

    /// The netem options as `tc` takes them after `netem` (times in
    /// microseconds, so no unit is misread): `limit 10000 delay 100000us
    /// 20000us distribution normal loss random 1% ...`. Correlated loss is
    /// `loss gemodel P R 100% 0%` (every packet lost in the bad state,
    /// none in the good one; given in full, as tc's defaults for the last
    /// two have changed between versions).
    pub fn tc(&self) -> String {
        let mut words = vec!["limit".to_string(), LIMIT.to_string()];
        if let Some(delay) = self.delay {
            words.push("delay".into());
            words.push(format!("{}us", delay.as_micros()));
            if let Some(jitter) = self.jitter {
                words.push(format!("{}us", jitter.as_micros()));
                if self.distribution != Distribution::Uniform {
                    words.push("distribution".into());
                    words.push(self.distribution.name().into());
                }
            }
        }
        if let Some((p, r)) = self.gilbert() {
            let percent = |x: f64| format!("{:.4}%", 100.0 * x);
            words.extend(["loss", "gemodel"].map(String::from));
            words.extend([percent(p), percent(r), "100%".into(), "0%".into()]);
        }
        let loss = self.loss.filter(|_| self.correlation.is_none());
        for (name, share) in [
            ("loss random", loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if let Some(share) = share {
                words.push(name.into());
                words.push(share.to_string());
            }
        }
        words.join(" ")
    }
}

/// `100ms`, `1500us`, `2s`: the largest unit that writes it whole.
fn show_time(t: Duration) -> String {
    let us = t.as_micros();
    match us {
        _ if us.is_multiple_of(1_000_000) => format!("{}s", us / 1_000_000),
        _ if us.is_multiple_of(1_000) => format!("{}ms", us / 1_000),
        _ => format!("{us}us"),
    }
}

/// `100ms`, `1.5ms`, `250us`, `2s` (up to three decimals).
fn parse_time(what: &str, text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err(format!("{text}: a {what} cannot be negative"));
    }
    let (number, micros) = [("us", 1), ("ms", 1_000), ("s", 1_000_000)]
        .into_iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))
        .ok_or_else(|| {
            format!("{text:?} is not a {what}: write it with us, ms or s, e.g. 100ms")
        })?;
    let thousandths = decimal(number, 3)
        .ok_or_else(|| format!("{text:?} is not a {what} such as 100ms or 1.5ms"))?;
    let nanos = thousandths
        .checked_mul(micros)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(u64::MAX);
    Ok(Duration::from_nanos(nanos))
}

fn set_once<T>(slot: &mut Option<T>, value: T, item: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{item}: given twice"));
    }
    *slot = Some(value);
    Ok(())
}

impl FromStr for Netem {
    type Err = String;

    fn from_str(text: &str) -> Result<Netem, String> {
        let mut netem = Netem::default();
        let mut distribution = None;
        for item in text.split('/') {
            let share = |name: &str| -> Result<Option<Percent>, String> {
                match item.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                    Some(p) => p
                        .parse()
                        .map(Some)
                        .map_err(|e: String| format!("{name}: {e}")),
                    None => Ok(None),
                }
            };
            if let Some(d) = Distribution::ALL.iter().find(|d| d.name() == item) {
                set_once(&mut distribution, *d, item)?;
            } else if let Some(p) = share("loss")? {
                set_once(&mut netem.loss, p, "loss")?;
            } else if let Some(p) = share("duplicate")? {
                set_once(&mut netem.duplicate, p, "duplicate")?;
            } else if let Some(p) = share("reorder")? {
                set_once(&mut netem.reorder, p, "reorder")?;
            } else if let Some(p) = share("correlation")? {
                set_once(&mut netem.correlation, p, "correlation")?;
            } else if item.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
                let (delay, jitter) = match item.split_once('~') {
                    Some((d, j)) => (d, Some(j)),
                    None => (item, None),
                };
                set_once(&mut netem.delay, parse_time("delay", delay)?, "delay")?;
                if let Some(j) = jitter {
                    netem.jitter = Some(parse_time("jitter", j)?);
                }
            } else {
                return Err(format!(
                    "unknown netem item {item:?} (known: DELAY[~JITTER] such as 100ms~20ms, uniform, normal, pareto, paretonormal, loss=P, duplicate=P, reorder=P, correlation=P; joined with /)"
                ));
            }
        }
        netem.distribution = distribution.unwrap_or_default();
        netem.validate()?;
        Ok(netem)
    }
}

impl fmt::Display for Netem {
    /// The items in a fixed order: `100ms~20ms/normal/loss=1%/duplicate=1%/reorder=25%/correlation=25%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if let Some(delay) = self.delay {
            match self.jitter {
                Some(jitter) => items.push(format!("{}~{}", show_time(delay), show_time(jitter))),
                None => items.push(show_time(delay)),
            }
        }
        if self.distribution != Distribution::Uniform {
            items.push(self.distribution.name().into());
        }
        for (name, share) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("correlation", self.correlation),
        ] {
            if let Some(share) = share {
                items.push(format!("{name}={share}"));
            }
        }
        f.write_str(&items.join("/"))
    }
}

/// Install: `$1` the netem options ([`Netem::tc`]), then the peer
/// addresses (build them with [`args`]). One look at the qdiscs and the
/// routes to the peers, then one `tc -batch`: ours removed wherever it is
/// (a new netem replaces the old), then per interface towards the peers
/// the root htb and its netem leaf, per peer a filter. Prints `delayed N`
/// (the peers whose packets now pass through netem). A batch that fails
/// part way (a kernel without netem fails at the leaf, after the htb) is
/// undone: ours removed, so no half-built classifier is left behind.
pub const APPLY: &str = r#"set -e
options=$1
shift
qdiscs=$(tc qdisc show)
routes=$(printf 'route get %s\n' "$@" | ip -o -batch -)
root_of() {
  printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
    if [ "$dev" = "$1" ] && [ "$where" = root ]; then echo "$kind $handle"; fi
  done
}
batch=$(
  printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
    if [ "$kind $handle $where" = "htb c4b0: root" ]; then echo "qdisc del dev $dev root"; fi
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
            "htb c4b0:"|*" 0:"|"") ;;
            *) echo "$dev has a root qdisc that is not ours, left alone: $root" >&2; exit 1 ;;
          esac
          echo "qdisc add dev $dev root handle c4b0: htb default 0 direct_qlen 1000"
          echo "class add dev $dev parent c4b0: classid c4b0:1 htb rate 100gbit quantum 60000"
          echo "qdisc add dev $dev parent c4b0:1 handle c4b1: netem $options"
          ;;
      esac
      echo "filter add dev $dev parent c4b0: protocol ip prio 1 u32 match ip dst $peer/32 flowid c4b0:1"
    done
  }
)
if ! out=$(printf '%s\n' "$batch" | tc -batch - 2>&1); then
  tc qdisc show | while read -r _ kind handle _ dev where _; do
    if [ "$kind $handle $where" = "htb c4b0: root" ]; then echo "qdisc del dev $dev root"; fi
  done | tc -batch - >/dev/null 2>&1
  echo "$out" >&2
  exit 1
fi
echo "delayed $#""#;

/// Remove our root qdisc from every interface; prints `removed N` (the
/// interfaces that had one) or `none`. Read it with [`heal_outcome`].
pub const HEAL: &str = r#"set -e
qdiscs=$(tc qdisc show)
batch=$(printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where _; do
  if [ "$kind $handle $where" = "htb c4b0: root" ]; then echo "qdisc del dev $dev root"; fi
done)
if [ -z "$batch" ]; then echo none; exit 0; fi
printf '%s\n' "$batch" | tc -batch -
n=0 rest=$batch
while :; do
  case "$rest" in *"qdisc del"*) n=$((n + 1)); rest=${rest#*qdisc del} ;; *) break ;; esac
done
echo "removed $n""#;

/// What is in force: per interface with our netem leaf a line `on DEV
/// filters F: OPTIONS` (the options as the kernel reports them), then
/// `netems N filters F`. Read the last with [`check_outcome`].
pub const CHECK: &str = r#"qdiscs=$(tc qdisc show) || exit 1
printf '%s\n' "$qdiscs" | while read -r _ kind handle _ dev where parent options; do
  if [ "$kind $handle $where $parent" = "netem c4b1: parent c4b0:1" ]; then echo "$dev $options"; fi
done | {
  n=0 f=0
  while read -r dev options; do
    n=$((n + 1)) g=0
    rest=$(tc filter show dev "$dev" parent c4b0:)
    while :; do
      case "$rest" in *"flowid c4b0:1"*) g=$((g + 1)); rest=${rest#*flowid c4b0:1} ;; *) break ;; esac
    done
    f=$((f + g))
    echo "on $dev filters $g: $options"
  done
  echo "netems $n filters $f"
}"#;

/// Does this kernel have netem (and the htb and u32 our construction
/// needs)? Builds the construction on a veth pair of its own, never up,
/// and deletes the pair (which takes its qdiscs with it): no interface in
/// use is touched, and nothing is left (a probe cut short is cleared by
/// the next). Prints `netem yes` then `tables: ...` (the jitter
/// distributions `tc` can load), or `netem no: WHY` (exit 0 either way);
/// exit 1 when it could not tell (no veth pair could be made). Read it
/// with [`probe_outcome`].
pub const PROBE: &str = r#"p=c4b-probe
if ! command -v tc >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
  echo "netem no: tc and ip (iproute2) are not installed"; exit 0
fi
ip link del "$p" >/dev/null 2>&1
trap 'ip link del "$p" >/dev/null 2>&1' EXIT
if ! out=$(ip link add "$p" type veth peer name "$p-p" 2>&1); then
  echo "cannot make a probe interface: $out" >&2; exit 1
fi
try() { out=$(tc "$@" 2>&1) || { echo "netem no: tc $*: $(printf '%s' "$out" | tr '\n' ' ')"; exit 0; }; }
try qdisc add dev "$p" root handle c4b0: htb default 0
try class add dev "$p" parent c4b0: classid c4b0:1 htb rate 100gbit
try qdisc add dev "$p" parent c4b0:1 handle c4b1: netem delay 1ms
try filter add dev "$p" parent c4b0: protocol ip prio 1 u32 match ip dst 127.0.0.1/32 flowid c4b0:1
tables=
for d in normal pareto paretonormal; do
  if tc qdisc change dev "$p" parent c4b0:1 handle c4b1: netem delay 1ms 1ms distribution "$d" >/dev/null 2>&1; then
    tables="$tables $d"
  fi
done
echo "netem yes"
echo "tables:$tables""#;

/// What is installed, for reports: `tc qdisc show` of every interface.
pub const SHOW: &str = r#"tc qdisc show"#;

/// [`APPLY`]'s arguments for `netem` towards `peers`.
pub fn args(netem: &Netem, peers: &[String]) -> Vec<String> {
    let mut args = vec![netem.tc()];
    args.extend(peers.iter().cloned());
    args
}

/// The number of peers a successful [`APPLY`] put behind netem.
pub fn apply_outcome(output: &str) -> Option<usize> {
    output
        .lines()
        .last()?
        .trim()
        .strip_prefix("delayed ")?
        .parse()
        .ok()
}

/// What a successful [`HEAL`] said: `Some(Some(n))` for `removed n`,
/// `Some(None)` for `none`, `None` for anything else.
pub fn heal_outcome(output: &str) -> Option<Option<usize>> {
    crate::iptables::heal_outcome(output)
}

/// `(netems, filters)` from a [`CHECK`] run; None when it failed.
pub fn check_outcome(output: &str) -> Option<(usize, usize)> {
    let last = output.lines().last()?.trim();
    let mut words = last.split_whitespace();
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("netems"), Some(n), Some("filters"), Some(f)) => {
            Some((n.parse().ok()?, f.parse().ok()?))
        }
        _ => None,
    }
}

/// Does a [`CHECK`] outcome show a node's netem (towards `peers`) in
/// force? A netem leaf, one filter per peer.
pub fn in_force(outcome: (usize, usize), peers: usize) -> bool {
    let (netems, filters) = outcome;
    netems >= 1 && filters == peers
}

/// What [`PROBE`] found: Ok with the jitter distributions `tc` can load
/// besides uniform (for `netem yes`), Err with why not (`netem no: WHY`);
/// None when the output is neither (the probe could not tell).
pub fn probe_outcome(output: &str) -> Option<Result<Vec<Distribution>, String>> {
    let mut lines = output.lines().map(str::trim);
    let first = lines.find(|l| l.starts_with("netem "))?;
    if let Some(why) = first.strip_prefix("netem no: ") {
        return Some(Err(why.to_string()));
    }
    if first != "netem yes" {
        return None;
    }
    let tables = lines.find_map(|l| l.strip_prefix("tables:"))?;
    let tables = tables
        .split_whitespace()
        .filter_map(|t| Distribution::ALL.into_iter().find(|d| d.name() == t))
        .collect();
    Some(Ok(tables))
}

#[cfg(test)]
#[path = "netem_tests.rs"]
mod tests;
