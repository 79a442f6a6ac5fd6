//! Scoring workers: the assigned partitions are dealt among `daemon.scoring_workers` workers, each
//! with its own decoders, engines (baselines), aggregators, offsets and deliveries. A partition
//! always goes to the same worker, so its messages are scored in order, its credentials' baselines
//! live in one engine (inputs are keyed by credential) and its offsets are stored by one owner:
//! inside a pod, the workers divide the partitions as pods divide them across the group.
//!
//! The router task sits between the consumer thread and the workers: it splits each batch by
//! partition and hands revocations to every worker after the batches before them. When a worker's
//! queue is full the router waits, its own one-slot queue fills, and the consumer pauses: the
//! backpressure of one worker reaches the consumer as before.

use std::sync::Arc;

use credence_event::lifecycle::LifecycleEvent;
use tokio::sync::mpsc;

use super::consumer::{Batch, Fetched};

/// Which worker owns which partition.
#[derive(Clone, Copy, Debug)]
pub struct Shards {
    n: usize,
}

impl Shards {
    /// `n` workers (at least one).
    pub fn new(n: usize) -> Shards {
        Shards { n: n.max(1) }
    }

    /// Workers.
    pub fn len(self) -> usize {
        self.n
    }

    /// The worker that owns a partition: consecutive partitions of a topic go to consecutive
    /// workers, so a pod's partitions spread evenly.
    pub fn of(self, topic: u16, partition: i32) -> usize {
        (usize::from(topic) + partition.unsigned_abs() as usize) % self.n
    }
}

/// Forwards fetched items to their workers until the consumer's queue closes. A worker gone
/// (shutting down) is skipped; the others keep receiving.
pub async fn route(mut input: mpsc::Receiver<Fetched>, workers: Vec<mpsc::Sender<Fetched>>, shards: Shards) {
    while let Some(item) = input.recv().await {
        match item {
            Fetched::Batch(batch) => {
                let mut parts: Vec<Vec<_>> = (0..shards.len()).map(|_| Vec::new()).collect();
                for r in batch.records {
                    parts[shards.of(r.topic, r.partition)].push(r);
                }
                for (worker, records) in workers.iter().zip(parts) {
                    if !records.is_empty() {
                        let part = Batch { records, payloads: Arc::clone(&batch.payloads) };
                        let _ = worker.send(Fetched::Batch(part)).await;
                    }
                }
            }
            Fetched::Revoked(keys) => {
                for worker in &workers {
                    let _ = worker.send(Fetched::Revoked(keys.clone())).await;
                }
            }
        }
    }
}

/// Copies every lifecycle record to every worker (each applies it to its engines as its own events
/// reach the record's time), until the lifecycle reader's queue closes.
pub async fn fan_out(
    mut input: mpsc::Receiver<LifecycleEvent<'static>>,
    workers: Vec<mpsc::Sender<LifecycleEvent<'static>>>,
) {
    while let Some(ev) = input.recv().await {
        for worker in &workers {
            let _ = worker.send(ev.clone()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::consumer::Record;
    use super::*;

    fn record(partition: i32, offset: i64) -> Record {
        Record { topic: 0, partition, epoch: 1, offset, timestamp_ms: None, payload: 0..0 }
    }

    #[test]
    fn partitions_spread_evenly_and_stick_to_one_worker() {
        let s = Shards::new(3);
        let owners: Vec<usize> = (0..6).map(|p| s.of(0, p)).collect();
        assert_eq!(owners, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(Shards::new(0).len(), 1);
    }

    #[tokio::test]
    async fn batches_are_split_by_partition_in_order_and_revocations_reach_every_worker() {
        let shards = Shards::new(2);
        let (tx, rx) = mpsc::channel(4);
        let (outs, mut ins): (Vec<_>, Vec<_>) = (0..2).map(|_| mpsc::channel(8)).unzip();
        let router = tokio::spawn(route(rx, outs, shards));
        let records = vec![record(0, 10), record(1, 20), record(0, 11), record(3, 30)];
        tx.send(Fetched::Batch(Batch { records, payloads: Arc::default() })).await.unwrap();
        tx.send(Fetched::Revoked(vec![(0, 1)])).await.unwrap();
        drop(tx);
        router.await.unwrap();
        let mut seen = Vec::new();
        for (w, rx) in ins.iter_mut().enumerate() {
            while let Some(item) = rx.recv().await {
                match item {
                    Fetched::Batch(b) => seen.extend(b.records.iter().map(|r| (w, r.partition, r.offset))),
                    Fetched::Revoked(keys) => seen.push((w, -1, keys.len() as i64)),
                }
            }
        }
        assert_eq!(seen, vec![(0, 0, 10), (0, 0, 11), (0, -1, 1), (1, 1, 20), (1, 3, 30), (1, -1, 1)]);
    }
}
