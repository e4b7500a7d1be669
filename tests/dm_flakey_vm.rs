//! The dm-flakey scripts (chaos_nemeses::disk::dm_flakey) on a real kernel:
//! a VM (tests/vm) boots Debian's stock kernel, and a script made of the
//! very CREATE, SWITCH and REMOVE texts the harness runs puts a flakey
//! device over a loop device, switches it through every mode and checks
//! with direct I/O (`dd oflag=direct`/`iflag=direct`, so the page cache
//! hides nothing) what each mode promises; then removes it all.
//!
//! And a node's life on such a device (chaos_nemeses::disk::dm_node), in a
//! second VM: the node's very entrypoint makes, formats and mounts its disk,
//! a fault fails a write and its heal keeps the data, a restart finds the
//! disk again, a power cut done the way a Docker run does it (the node
//! frozen, its device switched to drop writes, the node killed in its own
//! mount namespace) keeps what was fsynced and loses what was not, and the
//! helper's removal leaves no device behind.

mod vm;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chaos_nemeses::disk::dm_flakey::{self, Direction, Fault, Mode};
use chaos_nemeses::disk::dm_node::{self, Start};
use chaos_nemeses::disk::with_args;
use vm::Fact;

/// The VM boots and runs the scenario in about 10 s (TCG, 2 cores).
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
const DISK_FILE: &str = "/tmp/disk.img";
const DISK_MIB: u64 = 64;

const READ_CORRUPTION: Fault = Fault::Corrupt {
    direction: Direction::Reads,
    nth_byte: 100,
    value: b'Z',
};
const WRITE_CORRUPTION: Fault = Fault::Corrupt {
    direction: Direction::Writes,
    nth_byte: 200,
    value: b'Y',
};

const INTERMITTENT: Mode = Mode::Intermittent {
    fault: Fault::ErrorWrites,
    up_secs: 2,
    down_secs: 60,
};

/// The flakey device of the block scenario, and of the node's.
const DEVICE: &str = "chaos-flakey.vm.blocks";
const NODE_DEVICE: &str = "chaos-flakey.vm.n1";
const NODE_FILE: &str = "/tmp/node.img";
const NODE_DIR: &str = "/mnt/data";

/// The guest's script: helpers, then one fact per step.
struct Guest(String);

impl Guest {
    /// `fact` prints one line.
    fn new() -> Guest {
        Guest(
            r#"export DM_DISABLE_UDEV=1
fact() { echo "@@ $1 rc=$2 $(printf '%s' "$3" | tr '\n' '|')"; }
"#
            .to_string(),
        )
    }

    /// With blocks of one letter each (4096 bytes: one page, a whole
    /// number of sectors, as O_DIRECT wants) to write to the device.
    fn with_blocks() -> Guest {
        let mut g = Guest::new();
        g.0.push_str(&format!(
            r#"dev=/dev/mapper/{DEVICE}
for p in A B; do dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\000' "$p" >/tmp/pat.$p; done
write_block() {{
  out=$(dd if=/tmp/pat.$2 of=$dev bs=4096 count=1 oflag=direct 2>&1)
  fact "$1" $? "$out"
}}
read_block() {{
  out=$(dd if=$dev of=/tmp/got bs=4096 count=1 iflag=direct 2>&1)
  rc=$?
  if [ $rc = 0 ]; then out=$(cmp -l /tmp/got /tmp/pat.$2 | tr -s ' ' | tr '\n' ','); fi
  fact "$1" $rc "$out"
}}
"#
        ));
        g
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

    /// Switch the device to `mode`; the table in force afterwards is the
    /// fact `LABEL-table`.
    fn switch(&mut self, label: &str, mode: Mode) {
        self.switch_device(label, DEVICE, mode);
    }

    fn switch_device(&mut self, label: &str, device: &str, mode: Mode) {
        self.run(
            label,
            dm_flakey::SWITCH,
            &dm_flakey::switch_args(device, mode),
        );
        self.shell(
            &format!("{label}-table"),
            &format!("dmsetup table {device}"),
        );
    }

    /// Write a block of `letter`s at the start of the device.
    fn write(&mut self, label: &str, letter: char) {
        self.0.push_str(&format!("write_block {label} {letter}\n"));
    }

    /// Write blocks of `letter`s once a second until a write fails (ten
    /// tries at most): the fact is the last write's.
    fn write_until_it_fails(&mut self, label: &str, letter: char) {
        self.0.push_str(&format!(
            r#"n=0
while :; do
  out=$(dd if=/tmp/pat.{letter} of=$dev bs=4096 count=1 oflag=direct 2>&1)
  rc=$?
  [ $rc != 0 ] || [ $n -ge 10 ] && break
  n=$((n + 1))
  sleep 1
done
fact {label} $rc "$out"
"#
        ));
    }

    /// Read the first block and compare it with a block of `letter`s: the
    /// fact's text is `cmp -l`'s list of differences.
    fn read(&mut self, label: &str, letter: char) {
        self.0.push_str(&format!("read_block {label} {letter}\n"));
    }
}

fn scenario() -> String {
    assert_eq!(dm_flakey::device_name("vm", "blocks"), DEVICE);
    let mut g = Guest::with_blocks();
    g.run("targets", dm_flakey::TARGETS, &[]);
    let args = dm_flakey::create_args(DEVICE, DISK_FILE, DISK_MIB, Mode::Up);
    g.run("create", dm_flakey::CREATE, &args);
    g.shell("create-table", &format!("dmsetup table {DEVICE}"));
    g.write("up-write", 'A');
    g.read("up-read", 'A');

    g.switch("error-writes", Mode::Down(Fault::ErrorWrites));
    g.write("error-writes-write", 'B');
    g.read("error-writes-read", 'A');

    g.switch("drop-writes", Mode::Down(Fault::DropWrites));
    g.write("drop-writes-write", 'B');
    g.read("drop-writes-read", 'A');

    g.switch("error-all", Mode::Down(Fault::ErrorAll));
    g.read("error-all-read", 'A');
    g.write("error-all-write", 'B');

    // Up for 2 s from the switch, then writes fail (for a minute).
    g.switch("intermittent", INTERMITTENT);
    g.write("intermittent-up-write", 'A');
    g.write_until_it_fails("intermittent-down-write", 'A');

    g.switch("up-again", Mode::Up);
    g.read("up-again-read", 'A');

    g.switch("error-reads", Mode::Down(Fault::ErrorReads));
    g.read("error-reads-read", 'A');
    g.switch("up-after-error-reads", Mode::Up);

    g.switch("corrupt-reads", Mode::Down(READ_CORRUPTION));
    g.read("corrupt-reads-read", 'A');
    g.switch("up-after-corrupt-reads", Mode::Up);
    g.read("after-corrupt-reads-read", 'A');

    g.switch("corrupt-writes", Mode::Down(WRITE_CORRUPTION));
    g.write("corrupt-writes-write", 'B');
    g.switch("up-after-corrupt-writes", Mode::Up);
    g.read("after-corrupt-writes-read", 'B');

    // A switch cut short leaves the device suspended: remove copes.
    g.shell("suspend", &format!("dmsetup suspend {DEVICE}"));
    g.run("remove", dm_flakey::REMOVE, &dm_flakey::remove_args(DEVICE));
    g.shell("devices-left", "dmsetup ls");
    g.shell("loops-left", "losetup -a");
    g.run(
        "remove-again",
        dm_flakey::REMOVE,
        &dm_flakey::remove_args(DEVICE),
    );
    g.0
}

/// The node's entrypoint's arguments, with `program` as the system.
fn node_args(program: &[&str]) -> Vec<String> {
    let mut args = dm_node::start_args(NODE_DEVICE, NODE_FILE, DISK_MIB, NODE_DIR);
    args.extend(program.iter().map(|word| word.to_string()));
    args
}

/// A node's life on a flakey device, as compose/dm-N.yml and the Docker
/// backend live it, with `true` (or a writer) standing in for the system.
fn node_scenario() -> String {
    assert_eq!(dm_flakey::device_name("vm", "n1"), NODE_DEVICE);
    let mut g = Guest::new();
    let check = [NODE_DEVICE.to_string(), NODE_DIR.to_string()];
    let start = dm_node::start();
    g.shell("mkdir", &format!("mkdir -p {NODE_DIR}"));

    // First start: a new file, device and filesystem, mounted.
    g.run("start-new", &start, &node_args(&["true"]));
    g.run("check-new", dm_node::CHECK, &check);
    g.shell(
        "write-synced",
        &format!("printf synced-1 | dd of={NODE_DIR}/synced conv=fsync"),
    );

    // A fault: the write's fsync fails; healed, the data is intact on disk.
    g.switch_device("error-writes", NODE_DEVICE, Mode::Down(Fault::ErrorWrites));
    g.run("check-error-writes", dm_node::CHECK, &check);
    g.shell(
        "write-fails",
        &format!("printf lost | dd of={NODE_DIR}/failed conv=fsync"),
    );
    g.switch_device("healed", NODE_DEVICE, Mode::Up);
    g.shell(
        "read-healed",
        &format!("echo 3 >/proc/sys/vm/drop_caches; cat {NODE_DIR}/synced"),
    );

    // A restart: the device is found again, its data with it.
    g.shell("stop", &format!("umount {NODE_DIR}"));
    g.run("start-again", &start, &node_args(&["true"]));
    g.shell("read-restarted", &format!("cat {NODE_DIR}/synced"));
    g.shell("stop-again", &format!("umount {NODE_DIR}"));

    // A power cut as a Docker run makes it: the node runs in a mount
    // namespace of its own (its container's), writes one file with fsync
    // and one without, is frozen (docker pause), its device switched to
    // drop writes by a helper, and killed: its namespace goes, and with it
    // the mount, whose last writes are dropped. The next start waits for
    // that, switches the device up and mounts what the disk holds.
    // The system: one file written and fsynced, one only written, then
    // it says it is up and waits. Its arguments: `$1` the data directory.
    const WRITER: &str = "printf synced-2 | dd of=\"$1/synced-2\" conv=fsync 2>/dev/null && printf unsynced >\"$1/unsynced\" && echo up >/tmp/ready; exec sleep 600";
    let mut args = node_args(&["sh", "-c", WRITER, "node", NODE_DIR]);
    args.insert(0, "chaos-dm".into());
    let node = format!(
        "unshare -m sh -c \"$start_script\" {}",
        args.iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    g.0.push_str(&format!(
        r#"start_script=$(cat <<'CHAOS_START'
{start}
CHAOS_START
)
{node} >/tmp/node.out 2>&1 &
pid=$!
n=0
while [ ! -e /tmp/ready ] && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.1; done
[ -e /tmp/ready ]; fact node-up $? "$(cat /tmp/node.out)"
kill -STOP $pid; fact frozen $? ""
"#
    ));
    g.run(
        "drop",
        &dm_node::switch_each(&[NODE_DEVICE.to_string()], Mode::Down(Fault::DropWrites)),
        &[],
    );
    g.0.push_str("kill -KILL $pid; rc=$?; wait $pid 2>/dev/null; fact killed $rc \"\"\n");
    g.shell("table-after-cut", &format!("dmsetup table {NODE_DEVICE}"));
    g.run("start-after-cut", &start, &node_args(&["true"]));
    g.run("check-after-cut", dm_node::CHECK, &check);
    g.shell("read-synced-1", &format!("cat {NODE_DIR}/synced"));
    g.shell("read-synced-2", &format!("cat {NODE_DIR}/synced-2"));
    let f = format!("{NODE_DIR}/unsynced");
    g.shell(
        "read-unsynced",
        &format!("if [ -e {f} ]; then printf 'holds %s' \"$(cat {f})\"; else printf absent; fi"),
    );

    // The device removed, the volume kept: the next start makes a device
    // over the same file and formats nothing.
    g.shell("stop-to-remove", &format!("umount {NODE_DIR}"));
    let remove = dm_node::remove_each(&[NODE_DEVICE.to_string()]);
    g.run("remove-kept", &remove, &[]);
    g.run("start-kept", &start, &node_args(&["true"]));
    g.shell("read-kept", &format!("cat {NODE_DIR}/synced-2"));

    // And gone: no device, no loop device.
    g.shell("stop-last", &format!("umount {NODE_DIR}"));
    g.run("remove", &remove, &[]);
    g.shell("devices-left", "dmsetup ls");
    g.shell("loops-left", "losetup -a");
    g.0
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

    /// The step failed with EIO.
    fn io_error(&self, label: &str) {
        let fact = self.get(label);
        assert_ne!(fact.rc, 0, "{label} succeeded: {}", fact.text);
        assert!(
            fact.text.contains("Input/output error"),
            "{label} failed, but not with EIO: {}",
            fact.text
        );
    }

    /// A read that succeeded; the bytes that differ from the reference
    /// block: (position from 1, value read, reference value).
    fn read(&self, label: &str) -> Vec<(u32, u8, u8)> {
        let text = self.ok(label);
        text.split(',')
            .filter(|d| !d.trim().is_empty())
            .map(|d| {
                let w: Vec<&str> = d.split_whitespace().collect();
                let octal = |s: &str| u8::from_str_radix(s, 8).expect("cmp -l prints octal");
                match w[..] {
                    [pos, got, want] => (pos.parse().expect("a position"), octal(got), octal(want)),
                    _ => panic!("{label}: not a cmp -l line: {d}"),
                }
            })
            .collect()
    }

    /// The read returned the reference block exactly.
    fn read_same(&self, label: &str) {
        assert_eq!(self.read(label), [], "{label}: the block differs");
    }

    /// The table in force after a step, as the kernel prints it.
    fn table(&self, label: &str) -> String {
        let text = self.ok(&format!("{label}-table"));
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[test]
fn every_dm_flakey_mode_does_what_it_promises_on_a_real_kernel() {
    let test = "dm_flakey_vm";
    let Some(vm) = vm::prepare(test, &scenario()) else {
        return;
    };
    let booted = Instant::now();
    let text = vm::boot(&vm, BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{test}: kernel {}; prepared in {:.1?}, booted and tested in {:.1?}",
        vm.release,
        vm.prepared_in,
        booted.elapsed()
    );
    let c = Console {
        facts: vm::facts(&text),
        text,
    };
    assert_eq!(c.ok("booted"), vm.release);
    assert_eq!(c.get("finished").rc, 0);

    // The kernel lists the target, and the parser finds it.
    let targets = c.output("targets");
    assert!(
        dm_flakey::flakey_version(&targets).is_some(),
        "no flakey in `dmsetup targets`: {targets}"
    );

    let created = dm_flakey::created_outcome(&c.output("create"))
        .unwrap_or_else(|| panic!("create said: {}", c.get("create").text));
    assert_eq!(created.sectors, DISK_MIB * 1024 * 1024 / 512);
    assert!(created.loop_device.starts_with("/dev/loop"));
    // What the kernel holds is the table the library builds.
    let table = |mode| dm_flakey::table(&created.dev_number, created.sectors, mode);
    assert_eq!(c.table("create"), table(Mode::Up));

    // Pass-through: written, read back.
    c.ok("up-write");
    c.read_same("up-read");

    // error_writes: the write fails, reads still work.
    assert_eq!(
        c.table("error-writes"),
        table(Mode::Down(Fault::ErrorWrites))
    );
    c.io_error("error-writes-write");
    c.read_same("error-writes-read");

    // drop_writes: the write "succeeds", the disk keeps the old data.
    assert_eq!(c.table("drop-writes"), table(Mode::Down(Fault::DropWrites)));
    c.ok("drop-writes-write");
    c.read_same("drop-writes-read");

    // No feature: reads and writes fail.
    assert_eq!(c.table("error-all"), table(Mode::Down(Fault::ErrorAll)));
    c.io_error("error-all-read");
    c.io_error("error-all-write");

    // Intermittent: the write right after the switch works, a later one
    // fails once the up interval is over.
    assert_eq!(c.table("intermittent"), table(INTERMITTENT));
    c.ok("intermittent-up-write");
    c.io_error("intermittent-down-write");

    // Back up: the data from before the faults is intact.
    assert_eq!(c.table("up-again"), table(Mode::Up));
    c.read_same("up-again-read");

    // error_reads: reads fail where the kernel has it. An older kernel
    // refuses the table and the device goes on as it was (not suspended:
    // the read after it would hang and time the VM out); a backport would
    // make it work, which is fine too.
    let error_reads = c.get("error-reads");
    if error_reads.rc == 0 {
        assert_eq!(c.table("error-reads"), table(Mode::Down(Fault::ErrorReads)));
        c.io_error("error-reads-read");
    } else {
        assert!(
            !Fault::ErrorReads.on_kernel(&vm.release),
            "{} has error_reads, yet: {}",
            vm.release,
            error_reads.text
        );
        assert!(
            error_reads.text.contains("Invalid argument"),
            "{}",
            error_reads.text
        );
        assert_eq!(c.table("error-reads"), table(Mode::Up));
        c.read_same("error-reads-read");
    }
    assert_eq!(c.table("up-after-error-reads"), table(Mode::Up));

    // corrupt_bio_byte on reads: exactly the Nth byte reads as the value
    // (where the kernel corrupts reads at all: older ones return the
    // block intact), and the disk is unharmed.
    assert_eq!(c.table("corrupt-reads"), table(Mode::Down(READ_CORRUPTION)));
    let corrupted = c.read("corrupt-reads-read");
    if READ_CORRUPTION.on_kernel(&vm.release) || !corrupted.is_empty() {
        assert_eq!(corrupted, [(100, b'Z', b'A')]);
    }
    c.read_same("after-corrupt-reads-read");

    // corrupt_bio_byte on writes: the write succeeds and the disk holds
    // the Nth byte changed.
    assert_eq!(
        c.table("corrupt-writes"),
        table(Mode::Down(WRITE_CORRUPTION))
    );
    c.ok("corrupt-writes-write");
    assert_eq!(c.read("after-corrupt-writes-read"), [(200, b'Y', b'B')]);

    // Removed even though suspended; nothing is left; a second remove is
    // a no-op.
    c.ok("suspend");
    assert_eq!(
        dm_flakey::removed_outcome(&c.output("remove")),
        Some(Some(created.loop_device.clone()))
    );
    assert_eq!(c.ok("devices-left"), "No devices found");
    assert_eq!(c.ok("loops-left"), "");
    assert_eq!(
        dm_flakey::removed_outcome(&c.output("remove-again")),
        Some(None)
    );
}

#[test]
fn a_node_lives_on_a_flakey_device_through_faults_restarts_and_a_power_cut() {
    let test = "dm_node_vm";
    let Some(vm) = vm::prepare(test, &node_scenario()) else {
        return;
    };
    let booted = Instant::now();
    let text = vm::boot(&vm, BOOT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{test}: kernel {}; prepared in {:.1?}, booted and tested in {:.1?}",
        vm.release,
        vm.prepared_in,
        booted.elapsed()
    );
    let c = Console {
        facts: vm::facts(&text),
        text,
    };
    assert_eq!(c.ok("booted"), vm.release);
    assert_eq!(c.get("finished").rc, 0);
    let up = Mode::Up.flakey_args();
    let started = |label: &str| dm_node::start_outcome(&c.output(label));
    let in_force = |label: &str| dm_node::check_outcome(&c.output(label), NODE_DEVICE);

    // Made, formatted, mounted where the node's data goes.
    assert_eq!(started("start-new"), Some(Start::New));
    assert_eq!(in_force("check-new"), Ok(up.clone()));
    c.ok("write-synced");

    // The check reads the fault in force back; the write fails under it.
    assert_eq!(
        in_force("check-error-writes"),
        Ok(Mode::Down(Fault::ErrorWrites).flakey_args())
    );
    c.io_error("write-fails");
    assert!(
        c.table("healed").ends_with(&format!(" {up}")),
        "{}",
        c.table("healed")
    );
    assert_eq!(c.ok("read-healed"), "synced-1");

    // A restart reuses the device and its data.
    c.ok("stop");
    assert_eq!(started("start-again"), Some(Start::Reused));
    assert_eq!(c.ok("read-restarted"), "synced-1");

    // The power cut: the node ran, was frozen and killed with its device
    // dropping writes; started again, the device is up and holds what was
    // fsynced, not what was not.
    c.ok("node-up");
    c.ok("frozen");
    assert!(
        c.output("drop").contains("drop_writes"),
        "{}",
        c.get("drop").text
    );
    c.ok("killed");
    let dropping = c.ok("table-after-cut");
    assert!(dropping.ends_with("0 1 1 drop_writes"), "{dropping}");
    assert_eq!(started("start-after-cut"), Some(Start::Reused));
    assert_eq!(in_force("check-after-cut"), Ok(up.clone()));
    assert_eq!(c.ok("read-synced-1"), "synced-1");
    assert_eq!(c.ok("read-synced-2"), "synced-2");
    // The file may have been created (its directory entry committed by
    // the journal's timer), but its data was never written.
    let unsynced = c.ok("read-unsynced");
    assert!(
        unsynced == "absent" || unsynced == "holds",
        "the power cut kept data that was never fsynced: {unsynced}"
    );

    // Removed with its volume kept: a new device over the old file, the
    // filesystem and data as they were.
    let removed = dm_flakey::removed_outcome(&c.output("remove-kept"));
    assert!(
        matches!(removed, Some(Some(ref l)) if l.starts_with("/dev/loop")),
        "{removed:?}"
    );
    assert_eq!(started("start-kept"), Some(Start::Kept));
    assert_eq!(c.ok("read-kept"), "synced-2");

    // Nothing left.
    let removed = dm_flakey::removed_outcome(&c.output("remove"));
    assert!(matches!(removed, Some(Some(_))), "{removed:?}");
    assert_eq!(c.ok("devices-left"), "No devices found");
    assert_eq!(c.ok("loops-left"), "");
}

#[test]
fn a_vm_that_never_powers_off_is_killed_at_the_timeout() {
    let Some(vm) = vm::prepare("vm_timeout", "sleep 600\n") else {
        return;
    };
    let timeout = Duration::from_secs(3);
    let started = Instant::now();
    let outcome = vm::boot(&vm, timeout);
    let error = outcome.expect_err("boot returned from a VM that sleeps for ten minutes");
    assert!(error.contains("still ran after"), "{error}");
    assert!(started.elapsed() < timeout + Duration::from_secs(5));
    assert!(!vm::running(&vm), "QEMU outlived the timeout");
}
