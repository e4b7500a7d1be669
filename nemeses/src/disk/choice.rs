//! Which way a run carries out its disk faults: dm-flakey under each
//! node's data where the kernel has it, the fault filesystem (FUSE)
//! otherwise, or the one `--disk-faults` names. Pure: the caller asks the
//! kernel ([`super::dm_flakey::PROBE`]) when [`decide`] says to.

use std::fmt;

use super::dm_flakey::{self, Probe};
use crate::fault::FaultSpec;

/// How the nodes' disks are faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The fault filesystem (`faultfs/`) under each node's data.
    FaultFs,
    /// A dm-flakey device under each node's data.
    DmFlakey,
}

impl Mechanism {
    /// The name `--disk-faults` takes, and test.json keeps.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::FaultFs => "fuse",
            Mechanism::DmFlakey => "dm",
        }
    }

    /// `--disk-faults fuse|dm`.
    pub fn parse(text: &str) -> Result<Mechanism, String> {
        match text {
            "fuse" => Ok(Mechanism::FaultFs),
            "dm" => Ok(Mechanism::DmFlakey),
            other => Err(format!("--disk-faults {other:?}: use fuse or dm")),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::FaultFs => "the fault filesystem",
            Mechanism::DmFlakey => "dm-flakey",
        })
    }
}

/// The way chosen, and why, for the run's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub mechanism: Mechanism,
    pub why: String,
}

/// What can be said before the kernel is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Settled without the kernel.
    Made(Choice),
    /// dm-flakey if the kernel has what the faults need: ask it, then
    /// [`with_kernel`].
    AskKernel,
}

/// Why dm-flakey can never carry `fault` out, whatever the kernel; None
/// for a fault it can (perhaps only on a newer kernel: [`dm_lacks`]) and
/// for a fault not on the disk.
pub fn dm_never(fault: &FaultSpec) -> Option<String> {
    match fault {
        FaultSpec::SlowDisk { .. } => Some(format!(
            "{fault} cannot be done with dm-flakey: it fails, drops and corrupts I/O but delays none"
        )),
        _ => None,
    }
}

/// Why dm-flakey cannot carry `fault` out on kernel `release`; None if
/// it can.
pub fn dm_lacks(fault: &FaultSpec, release: &str) -> Option<String> {
    if let Some(never) = dm_never(fault) {
        return Some(never);
    }
    let FaultSpec::Flakey(flakey) = fault else {
        return None;
    };
    let needed = match dm_flakey::mode_of(flakey) {
        dm_flakey::Mode::Down(f) | dm_flakey::Mode::Intermittent { fault: f, .. } => f,
        dm_flakey::Mode::Up => return None,
    };
    if needed.on_kernel(release) {
        return None;
    }
    let (major, minor) = needed.oldest_kernel();
    Some(format!(
        "{fault} needs Linux {major}.{minor} or later in dm-flakey, and the Docker host runs {release}"
    ))
}

/// `--disk-faults` (None: not given) and the run's faults: the way, or
/// that the kernel must be asked; Err (one line) for a forced dm-flakey
/// that cannot do one of the faults on any kernel.
pub fn decide(forced: Option<Mechanism>, faults: &[FaultSpec]) -> Result<Decision, String> {
    let never = faults.iter().find_map(dm_never);
    match (forced, never) {
        (Some(Mechanism::FaultFs), _) => Ok(Decision::Made(Choice {
            mechanism: Mechanism::FaultFs,
            why: "--disk-faults fuse".into(),
        })),
        (Some(Mechanism::DmFlakey), Some(why)) => Err(format!(
            "--disk-faults dm: {why}: leave it out of --nemesis, or use --disk-faults fuse"
        )),
        (None, Some(why)) => Ok(Decision::Made(Choice {
            mechanism: Mechanism::FaultFs,
            why,
        })),
        (_, None) => Ok(Decision::AskKernel),
    }
}

/// The way, once the kernel answered [`dm_flakey::PROBE`]: dm-flakey if it
/// lists the target and can do every fault, else the fault filesystem;
/// Err (one line: what is missing, what to do) if dm-flakey was forced
/// and cannot be had.
pub fn with_kernel(
    forced: Option<Mechanism>,
    faults: &[FaultSpec],
    probe: &Probe,
) -> Result<Choice, String> {
    let release = probe.release();
    let missing = match probe {
        Probe::Flakey { version, .. } => match faults.iter().find_map(|f| dm_lacks(f, release)) {
            None => {
                let (a, b, c) = version;
                return Ok(Choice {
                    mechanism: Mechanism::DmFlakey,
                    why: format!("the Docker host's kernel ({release}) has flakey v{a}.{b}.{c}"),
                });
            }
            Some(lacks) => (lacks, "leave it out of --nemesis".to_string()),
        },
        Probe::NoFlakey { said, .. } => (
            format!("the Docker host's kernel ({release}) lists no dm-flakey target ({said})"),
            "load it on the host with `modprobe dm-flakey`".to_string(),
        ),
        Probe::NoDmsetup { .. } => (
            "the images have no dmsetup (built before dm-flakey runs)".to_string(),
            "rebuild them with `chaos images build --force`".to_string(),
        ),
    };
    let (what, remedy) = missing;
    match forced {
        Some(Mechanism::DmFlakey) => Err(format!(
            "--disk-faults dm: {what}: {remedy}, or use --disk-faults fuse"
        )),
        _ => Ok(Choice {
            mechanism: Mechanism::FaultFs,
            why: what,
        }),
    }
}

#[cfg(test)]
#[path = "choice_tests.rs"]
mod tests;
