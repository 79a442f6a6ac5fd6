//! Metrics of the suppression rules.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::reg;

/// Suppression's metrics.
#[derive(Debug)]
pub struct SuppressMetrics {
    /// Finding records covered by a rule, by rule id (bounded by the rules file an analyst
    /// writes, not by the traffic).
    pub suppressed: IntCounterVec,
    /// Rules loaded (live or expired: expiry is by event time).
    pub rules: IntGauge,
    /// Reloads of a changed file that succeeded.
    pub reloads_ok: IntCounter,
    /// Reloads of a changed file that failed (the rules in use stay in use).
    pub reloads_failed: IntCounter,
}

impl SuppressMetrics {
    /// Registers suppression's metrics.
    pub fn new(r: &Registry) -> prometheus::Result<SuppressMetrics> {
        let reloads = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_suppression_reloads_total",
                    "Reloads of the changed suppressions file, by result: ok, failed (the rules in use stay in use).",
                ),
                &["result"],
            )?,
        )?;
        Ok(SuppressMetrics {
            suppressed: reg(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "credence_findings_suppressed_total",
                        "Finding records a suppression rule covered (published with status Suppressed, not sent to the HTTP sinks), by rule id.",
                    ),
                    &["rule"],
                )?,
            )?,
            rules: reg(r, IntGauge::new("credence_suppression_rules", "Suppression rules loaded.")?)?,
            reloads_ok: reloads.with_label_values(&["ok"]),
            reloads_failed: reloads.with_label_values(&["failed"]),
        })
    }
}
