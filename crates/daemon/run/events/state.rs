//! Internal events of the partition tasks' state: restores, checkpoints, the seed.

use std::time::Duration;

use rdkafka::error::KafkaError;
use tracing::{debug, error, info, warn};

use super::{error_type, InternalEvent};
use crate::run::metrics::Metrics;

/// A partition's task was built: its state read back from the changelog (or seeded, or new).
#[derive(Debug)]
pub struct PartitionRestored<'a> {
    /// `topic/partition`.
    pub partition: String,
    /// Changelog records read.
    pub records: u64,
    /// Baselines the task holds.
    pub baselines: usize,
    /// Open findings the task holds.
    pub findings: usize,
    /// Whether it starts from the initial snapshot (its changelog was empty).
    pub seeded: bool,
    /// How long it took.
    pub took: Duration,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for PartitionRestored<'_> {
    fn emit(self) {
        let m = &self.metrics.state;
        m.restores.inc();
        m.restored_records.inc_by(self.records);
        m.restore_duration.observe(self.took.as_secs_f64());
        info!(
            partition = %self.partition,
            records = self.records,
            baselines = self.baselines,
            open_findings = self.findings,
            seeded = self.seeded,
            took_ms = self.took.as_millis() as u64,
            "partition state restored"
        );
    }
}

/// Changelog records that could not be read back were skipped.
#[derive(Debug)]
pub struct StateRecordsDamaged<'a> {
    /// `topic/partition` of the changelog.
    pub changelog: String,
    /// Records skipped.
    pub records: u64,
    /// The first one's error.
    pub first_error: String,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for StateRecordsDamaged<'_> {
    fn emit(self) {
        self.metrics.state.damaged_records.inc_by(self.records);
        // Data loss: the credentials they held start afresh.
        error!(
            changelog = %self.changelog,
            records = self.records,
            error = %self.first_error,
            "changelog records could not be read back and were skipped; the credentials they held start afresh"
        );
    }
}

/// A changelog was written under another pseudonymisation key: the partition starts afresh.
#[derive(Debug)]
pub struct ChangelogOfAnotherKey {
    /// `topic/partition` of the changelog.
    pub changelog: String,
    /// Records set aside (tombstoned at the next checkpoint).
    pub records: u64,
}

impl InternalEvent for ChangelogOfAnotherKey {
    fn emit(self) {
        error!(
            changelog = %self.changelog,
            records = self.records,
            "the changelog was written under another pseudonymisation key; this partition's state starts afresh"
        );
    }
}

/// A checkpoint was committed.
#[derive(Debug)]
pub struct CheckpointCommitted<'a> {
    /// Scoring worker.
    pub worker: usize,
    /// Records written.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Partitions whose offsets it committed.
    pub partitions: usize,
    /// Why it was taken.
    pub reason: &'static str,
    /// How long writing and committing took.
    pub took: Duration,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for CheckpointCommitted<'_> {
    fn emit(self) {
        // A checkpoint is how offsets are committed with a changelog.
        self.metrics.commits_ok.inc();
        let m = &self.metrics.state;
        m.checkpoints_ok.inc();
        m.changelog_records.inc_by(self.records);
        m.changelog_bytes.inc_by(self.bytes);
        debug!(
            worker = self.worker,
            records = self.records,
            bytes = self.bytes,
            partitions = self.partitions,
            reason = self.reason,
            took_ms = self.took.as_millis() as u64,
            "checkpoint committed"
        );
    }
}

/// A checkpoint's transaction was aborted: its changes go into the next one.
#[derive(Debug)]
pub struct CheckpointAborted<'a> {
    /// Scoring worker.
    pub worker: usize,
    /// The error.
    pub error: &'a KafkaError,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for CheckpointAborted<'_> {
    fn emit(self) {
        self.metrics.commits_error.inc();
        self.metrics.state.checkpoints_aborted.inc();
        warn!(
            worker = self.worker,
            error_type = error_type(self.error),
            error = %self.error,
            "checkpoint aborted; its changes are written by the next one"
        );
    }
}

/// The initial snapshot was loaded as the seed of partitions with an empty changelog.
#[derive(Debug)]
pub struct SeedLoaded<'a> {
    /// The file.
    pub path: &'a std::path::Path,
    /// Baselines in it.
    pub baselines: usize,
    /// Damaged records skipped.
    pub damaged: u64,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for SeedLoaded<'_> {
    fn emit(self) {
        self.metrics.state.damaged_records.inc_by(self.damaged);
        info!(
            path = %self.path.display(),
            baselines = self.baselines,
            damaged = self.damaged,
            "initial snapshot loaded: partitions with an empty changelog start from it"
        );
    }
}
