//! The worker's tasks come and go, and its checkpoints.

use std::time::Instant;

use credence_finding::parts::Part;
use rdkafka::consumer::Consumer;

use super::super::changelog::{self, Checkpoint, CheckpointError};
use super::super::events::state::{CheckpointAborted, CheckpointCommitted};
use super::super::events::InternalEvent;
use super::super::offsets::PartitionKey;
use super::super::shutdown::Shutdown;
use super::super::task::Task;
use super::{schedule, Worker};

impl Worker {
    /// Takes a newly assigned partition's task: every lifecycle record so far is queued into it.
    pub(super) fn add_task(&mut self, mut task: Task) {
        for ev in &self.lifecycle_log {
            schedule(&mut task, ev);
        }
        self.offsets.revoke(&[task.key]);
        self.tasks.insert(task.key, task);
        self.parts
            .metrics
            .state
            .worker_partitions
            .with_label_values(&[&self.parts.shard.to_string()])
            .set(self.tasks.len() as i64);
    }

    /// Hands a task over to another worker (the router balances them): once every delivery in
    /// flight is acknowledged (until `deadline`), its offsets stored, and the checkpoint being
    /// committed is done (an aborted one marks its changes again in the task), it leaves with its
    /// state, changes not yet checkpointed included.
    pub(super) async fn release(&mut self, key: PartitionKey, deadline: Instant, shutdown: &Shutdown) -> Option<Task> {
        if !self.tasks.contains_key(&key) {
            return None;
        }
        self.finish_checkpoint(shutdown).await;
        self.drain(deadline).await;
        self.store_offsets();
        // Its events are counted by the worker that closes it.
        let task = self.tasks.remove(&key)?;
        self.offsets.revoke(&[key]);
        self.parts
            .metrics
            .state
            .worker_partitions
            .with_label_values(&[&self.parts.shard.to_string()])
            .set(self.tasks.len() as i64);
        Some(task)
    }

    /// Partitions are revoked: checkpoints its tasks of them (or stores their offsets) while they
    /// are still this consumer's, then closes them. After `deadline` the consumer has given them
    /// up: they are closed as they are, and their new owner goes on from their last checkpoint.
    pub(super) async fn revoke(&mut self, keys: &[PartitionKey], deadline: Instant, shutdown: &Shutdown) {
        if !keys.iter().any(|k| self.tasks.contains_key(k)) {
            return;
        }
        if Instant::now() < deadline {
            self.drain(deadline).await;
            if self.parts.changelog.is_some() {
                self.checkpoint("revocation", deadline, shutdown).await;
            } else {
                self.store_offsets();
            }
        }
        for k in keys {
            if let Some(t) = self.tasks.remove(k) {
                self.totals.events += t.pipeline.summary().events;
            }
        }
        self.offsets.revoke(keys);
        self.parts
            .metrics
            .state
            .worker_partitions
            .with_label_values(&[&self.parts.shard.to_string()])
            .set(self.tasks.len() as i64);
    }

    /// Writes what changed in every task and commits the offsets it covers, in one transaction,
    /// and waits for it (revocation, hand-over, shutdown): a checkpoint still being committed is
    /// waited for first.
    pub(super) async fn checkpoint(&mut self, reason: &'static str, deadline: Instant, shutdown: &Shutdown) {
        self.finish_checkpoint(shutdown).await;
        self.begin_checkpoint(reason, deadline).await;
        self.finish_checkpoint(shutdown).await;
    }

    /// The interval's checkpoint: begun, not waited for; its transaction is committed off the
    /// runtime while the worker goes on scoring, and its result comes back through
    /// [`commit_done`]. Put off while the previous one is still being committed (one
    /// transactional producer, one transaction at a time): its changes wait for the next.
    pub(super) async fn checkpoint_in_background(&mut self, deadline: Instant) {
        if self.committing.is_some() {
            tracing::debug!(worker = self.parts.shard, "checkpoint put off: the previous one is still being committed");
            return;
        }
        self.begin_checkpoint("interval", deadline).await;
    }

    /// Takes what changed in every task and the offsets it covers, and starts committing them in
    /// one transaction (off the runtime's threads). Waits first (until `deadline`) for every
    /// delivery in flight: an offset is never committed past an event whose alerts a sink has not
    /// accepted, and the state taken is exactly that of the offsets committed with it (what is
    /// scored afterwards changes the state again, for the next checkpoint). A checkpoint that
    /// cannot wait or is aborted leaves its changes to the next one. Only with no checkpoint
    /// being committed.
    async fn begin_checkpoint(&mut self, reason: &'static str, deadline: Instant) {
        let Some(cl) = &self.parts.changelog else { return };
        debug_assert!(self.committing.is_none(), "one transaction at a time");
        let (producer, topics) = (cl.producer.clone(), cl.topics.clone());
        self.drain(deadline).await;
        if self.in_flight > 0 {
            tracing::debug!(
                worker = self.parts.shard,
                reason,
                unacked = self.in_flight,
                "checkpoint put off: deliveries in flight"
            );
            return;
        }
        let Some(group) = self.parts.consumer.group_metadata() else {
            tracing::debug!(worker = self.parts.shard, reason, "checkpoint put off: no group metadata yet");
            return;
        };
        let mut cp = Checkpoint::default();
        let mut taken: Vec<(PartitionKey, Part)> = Vec::new();
        for (&key, t) in &mut self.tasks {
            t.pipeline.take_changes(&mut |part, value| {
                let (k, v) = credence_state::encode(part, value.as_ref());
                cp.records.push((key, k, v));
                taken.push((key, part));
            });
            if let Some(next) = self.offsets.settled(key) {
                cp.offsets.push((key, next));
            }
        }
        if cp.records.is_empty() && cp.offsets.is_empty() {
            // Nothing changed: the state is as durable as a checkpoint would make it.
            self.checkpointed();
            return;
        }
        let input_topics = self.parts.topics.clone();
        let (records, bytes, partitions) = (cp.records.len() as u64, cp.bytes(), cp.offsets.len());
        let handle =
            tokio::task::spawn_blocking(move || changelog::commit(&producer, &topics, &input_topics, &group, &cp));
        self.committing =
            Some(Committing { handle, taken, reason, records, bytes, partitions, started: Instant::now() });
    }

    /// Waits for the checkpoint being committed, if any, and takes its result.
    pub(super) async fn finish_checkpoint(&mut self, shutdown: &Shutdown) {
        if self.committing.is_none() {
            return;
        }
        let result = commit_done(&mut self.committing).await;
        self.committed(result, shutdown);
    }

    /// The checkpoint being committed is done: counted, its changes marked again if it was
    /// aborted, the daemon stopped if the producer was fenced.
    pub(super) fn committed(&mut self, result: Result<(), CheckpointError>, shutdown: &Shutdown) {
        let Some(c) = self.committing.take() else { return };
        if result.is_ok() {
            self.checkpointed();
        }
        let metrics = &self.parts.metrics;
        match result {
            Ok(()) => {
                CheckpointCommitted {
                    worker: self.parts.shard,
                    records: c.records,
                    bytes: c.bytes,
                    partitions: c.partitions,
                    reason: c.reason,
                    took: c.started.elapsed(),
                    metrics,
                }
                .emit();
            }
            Err(CheckpointError::Aborted(e)) => {
                CheckpointAborted { worker: self.parts.shard, error: &e, metrics }.emit();
                // Tasks closed meanwhile are skipped: their new owner goes on from the last
                // committed checkpoint.
                for (key, part) in c.taken {
                    if let Some(t) = self.tasks.get_mut(&key) {
                        t.pipeline.mark_changed(part);
                    }
                }
            }
            Err(CheckpointError::Fatal(e)) => {
                // Fenced: another instance owns these partitions now. Restart clean; their state
                // is on the changelog as of the last committed checkpoint.
                CheckpointAborted { worker: self.parts.shard, error: &e, metrics }.emit();
                shutdown.trigger_failure("the changelog producer was fenced or failed fatally");
            }
        }
    }

    /// Records a committed checkpoint (or one with nothing to write) now, and publishes the
    /// oldest worker's.
    fn checkpointed(&mut self) {
        self.last_checkpoint =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let mut all = self.parts.gauges.lock().unwrap_or_else(|e| e.into_inner());
        all[self.parts.shard].last_checkpoint = self.last_checkpoint;
        let oldest = all.iter().map(|g| g.last_checkpoint).min().unwrap_or(0);
        self.parts.metrics.state.last_checkpoint.set(oldest);
    }
}

/// A checkpoint whose transaction is being committed off the runtime while its worker goes on
/// scoring (at most one per worker: one transactional producer).
#[derive(Debug)]
pub(super) struct Committing {
    /// The blocking task writing and committing it.
    handle: tokio::task::JoinHandle<Result<(), CheckpointError>>,
    /// The parts it writes: marked changed again if it is aborted.
    taken: Vec<(PartitionKey, Part)>,
    /// Why it was taken.
    reason: &'static str,
    /// Records, their bytes, and the partitions whose offsets it commits.
    records: u64,
    bytes: u64,
    partitions: usize,
    /// When its transaction began.
    started: Instant,
}

/// The result of the checkpoint being committed; never ready when there is none (a `select!`
/// branch guarded by `committing.is_some()`).
pub(super) async fn commit_done(committing: &mut Option<Committing>) -> Result<(), CheckpointError> {
    let Some(c) = committing else { return std::future::pending().await };
    (&mut c.handle).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "checkpoint task failed");
        Err(CheckpointError::Aborted(rdkafka::error::KafkaError::Canceled))
    })
}
