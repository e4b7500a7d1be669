//! The netem scripts (chaos_nemeses::netem) on a real kernel, measured:
//! a VM (tests/vm) boots Debian's stock kernel, which has sch_netem, and
//! joins two network namespaces with a veth pair. In the sender's, the
//! very APPLY, CHECK, HEAL and PROBE texts the harness runs install each
//! netem towards one address of the receiver, and pings measure what the
//! packets went through: the round trip's median under a delay, the loss
//! rate with its 95 % interval, duplicates, replies out of order. The
//! receiver's second address is never named, and pings to it show the
//! bypass. After HEAL everything is as before, and nothing of ours is left.
//!
//! Also here, without a VM: PROBE on this host's kernel (which may lack
//! netem) says what the kernel's own configuration says, and leaves nothing.

mod vm;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chaos_nemeses::disk::with_args;
use chaos_nemeses::netem::{self, Distribution, Netem};
use vm::Fact;

/// The VM boots and runs the scenario in about 30 s (TCG, 2 cores), most
/// of it the pings' own time.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
const SENDER: &str = "10.9.0.1";
/// The receiver's address that the netem names.
const PEER: &str = "10.9.0.2";
/// The receiver's other address: its packets take the bypass.
const OTHER: &str = "10.9.0.3";

/// Pings per measurement, and their interval: enough that the rates'
/// intervals are narrow (600 at 20 % loss: ± 3.2 points), few enough that
/// the VM stays quick.
const LOSS_PINGS: usize = 600;
const SHARE_PINGS: usize = 200;
const RTT_PINGS: usize = 50;

/// The sender's script, run under dash in the sender's namespace: busybox's
/// shell would run its own `tc` and `ip` applets, which know no netem.
struct Guest(String);

impl Guest {
    fn new() -> Guest {
        // `ping_fact LABEL COUNT INTERVAL ADDRESS`: one line per reply,
        // `SEQ MS` or `SEQ MS (DUP!)`, and ping's summary.
        Guest(
            r#"fact() { echo "@@ $1 rc=$2 $(printf '%s' "$3" | tr '\n' '|')"; }
ping_fact() {
  out=$(ping -c "$2" -i "$3" -W 1 "$4" 2>&1)
  rc=$?
  fact "$1" $rc "$(printf '%s\n' "$out" | sed -n -e 's/.* seq=\([0-9]*\) .*time=\([0-9.]*\) ms\(.*\)/\1 \2\3/p' -e '/transmitted/p')"
}
"#
            .to_string(),
        )
    }

    /// Run one of the library's scripts with its arguments, in a subshell.
    fn run(&mut self, label: &str, script: &str, args: &[String]) {
        let text = with_args(script, args);
        self.0.push_str(&format!(
            "out=$( (\n{text}\n) 2>&1 )\nfact {label} $? \"$out\"\n"
        ));
    }

    fn shell(&mut self, label: &str, command: &str) {
        self.0.push_str(&format!(
            "out=$({command} 2>&1)\nfact {label} $? \"$out\"\n"
        ));
    }

    fn ping(&mut self, label: &str, count: usize, interval: &str, to: &str) {
        self.0
            .push_str(&format!("ping_fact {label} {count} {interval} {to}\n"));
    }

    /// APPLY `spec` towards the peer, then CHECK: facts `LABEL` and
    /// `LABEL-check`.
    fn apply(&mut self, label: &str, spec: &str) {
        let netem: Netem = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
        self.run(label, netem::APPLY, &netem::args(&netem, &[PEER.into()]));
        self.run(&format!("{label}-check"), netem::CHECK, &[]);
    }
}

fn scenario() -> String {
    let mut g = Guest::new();
    g.run("probe", netem::PROBE, &[]);
    g.shell("links-after-probe", "ip -o link show");
    g.ping("base", 20, "0.01", PEER);

    g.apply("delay", "100ms");
    g.ping("delay-ping", RTT_PINGS, "0.02", PEER);
    g.ping("bypass-ping", 20, "0.01", OTHER);

    // A new netem replaces the old in one batch.
    g.apply("jitter", "100ms~20ms/normal");
    g.ping("jitter-ping", RTT_PINGS, "0.02", PEER);

    g.apply("loss", "loss=20%");
    g.ping("loss-ping", LOSS_PINGS, "0.003", PEER);

    g.apply("bursts", "loss=20%/correlation=75%");
    g.ping("bursts-ping", LOSS_PINGS, "0.003", PEER);

    g.apply("duplicate", "duplicate=20%");
    g.ping("duplicate-ping", SHARE_PINGS, "0.005", PEER);

    // Pings every 5 ms under a 10 ms delay: one sent at once overtakes
    // the one or two before it.
    g.apply("reorder", "10ms/reorder=25%");
    g.ping("reorder-ping", SHARE_PINGS, "0.005", PEER);

    g.run("heal", netem::HEAL, &[]);
    g.run("check-after-heal", netem::CHECK, &[]);
    g.run("heal-again", netem::HEAL, &[]);

    // Someone else's root qdisc is refused, and left as it was.
    g.shell("foreign", "tc qdisc add dev va root handle 1: pfifo");
    let delay = netem::args(&Netem::delayed(Duration::from_millis(100)), &[PEER.into()]);
    g.run("apply-on-foreign", netem::APPLY, &delay);
    g.shell("foreign-after", "tc qdisc show dev va");
    g.run("heal-on-foreign", netem::HEAL, &[]);
    g.shell("foreign-removed", "tc qdisc del dev va root");

    g.shell("qdiscs-after", "tc qdisc show");
    g.ping("after-ping", 20, "0.01", PEER);

    // The receiver's namespace `b` has the addresses; the sender's `a`
    // runs everything else. All under dash (busybox's shell would run its
    // own `ip`).
    format!(
        r#"cat >/tmp/netem.sh <<'__NETEM__'
out=$( (
set -e
ip netns add a
ip netns add b
ip link add va netns a type veth peer name vb netns b
ip -n a addr add {SENDER}/24 dev va
ip -n a link set lo up
ip -n a link set va up
ip -n b addr add {PEER}/24 dev vb
ip -n b addr add {OTHER}/24 dev vb
ip -n b link set lo up
ip -n b link set vb up
) 2>&1 )
echo "@@ setup rc=$? $(printf '%s' "$out" | tr '\n' '|')"
cat >/tmp/sender.sh <<'__SENDER__'
{}__SENDER__
ip netns exec a dash /tmp/sender.sh
__NETEM__
exec dash /tmp/netem.sh
"#,
        g.0
    )
}

/// The facts, with the console kept for the failure messages.
struct Console {
    facts: HashMap<String, Fact>,
    text: String,
}

impl Console {
    fn get(&self, label: &str) -> &Fact {
        self.facts
            .get(label)
            .unwrap_or_else(|| panic!("no fact `{label}` on the console:\n{}", self.text))
    }

    fn ok(&self, label: &str) -> &str {
        let fact = self.get(label);
        assert_eq!(fact.rc, 0, "{label} failed: {}", fact.text);
        &fact.text
    }

    /// A step's output as lines (the guest joined them with `|`).
    fn output(&self, label: &str) -> String {
        self.ok(label).replace('|', "\n")
    }

    /// An APPLY towards the one peer, and the CHECK after it: the netem in
    /// force, as the kernel reports its options.
    fn applied(&self, label: &str) -> String {
        assert_eq!(
            netem::apply_outcome(&self.output(label)),
            Some(1),
            "{label}"
        );
        let check = self.output(&format!("{label}-check"));
        let outcome = netem::check_outcome(&check);
        assert!(
            outcome.is_some_and(|o| netem::in_force(o, 1)),
            "{label}: {check}"
        );
        check
    }

    fn pings(&self, label: &str) -> Pings {
        let fact = self.get(label);
        Pings::parse(label, &fact.text)
    }
}

/// What one ping run saw.
struct Pings {
    transmitted: usize,
    /// (sequence number, round trip in ms, a duplicate), in arrival order.
    replies: Vec<(u32, f64, bool)>,
}

impl Pings {
    fn parse(label: &str, text: &str) -> Pings {
        let mut transmitted = None;
        let mut replies = Vec::new();
        for line in text.split('|') {
            if let Some((n, _)) = line.split_once(" packets transmitted") {
                transmitted = n.trim().parse().ok();
                continue;
            }
            let w: Vec<&str> = line.split_whitespace().collect();
            match w[..] {
                [seq, ms, ..] => replies.push((
                    seq.parse().unwrap_or_else(|_| panic!("{label}: {line}")),
                    ms.parse().unwrap_or_else(|_| panic!("{label}: {line}")),
                    line.contains("DUP!"),
                )),
                _ => panic!("{label}: not a reply: {line:?} in {text}"),
            }
        }
        Pings {
            transmitted: transmitted.unwrap_or_else(|| panic!("{label}: no summary: {text}")),
            replies,
        }
    }

    fn originals(&self) -> impl Iterator<Item = &(u32, f64, bool)> {
        self.replies.iter().filter(|r| !r.2)
    }

    fn rtts(&self) -> Vec<f64> {
        let mut rtts: Vec<f64> = self.originals().map(|r| r.1).collect();
        rtts.sort_by(f64::total_cmp);
        rtts
    }

    fn median(&self) -> f64 {
        let rtts = self.rtts();
        assert!(!rtts.is_empty(), "no replies");
        rtts[rtts.len() / 2]
    }

    fn lost(&self) -> usize {
        self.transmitted - self.originals().count()
    }

    fn duplicates(&self) -> usize {
        self.replies.iter().filter(|r| r.2).count()
    }

    /// Replies that arrived after one with a higher sequence number.
    fn out_of_order(&self) -> usize {
        let mut highest = None;
        let mut late = 0;
        for &(seq, _, _) in self.originals() {
            match highest {
                Some(h) if seq < h => late += 1,
                _ => highest = Some(seq),
            }
        }
        late
    }

    /// The lengths of the runs of consecutive lost sequence numbers.
    fn loss_runs(&self) -> Vec<usize> {
        let mut got = vec![false; self.transmitted];
        for &(seq, _, _) in self.originals() {
            got[seq as usize] = true;
        }
        let mut runs = Vec::new();
        let mut run = 0;
        for received in got {
            match (received, run) {
                (true, 0) => {}
                (true, _) => runs.push(std::mem::take(&mut run)),
                (false, _) => run += 1,
            }
        }
        if run > 0 {
            runs.push(run);
        }
        runs
    }
}

/// Wilson's 95 % interval for `hits` of `n`.
fn interval(hits: usize, n: usize) -> (f64, f64) {
    let (z, n, p) = (1.96_f64, n as f64, hits as f64 / n as f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (centre - half, centre + half)
}

fn standard_deviation(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let square = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    (square / (values.len() - 1) as f64).sqrt()
}

#[test]
fn netem_delays_loses_duplicates_and_reorders_on_a_real_kernel() {
    let test = "netem_vm";
    let Some(vm) = vm::prepare(test, &scenario()) else {
        return;
    };
    let booted = Instant::now();
    let text = vm::boot(&vm, BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(!vm::running(&vm), "QEMU outlived the VM");
    eprintln!(
        "{test}: kernel {}; prepared in {:.1?}, booted and measured in {:.1?}",
        vm.release,
        vm.prepared_in,
        booted.elapsed()
    );
    let c = Console {
        facts: vm::facts(&text),
        text,
    };
    assert_eq!(c.ok("booted"), vm.release);
    c.ok("setup");
    assert_eq!(c.get("finished").rc, 0);

    // The stock kernel has netem, and the probe leaves no interface.
    let probe = netem::probe_outcome(&c.output("probe"));
    let Some(Ok(tables)) = probe else {
        panic!("the probe said: {}", c.get("probe").text)
    };
    assert!(tables.contains(&Distribution::Normal), "{tables:?}");
    let links = c.output("links-after-probe");
    assert_eq!(links.lines().count(), 2, "lo and va only: {links}");
    assert!(!links.contains("c4b-probe"), "{links}");

    let base = c.pings("base");
    eprintln!(
        "{test}: no netem: median round trip {:.2} ms",
        base.median()
    );
    assert_eq!(base.lost(), 0);

    // delay 100ms: the median round trip within 10 % of 100 ms, replies in
    // order; the address the netem does not name is not delayed.
    let check = c.applied("delay");
    assert!(check.contains("delay 100ms"), "{check}");
    let delay = c.pings("delay-ping");
    let median = delay.median();
    eprintln!(
        "{test}: delay 100ms: median round trip {median:.1} ms over {} replies (min {:.1}, max {:.1})",
        delay.rtts().len(),
        delay.rtts()[0],
        delay.rtts().last().unwrap()
    );
    assert!((90.0..=110.0).contains(&median), "median {median} ms");
    assert_eq!(delay.lost(), 0);
    assert_eq!(delay.out_of_order(), 0, "a fixed delay keeps the order");
    let bypass = c.pings("bypass-ping");
    eprintln!(
        "{test}: the other address meanwhile: median {:.2} ms",
        bypass.median()
    );
    assert!(bypass.median() < 20.0, "{}", bypass.median());

    // Jitter, normal: the same median, a spread of about 20 ms.
    let check = c.applied("jitter");
    assert!(
        check.contains("delay 100ms") && check.contains("20ms"),
        "{check}"
    );
    let jitter = c.pings("jitter-ping");
    let (median, spread) = (jitter.median(), standard_deviation(&jitter.rtts()));
    eprintln!(
        "{test}: delay 100ms~20ms normal: median {median:.1} ms, standard deviation {spread:.1} ms"
    );
    assert!((90.0..=110.0).contains(&median), "median {median} ms");
    assert!(
        (10.0..=30.0).contains(&spread),
        "standard deviation {spread} ms"
    );

    // loss 20%: the 95 % interval of the rate excludes 10 % and 30 %.
    let check = c.applied("loss");
    assert!(check.contains("loss 20%"), "{check}");
    let loss = c.pings("loss-ping");
    let (low, high) = interval(loss.lost(), loss.transmitted);
    eprintln!(
        "{test}: loss 20%: {} of {} lost ({:.1} %, 95 % interval {:.1}-{:.1} %), mean run {:.2}",
        loss.lost(),
        loss.transmitted,
        100.0 * loss.lost() as f64 / loss.transmitted as f64,
        100.0 * low,
        100.0 * high,
        mean(&loss.loss_runs())
    );
    assert_eq!(loss.transmitted, LOSS_PINGS);
    assert!(low > 0.10 && high < 0.30, "{low}-{high}");

    // In bursts: after a loss the next is lost with 75 %, so the mean run
    // is 4 (1.25 for independent losses), the long-run share still 20 %.
    // The losses are not independent, so no binomial interval: bounds at
    // about three standard deviations of such a chain over 600 packets.
    let check = c.applied("bursts");
    assert!(check.contains("loss gemodel"), "{check}");
    let bursts = c.pings("bursts-ping");
    eprintln!(
        "{test}: loss 20% correlation 75%: {} of {} lost ({:.1} %), mean run {:.2}",
        bursts.lost(),
        bursts.transmitted,
        100.0 * bursts.lost() as f64 / bursts.transmitted as f64,
        mean(&bursts.loss_runs())
    );
    let share = bursts.lost() as f64 / bursts.transmitted as f64;
    assert!((0.08..=0.32).contains(&share), "{share}");
    assert!(mean(&bursts.loss_runs()) > 2.0, "{:?}", bursts.loss_runs());

    // duplicate 20%: ping sees DUP! replies, about a fifth of them.
    let check = c.applied("duplicate");
    assert!(check.contains("duplicate 20%"), "{check}");
    let duplicate = c.pings("duplicate-ping");
    let share = duplicate.duplicates() as f64 / duplicate.transmitted as f64;
    eprintln!(
        "{test}: duplicate 20%: {} duplicates of {} ({:.1} %)",
        duplicate.duplicates(),
        duplicate.transmitted,
        100.0 * share
    );
    assert_eq!(duplicate.lost(), 0);
    assert!((0.10..=0.30).contains(&share), "{share}");

    // reorder 25% under 10 ms: replies arrive out of order.
    let check = c.applied("reorder");
    assert!(check.contains("reorder 25%"), "{check}");
    let reorder = c.pings("reorder-ping");
    eprintln!(
        "{test}: delay 10ms reorder 25%: {} of {} replies arrived after a later one",
        reorder.out_of_order(),
        reorder.originals().count()
    );
    assert_eq!(reorder.lost(), 0);
    assert!(reorder.out_of_order() >= 10, "{}", reorder.out_of_order());

    // HEAL removes ours, once.
    assert_eq!(netem::heal_outcome(&c.output("heal")), Some(Some(1)));
    assert_eq!(
        netem::check_outcome(&c.output("check-after-heal")),
        Some((0, 0))
    );
    assert_eq!(netem::heal_outcome(&c.output("heal-again")), Some(None));

    // Someone else's root qdisc: refused in one line naming it, untouched
    // by APPLY and HEAL.
    c.ok("foreign");
    let refused = c.get("apply-on-foreign");
    assert_ne!(refused.rc, 0, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("va has a root qdisc that is not ours, left alone: pfifo 1:"),
        "{}",
        refused.text
    );
    assert!(c.ok("foreign-after").contains("qdisc pfifo 1: root"));
    assert_eq!(
        netem::heal_outcome(&c.output("heal-on-foreign")),
        Some(None)
    );
    c.ok("foreign-removed");

    // Nothing of ours is left, and the link is as it was.
    let qdiscs = c.output("qdiscs-after");
    assert!(
        !qdiscs.contains("c4b0:") && !qdiscs.contains("c4b1:") && !qdiscs.contains("netem"),
        "{qdiscs}"
    );
    let after = c.pings("after-ping");
    eprintln!("{test}: after HEAL: median {:.2} ms", after.median());
    assert_eq!(after.lost(), 0);
    assert_eq!(after.duplicates(), 0);
    assert!(after.median() < 20.0, "{}", after.median());
}

fn mean(values: &[usize]) -> f64 {
    values.iter().sum::<usize>() as f64 / values.len().max(1) as f64
}

/// Does this kernel's own description say it has netem? Some(true) when it
/// is built in, loaded, or a module that is installed; Some(false) when the
/// configuration says it is not set; None when nothing says.
fn kernel_says_netem() -> Option<bool> {
    if std::path::Path::new("/sys/module/sch_netem").exists() {
        return Some(true);
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let modules = std::path::Path::new("/lib/modules").join(release.trim());
    let listed = |file: &str| {
        std::fs::read_to_string(modules.join(file)).is_ok_and(|t| t.contains("sch_netem.ko"))
    };
    if listed("modules.builtin") || listed("modules.dep") {
        return Some(true);
    }
    let config = Command::new("sh")
        .args(["-c", "zcat /proc/config.gz 2>/dev/null"])
        .output()
        .ok()?;
    let config = String::from_utf8_lossy(&config.stdout);
    if config.contains("# CONFIG_NET_SCH_NETEM is not set") {
        return Some(false);
    }
    config.contains("CONFIG_NET_SCH_NETEM=y").then_some(true)
}

#[test]
fn the_probe_on_this_hosts_kernel_says_what_its_config_says_and_leaves_nothing() {
    let test = "netem_probe_host";
    let root = Command::new("id").arg("-u").output();
    if !root.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0") {
        eprintln!("SKIPPED {test}: not root (the probe needs NET_ADMIN to make its veth pair)");
        return;
    }
    // In a network namespace of its own: what is left afterwards is then
    // exactly what the probe left (a fresh one has lo and nothing else).
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c"])
        .arg(r#"sh -c "$1"; echo "@@ rc=$?"; ip -o link show; echo "@@ qdiscs"; tc qdisc show"#)
        .args(["sh", netem::PROBE])
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            eprintln!("SKIPPED {test}: no network namespace of its own: {stderr}");
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: unshare does not run: {e}");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (said, rest) = stdout.split_once("@@ rc=").expect("the rc line");
    let (links, qdiscs) = rest.split_once("@@ qdiscs").expect("the qdiscs line");
    assert!(links.starts_with("0\n"), "the probe failed: {stdout}");
    let links: Vec<&str> = links.lines().skip(1).collect();
    assert_eq!(links.len(), 1, "only lo: {links:?}");
    assert!(links[0].contains(": lo:"), "{links:?}");
    assert!(!qdiscs.contains("c4b"), "{qdiscs}");

    let outcome =
        netem::probe_outcome(said).unwrap_or_else(|| panic!("not a probe's answer: {said}"));
    let expected = kernel_says_netem();
    eprintln!(
        "{test}: kernel {}: the probe says {}; the kernel's configuration says {expected:?}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        said.trim().replace('\n', "; ")
    );
    if let Some(expected) = expected {
        assert_eq!(outcome.is_ok(), expected, "{said}");
    }
}
