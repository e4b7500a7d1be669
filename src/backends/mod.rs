//! Cluster backends: implementations of `chaos_nemeses::Cluster`.

pub mod docker;
pub mod k8s;
