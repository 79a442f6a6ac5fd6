//! Metrics of IP enrichment from the GeoIP databases.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use super::reg;
use credence_event::geoip::EnrichStats;

/// Enrichment's metrics.
#[derive(Debug)]
pub struct GeoIpMetrics {
    found: IntCounter,
    not_found: IntCounter,
    reserved: IntCounter,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    /// Database reloads that succeeded.
    pub reloads_ok: IntCounter,
    /// Database reloads that failed (the databases in use stay in use).
    pub reloads_failed: IntCounter,
}

impl GeoIpMetrics {
    /// Registers enrichment's metrics.
    pub fn new(r: &Registry) -> prometheus::Result<GeoIpMetrics> {
        let lookups = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_geoip_lookups_total",
                    "Events whose origin was looked up in the GeoIP databases, by result: found, not_found, reserved (private or reserved address, not looked up).",
                ),
                &["result"],
            )?,
        )?;
        let cache = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_geoip_cache_total", "GeoIP lookups by whether the cache answered: hit, miss."),
                &["result"],
            )?,
        )?;
        let reloads = reg(
            r,
            IntCounterVec::new(
                Opts::new("credence_geoip_reloads_total", "GeoIP database reloads after a file changed, by result."),
                &["result"],
            )?,
        )?;
        Ok(GeoIpMetrics {
            found: lookups.with_label_values(&["found"]),
            not_found: lookups.with_label_values(&["not_found"]),
            reserved: lookups.with_label_values(&["reserved"]),
            cache_hits: cache.with_label_values(&["hit"]),
            cache_misses: cache.with_label_values(&["miss"]),
            reloads_ok: reloads.with_label_values(&["ok"]),
            reloads_failed: reloads.with_label_values(&["error"]),
        })
    }

    /// Adds a pipeline's counts.
    pub fn add(&self, s: EnrichStats) {
        self.found.inc_by(s.found);
        self.not_found.inc_by(s.not_found);
        self.reserved.inc_by(s.reserved);
        self.cache_hits.inc_by(s.cache_hits);
        self.cache_misses.inc_by(s.cache_misses);
    }
}
