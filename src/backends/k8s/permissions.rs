//! The API permissions the backend uses: the list `k8s/rbac.yaml`'s Role
//! grants, exactly (a test compares the two, and the fake-API-server tests
//! check that every request the backend makes is covered).

use std::fmt;

/// One RBAC rule item: `verb` on `resource` of API group `api_group` (""
/// is the core group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub api_group: &'static str,
    pub resource: &'static str,
    pub verb: &'static str,
}

const fn core(resource: &'static str, verb: &'static str) -> Permission {
    Permission {
        api_group: "",
        resource,
        verb,
    }
}

/// Every permission the backend uses, in its namespace only (a Role, never
/// a ClusterRole):
///
/// * `pods` `list`: discovery, and waiting for the cluster to be Ready;
/// * `pods` `get`: one pod's state (before a kill, waiting for its replacement);
/// * `pods` `delete`: kill (grace period 0) and stop (a short grace period);
/// * `pods/exec` `get` and `create`: iptables and signals in the partition
///   sidecar. Exec goes over a websocket, a GET: API servers up to 1.34
///   authorize it as `get`; from 1.35 (`AuthorizePodWebsocketUpgradeCreatePermission`)
///   as `create`, like the older POST. We grant both so that one Role works
///   on either side of that change;
/// * `pods/log` `get`: the nodes' logs for the results folder.
pub const PERMISSIONS: &[Permission] = &[
    core("pods", "get"),
    core("pods", "list"),
    core("pods", "delete"),
    core("pods/exec", "get"),
    core("pods/exec", "create"),
    core("pods/log", "get"),
];

/// What a websocket exec needs, depending on the API server's version.
const EXEC: &[Permission] = &[core("pods/exec", "get"), core("pods/exec", "create")];

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.api_group.is_empty() {
            "core"
        } else {
            self.api_group
        };
        write!(f, "{} {} ({group})", self.verb, self.resource)
    }
}

/// The permissions the API server may check for a request of ours (all of
/// them must be granted: which one it checks depends on its version):
/// `method` and `uri` (path and query) as sent. None for a request outside
/// `namespace`, or of a kind the backend should never make.
pub fn required(method: &str, uri: &str, namespace: &str) -> Option<Vec<Permission>> {
    let path = uri.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix(&format!("/api/v1/namespaces/{namespace}/"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let needed = match (method, parts.as_slice()) {
        ("GET", ["pods"]) => vec![core("pods", "list")],
        ("GET", ["pods", name]) if !name.is_empty() => vec![core("pods", "get")],
        ("DELETE", ["pods", name]) if !name.is_empty() => vec![core("pods", "delete")],
        ("GET", ["pods", name, "exec"]) if !name.is_empty() => EXEC.to_vec(),
        ("POST", ["pods", name, "exec"]) if !name.is_empty() => vec![core("pods/exec", "create")],
        ("GET", ["pods", name, "log"]) if !name.is_empty() => vec![core("pods/log", "get")],
        _ => return None,
    };
    needed
        .iter()
        .all(|p| PERMISSIONS.contains(p))
        .then_some(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_the_permissions_the_api_server_checks() {
        let ns = "staging";
        let p = |m, u| {
            required(m, u, ns).map(|ps| {
                ps.iter()
                    .map(|p| format!("{} {}", p.verb, p.resource))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        assert_eq!(
            p(
                "GET",
                "/api/v1/namespaces/staging/pods?&labelSelector=app%3Detcd"
            )
            .as_deref(),
            Some("list pods")
        );
        assert_eq!(
            p("GET", "/api/v1/namespaces/staging/pods/etcd-0").as_deref(),
            Some("get pods")
        );
        assert_eq!(
            p("DELETE", "/api/v1/namespaces/staging/pods/etcd-0?").as_deref(),
            Some("delete pods")
        );
        assert_eq!(
            p(
                "GET",
                "/api/v1/namespaces/staging/pods/etcd-0/exec?&command=sh"
            )
            .as_deref(),
            Some("get pods/exec, create pods/exec")
        );
        assert_eq!(
            p(
                "GET",
                "/api/v1/namespaces/staging/pods/etcd-0/log?&container=etcd"
            )
            .as_deref(),
            Some("get pods/log")
        );
        // Another namespace, a cluster-wide list, a verb we never use.
        assert_eq!(p("GET", "/api/v1/namespaces/prod/pods"), None);
        assert_eq!(p("GET", "/api/v1/pods"), None);
        assert_eq!(p("PATCH", "/api/v1/namespaces/staging/pods/etcd-0"), None);
        assert_eq!(p("GET", "/api/v1/namespaces/staging/secrets/x"), None);
    }
}
