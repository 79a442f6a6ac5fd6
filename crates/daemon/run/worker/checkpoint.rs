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
    /// flight is acknowledged (until `deadline`), its offsets stored, it leaves with its state,
    /// changes not yet checkpointed included.
    pub(super) async fn release(&mut self, key: PartitionKey, deadline: Instant) -> Option<Task> {
        if !self.tasks.contains_key(&key) {
            return None;
        }
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

    /// Writes what changed in every task and commits the offsets it covers, in one transaction.
    /// Waits first (until `deadline`) for every delivery in flight: an offset is never committed
    /// past an event whose alerts a sink has not accepted. A checkpoint that cannot wait or is
    /// aborted leaves its changes to the next one.
    pub(super) async fn checkpoint(&mut self, reason: &'static str, deadline: Instant, shutdown: &Shutdown) {
        let Some(cl) = &self.parts.changelog else { return };
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
        let started = Instant::now();
        let input_topics = self.parts.topics.clone();
        let (records, bytes, partitions) = (cp.records.len() as u64, cp.bytes(), cp.offsets.len());
        let result =
            tokio::task::spawn_blocking(move || changelog::commit(&producer, &topics, &input_topics, &group, &cp))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "checkpoint task failed");
                    Err(CheckpointError::Aborted(rdkafka::error::KafkaError::Canceled))
                });
        if result.is_ok() {
            self.checkpointed();
        }
        let metrics = &self.parts.metrics;
        match result {
            Ok(()) => {
                CheckpointCommitted {
                    worker: self.parts.shard,
                    records,
                    bytes,
                    partitions,
                    reason,
                    took: started.elapsed(),
                    metrics,
                }
                .emit();
            }
            Err(CheckpointError::Aborted(e)) => {
                CheckpointAborted { worker: self.parts.shard, error: &e, metrics }.emit();
                for (key, part) in taken {
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
