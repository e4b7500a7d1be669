//! A one-way "stop now" flag shared by every worker (Ctrl-C, a harness
//! error, the end of the nemesis schedule), built on `tokio::sync::watch` so
//! that it can be polled (`is_fired`) and awaited (`fired`) alike.

use tokio::sync::watch;

/// Fires the signal; kept by whoever decides that the run must stop.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Observes the trigger; clone one per worker.
#[derive(Clone, Debug)]
pub struct ShutdownSignal(watch::Receiver<bool>);

/// A trigger and its signal, not yet fired.
pub fn shutdown() -> (ShutdownTrigger, ShutdownSignal) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), ShutdownSignal(rx))
}

impl ShutdownTrigger {
    /// Fires the signal; firing again does nothing.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal(self.0.subscribe())
    }
}

impl ShutdownSignal {
    /// A signal that never fires, for runs bounded only by their generator.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        // Dropping the sender freezes the value at false.
        drop(tx);
        ShutdownSignal(rx)
    }

    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal fires; never, if the trigger is dropped
    /// unfired (nobody is left to ask for a stop).
    pub async fn fired(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|&fired| fired).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fires_for_every_clone_and_stays_fired() {
        let (trigger, signal) = shutdown();
        let other = signal.clone();
        assert!(!signal.is_fired());
        let waiter = tokio::spawn(async move { other.fired().await });
        trigger.fire();
        waiter.await.unwrap();
        assert!(signal.is_fired() && trigger.signal().is_fired());
        signal.fired().await;
    }

    #[tokio::test]
    async fn a_dropped_trigger_never_fires() {
        let quiet = ShutdownSignal::never();
        let waited = tokio::time::timeout(Duration::from_millis(10), quiet.fired()).await;
        assert!(waited.is_err() && !quiet.is_fired());
    }
}
