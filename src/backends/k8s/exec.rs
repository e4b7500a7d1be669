//! Running a command in a container of a pod (`pods/exec`, a websocket):
//! its exit code and its output, under the API time limit.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use tokio::io::AsyncReadExt;

use super::error::{api_error, one_line, seconds, K8sError};
use super::K8sCluster;

/// What a command said: its exit code and stdout followed by stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub code: i32,
    pub text: String,
}

impl K8sCluster {
    /// Run `argv` in `container` of pod `pod`. Refuses our own pod.
    pub(crate) async fn exec(
        &self,
        pod: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<Output, K8sError> {
        self.guard(pod)?;
        let doing = format!(
            "cannot run {} in container {container} of pod {pod}",
            argv[0]
        );
        let limit = self.target.api_timeout;
        match tokio::time::timeout(limit, run(&self.pods, pod, container, argv)).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(Failure::Api(e))) => Err(api_error(&doing, self.namespace(), &e)),
            Ok(Err(Failure::Other(why))) => Err(K8sError::Harness(format!("{doing}: {why}"))),
            Err(_) => Err(K8sError::Harness(format!(
                "{doing}: no answer within {}: check that the pod is Running (kubectl get pod {pod} -n {})",
                seconds(limit),
                self.namespace()
            ))),
        }
    }

    /// Never act on the pod the harness runs in (discovery refuses such a
    /// selector; this is the second lock on the door).
    pub(crate) fn guard(&self, pod: &str) -> Result<(), K8sError> {
        if self.target.own_pod.as_deref() == Some(pod) {
            return Err(K8sError::BadInput(format!(
                "refusing to act on pod {pod}: the harness runs in it"
            )));
        }
        Ok(())
    }
}

enum Failure {
    Api(kube::Error),
    Other(String),
}

async fn run(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    argv: &[&str],
) -> Result<Output, Failure> {
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = pods
        .exec(pod, argv.iter().map(|a| a.to_string()), &params)
        .await
        .map_err(Failure::Api)?;
    let status = process.take_status();
    let (mut out, mut err) = (process.stdout(), process.stderr());
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let read_out = async {
        if let Some(s) = out.as_mut() {
            s.read_to_end(&mut stdout).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let read_err = async {
        if let Some(s) = err.as_mut() {
            s.read_to_end(&mut stderr).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let (a, b) = tokio::join!(read_out, read_err);
    a.and(b)
        .map_err(|e| Failure::Other(format!("reading its output failed: {e}")))?;
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    process.join().await.map_err(|e| {
        Failure::Other(format!(
            "the exec stream failed: {}",
            one_line(&e.to_string())
        ))
    })?;
    let text = String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr);
    let status =
        status.ok_or_else(|| Failure::Other("the exec ended without an exit status".into()))?;
    exit_code(&status)
        .map(|code| Output { code, text })
        .map_err(Failure::Other)
}

/// The exit code in the status an exec ends with: 0 on `Success`, the
/// `ExitCode` cause on `NonZeroExitCode`; anything else (the command could
/// not start) is an error with the API server's message.
pub fn exit_code(status: &Status) -> Result<i32, String> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .iter()
            .flat_map(|d| d.causes.iter().flatten())
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref()?.trim().parse().ok());
        if let Some(code) = code {
            return Ok(code);
        }
    }
    let why = status
        .message
        .as_deref()
        .or(status.reason.as_deref())
        .unwrap_or("no reason given");
    Err(format!("it did not run: {}", one_line(why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: serde_json::Value) -> Status {
        serde_json::from_value(json).expect("a Status")
    }

    #[test]
    fn exit_codes_come_from_the_final_status() {
        assert_eq!(
            exit_code(&status(serde_json::json!({"status": "Success"}))),
            Ok(0)
        );
        let failed = status(serde_json::json!({
            "status": "Failure",
            "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: exit status 1",
            "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}
        }));
        assert_eq!(exit_code(&failed), Ok(1));
        let not_found = status(serde_json::json!({
            "status": "Failure",
            "message": "exec: \"pkill\": executable file not found in $PATH",
        }));
        let e = exit_code(&not_found).unwrap_err();
        assert!(e.contains("executable file not found"), "{e}");
    }
}
