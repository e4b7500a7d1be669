//! Faults under the journal's rule: written down (and fsynced) before they
//! are applied, their heal written down after it succeeded. Backend-neutral:
//! anything implementing `Cluster` works.

use std::fmt;

use chaos_nemeses::{Cluster, ClusterError, Fault, Journal, JournalError};

/// Why a journaled fault failed.
#[derive(Debug)]
pub enum NemesisError {
    /// The journal could not be written: the fault was not applied.
    Journal(JournalError),
    /// The backend failed; for an apply, the journal already claims the
    /// fault, which is safe (healing what never happened is harmless).
    Cluster(ClusterError),
}

impl fmt::Display for NemesisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NemesisError::Journal(e) => e.fmt(f),
            NemesisError::Cluster(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for NemesisError {}

impl From<JournalError> for NemesisError {
    fn from(e: JournalError) -> Self {
        NemesisError::Journal(e)
    }
}

impl From<ClusterError> for NemesisError {
    fn from(e: ClusterError) -> Self {
        NemesisError::Cluster(e)
    }
}

/// Put `fault` in force on `cluster`.
pub async fn apply_fault<C: Cluster>(cluster: &C, fault: &Fault) -> Result<(), ClusterError> {
    match fault {
        Fault::Partition { grudge } => cluster.partition(grudge).await,
        Fault::Pause { node } => cluster.pause(node).await,
        Fault::Kill { node } => cluster.kill(node).await,
        Fault::Stop { node } => cluster.stop(node).await,
    }
}

/// Take `fault` away: heal, resume, restart, start.
pub async fn undo_fault<C: Cluster>(cluster: &C, fault: &Fault) -> Result<(), ClusterError> {
    match fault {
        Fault::Partition { .. } => cluster.heal().await,
        Fault::Pause { node } => cluster.resume(node).await,
        Fault::Kill { node } => cluster.restart(node).await,
        Fault::Stop { node } => cluster.start(node).await,
    }
}

/// Journal first, then apply.
pub async fn apply<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
) -> Result<(), NemesisError> {
    journal.record_apply(fault)?;
    apply_fault(cluster, fault).await?;
    Ok(())
}

/// Undo, then journal.
pub async fn undo<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
) -> Result<(), NemesisError> {
    undo_fault(cluster, fault).await?;
    journal.record_heal(fault)?;
    Ok(())
}
