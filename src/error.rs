//! The one error type of the commands: whose move it is (the user's: bad
//! input, exit 254; the environment's: exit 255) and one line saying what is
//! wrong and what to do. Backends (Docker, Kubernetes) and the results folder
//! all end in it, so a command handles every failure the same way.

use std::fmt;

use chaos_nemeses::ClusterError;

use crate::exit::{BAD_INPUT, HARNESS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    BadInput(String),
    Harness(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::BadInput(_) => BAD_INPUT,
            Failure::Harness(_) => HARNESS,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::BadInput(m) | Failure::Harness(m) => m,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(_) | Failure::Harness(_) => f.write_str(self.message()),
        }
    }
}

impl std::error::Error for Failure {}

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
