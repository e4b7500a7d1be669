//! Cluster backends: implementations of `chaos_nemeses::Cluster`, and what
//! they share ([`shaping`]: the traffic shaping their sidecars run).

pub mod docker;
pub mod k8s;
pub mod shaping;

/// Collapse whitespace and newlines so a message stays on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
