//! Every system under test the harness knows, and the look-ups the rest of
//! the harness makes by name (`--system`, `--workload`, `--read`, a results
//! folder's `test.json`). Errors say which names would have worked.

use crate::system::{System, Workload};

/// Declares the system modules and lists their `SYSTEM`s in one place, so
/// a new system is its module plus its name in the one invocation in
/// `lib.rs`.
macro_rules! systems {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+
        /// Every system, in the order help texts list them; the first is
        /// the default of `--system`.
        pub static SYSTEMS: &[&$crate::system::System] = &[$(&$module::SYSTEM),+];
    };
}
pub(crate) use systems;

/// Why a name did not match.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownName(pub String);

/// The system called `name`.
pub fn system(name: &str) -> Result<&'static System, UnknownName> {
    crate::SYSTEMS
        .iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| UnknownName(format!("--system {name:?}: use {}", or_list(names()))))
}

/// The names of every system.
pub fn names() -> Vec<&'static str> {
    crate::SYSTEMS.iter().map(|s| s.name).collect()
}

/// The default system (the first listed).
pub fn default_system() -> &'static System {
    crate::SYSTEMS[0]
}

/// `system`'s workload `workload`, or how to pick one that exists.
pub fn workload(
    system: &str,
    workload: &str,
) -> Result<(&'static System, &'static Workload), UnknownName> {
    let found = self::system(system)?;
    if let Some(w) = found.workload(workload) {
        return Ok((found, w));
    }
    let offered_elsewhere = crate::SYSTEMS
        .iter()
        .any(|s| s.workload(workload).is_some());
    Err(UnknownName(if offered_elsewhere {
        format!(
            "--system {system} does not run the {workload} workload: use {}",
            pairs()
        )
    } else {
        format!("--workload {workload:?}: use {}", workloads_by_system())
    }))
}

/// How `system` serves reads: `read` if it offers that, its default if
/// none is asked for, empty if it offers no choice.
pub fn read_mode(system: &System, read: Option<&str>) -> Result<String, UnknownName> {
    match (read, system.read_modes) {
        (None, modes) => Ok(modes.first().copied().unwrap_or_default().to_string()),
        (Some(read), modes) if modes.contains(&read) => Ok(read.to_string()),
        (Some(_), []) => {
            let offered: Vec<&str> = crate::SYSTEMS
                .iter()
                .filter(|s| !s.read_modes.is_empty())
                .map(|s| s.name)
                .collect();
            Err(UnknownName(format!(
                "--read applies to {}, not to {}: leave it out",
                or_list(offered),
                system.name
            )))
        }
        (Some(read), modes) => Err(UnknownName(format!(
            "--read {read:?}: use {}",
            or_list(modes.to_vec())
        ))),
    }
}

/// `--system etcd --workload register, or --system nats --workload log|queue`.
pub fn pairs() -> String {
    let each: Vec<String> = crate::SYSTEMS
        .iter()
        .map(|s| {
            let names: Vec<&str> = s.workloads.iter().map(|w| w.name).collect();
            format!("--system {} --workload {}", s.name, names.join("|"))
        })
        .collect();
    or_list(each)
}

/// `register (etcd), log or queue (nats)`.
pub fn workloads_by_system() -> String {
    let each: Vec<String> = crate::SYSTEMS
        .iter()
        .map(|s| {
            let names: Vec<&str> = s.workloads.iter().map(|w| w.name).collect();
            format!("{} ({})", or_list(names), s.name)
        })
        .collect();
    each.join(", ")
}

/// `a`, `a or b`, `a, b or c`.
fn or_list<S: AsRef<str>>(items: Vec<S>) -> String {
    let items: Vec<&str> = items.iter().map(|s| s.as_ref()).collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_and_workloads_pair_up_or_say_how() {
        let (system, register) = workload("etcd", "register").unwrap();
        assert_eq!((system.name, register.name), ("etcd", "register"));
        assert_eq!(workload("nats", "log").unwrap().1.name, "log");
        assert_eq!(workload("nats", "queue").unwrap().1.name, "queue");
        let e = workload("etcd", "queue").unwrap_err().0;
        assert_eq!(
            e,
            "--system etcd does not run the queue workload: use --system etcd --workload register or --system nats --workload log|queue"
        );
        let e = workload("etcd", "bank").unwrap_err().0;
        assert_eq!(
            e,
            "--workload \"bank\": use register (etcd), log or queue (nats)"
        );
        let e = workload("redis", "register").unwrap_err().0;
        assert_eq!(e, "--system \"redis\": use etcd or nats");
    }

    #[test]
    fn read_modes_are_the_systems_own() {
        let etcd = system("etcd").unwrap();
        assert_eq!(read_mode(etcd, None).unwrap(), "linearizable");
        assert_eq!(
            read_mode(etcd, Some("serializable")).unwrap(),
            "serializable"
        );
        let e = read_mode(etcd, Some("stale")).unwrap_err().0;
        assert_eq!(e, "--read \"stale\": use linearizable or serializable");
        // A system that offers no choice says so rather than ignore it.
        let nats = system("nats").unwrap();
        assert_eq!(read_mode(nats, None).unwrap(), "");
        let e = read_mode(nats, Some("linearizable")).unwrap_err().0;
        assert_eq!(e, "--read applies to etcd, not to nats: leave it out");
    }

    #[test]
    fn every_system_is_complete() {
        assert!(!crate::SYSTEMS.is_empty());
        for s in crate::SYSTEMS {
            assert!(!s.workloads.is_empty(), "{} offers no workload", s.name);
            assert!(!s.clusters.is_empty(), "{} has no compose file", s.name);
            assert!(
                s.phrases().next().is_some(),
                "{} has no log phrases",
                s.name
            );
            assert!(
                s.phrases().all(|p| p == p.to_ascii_lowercase()),
                "{}: log phrases are matched in lower case",
                s.name
            );
            assert_eq!(system(s.name).unwrap().name, s.name);
        }
        assert_eq!(default_system().name, names()[0]);
    }
}
