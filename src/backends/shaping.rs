//! What the Docker and Kubernetes backends share of traffic shaping: the
//! scripts a node's sidecar runs for it, with their arguments, and how to
//! read what they said. Each backend runs them its own way (a Docker exec
//! session, a Kubernetes `pods/exec`); the choices are made here once:
//!
//! * which way a cluster shapes ([`mechanism`]): `tc netem` where the
//!   kernel has it, else the NFQUEUE delayer (`chaos netdelay`, run from
//!   the chaos executable in the sidecar, behind the rules of
//!   `chaos_netdelay::iptables`);
//! * what the delayer cannot do, refused in one line
//!   ([`refuse_what_the_delayer_cannot`]);
//! * the steps that put a shaping on one sender ([`apply_steps`]), the
//!   look that says whether its share is in force ([`check`],
//!   [`in_force`]), and one heal that takes off either way ([`unshape`],
//!   [`unshaped`]).
//!
//! Only peer addresses are named, so the harness's own path to a node is
//! never shaped. Pure text: nothing here runs anything.

use chaos_nemeses::netem::{self, Netem};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::ClusterError;
use chaos_netdelay::{iptables as queue_rules, process};

/// Where the chaos executable is in a sidecar: the Docker backend mounts
/// it there, and the harness image (chaos/harness, the Kubernetes
/// sidecar's) has it there.
pub const CHAOS_IN_SIDECAR: &str = "/usr/local/bin/chaos";

/// The NFQUEUE the delayer reads (queues are per network namespace, and
/// each node's is its own).
pub const QUEUE: u16 = 3140;

/// Runs each argument as a script and prints its last line (its outcome,
/// or its error), one line per script, in order: several looks or heals
/// in one round trip.
///
/// Each runs in a subshell of this one and the shell itself cuts its last
/// line: no `sh` or `tail` started per script. A heal runs this on every
/// node at once, and those starts were most of what it cost (5 nodes on 2
/// cores: ~310 ms with them, ~90 ms without; BENCHMARKS.md).
pub const EACH_LAST_LINE: &str = r#"nl='
'
for script in "$@"; do
  said=$( (set --; eval "$script") 2>&1 )
  said=${said##*"$nl"}
  printf '%s\n' "${said:-(nothing)}"
done"#;

/// One script for a node's sidecar: `script` with `args` as its `$1`,
/// `$2`, ..., and what to call it when it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub what: &'static str,
    pub script: String,
    pub args: Vec<String>,
}

impl Step {
    fn new(what: &'static str, script: impl Into<String>, args: Vec<String>) -> Step {
        Step {
            what,
            script: script.into(),
            args,
        }
    }
}

/// How a node shapes traffic by what `netem::PROBE` said there: netem if
/// its kernel has it, else the delayer; None when the probe could not tell.
pub fn mechanism(probe_output: &str) -> Option<Mechanism> {
    match netem::probe_outcome(probe_output)? {
        Ok(_) => Some(Mechanism::Netem),
        Err(_) => Some(Mechanism::Delayer),
    }
}

/// [`refuse_what_the_delayer_cannot`] for each of a run's shaping
/// `faults` (a name and its netem), before its first op.
pub fn refuse_any_the_delayer_cannot(
    mechanism: Mechanism,
    faults: &[(String, Netem)],
    kernel: &str,
) -> Result<(), ClusterError> {
    for (name, netem) in faults {
        refuse_what_the_delayer_cannot(mechanism, name, netem, kernel)?;
    }
    Ok(())
}

/// A shaping `netem` (named `fault`) refused in one line where it would
/// fall to the delayer and the delayer cannot do all of it. `kernel` names
/// the kernel without netem (`the Docker host's kernel`).
pub fn refuse_what_the_delayer_cannot(
    mechanism: Mechanism,
    fault: &str,
    netem: &Netem,
    kernel: &str,
) -> Result<(), ClusterError> {
    match netem.delayer_lacks() {
        Some(lacks) if mechanism == Mechanism::Delayer => Err(ClusterError::Unsupported {
            fault: fault.to_string(),
            reason: format!(
                "{kernel} has no netem, and the NFQUEUE delayer that stands in for it cannot do {lacks}: leave it out, or run on a kernel with sch_netem"
            ),
        }),
        _ => Ok(()),
    }
}

/// The steps, in order, that shape what one node sends to `peers` (its
/// receivers on the fault's links, at least one): netem's script; or the
/// delayer started (`seed`: the node's place in the cluster, so each node
/// draws its own fates), then the rules that queue the packets to it.
pub fn apply_steps(mechanism: Mechanism, netem: &Netem, seed: u64, peers: &[String]) -> Vec<Step> {
    match mechanism {
        Mechanism::Netem => vec![Step::new("netem", netem::APPLY, netem::args(netem, peers))],
        Mechanism::Delayer => {
            let mut start = vec![CHAOS_IN_SIDECAR.to_string()];
            start.extend(delayer_args(netem, seed));
            let rules = queue_rules::rules(QUEUE, peers);
            vec![
                Step::new("delayer", process::start_script(), start),
                Step::new("delay rules", queue_rules::APPLY, vec![rules]),
            ]
        }
    }
}

/// One look at a sender's share of a shaping: netem's leaf and filters; or
/// the delayer's rules and whether it runs, in one round trip (a run looks
/// every second). Read it with [`in_force`].
pub fn check(mechanism: Mechanism) -> Step {
    match mechanism {
        Mechanism::Netem => Step::new("netem check", netem::CHECK, Vec::new()),
        Mechanism::Delayer => Step::new(
            "delay check",
            EACH_LAST_LINE,
            vec![queue_rules::CHECK.to_string(), process::alive_script()],
        ),
    }
}

/// Is a sender's share (`peers` receivers) in force by what its [`check`]
/// said? Err with the output when it cannot be read.
pub fn in_force(mechanism: Mechanism, output: &str, peers: usize) -> Result<bool, String> {
    let unreadable = || super::one_line(output);
    match mechanism {
        Mechanism::Netem => {
            let outcome = netem::check_outcome(output).ok_or_else(unreadable)?;
            Ok(netem::in_force(outcome, peers))
        }
        Mechanism::Delayer => {
            let mut said = output.lines();
            let outcome = said.next().and_then(queue_rules::check_outcome);
            let alive = said.next().and_then(process::alive_outcome);
            let (Some(outcome), Some(alive)) = (outcome, alive) else {
                return Err(unreadable());
            };
            Ok(alive && queue_rules::share_in_force(outcome, peers))
        }
    }
}

/// Take the shaping of ours off a node in one round trip: netem's qdisc,
/// the delayer's rules, the delayer (the rules before the delayer, so no
/// packet waits for a queue about to close). `known`: the mechanism the
/// cluster uses, when this process knows it (a run's undo), so only its
/// parts are looked for; None (a heal's sweep after a crash) looks for
/// both. Read it with [`unshaped`], given the same `known`.
pub fn unshape(known: Option<Mechanism>) -> Step {
    let mut scripts = Vec::new();
    if known != Some(Mechanism::Delayer) {
        scripts.push(netem::HEAL.to_string());
    }
    if known != Some(Mechanism::Netem) {
        scripts.push(queue_rules::HEAL.to_string());
        scripts.push(process::stop_script());
    }
    Step::new("unshape", EACH_LAST_LINE, scripts)
}

/// What an [`unshape`] took off, as `removed ...` (None: nothing was
/// there); Err naming the part whose output cannot be read.
pub fn unshaped(known: Option<Mechanism>, output: &str) -> Result<Option<String>, String> {
    let mut said = output.lines();
    let mut next = |what: &str| {
        said.next()
            .ok_or_else(|| format!("{what} said nothing: {}", super::one_line(output)))
    };
    let mut went = Vec::new();
    if known != Some(Mechanism::Delayer) {
        let netem_said = next("netem heal")?;
        match netem::heal_outcome(netem_said) {
            Some(Some(n)) => went.push(format!(
                "the netem qdisc {} on {n} interface",
                netem::HANDLE
            )),
            Some(None) => {}
            None => return Err(format!("netem heal said: {netem_said}")),
        }
    }
    if known != Some(Mechanism::Netem) {
        let rules_said = next("delay rules heal")?;
        match queue_rules::heal_outcome(rules_said) {
            Some(Some(n)) => went.push(format!("chain {} ({n} rules)", queue_rules::CHAIN)),
            Some(None) => {}
            None => return Err(format!("delay rules heal said: {rules_said}")),
        }
        let delayer_said = next("delayer stop")?;
        match process::stop_outcome(delayer_said) {
            Some(true) => went.push("the delayer".into()),
            Some(false) => {}
            None => return Err(format!("delayer stop said: {delayer_said}")),
        }
    }
    Ok((!went.is_empty()).then(|| format!("removed {}", went.join(", "))))
}

/// `chaos netdelay`'s arguments for `netem` (what [`Netem::delayer_lacks`]
/// allows): every part given, the rest at the delayer's defaults.
fn delayer_args(netem: &Netem, seed: u64) -> Vec<String> {
    let mut args = vec!["--queue".to_string(), QUEUE.to_string()];
    let mut add = |flag: &str, value: String| {
        args.push(flag.to_string());
        args.push(value);
    };
    if let Some(delay) = netem.delay {
        add("--delay", format!("{}us", delay.as_micros()));
    }
    if let Some(jitter) = netem.jitter {
        add("--jitter", format!("{}us", jitter.as_micros()));
        add("--distribution", netem.distribution.name().to_string());
    }
    for (flag, share) in [
        ("--loss", netem.loss),
        ("--duplicate", netem.duplicate),
        ("--reorder", netem.reorder),
    ] {
        if let Some(share) = share {
            add(flag, share.to_string());
        }
    }
    add("--seed", seed.to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delayer_gets_every_part_of_the_netem() {
        let netem: Netem = "100ms~20ms/normal/loss=3%/duplicate=1%/reorder=10%"
            .parse()
            .unwrap();
        assert_eq!(
            delayer_args(&netem, 2).join(" "),
            "--queue 3140 --delay 100000us --jitter 20000us --distribution normal --loss 3% --duplicate 1% --reorder 10% --seed 2"
        );
        let plain: Netem = "duplicate=5%".parse().unwrap();
        assert_eq!(
            delayer_args(&plain, 0).join(" "),
            "--queue 3140 --duplicate 5% --seed 0"
        );
    }

    #[test]
    fn the_delayer_starts_before_its_rules_queue_anything() {
        let netem: Netem = "10ms".parse().unwrap();
        let peers = ["10.0.0.2".to_string()];
        let steps = apply_steps(Mechanism::Delayer, &netem, 1, &peers);
        let whats: Vec<&str> = steps.iter().map(|s| s.what).collect();
        assert_eq!(whats, ["delayer", "delay rules"]);
        assert_eq!(steps[0].args[0], CHAOS_IN_SIDECAR);
        assert_eq!(steps[1].args, [queue_rules::rules(QUEUE, &peers)]);
        let netem_steps = apply_steps(Mechanism::Netem, &netem, 1, &peers);
        assert_eq!(netem_steps.len(), 1);
        assert_eq!(netem_steps[0].script, netem::APPLY);
    }

    #[test]
    fn only_the_delayer_is_refused_what_it_cannot_do() {
        let pareto: Netem = "100ms~20ms/pareto".parse().unwrap();
        let e = refuse_what_the_delayer_cannot(
            Mechanism::Delayer,
            "delay",
            &pareto,
            "the pods' kernel",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("the pods' kernel has no netem"), "{e}");
        assert!(e.contains("pareto"), "{e}");
        assert!(refuse_what_the_delayer_cannot(Mechanism::Netem, "delay", &pareto, "k").is_ok());
        let plain: Netem = "100ms~20ms/normal".parse().unwrap();
        assert!(refuse_what_the_delayer_cannot(Mechanism::Delayer, "delay", &plain, "k").is_ok());
    }

    #[test]
    fn the_looks_and_the_heal_are_read() {
        assert_eq!(
            mechanism("netem yes\ntables: normal\n"),
            Some(Mechanism::Netem)
        );
        assert_eq!(
            mechanism("netem no: tc qdisc add: Unknown qdisc \"netem\"\n"),
            Some(Mechanism::Delayer)
        );
        assert_eq!(mechanism("sh: tc: Permission denied\n"), None);
        let delayer = Mechanism::Delayer;
        assert_eq!(in_force(delayer, "hooks 1 queued 2\nalive\n", 2), Ok(true));
        assert_eq!(in_force(delayer, "hooks 1 queued 2\ngone\n", 2), Ok(false));
        assert_eq!(in_force(delayer, "hooks 1 queued 1\nalive\n", 2), Ok(false));
        assert!(in_force(delayer, "iptables: Permission denied\nalive\n", 2).is_err());
        assert_eq!(
            unshaped(
                None,
                "none\nremoved 2\nstopped: netdelay: passed 3 delayed\n"
            ),
            Ok(Some(
                "removed chain CHAOS-DELAY (2 rules), the delayer".to_string()
            ))
        );
        assert_eq!(unshaped(None, "none\nnone\nnone\n"), Ok(None));
        let e = unshaped(None, "none\niptables-restore: line 2 failed\nnone\n").unwrap_err();
        assert!(e.starts_with("delay rules heal said:"), "{e}");
        // A known mechanism: only its parts, in the same order.
        assert_eq!(unshape(Some(delayer)).args.len(), 2);
        assert_eq!(
            unshaped(Some(delayer), "removed 2\nstopped: \n"),
            Ok(Some(
                "removed chain CHAOS-DELAY (2 rules), the delayer".to_string()
            ))
        );
        let netem = Mechanism::Netem;
        assert_eq!(unshape(Some(netem)).args, [netem::HEAL]);
        assert_eq!(
            unshaped(Some(netem), "removed 1\n"),
            Ok(Some(
                "removed the netem qdisc c4b0: on 1 interface".to_string()
            ))
        );
        let e = unshaped(Some(delayer), "removed 2\n").unwrap_err();
        assert!(e.starts_with("delayer stop said nothing"), "{e}");
    }
}
