//! The one error type of the commands: whose move it is (the user's: bad
//! input, exit 254; the environment's: exit 255) and one line saying what is
//! wrong and what to do. Backends (Docker, Kubernetes) and the results folder
//! all end in it, so a command handles every failure the same way.

use chaos_nemeses::ClusterError;

use crate::exit::{BAD_INPUT, HARNESS, LIVE_RUN};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Harness(String),
    /// A live run owns the cluster: nothing was done to it (exit 3).
    #[error("{0}")]
    LiveRun(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::BadInput(_) => BAD_INPUT,
            Failure::Harness(_) => HARNESS,
            Failure::LiveRun(_) => LIVE_RUN,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::BadInput(m) | Failure::Harness(m) | Failure::LiveRun(m) => m,
        }
    }
}

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Failure {
        match e {
            ClusterError::UnknownNode { .. } => Failure::BadInput(e.to_string()),
            ClusterError::Backend(m) => Failure::Harness(m),
            other => Failure::Harness(other.to_string()),
        }
    }
}

impl From<Failure> for ClusterError {
    fn from(e: Failure) -> ClusterError {
        ClusterError::Backend(e.to_string())
    }
}
