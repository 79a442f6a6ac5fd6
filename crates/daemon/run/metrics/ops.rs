//! What an operator watches besides the flow: readiness and why not, rebalances, and the consumer
//! group's lag on every partition of the input topics, assigned here or not.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::{reg, Health};

/// Why `/readyz` says no, as `credence_not_ready{reason}` labels.
pub const NOT_READY: [&str; 4] = ["unassigned", "sink_failing", "stalled", "stopping"];

/// The operator's metrics.
#[derive(Debug)]
pub struct OpsMetrics {
    /// Rebalances that assigned partitions to this consumer.
    pub assigned: IntCounter,
    /// Rebalances that revoked partitions from it.
    pub revoked: IntCounter,
    /// 1 when ready.
    ready: IntGauge,
    /// 1 for each reason it is not ready (several may hold), by [`NOT_READY`].
    not_ready: Vec<IntGauge>,
    /// The group's lag per input partition: the partition's high-water mark minus the group's
    /// committed offset, for every partition (assigned to this daemon, another, or none).
    pub group_lag: IntGaugeVec,
}

impl OpsMetrics {
    /// Registers the operator's metrics.
    pub fn new(r: &Registry) -> prometheus::Result<OpsMetrics> {
        let rebalances = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_rebalances_total",
                    "Rebalances of the consumer group seen by this daemon, by what they did to it.",
                ),
                &["kind"],
            )?,
        )?;
        let not_ready = reg(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "credence_not_ready",
                    "1 for each reason /readyz answers 503: unassigned (no assignment yet), sink_failing, stalled, stopping (refreshed every 10 s).",
                ),
                &["reason"],
            )?,
        )?;
        Ok(OpsMetrics {
            assigned: rebalances.with_label_values(&["assigned"]),
            revoked: rebalances.with_label_values(&["revoked"]),
            ready: reg(r, IntGauge::new("credence_ready", "1 when /readyz answers 200 (refreshed every 10 s).")?)?,
            not_ready: NOT_READY.iter().map(|reason| not_ready.with_label_values(&[reason])).collect(),
            group_lag: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "credence_group_lag_messages",
                        "The consumer group's lag per input partition, assigned or not: the broker's high-water mark minus the group's committed offset (every 30 s).",
                    ),
                    &["topic", "partition"],
                )?,
            )?,
        })
    }

    /// Sets the readiness gauges from `health`.
    pub fn set_readiness(&self, health: &Health) {
        use std::sync::atomic::Ordering::Acquire;
        let reasons = [
            !health.assigned.load(Acquire),
            health.sink_failing.load(Acquire),
            health.stalled.load(Acquire),
            health.stopping.load(Acquire),
        ];
        for (gauge, on) in self.not_ready.iter().zip(reasons) {
            gauge.set(i64::from(on));
        }
        self.ready.set(i64::from(health.ready()));
    }
}
