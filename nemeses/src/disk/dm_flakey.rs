//! A disk that fails on demand: device-mapper's `flakey` target over a loop
//! device backed by a file.
//!
//! The node's data lives in a file ([`CREATE`] makes it sparse when it is
//! missing); a loop device turns the file into a block device, and a flakey
//! device named by [`device_name`] (`/dev/mapper/chaos-flakey.<project>.<node>`)
//! sits on the loop device. The node uses the flakey device; a fault is a
//! new table for it, swapped in live ([`SWITCH`]), and the heal is the
//! pass-through table. How a node starts on one: [`super::dm_node`].
//!
//! A flakey table line, after the usual `<start> <length> flakey`, is
//! `<dev> <offset> <up interval> <down interval> [<num_features> <feature
//! arguments>]`: from the moment the table is loaded the device works for
//! `up` seconds, then misbehaves for `down` seconds, and so on. So:
//!
//! * an up interval of 0 misbehaves all the time ([`Mode::Down`]: `0 1`,
//!   since `elapsed % down >= 0` always holds, the down length is moot);
//! * a down interval of 0 never does ([`Mode::Up`], `1 0`: the pass-through,
//!   as good as a `linear` table);
//! * both non-zero flaps ([`Mode::Intermittent`]).
//!
//! What "misbehaves" means is the feature ([`Fault`]): every I/O fails (no
//! feature), writes fail (`error_writes`), writes are acknowledged and
//! thrown away (`drop_writes`), reads fail (`error_reads`, new in Linux 6.4:
//! older kernels refuse the table), or byte N of each read or written block
//! is replaced (`corrupt_bio_byte`; on reads it works only from Linux 6.15
//! and in some stable updates: older kernels take the table and return the
//! data intact). Only I/O that reaches the device counts: a write that sits
//! in the page cache has not failed yet. [`Fault::on_kernel`] tells which
//! faults a kernel release has.
//!
//! Switching goes as xfstests does it (suspend without freezing the file
//! system, `--nolockfs`, so dirty data is not flushed on the way; then
//! resume with the new table), with one change of order: the new table is
//! loaded into the inactive slot before the suspend, so a table the kernel
//! refuses leaves the device running as it was instead of suspended (a
//! suspended device blocks every I/O until someone resumes it).
//!
//! The scripts use `dmsetup`, `losetup`, `blockdev` and `dd`, in the forms
//! that util-linux and busybox share; `DM_DISABLE_UDEV=1` makes libdevmapper
//! create `/dev/mapper/NAME` itself, since containers and small VMs run no
//! udev that would. They need CAP_SYS_ADMIN and the `dm-flakey` and `loop`
//! modules (or a kernel that loads them on demand, as a stock one does).
//! Whether the kernel has the target: [`TARGETS`] and [`flakey_version`].
//!
//! `tests/dm_flakey_vm.rs` runs these very scripts in a VM on Debian's
//! stock kernel and checks each mode with direct I/O.

use crate::storage::{Flakey, FlakeyMode, CORRUPT_BYTE};

/// The start of every flakey device's name, our contract with a heal: only
/// a device whose name starts with it is ever switched or removed.
/// Device-mapper names belong to the kernel, not to a container, so each
/// node's device carries its cluster and its name ([`device_name`]).
pub const DEVICE_PREFIX: &str = "chaos-flakey";

/// The flakey device of `node` in compose project `project`:
/// `chaos-flakey.<project>.<node>`. Project names hold no dot, so the
/// project is read back unambiguously ([`project_of`]).
pub fn device_name(project: &str, node: &str) -> String {
    format!("{DEVICE_PREFIX}.{project}.{node}")
}

/// The project a device of ours belongs to; None for a device that is not
/// ours.
pub fn project_of(device: &str) -> Option<&str> {
    let rest = device.strip_prefix(DEVICE_PREFIX)?.strip_prefix('.')?;
    let (project, node) = rest.split_once('.')?;
    (!project.is_empty() && !node.is_empty()).then_some(project)
}

/// The target's name in tables and in `dmsetup targets`.
pub const TARGET: &str = "flakey";

/// What the device does while it misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every read and write fails with EIO (the table has no feature).
    ErrorAll,
    /// Reads fail with EIO; writes work (`error_reads`, Linux 6.4 on).
    ErrorReads,
    /// Writes fail with EIO; reads work (`error_writes`).
    ErrorWrites,
    /// Writes are acknowledged and never reach the disk; reads work and so
    /// return the old data (`drop_writes`): a lost write.
    DropWrites,
    /// Byte `nth_byte` (counted from 1) of every block read (or written)
    /// becomes `value` (`corrupt_bio_byte N r|w VALUE 0`). Corrupted reads
    /// leave the disk intact (Linux 6.15 on: before, reads were not
    /// corrupted at all); corrupted writes store the wrong byte.
    Corrupt {
        direction: Direction,
        nth_byte: u32,
        value: u8,
    },
}

/// Which I/O a [`Fault::Corrupt`] changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Reads,
    Writes,
}

/// The device's behaviour: one flakey table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pass-through: every I/O goes to the disk.
    Up,
    /// The fault, all the time.
    Down(Fault),
    /// Up for `up_secs`, then the fault for `down_secs`, over and over,
    /// counted from the switch. A zero makes it [`Mode::Up`] (down 0) or
    /// [`Mode::Down`] (up 0); the kernel refuses both zero.
    Intermittent {
        fault: Fault,
        up_secs: u32,
        down_secs: u32,
    },
}

impl Fault {
    /// The feature part of a table: `<num_features> [<feature arguments>]`.
    /// Always with the count, as the kernel prints it back.
    fn features(self) -> String {
        match self {
            Fault::ErrorAll => "0".into(),
            Fault::ErrorReads => "1 error_reads".into(),
            Fault::ErrorWrites => "1 error_writes".into(),
            Fault::DropWrites => "1 drop_writes".into(),
            Fault::Corrupt {
                direction,
                nth_byte,
                value,
            } => {
                let dir = match direction {
                    Direction::Reads => 'r',
                    Direction::Writes => 'w',
                };
                // The last argument is a bio flags mask: 0 matches every bio.
                format!("5 corrupt_bio_byte {nth_byte} {dir} {value} 0")
            }
        }
    }

    /// The oldest kernel (major, minor) whose flakey target has the fault.
    pub fn oldest_kernel(self) -> (u32, u32) {
        match self {
            Fault::ErrorReads => (6, 4),
            // Upstream's "make corrupting read bios work"; stable updates of
            // some older series have it too, which this cannot know.
            Fault::Corrupt {
                direction: Direction::Reads,
                ..
            } => (6, 15),
            // error_writes came in 4.10; older kernels are out of scope.
            _ => (4, 10),
        }
    }

    /// Does a kernel of this release (`uname -r`, `6.1.0-57-amd64`) have
    /// the fault? False for a release that does not parse. A distribution
    /// may backport a feature: then the answer is a safe "no".
    pub fn on_kernel(self, release: &str) -> bool {
        kernel_version(release).is_some_and(|v| v >= self.oldest_kernel())
    }
}

impl Mode {
    /// The flakey arguments after `<dev> <offset>`: `<up> <down>
    /// <num_features> [<feature arguments>]`.
    pub fn flakey_args(self) -> String {
        match self {
            Mode::Up => format!("1 0 {}", Fault::ErrorAll.features()),
            Mode::Down(fault) => format!("0 1 {}", fault.features()),
            Mode::Intermittent {
                fault,
                up_secs,
                down_secs,
            } => format!("{up_secs} {down_secs} {}", fault.features()),
        }
    }
}

/// The whole table line for a flakey device over `device` (a path, or
/// `major:minor` as the kernel prints it back) of `sectors` 512-byte
/// sectors, from sector 0. [`CREATE`] and [`SWITCH`] build the same line.
pub fn table(device: &str, sectors: u64, mode: Mode) -> String {
    format!("0 {sectors} {TARGET} {device} 0 {}", mode.flakey_args())
}

/// `(major, minor)` of a kernel release string (`6.1.0-57-amd64`).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The flakey arguments of a table as the kernel prints it back (`dmsetup
/// table NAME`: `<start> <length> flakey <dev> <offset> <up> <down>
/// <num_features> [<feature arguments>]`), in [`Mode::flakey_args`]'s
/// form; None for a table of another target.
pub fn flakey_args_of(table: &str) -> Option<String> {
    let words: Vec<&str> = table.split_whitespace().collect();
    match words.as_slice() {
        [_, _, target, _, _, args @ ..] if *target == TARGET && args.len() >= 3 => {
            Some(args.join(" "))
        }
        _ => None,
    }
}

/// The table of a run's `flakey:<mode>` fault: its mode as a flakey
/// feature (corruption at [`CORRUPT_BYTE`]), its intervals in whole seconds
/// (dm-flakey's unit; rounded up). An up interval of 0 is always down.
pub fn mode_of(flakey: &Flakey) -> Mode {
    let (nth_byte, value) = CORRUPT_BYTE;
    let corrupt = |direction| Fault::Corrupt {
        direction,
        nth_byte,
        value,
    };
    let fault = match flakey.mode {
        FlakeyMode::DropWrites => Fault::DropWrites,
        FlakeyMode::ErrorWrites => Fault::ErrorWrites,
        FlakeyMode::ErrorReads => Fault::ErrorReads,
        FlakeyMode::CorruptReads => corrupt(Direction::Reads),
        FlakeyMode::CorruptWrites => corrupt(Direction::Writes),
    };
    match (flakey.up_ms.div_ceil(1000), flakey.down_ms.div_ceil(1000)) {
        (0, _) => Mode::Down(fault),
        (_, 0) => Mode::Up,
        (up_secs, down_secs) => Mode::Intermittent {
            fault,
            up_secs,
            down_secs,
        },
    }
}

/// Create the device. `$1` the name, `$2` the backing file, `$3` its size
/// in MiB (used only if the file does not exist: it is made sparse), `$4`
/// the first mode's flakey arguments ([`Mode::flakey_args`], normally of
/// [`Mode::Up`]). Refuses a name that exists. A failed create detaches its
/// loop device. Prints `created NAME LOOP MAJOR:MINOR SECTORS`
/// ([`created_outcome`]).
pub const CREATE: &str = r#"set -e
export DM_DISABLE_UDEV=1
name=$1 file=$2 mib=$3 args=$4
if dmsetup info "$name" >/dev/null 2>&1; then echo "$name exists already" >&2; exit 1; fi
[ -e "$file" ] || dd if=/dev/zero of="$file" bs=1048576 count=0 seek="$mib" 2>/dev/null
tries=0
while :; do
  loop=$(losetup -f)
  # A container's /dev is filled when it starts: a loop device the kernel
  # made since has no node there yet.
  [ -b "$loop" ] || mknod "$loop" b $(sed 's/:/ /' "/sys/block/${loop#/dev/}/dev")
  said=$(losetup "$loop" "$file" 2>&1) && break
  # Loop devices are the host's: a node starting beside us may have taken
  # this one between our look and our attach. Look again.
  tries=$((tries + 1))
  if [ $tries -ge 10 ]; then echo "no loop device for $file: $said" >&2; exit 1; fi
done
sectors=$(blockdev --getsz "$loop")
if ! dmsetup create "$name" --table "0 $sectors flakey $loop 0 $args"; then
  losetup -d "$loop"
  exit 1
fi
echo "created $name $loop $(cat "/sys/block/${loop#/dev/}/dev") $sectors""#;

/// Switch the device to another mode, live. `$1` the name, `$2` the new
/// mode's flakey arguments ([`Mode::flakey_args`]). The device and length
/// come from the table in force. A table the kernel refuses fails the
/// script and leaves the device as it was. Prints `switched NAME TABLE`.
pub const SWITCH: &str = r#"set -e
export DM_DISABLE_UDEV=1
name=$1 args=$2
current=$(dmsetup table "$name")
set -- $current
if [ "$3" != flakey ]; then echo "$name is not a flakey device: $current" >&2; exit 1; fi
new="$1 $2 flakey $4 $5 $args"
dmsetup load "$name" --table "$new"
if ! dmsetup suspend --nolockfs "$name"; then dmsetup clear "$name"; exit 1; fi
dmsetup resume "$name"
echo "switched $name $new""#;

/// Remove the device and detach its loop device; the backing file stays
/// (it holds the node's data). `$1` the name. Works on a suspended device
/// (a switch cut short). `--retry`: a host's udev may hold a new device
/// open for a moment to look at it. Prints `removed NAME LOOP`, or `none` when there
/// is no such device ([`removed_outcome`]).
pub const REMOVE: &str = r#"export DM_DISABLE_UDEV=1
name=$1
if ! dmsetup info "$name" >/dev/null 2>&1; then echo none; exit 0; fi
deps=$(dmsetup deps -o devname "$name") || exit 1
loop=${deps##*(}
loop=${loop%%)*}
dmsetup remove --retry "$name" || exit 1
case "$loop" in
  loop*) losetup -d "/dev/$loop" || exit 1 ;;
  *) echo "$name sat on $loop, not a loop device: left attached" >&2 ;;
esac
echo "removed $name /dev/$loop""#;

/// The kernel's device-mapper targets, after asking for the flakey module
/// (a target is listed only once its module is loaded; in a container
/// `modprobe` usually cannot load it, and the host must have it loaded).
/// Read it with [`flakey_version`].
pub const TARGETS: &str = r#"modprobe dm-flakey 2>/dev/null
dmsetup targets"#;

/// What a Docker host's kernel says of dm-flakey, asked from a throwaway
/// privileged container: its release, then [`TARGETS`]. Read it with
/// [`probe_outcome`].
pub const PROBE: &str = r#"echo "release $(uname -r)"
command -v dmsetup >/dev/null || { echo "no dmsetup"; exit 0; }
modprobe dm-flakey 2>/dev/null
dmsetup targets 2>&1"#;

/// What [`PROBE`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The kernel lists the flakey target, of this version.
    Flakey {
        release: String,
        version: (u32, u32, u32),
    },
    /// It does not; `said` is how we know, on one line (`dmsetup
    /// targets: ...`).
    NoFlakey { release: String, said: String },
    /// The probe's image has no `dmsetup`: the kernel was not asked.
    NoDmsetup { release: String },
}

impl Probe {
    pub fn release(&self) -> &str {
        match self {
            Probe::Flakey { release, .. }
            | Probe::NoFlakey { release, .. }
            | Probe::NoDmsetup { release } => release,
        }
    }
}

/// [`PROBE`]'s output read back; None when it did not run as written.
pub fn probe_outcome(output: &str) -> Option<Probe> {
    let mut lines = output.lines();
    let release = lines
        .find_map(|l| l.strip_prefix("release "))?
        .trim()
        .to_string();
    let rest: Vec<&str> = lines.collect();
    if rest.first().map(|l| l.trim()) == Some("no dmsetup") {
        return Some(Probe::NoDmsetup { release });
    }
    let text = rest.join("\n");
    Some(match flakey_version(&text) {
        Some(version) => Probe::Flakey { release, version },
        None => Probe::NoFlakey {
            release,
            said: format!(
                "dmsetup targets: {}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
        },
    })
}

/// Does `/proc/misc` list device-mapper's control device? A kernel whose
/// does not has no flakey target loaded either (loading dm-flakey loads
/// device-mapper), which a look at this file tells without privileges.
pub fn lists_device_mapper(proc_misc: &str) -> bool {
    proc_misc
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("device-mapper"))
}

/// [`CREATE`]'s arguments.
pub fn create_args(name: &str, file: &str, mib: u64, mode: Mode) -> Vec<String> {
    vec![
        name.into(),
        file.into(),
        mib.to_string(),
        mode.flakey_args(),
    ]
}

/// [`SWITCH`]'s arguments.
pub fn switch_args(name: &str, mode: Mode) -> Vec<String> {
    vec![name.into(), mode.flakey_args()]
}

/// [`REMOVE`]'s arguments.
pub fn remove_args(name: &str) -> Vec<String> {
    vec![name.into()]
}

/// The flakey target's version in `dmsetup targets` output (lines like
/// `flakey           v1.5.0`), or None when the kernel does not list it.
pub fn flakey_version(targets: &str) -> Option<(u32, u32, u32)> {
    targets.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != TARGET {
            return None;
        }
        let mut numbers = words.next()?.strip_prefix('v')?.split('.');
        let mut next = || numbers.next()?.parse().ok();
        Some((next()?, next()?, next()?))
    })
}

/// What a successful [`CREATE`] made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// `/dev/loopN`.
    pub loop_device: String,
    /// The loop device's `major:minor`, as tables name it.
    pub dev_number: String,
    /// Its size in 512-byte sectors: the table's length.
    pub sectors: u64,
}

/// [`CREATE`]'s last line read back; None for anything else.
pub fn created_outcome(output: &str) -> Option<Created> {
    let last = output.lines().last()?;
    match last.split_whitespace().collect::<Vec<_>>()[..] {
        ["created", _name, loop_device, dev_number, sectors] => Some(Created {
            loop_device: loop_device.into(),
            dev_number: dev_number.into(),
            sectors: sectors.parse().ok()?,
        }),
        _ => None,
    }
}

/// [`REMOVE`]'s last line read back: `Some(Some(loop))` for `removed`,
/// `Some(None)` for `none`, None for anything else.
pub fn removed_outcome(output: &str) -> Option<Option<String>> {
    let last = output.lines().last()?;
    match last.split_whitespace().collect::<Vec<_>>()[..] {
        ["none"] => Some(None),
        ["removed", _name, loop_device] => Some(Some(loop_device.into())),
        _ => None,
    }
}

#[cfg(test)]
#[path = "dm_flakey_tests.rs"]
mod tests;
