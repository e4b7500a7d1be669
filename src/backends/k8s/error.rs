//! [`K8sError`]: what went wrong, as one line saying what to do next, split
//! by whose move it is (the user's: exit 254; the environment's: exit 255),
//! like the Docker backend's errors.

use std::time::Duration;

/// Kubernetes calls fail like every command: see [`crate::error::Failure`].
pub use crate::error::Failure as K8sError;

pub(crate) use crate::backends::one_line;

/// The HTTP status of a failed call, if the API server answered at all.
pub(crate) fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// A failed API call as one line: what we were `doing` (e.g. "cannot delete
/// pod etcd-0"), then why, then what to do about it.
pub(crate) fn api_error(doing: &str, namespace: &str, e: &kube::Error) -> K8sError {
    match e {
        kube::Error::Api(status) => {
            let message = one_line(&status.message);
            match status.code {
                401 => K8sError::Harness(format!(
                    "{doing}: the API server refused our credentials (401 {message}): check KUBECONFIG or the pod's service account token"
                )),
                403 => K8sError::Harness(format!(
                    "{doing}: forbidden in namespace {namespace} (403 {message}): bind the harness's service account to the Role in k8s/rbac.yaml"
                )),
                404 => K8sError::Harness(format!(
                    "{doing}: not found in namespace {namespace} (404 {message}): check the namespace and that the pod still exists (kubectl get pods -n {namespace})"
                )),
                code => K8sError::Harness(format!(
                    "{doing}: the API server answered {code} {}: {message}",
                    status.reason
                )),
            }
        }
        other => K8sError::Harness(format!(
            "{doing}: cannot talk to the API server ({}): check that it is reachable (kubectl get pods -n {namespace})",
            one_line(&other.to_string())
        )),
    }
}

pub(crate) fn timed_out(doing: &str, namespace: &str, limit: Duration) -> K8sError {
    K8sError::Harness(format!(
        "{doing}: the API server did not answer within {}: check that it is reachable (kubectl get pods -n {namespace})",
        seconds(limit)
    ))
}

/// `2s`, `0.2s`: durations in messages.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}
