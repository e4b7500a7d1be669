//! Delay, jitter, loss, duplication and reordering (`delay`, `duplicate`,
//! `reorder`, `slow-node`, `flaky-node`) on a Docker cluster, through the
//! same sidecars as partitions, on each sender's packets to its peers on
//! the fault's links.
//!
//! Two ways, one per cluster, asked once ([`DockerCluster::shaping`]):
//! `tc netem` where the nodes' kernel has it (the shared scripts of
//! `chaos_nemeses::netem`), else the NFQUEUE delayer (`chaos netdelay`,
//! the executable mounted into every sidecar) behind the rules of
//! `chaos_netdelay::iptables`. The nodes of a Docker cluster share the
//! host's kernel, so one probe in one node answers for all. Only peer
//! addresses are named, so the harness's own path is untouched.

use chaos_nemeses::netem::{self, Netem};
use chaos_nemeses::shaping::Mechanism;
use chaos_nemeses::{ClusterError, Links};
use chaos_netdelay::{iptables as queue_rules, process};
use futures_util::future::join_all;

use super::cluster::DockerCluster;
use super::faults::addresses;
use super::quality::names;
use super::sidecar::{self, CHAOS_IN_SIDECAR};
use super::{one_line, DockerError};

/// Runs each argument as a script and prints its last line (its outcome,
/// or its error), one line per script, in order. Each in a subshell of
/// this one, its last line cut by the shell itself: no `sh` or `tail` to
/// start per script, which is most of what a heal on every node at once
/// costs.
const EACH_LAST_LINE: &str = r#"nl='
'
for script in "$@"; do
  said=$( (set --; eval "$script") 2>&1 )
  said=${said##*"$nl"}
  printf '%s\n' "${said:-(nothing)}"
done"#;

/// The NFQUEUE the delayer reads (queues are per network namespace, and
/// each node's is its own).
const QUEUE: u16 = 3140;

impl DockerCluster {
    /// How this cluster shapes traffic: netem if the nodes' kernel has it,
    /// else the delayer. Asked in the first running node's sidecar the
    /// first time, then remembered.
    pub async fn shaping(&self) -> Result<Mechanism, ClusterError> {
        if let Some(known) = *self.mechanism.lock().expect("mechanism lock") {
            return Ok(known);
        }
        let (nodes, sidecars) = self.look_all().await?;
        let node = nodes.iter().find(|n| n.has_netns()).ok_or_else(|| {
            ClusterError::Backend(format!(
                "no node of {} is running to ask whether its kernel has netem",
                self.name()
            ))
        })?;
        let id = sidecar::ensure(self.docker(), node, self.run_id(), &sidecars).await?;
        let output = sidecar::run(
            self.docker(),
            &self.sessions,
            &id,
            "netem probe",
            netem::PROBE,
        )
        .await?;
        let mechanism = match netem::probe_outcome(&output) {
            Some(Ok(_)) => Mechanism::Netem,
            Some(Err(_)) => Mechanism::Delayer,
            None => {
                return Err(ClusterError::Backend(format!(
                    "cannot tell whether {}'s kernel has netem: {}",
                    node.name,
                    one_line(&output)
                )))
            }
        };
        *self.mechanism.lock().expect("mechanism lock") = Some(mechanism);
        Ok(mechanism)
    }

    /// Before a run: can this cluster carry out each of `faults` (a name
    /// and its netem)? The mechanism, or one line naming the first fault
    /// it cannot and why, so no run claims a shaping it did not inject.
    pub async fn check_shaping(
        &self,
        faults: &[(String, Netem)],
    ) -> Result<Mechanism, ClusterError> {
        let mechanism = self.shaping().await?;
        for (name, netem) in faults {
            refuse_what_the_delayer_cannot(mechanism, name, netem)?;
        }
        Ok(mechanism)
    }

    /// Put `netem` on `links`: on each running node, its packets to its
    /// peers on the links.
    pub(crate) async fn install_shaping(
        &self,
        links: &Links,
        netem: &Netem,
    ) -> Result<(), ClusterError> {
        let mechanism = self.shaping().await?;
        refuse_what_the_delayer_cannot(mechanism, &netem.to_string(), netem)?;
        let (nodes, sidecars) = self.look(links).await?;
        let out = links.out_of_each(&names(&nodes));
        let jobs = nodes.iter().filter(|n| n.has_netns()).map(|node| {
            let (nodes, sidecars, out) = (&nodes, &sidecars, &out);
            async move {
                let receivers = out.get(&node.name).into_iter().flatten();
                let peers = addresses(nodes, receivers.map(String::as_str))?;
                if peers.is_empty() {
                    if let Some(s) = sidecars.iter().find(|s| s.serves(node)) {
                        self.unshape(&s.id).await?;
                    }
                    return Ok(());
                }
                let id = sidecar::ensure(self.docker(), node, self.run_id(), sidecars).await?;
                match mechanism {
                    Mechanism::Netem => {
                        let script = sidecar::with_args(netem::APPLY, &netem::args(netem, &peers));
                        sidecar::run(self.docker(), &self.sessions, &id, "netem", &script).await?;
                    }
                    Mechanism::Delayer => {
                        let seed = nodes.iter().position(|n| n.name == node.name).unwrap_or(0);
                        let mut args = vec![CHAOS_IN_SIDECAR.to_string()];
                        args.extend(delayer_args(netem, seed as u64));
                        let start = sidecar::with_args(&process::start_script(), &args);
                        sidecar::run(self.docker(), &self.sessions, &id, "delayer", &start).await?;
                        let rules = queue_rules::rules(QUEUE, &peers);
                        let apply = sidecar::with_args(queue_rules::APPLY, &[rules]);
                        sidecar::run(self.docker(), &self.sessions, &id, "delay rules", &apply)
                            .await?;
                    }
                }
                Ok(())
            }
        });
        self.all_done(format!("{netem} {links}"), &nodes, join_all(jobs).await)
    }

    /// Take every shaping of ours off the node of sidecar `id`, whichever
    /// way it was made: netem's qdisc, the delayer's rules, the delayer.
    /// One line for what went, if anything did.
    async fn unshape(&self, id: &str) -> Result<Option<String>, DockerError> {
        // Only the mechanism this cluster uses, once it is known (a run's
        // undo); both when it is not (a heal's sweep after a crash).
        let known = *self.mechanism.lock().expect("mechanism lock");
        let netem = known != Some(Mechanism::Delayer);
        let delayer = known != Some(Mechanism::Netem);
        // One round trip for all: the rules before the delayer, so no
        // packet waits for a queue about to close.
        let mut scripts = Vec::new();
        if netem {
            scripts.push(netem::HEAL.to_string());
        }
        if delayer {
            scripts.push(queue_rules::HEAL.to_string());
            scripts.push(process::stop_script());
        }
        let script = sidecar::with_args(EACH_LAST_LINE, &scripts);
        let output = sidecar::run(self.docker(), &self.sessions, id, "unshape", &script).await?;
        let mut said = output.lines();
        let mut next = |what: &str| said.next().ok_or_else(|| unreadable(what, &output));
        let mut went = Vec::new();
        if netem {
            let netem_said = next("netem heal")?;
            match netem::heal_outcome(netem_said) {
                Some(Some(n)) => went.push(format!(
                    "the netem qdisc {} on {n} interface",
                    netem::HANDLE
                )),
                Some(None) => {}
                None => return Err(unreadable("netem heal", netem_said)),
            }
        }
        if delayer {
            let rules_said = next("delay rules heal")?;
            match queue_rules::heal_outcome(rules_said) {
                Some(Some(n)) => went.push(format!("chain {} ({n} rules)", queue_rules::CHAIN)),
                Some(None) => {}
                None => return Err(unreadable("delay rules heal", rules_said)),
            }
            let delayer_said = next("delayer stop")?;
            match process::stop_outcome(delayer_said) {
                Some(true) => went.push("the delayer".into()),
                Some(false) => {}
                None => return Err(unreadable("delayer stop", delayer_said)),
            }
        }
        Ok((!went.is_empty()).then(|| format!("removed {}", went.join(", "))))
    }

    /// Remove every shaping of ours; see [`DockerCluster::heal_nodes`] for
    /// `look_everywhere`. One line per node something went from.
    pub async fn heal_shaping_nodes(
        &self,
        look_everywhere: bool,
    ) -> Result<Vec<String>, DockerError> {
        self.heal_on_sidecars(
            look_everywhere,
            |id, _| async move { self.unshape(&id).await },
        )
        .await
    }

    /// Is each running node's share of the shaping on `links` in force:
    /// netem's leaf and one filter per peer, or the delayer's rules (one
    /// per peer) and the delayer alive?
    pub(crate) async fn shaping_in_force(&self, links: &Links) -> Result<bool, DockerError> {
        let mechanism = self.shaping().await?;
        self.senders_in_force(links, |s, peers| async move {
            match mechanism {
                Mechanism::Netem => {
                    let output = sidecar::run(
                        self.docker(),
                        &self.sessions,
                        &s.id,
                        "netem check",
                        netem::CHECK,
                    )
                    .await?;
                    let outcome = netem::check_outcome(&output)
                        .ok_or_else(|| unreadable("netem check", &output))?;
                    Ok(netem::in_force(outcome, peers))
                }
                Mechanism::Delayer => {
                    // The rules and the delayer in one round trip: a run
                    // looks every second.
                    let scripts = [queue_rules::CHECK.to_string(), process::alive_script()];
                    let script = sidecar::with_args(EACH_LAST_LINE, &scripts);
                    let output =
                        sidecar::run(self.docker(), &self.sessions, &s.id, "delay check", &script)
                            .await?;
                    let mut said = output.lines();
                    let outcome = said.next().and_then(queue_rules::check_outcome);
                    let alive = said.next().and_then(process::alive_outcome);
                    let (Some(outcome), Some(alive)) = (outcome, alive) else {
                        return Err(unreadable("delay check", &output));
                    };
                    Ok(alive && queue_rules::share_in_force(outcome, peers))
                }
            }
        })
        .await
    }
}

/// A shaping `netem` (named `fault`) refused in one line where it would
/// fall to the delayer and the delayer cannot do all of it.
fn refuse_what_the_delayer_cannot(
    mechanism: Mechanism,
    fault: &str,
    netem: &Netem,
) -> Result<(), ClusterError> {
    match netem.delayer_lacks() {
        Some(lacks) if mechanism == Mechanism::Delayer => Err(ClusterError::Unsupported {
            fault: fault.to_string(),
            reason: format!(
                "the Docker host's kernel has no netem, and the NFQUEUE delayer that stands in for it cannot do {lacks}: leave it out, or run on a kernel with sch_netem"
            ),
        }),
        _ => Ok(()),
    }
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

fn unreadable(what: &str, output: &str) -> DockerError {
    DockerError::Harness(format!("{what} said: {}", one_line(output)))
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
}
