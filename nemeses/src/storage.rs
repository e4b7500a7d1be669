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

/// What a file fault does to a node's data files while the node is down
/// (Jepsen's file nemeses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Damage {
    /// [`FLIPS`] single bits flipped, at places drawn with the seed.
    Bitflip,
    /// One file cut short: its last part gone.
    Truncate,
}

/// How many bits a `bitflip` flips per node.
pub const FLIPS: usize = 16;

impl Damage {
    pub const ALL: [Damage; 2] = [Damage::Bitflip, Damage::Truncate];

    pub fn name(self) -> &'static str {
        match self {
            Damage::Bitflip => "bitflip",
            Damage::Truncate => "truncate",
        }
    }
}

/// One change to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Bit `bit` of the byte at `offset` inverted.
    Flip { path: String, offset: u64, bit: u8 },
    /// The file cut to `to` bytes.
    Truncate { path: String, from: u64, to: u64 },
}

/// The shell command that lists a node's data files for [`plan_damage`]:
/// `<size> <path>` per line, in a stable order.
pub fn list_files_script(data: &str) -> String {
    format!("find {data} -type f -size +0 -printf '%s %p\\n' | LC_ALL=C sort -k2")
}

/// The files of a [`list_files_script`] listing that hold data, and
/// their total size: what the file faults draw from.
pub(crate) struct DataFiles<'a> {
    files: Vec<(u64, &'a str)>,
    total: u64,
}

impl<'a> DataFiles<'a> {
    /// Err if no file holds data.
    pub(crate) fn parse(listing: &'a str) -> Result<DataFiles<'a>, String> {
        let files: Vec<(u64, &str)> = listing
            .lines()
            .filter_map(|line| {
                let (size, path) = line.trim().split_once(' ')?;
                Some((size.parse().ok()?, path))
            })
            .filter(|(size, _)| *size > 0)
            .collect();
        let total: u64 = files.iter().map(|(size, _)| size).sum();
        if total == 0 {
            return Err("its data directory holds no file with data yet".into());
        }
        Ok(DataFiles { files, total })
    }

    /// One file, drawn in proportion to its size (the data lives in the
    /// big ones): one `below(total)`. Its size and path.
    pub(crate) fn draw(&self, rng: &mut Rng) -> (u64, String) {
        let mut at = rng.below(self.total);
        for (size, path) in &self.files {
            if at < *size {
                return (*size, path.to_string());
            }
            at -= size;
        }
        unreachable!("the draw is below the sum of the sizes")
    }
}

/// The edits of `damage` on the files `listing` names, drawn from `seed`:
/// files are drawn in proportion to their size (the data lives in the big
/// ones), places uniformly within them. Err if there is nothing to damage.
pub fn plan_damage(damage: Damage, listing: &str, seed: u64) -> Result<Vec<Edit>, String> {
    let files = DataFiles::parse(listing)?;
    let mut rng = Rng::new(seed);
    let draw_file = |rng: &mut Rng| files.draw(rng);
    Ok(match damage {
        Damage::Bitflip => (0..FLIPS)
            .map(|_| {
                let (size, path) = draw_file(&mut rng);
                Edit::Flip {
                    path,
                    offset: rng.below(size),
                    bit: rng.below(8u64) as u8,
                }
            })
            .collect(),
        Damage::Truncate => {
            let (size, path) = draw_file(&mut rng);
            // Somewhere in its second half: the tail a crash would tear.
            let to = size / 2 + rng.below(size - size / 2);
            vec![Edit::Truncate {
                path,
                from: size,
                to,
            }]
        }
    })
}

/// The shell script that makes `edits` (perl for a bit, coreutils'
/// truncate), printing one line per edit; paths are quoted for `sh`.
pub fn damage_script(edits: &[Edit]) -> String {
    let mut script = String::from("set -e\n");
    for edit in edits {
        match edit {
            Edit::Flip { path, offset, bit } => script += &format!(
                "perl -e 'open(F, \"+<\", $ARGV[0]) or die \"$ARGV[0]: $!\"; binmode F; seek(F, $ARGV[1], 0); read(F, $b, 1) == 1 or die \"short read\"; seek(F, $ARGV[1], 0); print F chr(ord($b) ^ (1 << $ARGV[2])); close F or die' {} {offset} {bit}\necho flipped bit {bit} at {offset} of {}\n",
                quote(path),
                quote(path)
            ),
            Edit::Truncate { path, from, to } => {
                script += &format!(
                    "truncate -s {to} {}\necho cut {} from {from} to {to} bytes\n",
                    quote(path),
                    quote(path)
                )
            }
        }
    }
    script
}

/// `text` quoted for `sh`: in single quotes, each `'` closed, escaped and
/// reopened.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::Flip { path, offset, bit } => write!(f, "bit {bit} at {offset} of {path}"),
            Edit::Truncate { path, from, to } => write!(f, "{path} cut from {from} to {to} bytes"),
        }
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

    #[test]
    fn damage_is_planned_from_the_listing_and_the_seed() {
        let listing = "4096 /data/a/wal\n0 /data/empty\n100 /data/meta\n";
        let flips = plan_damage(Damage::Bitflip, listing, 7).unwrap();
        assert_eq!(flips.len(), FLIPS);
        assert_eq!(flips, plan_damage(Damage::Bitflip, listing, 7).unwrap());
        assert_ne!(flips, plan_damage(Damage::Bitflip, listing, 8).unwrap());
        for edit in &flips {
            let Edit::Flip { path, offset, bit } = edit else {
                panic!("{edit:?}")
            };
            let size = if path == "/data/a/wal" { 4096 } else { 100 };
            assert!(*offset < size && *bit < 8, "{edit}");
            assert_ne!(path, "/data/empty");
        }
        let cut = plan_damage(Damage::Truncate, listing, 7).unwrap();
        let [Edit::Truncate { from, to, .. }] = cut.as_slice() else {
            panic!("{cut:?}")
        };
        assert!(*to >= from / 2 && to < from, "{cut:?}");
        assert!(plan_damage(Damage::Truncate, "0 /data/x\n", 1).is_err());
    }

    #[test]
    fn damage_scripts_quote_paths_and_parse_as_sh() {
        let edits = [
            Edit::Flip {
                path: "/data/it's".into(),
                offset: 3,
                bit: 1,
            },
            Edit::Truncate {
                path: "/data/b".into(),
                from: 10,
                to: 6,
            },
        ];
        let script = damage_script(&edits);
        assert!(script.contains("'/data/it'\\''s' 3 1"), "{script}");
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
