//! The suppression rules in force (`[alerts] suppressions_file`), kept current: every
//! `suppressions_reload_secs` the file is checked for a change (size or modification time, as a
//! ConfigMap update or an editor's save leaves it) and read again; every worker uses the new rules
//! from its next finding. A file that no longer loads keeps the rules in use, loudly.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use credence_finding::suppress::{Suppressed, Suppressions};
use credence_finding::Finding;
use tracing::{info, warn};

use super::events::InternalEvent;
use super::metrics::Metrics;
use super::shutdown::Shutdown;

use crate::config::{file_stamp as stamp, FileStamp as Stamp};

/// The rules in force, shared by the workers.
#[derive(Clone, Debug)]
pub struct Rules {
    path: Arc<PathBuf>,
    current: Arc<RwLock<(Stamp, Arc<Suppressions>)>>,
}

impl Rules {
    /// The rules `loaded` from `path` at start-up, when the file had stamp `s`.
    pub fn new(path: PathBuf, (s, loaded): (Stamp, Suppressions), metrics: &Metrics) -> Rules {
        metrics.suppress.rules.set(loaded.rules().len() as i64);
        Rules { path: Arc::new(path), current: Arc::new(RwLock::new((s, Arc::new(loaded)))) }
    }

    /// The rule that covers `f`, if one does; counted.
    pub fn check(&self, f: &Finding, metrics: &Metrics) -> Option<Suppressed> {
        let rules = Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()).1);
        let hit = rules.check(f)?;
        metrics.suppress.suppressed.with_label_values(&[&*hit.rule]).inc();
        Some(hit)
    }

    /// Reads the file again if it changed. `Ok(Some(n))`: reloaded, `n` rules.
    fn reload_if_changed(&self) -> Result<Option<usize>, String> {
        let old = self.current.read().unwrap_or_else(|e| e.into_inner()).0;
        let now = stamp(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        if now == old {
            return Ok(None);
        }
        let loaded = crate::config::read_suppressions(&self.path);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        // Remembered even when the file does not load: the error is reported once per version.
        current.0 = now;
        let loaded = loaded.map_err(|e| e.join("; "))?;
        let n = loaded.rules().len();
        current.1 = Arc::new(loaded);
        Ok(Some(n))
    }
}

/// The file was read again.
#[derive(Debug)]
struct SuppressionsReloaded<'a> {
    path: &'a std::path::Path,
    rules: usize,
    metrics: &'a Metrics,
}

impl InternalEvent for SuppressionsReloaded<'_> {
    fn emit(self) {
        info!(file = %self.path.display(), rules = self.rules, "suppression rules reloaded");
        self.metrics.suppress.reloads_ok.inc();
        self.metrics.suppress.rules.set(self.rules as i64);
    }
}

/// A changed file could not be read.
#[derive(Debug)]
struct SuppressionsReloadFailed<'a> {
    error: String,
    metrics: &'a Metrics,
}

impl InternalEvent for SuppressionsReloadFailed<'_> {
    fn emit(self) {
        warn!(error = %self.error, "the suppressions file changed but could not be loaded; the rules in use stay in use");
        self.metrics.suppress.reloads_failed.inc();
    }
}

/// Checks the file every `every` until shutdown.
pub async fn run(rules: Rules, every: Duration, metrics: Arc<Metrics>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            biased;
            () = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        // A small file, but file I/O: off the async workers.
        let r = rules.clone();
        let result = tokio::task::spawn_blocking(move || r.reload_if_changed()).await.map_err(|e| e.to_string());
        match result.and_then(|r| r) {
            Ok(Some(n)) => SuppressionsReloaded { path: &rules.path, rules: n, metrics: &metrics }.emit(),
            Ok(None) => {}
            Err(error) => SuppressionsReloadFailed { error, metrics: &metrics }.emit(),
        }
    }
}
