//! Faults under the journal's rule: written down (and fsynced) before they
//! are applied, their heal written down after it succeeded. Every way a
//! fault is applied or undone goes through here (`chaos run`'s schedule,
//! `chaos nemesis`, `chaos heal`, on every backend), so all of them undo a
//! fault the same way, and all that end one when its time is up (a run, a
//! held fault by hand) end it the same way.

use crate::cluster::{Cluster, ClusterError};
use crate::fault::Fault;
use crate::journal::{Journal, JournalError};

/// Why a journaled fault failed.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// The journal could not be written: the fault was not applied.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The backend failed; for an apply, the journal already claims the
    /// fault, which is safe (healing what never happened is harmless).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Ask the cluster whether it can, journal, then apply: a fault the
/// cluster refuses outright never reaches the journal.
pub async fn apply<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
) -> Result<(), NemesisError> {
    cluster.ready_for(fault).await?;
    journal.record_apply(fault)?;
    fault.apply_to(cluster).await?;
    Ok(())
}

/// Undo, then journal. Returns what the undo removed, one line each (see
/// [`Fault::undo_on`]).
pub async fn undo<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
) -> Result<Vec<String>, NemesisError> {
    let lines = fault.undo_on(cluster).await?;
    journal.record_heal(fault)?;
    Ok(lines)
}

/// End a fault whose time is up (see [`Fault::end_on`]), then journal its
/// heal. Returns what the end did that `stop-<verb>` alone does not say.
/// If the end fails the fault stays in the journal, for a heal to undo.
pub async fn end<C: Cluster>(
    cluster: &C,
    journal: &mut Journal,
    fault: &Fault,
) -> Result<Vec<String>, NemesisError> {
    let lines = fault.end_on(cluster).await?;
    journal.record_heal(fault)?;
    Ok(lines)
}
