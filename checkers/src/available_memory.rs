//! How much memory this process can still take before the system stops
//! it: the least of the machine's available memory, the headroom of every
//! memory cgroup it is in, and the headroom of its address-space limit.
//!
//! A search that outgrows this is killed by the kernel's OOM killer (or
//! aborts on a failed allocation) instead of saying `unknown`, so the
//! linearizability checker takes its memory budget from it (see
//! `linear::memory`). Linux only; elsewhere nothing is known (`None`).

use std::path::Path;

/// Memory this process may still take, and the limit that says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    pub bytes: u64,
    /// `MemAvailable`, `cgroup memory.max` (v2), `cgroup
    /// memory.limit_in_bytes` (v1), or `RLIMIT_AS`.
    pub limited_by: &'static str,
}

/// What is available now, read from `/proc` and `/sys`.
pub fn available() -> Option<Available> {
    available_under(Path::new("/"))
}

/// The same, with `/proc` and `/sys` under `root` (tests give a fake tree).
pub fn available_under(root: &Path) -> Option<Available> {
    let read = |path: &str| std::fs::read_to_string(root.join(path)).ok();
    let mut limits = Vec::new();
    if let Some(bytes) = read("proc/meminfo").and_then(|m| meminfo_available(&m)) {
        limits.push(Available {
            bytes,
            limited_by: "MemAvailable",
        });
    }
    if let Some(cgroups) = read("proc/self/cgroup") {
        limits.extend(cgroup_headroom(root, &cgroups));
    }
    if let (Some(limits_file), Some(status)) = (read("proc/self/limits"), read("proc/self/status"))
    {
        limits.extend(address_space_headroom(&limits_file, &status));
    }
    limits.into_iter().min_by_key(|a| a.bytes)
}

/// `MemAvailable:  23608964 kB` in bytes.
fn meminfo_available(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemAvailable:")
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The headroom of the memory cgroups this process is in: for its own
/// cgroup and each ancestor that has a limit, the limit minus what the
/// cgroup uses (reclaimable page cache, `inactive_file`, not counted as
/// used). Inside a container the path `/proc/self/cgroup` gives may not
/// exist under the mount (the container sees its own cgroup as the root),
/// so every ancestor that exists is read, the mount's root included.
fn cgroup_headroom(root: &Path, cgroups: &str) -> Vec<Available> {
    let mut found = Vec::new();
    for line in cgroups.lines() {
        // hierarchy-id:controllers:path; v2 is `0::path`.
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let v2 = controllers.is_empty();
        if !v2 && !controllers.split(',').any(|c| c == "memory") {
            continue;
        }
        let (mount, limit_file, usage_file, inactive, name) = if v2 {
            (
                "sys/fs/cgroup",
                "memory.max",
                "memory.current",
                "inactive_file",
                "cgroup memory.max",
            )
        } else {
            (
                "sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
                "cgroup memory.limit_in_bytes",
            )
        };
        let mount = root.join(mount);
        let mut dir = Some(mount.join(path.trim_start_matches('/')));
        while let Some(at) = dir {
            let read = |file: &str| std::fs::read_to_string(at.join(file)).ok();
            // "max" (v2) and a near-2^63 page-rounded number (v1) mean no limit.
            let limit = read(limit_file)
                .and_then(|l| l.trim().parse::<u64>().ok())
                .filter(|&l| l < 1 << 62);
            if let Some(limit) = limit {
                let usage = read(usage_file).and_then(|u| u.trim().parse::<u64>().ok());
                let reclaimable = read("memory.stat")
                    .and_then(|s| stat_field(&s, inactive))
                    .unwrap_or(0);
                let used = usage.unwrap_or(0).saturating_sub(reclaimable);
                found.push(Available {
                    bytes: limit.saturating_sub(used),
                    limited_by: name,
                });
            }
            dir = (at != mount)
                .then(|| at.parent().map(Path::to_path_buf))
                .flatten();
        }
    }
    found
}

/// `name value` from a cgroup's `memory.stat`.
fn stat_field(stat: &str, name: &str) -> Option<u64> {
    stat.lines().find_map(|l| {
        let (field, value) = l.split_once(' ')?;
        (field == name).then(|| value.trim().parse().ok()).flatten()
    })
}

/// `RLIMIT_AS` (`ulimit -v`) minus the address space already mapped: past
/// it an allocation fails and the process aborts.
fn address_space_headroom(limits: &str, status: &str) -> Option<Available> {
    // Max address space            unlimited            unlimited            bytes
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max address space"))?
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    let mapped = kib_field(status, "VmSize:").unwrap_or(0);
    Some(Available {
        bytes: soft.saturating_sub(mapped),
        limited_by: "RLIMIT_AS",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fake `/` holding the given files.
    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(name: &str, files: &[(&str, &str)]) -> Self {
            let root = std::env::temp_dir().join(format!(
                "chaos-available-memory-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&root);
            for (path, text) in files {
                let path = root.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            FakeRoot(root)
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const MEMINFO: &str = "MemTotal:       24684084 kB\n\
                           MemFree:        17983360 kB\n\
                           MemAvailable:    8000000 kB\n";
    const GIB: u64 = 1 << 30;

    #[test]
    fn without_limits_it_is_the_machines_available_memory() {
        let root = FakeRoot::new(
            "plain",
            &[
                ("proc/meminfo", MEMINFO),
                ("proc/self/cgroup", "0::/user.slice\n"),
                ("sys/fs/cgroup/user.slice/memory.max", "max\n"),
                ("sys/fs/cgroup/memory.max", "max\n"),
            ],
        );
        assert_eq!(
            available_under(&root.0),
            Some(Available {
                bytes: 8_000_000 * 1024,
                limited_by: "MemAvailable"
            })
        );
    }

    #[test]
    fn a_cgroup_v2_limit_counts_its_usage_but_not_its_reclaimable_cache() {
        let root = FakeRoot::new(
            "v2",
            &[
                ("proc/meminfo", MEMINFO),
                ("proc/self/cgroup", "0::/docker/abc\n"),
                (
                    "sys/fs/cgroup/docker/abc/memory.max",
                    &format!("{}\n", 2 * GIB),
                ),
                (
                    "sys/fs/cgroup/docker/abc/memory.current",
                    &format!("{GIB}\n"),
                ),
                (
                    "sys/fs/cgroup/docker/abc/memory.stat",
                    &format!("anon 123\ninactive_file {}\nactive_file 9\n", GIB / 2),
                ),
            ],
        );
        // 2 GiB limit, 1 GiB used of which half is reclaimable cache.
        assert_eq!(
            available_under(&root.0),
            Some(Available {
                bytes: 2 * GIB - GIB / 2,
                limited_by: "cgroup memory.max"
            })
        );
    }

    #[test]
    fn a_cgroup_v1_limit_is_found_on_an_ancestor_and_unlimited_is_ignored() {
        let root = FakeRoot::new(
            "v1",
            &[
                ("proc/meminfo", MEMINFO),
                (
                    "proc/self/cgroup",
                    "9:name=systemd:/\n4:memory:/kubepods/pod1/ctr\n0::/\n",
                ),
                // The container's own cgroup is not visible; its pod's is.
                (
                    "sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes",
                    &format!("{GIB}\n"),
                ),
                (
                    "sys/fs/cgroup/memory/kubepods/pod1/memory.usage_in_bytes",
                    &format!("{}\n", GIB / 4),
                ),
                (
                    "sys/fs/cgroup/memory/memory.limit_in_bytes",
                    "9223372036854771712\n",
                ),
            ],
        );
        assert_eq!(
            available_under(&root.0),
            Some(Available {
                bytes: GIB - GIB / 4,
                limited_by: "cgroup memory.limit_in_bytes"
            })
        );
    }

    #[test]
    fn an_address_space_limit_counts_what_is_already_mapped() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max stack size            8388608              unlimited            bytes\n\
                      Max address space         1073741824           unlimited            bytes\n";
        let root = FakeRoot::new(
            "rlimit",
            &[
                ("proc/meminfo", MEMINFO),
                ("proc/self/limits", limits),
                ("proc/self/status", "Name:\tchaos\nVmSize:\t  262144 kB\n"),
            ],
        );
        assert_eq!(
            available_under(&root.0),
            Some(Available {
                bytes: GIB - GIB / 4,
                limited_by: "RLIMIT_AS"
            })
        );
        let unlimited = limits.replace("1073741824", "unlimited ");
        assert_eq!(address_space_headroom(&unlimited, "VmSize: 1 kB"), None);
    }

    #[test]
    fn nothing_readable_means_nothing_known() {
        let root = FakeRoot::new("empty", &[]);
        assert_eq!(available_under(&root.0), None);
    }

    #[test]
    fn this_machine_reports_something() {
        // The test machines are Linux: /proc/meminfo is always there.
        let here = available().expect("/proc/meminfo is readable");
        assert!(here.bytes > 0);
    }
}
