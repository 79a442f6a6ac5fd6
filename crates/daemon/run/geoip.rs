//! Keeps the GeoIP databases current: every `[geoip] reload_check_secs` the files are checked for
//! a change (size or modification time, as a `kubectl cp`, a ConfigMap or geoipupdate's rename
//! leaves them) and reloaded; every pipeline's enricher picks the new set up at its next event and
//! empties its cache. A file that does not load keeps the databases in use.

use std::time::Duration;

use credence_event::geoip::GeoIp;
use tracing::{info, warn};

use super::events::InternalEvent;
use super::metrics::Metrics;
use super::shutdown::Shutdown;

/// The databases were reloaded.
#[derive(Debug)]
struct GeoIpReloaded<'a> {
    geoip: &'a GeoIp,
    metrics: &'a Metrics,
}

impl InternalEvent for GeoIpReloaded<'_> {
    fn emit(self) {
        let files: Vec<String> =
            self.geoip.describe().into_iter().map(|(p, t)| format!("{} ({t})", p.display())).collect();
        info!(files = ?files, "GeoIP databases reloaded");
        self.metrics.geoip.reloads_ok.inc();
    }
}

/// A changed database file could not be loaded.
#[derive(Debug)]
struct GeoIpReloadFailed<'a> {
    error: String,
    metrics: &'a Metrics,
}

impl InternalEvent for GeoIpReloadFailed<'_> {
    fn emit(self) {
        warn!(error = %self.error, "a GeoIP database changed but could not be loaded; the databases in use stay in use");
        self.metrics.geoip.reloads_failed.inc();
    }
}

/// Checks the files every `every` until shutdown.
pub async fn run(geoip: GeoIp, every: Duration, metrics: std::sync::Arc<Metrics>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            biased;
            () = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        // Reading a database is file I/O and parsing: off the async workers.
        let g = geoip.clone();
        match tokio::task::spawn_blocking(move || g.reload_if_changed()).await {
            Ok(Ok(true)) => GeoIpReloaded { geoip: &geoip, metrics: &metrics }.emit(),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => GeoIpReloadFailed { error: e.to_string(), metrics: &metrics }.emit(),
            Err(e) => GeoIpReloadFailed { error: e.to_string(), metrics: &metrics }.emit(),
        }
    }
}
