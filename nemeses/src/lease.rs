//! Run leases: which run owns which cluster right now, and where its fault
//! journal is.
//!
//! A live `chaos run` holds a lease: a small JSON file in this machine's
//! lease folder, locked by the run's process for as long as it lives. The
//! lock is an OS file lock, so the kernel releases it when the process dies,
//! however it dies (SIGKILL, OOM, power cut): a lease whose lock is free
//! belongs to a run that is provably over. `chaos heal` and `chaos cluster
//! down` read the folder and leave a live run's cluster alone; the lease of
//! a run that died still names its journal, wherever `--results` pointed, so
//! a plain `chaos heal` finds the faults it left.
//!
//! A lease written on another host (a folder shared between machines)
//! cannot be checked from here: it counts as alive unless the user says it
//! is not (`--force`).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a lease says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInfo {
    /// The run id, as the journal files its faults.
    pub run: String,
    /// `docker` or `k8s`.
    pub backend: String,
    /// The cluster as its backend names it: a compose project, or
    /// `namespace/selector`.
    pub cluster: String,
    /// The run's fault journal, as an absolute path.
    pub journal: PathBuf,
    /// The run's results folder.
    pub results: PathBuf,
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch.
    pub started_unix_s: u64,
}

impl LeaseInfo {
    /// A lease for `run` held by this process on this host, from now.
    pub fn here(run: &str, backend: &str, cluster: &str, journal: &Path, results: &Path) -> Self {
        LeaseInfo {
            run: run.to_string(),
            backend: backend.to_string(),
            cluster: cluster.to_string(),
            journal: absolute(journal),
            results: absolute(results),
            pid: std::process::id(),
            host: this_host(),
            started_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// `run R (pid P on host H)`, for messages.
    pub fn holder(&self) -> String {
        format!("run {} (pid {} on host {})", self.run, self.pid, self.host)
    }
}

/// Whether the run that wrote a lease is still going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Its process holds the lock.
    Alive,
    /// Nobody holds the lock: the run ended without releasing it (a crash).
    Dead,
    /// Written on another host: the lock says nothing from here.
    Elsewhere,
}

/// A lease as found in the folder.
#[derive(Clone, Debug)]
pub struct Found {
    pub info: LeaseInfo,
    pub owner: Owner,
    pub path: PathBuf,
}

impl Found {
    /// May a heal or a `cluster down` act on this run's cluster? Never while
    /// it is alive here; one from another host only when forced.
    pub fn may_touch(&self, force: bool) -> bool {
        match self.owner {
            Owner::Alive => false,
            Owner::Dead => true,
            Owner::Elsewhere => force,
        }
    }

    /// Why a heal left this run's cluster alone, and what to do.
    pub fn refusal(&self) -> String {
        let info = &self.info;
        match self.owner {
            Owner::Alive | Owner::Dead => format!(
                "{} is live and owns {}: it heals its own faults when it ends; stop it (kill -TERM {}) to heal now",
                info.holder(),
                info.cluster,
                info.pid
            ),
            Owner::Elsewhere => format!(
                "{} owns {} and cannot be checked from this host: if you know it is dead, add --force",
                info.holder(),
                info.cluster
            ),
        }
    }

    /// Delete the lease of a run that is over, once nothing of it is left.
    pub fn remove(&self) -> Result<(), LeaseError> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LeaseError::Io {
                path: self.path.clone(),
                doing: "remove",
                error: e,
            }),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "cannot {doing} the run lease {}: {error} (set CHAOS_STATE_DIR to a writable folder)",
        path.display()
    )]
    Io {
        path: PathBuf,
        doing: &'static str,
        #[source]
        error: io::Error,
    },
    /// A lease file that is not a lease.
    #[error("run lease {} is damaged ({reason}): delete it if no run of it is going", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Another live process already holds a lease for this run id.
    #[error("{holder} already holds this run id: give another")]
    Taken { holder: String },
}

/// The folder leases live in: `$CHAOS_STATE_DIR/runs`, else under
/// `$XDG_STATE_HOME` or `~/.local/state` (`chaos/runs`).
pub fn default_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let base = if let Some(dir) = env("CHAOS_STATE_DIR") {
        PathBuf::from(dir)
    } else if let Some(dir) = env("XDG_STATE_HOME") {
        PathBuf::from(dir).join("chaos")
    } else if let Some(home) = env("HOME") {
        PathBuf::from(home).join(".local/state/chaos")
    } else {
        std::env::temp_dir().join("chaos-state")
    };
    base.join("runs")
}

/// A lease this process holds. Dropping it removes the file, unless
/// [`Lease::keep`] was called (a run that could not heal everything leaves
/// its lease for `chaos heal`) or the thread is panicking. A process that
/// dies without dropping it (SIGKILL) leaves the file, and the kernel
/// releases the lock: a dead run's lease.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
    keep: bool,
    // Holds the lock; closed (and so unlocked) with the process.
    _file: File,
}

impl Lease {
    /// Write and lock `info`'s lease in `dir`. The file is locked before it
    /// takes its name, so nobody ever sees it unlocked while its run lives.
    pub fn take(dir: &Path, info: &LeaseInfo) -> Result<Lease, LeaseError> {
        let io_error = |path: &Path, doing, error| LeaseError::Io {
            path: path.to_path_buf(),
            doing,
            error,
        };
        fs::create_dir_all(dir).map_err(|e| io_error(dir, "create the folder of", e))?;
        let path = dir.join(format!("{}.json", file_stem(&info.run)));
        if let Ok(found) = read(&path) {
            if found.owner != Owner::Dead {
                return Err(LeaseError::Taken {
                    holder: found.info.holder(),
                });
            }
        }
        let tmp = dir.join(format!(".{}.{}.tmp", file_stem(&info.run), info.pid));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| io_error(&tmp, "create", e))?;
        file.try_lock().map_err(|e| {
            let e = match e {
                TryLockError::Error(e) => e,
                TryLockError::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
            };
            io_error(&tmp, "lock", e)
        })?;
        let text = serde_json::to_vec_pretty(info).expect("a lease always serialises");
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&tmp, "write", e))?;
        fs::rename(&tmp, &path).map_err(|e| io_error(&path, "create", e))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Lease {
            path,
            keep: false,
            _file: file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leave the file when this is dropped: faults of the run may still be
    /// in force, and the lease is how `chaos heal` finds its journal.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.keep && !std::thread::panicking() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The lease among `leases` whose run `run` must not be touched: alive
/// here, or (without `force`) written on another host.
pub fn owner_of<'a>(leases: &'a [Found], run: &str, force: bool) -> Option<&'a Found> {
    leases
        .iter()
        .find(|l| l.info.run == run && !l.may_touch(force))
}

/// Every lease in `dir` (none when it does not exist), oldest first.
pub fn list(dir: &Path) -> Result<Vec<Found>, LeaseError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(LeaseError::Io {
                path: dir.to_path_buf(),
                doing: "list",
                error,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // `.NAME.tmp` files are leases being written: not yet anyone's.
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        match read(&path) {
            Ok(lease) => found.push(lease),
            // Removed between the listing and the read: a run that ended.
            Err(LeaseError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    found.sort_by_key(|f| (f.info.started_unix_s, f.info.run.clone()));
    Ok(found)
}

/// One lease and whether its run still holds it.
fn read(path: &Path) -> Result<Found, LeaseError> {
    let bytes = fs::read(path).map_err(|error| LeaseError::Io {
        path: path.to_path_buf(),
        doing: "read",
        error,
    })?;
    let info: LeaseInfo = serde_json::from_slice(&bytes).map_err(|e| LeaseError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let owner = if info.host != this_host() {
        Owner::Elsewhere
    } else {
        held(path)
    };
    Ok(Found {
        info,
        owner,
        path: path.to_path_buf(),
    })
}

/// Does some process hold the lock on `path`? Asked by taking it for a
/// moment; a file we cannot open counts as held (never guess "dead").
fn held(path: &Path) -> Owner {
    let Ok(file) = File::open(path) else {
        return Owner::Alive;
    };
    match file.try_lock() {
        Ok(()) => Owner::Dead,
        Err(_) => Owner::Alive,
    }
}

/// This machine's name, as leases record it.
pub fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A run id as a file name: anything but `[A-Za-z0-9._-]` becomes `_`.
fn file_stem(run: &str) -> String {
    run.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("chaos-lease-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn info(run: &str) -> LeaseInfo {
        LeaseInfo::here(
            run,
            "docker",
            "chaos-etcd-3-x",
            Path::new("r/journal.jsonl"),
            Path::new("r"),
        )
    }

    #[test]
    fn a_held_lease_is_alive_and_a_dropped_one_is_dead() {
        let dir = folder("held");
        let lease = Lease::take(&dir, &info("r1")).unwrap();
        let found = list(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].owner, Owner::Alive);
        assert!(!found[0].may_touch(true), "alive here: not even --force");
        assert!(found[0].info.journal.is_absolute());
        assert!(found[0].refusal().contains("kill -TERM"));
        // Kept and dropped: what a crash leaves. The file stays, the lock
        // goes, and the run is provably over.
        let mut lease = lease;
        lease.keep();
        drop(lease);
        let found = list(&dir).unwrap();
        assert_eq!(found[0].owner, Owner::Dead);
        assert!(found[0].may_touch(false));
        found[0].remove().unwrap();
        assert!(list(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dropping_removes_and_a_live_run_id_cannot_be_taken_twice() {
        let dir = folder("twice");
        let lease = Lease::take(&dir, &info("r2")).unwrap();
        let e = Lease::take(&dir, &info("r2")).unwrap_err();
        assert!(e.to_string().contains("already holds this run id"), "{e}");
        drop(lease);
        assert!(list(&dir).unwrap().is_empty());
        // A dead lease of the same id is replaced.
        Lease::take(&dir, &info("r2")).unwrap().keep();
        assert_eq!(list(&dir).unwrap()[0].owner, Owner::Dead);
        drop(Lease::take(&dir, &info("r2")).unwrap());
        assert!(list(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_hosts_lease_needs_force_and_bad_files_are_named() {
        let dir = folder("elsewhere");
        fs::create_dir_all(&dir).unwrap();
        let mut other = info("r3");
        other.host = format!("{}-not", this_host());
        fs::write(dir.join("r3.json"), serde_json::to_vec(&other).unwrap()).unwrap();
        fs::write(dir.join(".r4.1.tmp"), b"half").unwrap();
        let found = list(&dir).unwrap();
        assert_eq!(found.len(), 1, "the tmp file is nobody's yet");
        assert_eq!(found[0].owner, Owner::Elsewhere);
        assert!(!found[0].may_touch(false) && found[0].may_touch(true));
        assert!(found[0].refusal().contains("--force"));
        fs::write(dir.join("r5.json"), b"{").unwrap();
        let e = list(&dir).unwrap_err();
        assert!(e.to_string().contains("r5.json is damaged"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn run_ids_become_safe_file_names() {
        assert_eq!(file_stem("project:a/b"), "project_a_b");
        assert_eq!(file_stem("k8s:staging/app=etcd"), "k8s_staging_app_etcd");
    }
}
