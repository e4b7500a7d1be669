//! A node whose data lives on a dm-flakey device: how it starts, how the
//! harness checks it, and the scripts that act on several devices at once
//! from a helper (a switch while the nodes are frozen, a removal once they
//! are gone).
//!
//! [`start`] is the node's entrypoint (compose/dm-N.yml passes it to
//! `sh -c`): it puts the flakey device over a sparse file in the node's
//! volume, or finds it there after a restart, makes a filesystem on first
//! use, mounts it over the data directory and execs the system. The mount
//! lives in the node's mount namespace only, so it goes when the node's
//! last process does; the device and its loop device are the host
//! kernel's and outlive the node, which is why a restart finds them, and
//! why `chaos heal` and `chaos cluster down` remove them.
//!
//! `tests/dm_flakey_vm.rs` runs this very text in a VM on Debian's kernel.

use super::dm_flakey::{Mode, CREATE, REMOVE, SWITCH};
use super::with_args;

/// Where a node keeps its data: its volume is mounted there, the backing
/// file lives in it, and the flakey device's filesystem goes over it.
pub const DATA: &str = "/data";

/// The backing file, in the node's volume (hidden under the mount once the
/// node is up; the loop device holds it open).
pub const BACKING_FILE: &str = "/data/chaos-disk.img";

/// Its size. Sparse: only what the filesystem writes takes room on the
/// host.
pub const DISK_MIB: u64 = 2048;

/// How long a start waits for the node's previous life to let go of the
/// device (its mount goes as its last process exits), in tenths of a
/// second.
pub const CLOSE_WAIT_TENTHS: u32 = 300;

/// `wait_closed NAME TENTHS`: returns once nothing holds the device open
/// (no mount of it is left), or fails after TENTHS tenths of a second
/// saying who might.
const WAIT_CLOSED: &str = r#"wait_closed() {
  n=0
  while :; do
    open=$(dmsetup info -c --noheadings -o open "$1") || return 1
    open=$(echo $open)
    [ "$open" = 0 ] && return 0
    if [ "$n" -ge "$2" ]; then
      echo "$1 is still held open ($open) after $(($2 / 10)) s: a mount of it outlived the node (a process of its last life, or a mount that spread to the host)" >&2
      return 1
    fi
    n=$((n + 1))
    sleep 0.1
  done
}"#;

/// The node's entrypoint. `$1` the device's name ([`super::dm_flakey::device_name`]),
/// `$2` the backing file, `$3` its size in MiB (for a new file), `$4` the
/// data directory; the rest is the system's command line, exec'd once the
/// disk is mounted. Prints one line, `chaos-dm: mounted NAME on DIR
/// (new|kept|reused)` ([`start_outcome`]), before the exec.
///
/// * A device of that name exists (the node restarts): wait until its
///   last mount is gone ([`CLOSE_WAIT_TENTHS`]), switch it up (a fault
///   in force ends with the node's life, as a power cut's drop of writes
///   must), mount it: `reused`.
/// * It does not and the file does (the device was removed, the volume
///   kept): a device over the file, mounted: `kept`.
/// * Neither: a new sparse file, a device, `mkfs.ext4`, mounted: `new`.
///   Only a file made here is formatted, so no failure ever reformats a
///   disk holding data.
pub fn start() -> String {
    let up = Mode::Up.flakey_args();
    format!(
        r#"set -e
export DM_DISABLE_UDEV=1
name=$1 file=$2 mib=$3 dir=$4
shift 4
create_device() (
{CREATE}
)
switch_device() (
{SWITCH}
)
{WAIT_CLOSED}
if dmsetup info "$name" >/dev/null 2>&1; then
  wait_closed "$name" {CLOSE_WAIT_TENTHS}
  switch_device "$name" '{up}' >/dev/null
  how=reused
else
  how=kept
  [ -e "$file" ] || how=new
  create_device "$name" "$file" "$mib" '{up}' >/dev/null
fi
dmsetup mknodes "$name"
dev=/dev/mapper/$name
if [ $how = new ]; then
  command -v mkfs.ext4 >/dev/null || {{ echo "no mkfs.ext4 to format $dev: the node's image needs e2fsprogs" >&2; exit 1; }}
  mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
fi
mount -t ext4 "$dev" "$dir"
echo "chaos-dm: mounted $name on $dir ($how)"
exec "$@""#
    )
}

/// [`start`]'s arguments, before the command it execs.
pub fn start_args(name: &str, file: &str, mib: u64, dir: &str) -> Vec<String> {
    vec![name.into(), file.into(), mib.to_string(), dir.into()]
}

/// How [`start`] found the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new file, device and filesystem.
    New,
    /// The file was there, the device was made over it.
    Kept,
    /// The device was there (a restart): switched up and mounted again.
    Reused,
}

/// [`start`]'s line read back; None if it did not get that far.
pub fn start_outcome(output: &str) -> Option<Start> {
    let line = output
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("chaos-dm: mounted "))?;
    match line.rsplit_once(' ')?.1 {
        "(new)" => Some(Start::New),
        "(kept)" => Some(Start::Kept),
        "(reused)" => Some(Start::Reused),
        _ => None,
    }
}

/// In a node: the device's table, then `mounted SOURCE` for each mount on
/// the data directory. `$1` the device, `$2` the directory. Read it with
/// [`check_outcome`].
pub const CHECK: &str = r#"dmsetup table "$1" || exit 1
awk -v dir="$2" '$2 == dir { print "mounted " $1 }' /proc/mounts"#;

/// [`CHECK`]'s output read back: the flakey arguments in force (as
/// [`Mode::flakey_args`] writes them), or why the node's data is not on
/// device `name`.
pub fn check_outcome(output: &str, name: &str) -> Result<String, String> {
    let mut lines = output.lines();
    let table = lines.next().unwrap_or_default();
    let args = super::dm_flakey::flakey_args_of(table)
        .ok_or_else(|| format!("{name} is not a flakey device: {}", table.trim()))?;
    // Mounts stack: the last one on the directory is what the node sees.
    let wanted = format!("/dev/mapper/{name}");
    match lines.filter_map(|l| l.strip_prefix("mounted ")).next_back() {
        Some(source) if source.trim() == wanted => Ok(args),
        Some(source) => Err(format!("its data directory is on {source}, not {wanted}")),
        None => Err(format!(
            "nothing is mounted on its data directory, not {wanted}"
        )),
    }
}

/// For a helper: switch each device of `names` to `mode` (a power cut's
/// `drop_writes`, while their nodes are frozen). Every device is tried;
/// exit 1 if one failed. Prints SWITCH's line for each.
pub fn switch_each(names: &[String], mode: Mode) -> String {
    each(names, |name| {
        with_args(SWITCH, &[name.to_string(), mode.flakey_args()])
    })
}

/// For a helper: remove each device of `names` and detach its loop
/// device, once no mount holds it ([`CLOSE_WAIT_TENTHS`]: a node just
/// removed may still be letting go). Every device is tried; exit 1 if one
/// failed. Prints REMOVE's line for each (`removed NAME LOOP` or `none`).
pub fn remove_each(names: &[String]) -> String {
    let body = each(names, |name| {
        let quoted = with_args("", &[name.to_string()]);
        format!(
            "{quoted}\nif dmsetup info \"$1\" >/dev/null 2>&1; then wait_closed \"$1\" {CLOSE_WAIT_TENTHS} || exit 1; fi\n{}",
            with_args(REMOVE, &[name.to_string()])
        )
    });
    format!("export DM_DISABLE_UDEV=1\n{WAIT_CLOSED}\n{body}")
}

/// Each script in a subshell of its own, all run, exit 1 if one failed.
/// The status is looked at after the subshell, not with `||`: a subshell
/// on the left of `||` runs with `set -e` off, and SWITCH relies on it.
fn each(names: &[String], script: impl Fn(&str) -> String) -> String {
    let mut text = String::from("failed=0\n");
    for name in names {
        text += &format!("(\n{}\n)\n[ $? = 0 ] || failed=1\n", script(name));
    }
    text += "exit $failed";
    text
}

#[cfg(test)]
#[path = "dm_node_tests.rs"]
mod tests;
