//! Metrics of the partition tasks' state: restores, checkpoints to the changelog, the seed.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::reg;

/// Restore duration buckets, seconds (a partition of a few thousand baselines restores in
/// milliseconds, one of millions in tens of seconds).
const RESTORE_BUCKETS: [f64; 12] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The state's metrics.
#[derive(Debug)]
pub struct StateMetrics {
    /// Partitions restored.
    pub restores: IntCounter,
    /// Time to restore one partition.
    pub restore_duration: Histogram,
    /// Records read back from changelogs.
    pub restored_records: IntCounter,
    /// Partitions assigned and still restoring.
    pub restoring: IntGauge,
    /// Changelog or snapshot records that could not be read back (damaged, another format
    /// version): skipped.
    pub damaged_records: IntCounter,
    /// Records written to changelogs.
    pub changelog_records: IntCounter,
    /// Bytes (keys and values) written to changelogs.
    pub changelog_bytes: IntCounter,
    /// Checkpoints committed.
    pub checkpoints_ok: IntCounter,
    /// Checkpoints aborted (their changes are written again by the next).
    pub checkpoints_aborted: IntCounter,
    /// Unix time of the oldest scoring worker's last committed checkpoint.
    pub last_checkpoint: IntGauge,
    /// Parts changed and not yet checkpointed.
    pub dirty: IntGauge,
    /// Baselines taken from `[state] initial_snapshot`.
    pub seeded: IntCounter,
    /// Partition tasks held, by scoring worker.
    pub worker_partitions: IntGaugeVec,
}

impl StateMetrics {
    /// Registers the state's metrics.
    pub fn new(r: &Registry) -> prometheus::Result<StateMetrics> {
        let checkpoints = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "credence_state_checkpoints_total",
                    "Checkpoints of partition state to the changelog, by result.",
                ),
                &["result"],
            )?,
        )?;
        Ok(StateMetrics {
            restores: reg(r, IntCounter::new("credence_state_restores_total", "Input partitions whose state was restored.")?)?,
            restore_duration: reg(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "credence_state_restore_duration_seconds",
                        "Time to restore one assigned partition's state from its changelog, seconds.",
                    )
                    .buckets(RESTORE_BUCKETS.to_vec()),
                )?,
            )?,
            restored_records: reg(
                r,
                IntCounter::new("credence_state_restored_records_total", "Changelog records read back into partition state.")?,
            )?,
            restoring: reg(
                r,
                IntGauge::new("credence_state_restoring_partitions", "Assigned partitions whose state is still being restored.")?,
            )?,
            damaged_records: reg(
                r,
                IntCounter::new(
                    "credence_state_damaged_records_total",
                    "Changelog or snapshot records that could not be read back (damaged or of an unknown format version), skipped.",
                )?,
            )?,
            changelog_records: reg(
                r,
                IntCounter::new("credence_state_changelog_records_total", "Records written to the changelog topics.")?,
            )?,
            changelog_bytes: reg(
                r,
                IntCounter::new("credence_state_changelog_bytes_total", "Key and value bytes written to the changelog topics.")?,
            )?,
            checkpoints_ok: checkpoints.with_label_values(&["ok"]),
            checkpoints_aborted: checkpoints.with_label_values(&["aborted"]),
            last_checkpoint: reg(
                r,
                IntGauge::new(
                    "credence_state_last_checkpoint_timestamp_seconds",
                    "Unix time of the oldest scoring worker's last committed checkpoint (0: none yet).",
                )?,
            )?,
            dirty: reg(
                r,
                IntGauge::new("credence_state_dirty_parts", "State parts changed and not yet checkpointed (refreshed every 10 s).")?,
            )?,
            seeded: reg(
                r,
                IntCounter::new("credence_state_seeded_baselines_total", "Baselines taken from the initial snapshot.")?,
            )?,
            worker_partitions: reg(
                r,
                IntGaugeVec::new(
                    Opts::new("credence_worker_partitions", "Input partitions whose tasks a scoring worker holds."),
                    &["worker"],
                )?,
            )?,
        })
    }
}
