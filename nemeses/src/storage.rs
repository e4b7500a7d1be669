//! The parameters of the disk faults: which nodes lose their unsynced
//! writes together ([`Crowd`]), dm-flakey's modes ([`Flakey`]), and a slow
//! disk's delay. They are carried out by the fault filesystem under a
//! node's data (`faultfs/`, docs/disk-faults.md), or by dm-flakey where the
//! node's kernel has it (`disk::dm_flakey`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::grudge::{check_nodes, sorted_naturally, NodeName};
use crate::rng::Rng;

/// How many nodes a fault takes down at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crowd {
    /// One node, drawn with the seed.
    One,
    /// ⌊(n−1)/2⌋ nodes, drawn with the seed: the cluster keeps a quorum.
    Minority,
    /// Every node at once: a coordinated power failure.
    All,
}

impl Crowd {
    pub const ALL: [Crowd; 3] = [Crowd::One, Crowd::Minority, Crowd::All];

    /// The suffix of the fault's name: ``, `-minority`, `-all`.
    pub fn suffix(self) -> &'static str {
        match self {
            Crowd::One => "",
            Crowd::Minority => "-minority",
            Crowd::All => "-all",
        }
    }

    /// The nodes, drawn from `nodes`. The draws: one `below(n)` for one,
    /// one shuffle for a minority, none for all.
    pub fn pick(self, nodes: &[NodeName], rng: &mut Rng) -> Result<Vec<NodeName>, String> {
        match self {
            Crowd::One => {
                check_nodes("one", nodes, 1)?;
                Ok(vec![nodes[rng.below(nodes.len())].clone()])
            }
            Crowd::Minority => {
                check_nodes("minority", nodes, 3)?;
                let mut shuffled = nodes.to_vec();
                rng.shuffle(&mut shuffled);
                shuffled.truncate((nodes.len() - 1) / 2);
                Ok(sorted_naturally(shuffled))
            }
            Crowd::All => {
                check_nodes("all", nodes, 1)?;
                Ok(sorted_naturally(nodes.to_vec()))
            }
        }
    }
}

/// What a flakey disk does while it is down: dm-flakey's modes, by their
/// names there (`corrupt_bio_byte` split by direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlakeyMode {
    /// Writes succeed and are thrown away.
    DropWrites,
    /// Writes fail with EIO.
    ErrorWrites,
    /// Reads fail with EIO.
    ErrorReads,
    /// One byte of every read is replaced.
    CorruptReads,
    /// One byte of every write is replaced.
    CorruptWrites,
}

impl FlakeyMode {
    pub const ALL: [FlakeyMode; 5] = [
        FlakeyMode::DropWrites,
        FlakeyMode::ErrorWrites,
        FlakeyMode::ErrorReads,
        FlakeyMode::CorruptReads,
        FlakeyMode::CorruptWrites,
    ];

    /// `drop-writes`, ...: the command line's name.
    pub fn name(self) -> &'static str {
        match self {
            FlakeyMode::DropWrites => "drop-writes",
            FlakeyMode::ErrorWrites => "error-writes",
            FlakeyMode::ErrorReads => "error-reads",
            FlakeyMode::CorruptReads => "corrupt-reads",
            FlakeyMode::CorruptWrites => "corrupt-writes",
        }
    }
}

impl FromStr for FlakeyMode {
    type Err = String;

    fn from_str(text: &str) -> Result<FlakeyMode, String> {
        FlakeyMode::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = FlakeyMode::ALL.iter().map(|m| m.name()).collect();
                format!("unknown flakey mode {text:?}: use {}", names.join(", "))
            })
    }
}

/// A flakey disk: `up_ms` of good service, then `down_ms` in `mode`, and
/// again, for as long as the fault is held (dm-flakey's intervals, in
/// milliseconds rather than its seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flakey {
    pub mode: FlakeyMode,
    pub up_ms: u32,
    pub down_ms: u32,
}

/// The byte a corrupting mode writes, at the 512th byte of each request
/// (dm-flakey's `corrupt_bio_byte 512 <dir> 0x5a`): a value no text or
/// length field is likely to hold by chance.
pub const CORRUPT_BYTE: (u32, u8) = (512, 0x5a);

impl Flakey {
    /// `flakey:<mode>` holds the mode for 2 s in every 4.
    pub fn new(mode: FlakeyMode) -> Flakey {
        Flakey {
            mode,
            up_ms: 2_000,
            down_ms: 2_000,
        }
    }

    /// The fault filesystem's control request that puts it in force.
    pub fn control(&self) -> Value {
        let (mode, direction) = match self.mode {
            FlakeyMode::DropWrites => ("drop_writes", None),
            FlakeyMode::ErrorWrites => ("error_writes", None),
            FlakeyMode::ErrorReads => ("error_reads", None),
            FlakeyMode::CorruptReads => ("corrupt_bio_byte", Some("r")),
            FlakeyMode::CorruptWrites => ("corrupt_bio_byte", Some("w")),
        };
        let mut request = json!({
            "op": "flakey",
            "up_ms": self.up_ms,
            "down_ms": self.down_ms,
            "mode": mode,
        });
        if let Some(direction) = direction {
            request["direction"] = json!(direction);
            request["byte"] = json!(CORRUPT_BYTE.0);
            request["value"] = json!(CORRUPT_BYTE.1);
        }
        request
    }
}

impl fmt::Display for Flakey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} ms up, {} ms down)",
            self.mode.name(),
            self.up_ms,
            self.down_ms
        )
    }
}

/// `slow-disk:<delay>`'s request: every read, write and fsync delayed.
pub fn slow_disk_control(delay_ms: u32) -> Value {
    json!({"op": "latency", "reads_ms": delay_ms, "writes_ms": delay_ms, "fsync_ms": delay_ms})
}

/// Every fault of the fault filesystem ended (its unsynced data kept).
pub fn clear_control() -> Value {
    json!({"op": "clear"})
}

/// A delay written `100ms` or `1s`, 1 ms to 10 s.
pub fn parse_delay(text: &str) -> Result<u32, String> {
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1_000)
    } else {
        return Err(format!(
            "{text:?} is not a delay: write it with ms or s, e.g. 100ms"
        ));
    };
    let value: u32 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a delay such as 100ms or 2s"))?;
    match value.checked_mul(scale) {
        Some(ms) if (1..=10_000).contains(&ms) => Ok(ms),
        _ => Err(format!(
            "{text} is out of range: a disk delay is 1ms to 10s"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowds_take_one_a_minority_or_all() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let mut rng = Rng::new(3);
        assert_eq!(Crowd::One.pick(&nodes, &mut rng).unwrap().len(), 1);
        let minority = Crowd::Minority.pick(&nodes, &mut rng).unwrap();
        assert_eq!(minority.len(), 2);
        assert_eq!(Crowd::All.pick(&nodes, &mut rng).unwrap(), nodes);
        assert!(Crowd::Minority.pick(&nodes[..2], &mut rng).is_err());
    }

    #[test]
    fn modes_parse_by_name_and_say_which_exist() {
        for mode in FlakeyMode::ALL {
            assert_eq!(mode.name().parse::<FlakeyMode>().unwrap(), mode);
        }
        let e = "error_writes".parse::<FlakeyMode>().unwrap_err();
        assert!(e.contains("use drop-writes, error-writes"), "{e}");
    }

    #[test]
    fn control_requests_name_dm_flakeys_modes() {
        let r = Flakey::new(FlakeyMode::CorruptReads).control();
        assert_eq!(r["mode"], "corrupt_bio_byte");
        assert_eq!(r["direction"], "r");
        assert_eq!(r["byte"], 512);
        let r = Flakey::new(FlakeyMode::ErrorWrites).control();
        assert_eq!(r["mode"], "error_writes");
        assert!(r.get("direction").is_none());
    }

    #[test]
    fn delays_are_bounded() {
        assert_eq!(parse_delay("100ms").unwrap(), 100);
        assert_eq!(parse_delay("2s").unwrap(), 2_000);
        assert!(parse_delay("-5ms").is_err());
        assert!(parse_delay("0ms").is_err());
        assert!(parse_delay("11s").is_err());
        assert!(parse_delay("100").is_err());
    }
}
