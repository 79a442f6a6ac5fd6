//! The shutdown signal: passed into [`super::run`], triggered by SIGTERM/SIGINT (or a test, or a
//! fatal Kafka error), awaited by every part that must stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::events::{InternalEvent, ShutdownRequested};

/// A cloneable, level-triggered shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: watch::Sender<bool>,
    reason: Mutex<Option<&'static str>>,
    failed: AtomicBool,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Shutdown {
        let (tx, _rx) = watch::channel(false);
        Shutdown { inner: Arc::new(Inner { tx, reason: Mutex::new(None), failed: AtomicBool::new(false) }) }
    }

    /// Requests a shutdown (the first reason wins).
    pub fn trigger(&self, reason: &'static str) {
        {
            let mut r = self.inner.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_some() {
                return;
            }
            *r = Some(reason);
        }
        ShutdownRequested { reason }.emit();
        self.inner.tx.send_replace(true);
    }

    /// Requests a shutdown because something failed: the process exits non-zero.
    pub fn trigger_failure(&self, reason: &'static str) {
        self.inner.failed.store(true, Ordering::Relaxed);
        self.trigger(reason);
    }

    /// Whether a shutdown was requested.
    pub fn is_triggered(&self) -> bool {
        *self.inner.tx.borrow()
    }

    /// Whether the shutdown is due to a failure.
    pub fn failed(&self) -> bool {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Resolves once a shutdown is requested.
    pub async fn wait(&self) {
        let mut rx = self.inner.tx.subscribe();
        // Err only if the sender is gone, which `self` prevents.
        let _ = rx.wait_for(|t| *t).await;
    }
}

/// Triggers `shutdown` on the first SIGTERM or SIGINT; a second one exits at once.
pub async fn listen_for_signals(shutdown: Shutdown) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut seen = 0;
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        seen += 1;
        if seen == 1 {
            shutdown.trigger(if name == "SIGTERM" { "SIGTERM" } else { "SIGINT" });
        } else {
            tracing::warn!(signal = name, "second signal: exiting without draining");
            std::process::exit(130);
        }
    }
}
