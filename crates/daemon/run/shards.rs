//! Placement of partition tasks on the scoring workers, and the router that follows it.
//!
//! A task is placed when its partition is assigned, on the worker with the fewest tasks (then the
//! fewest baselines restored, then the lowest index), and stays there until the partition is
//! revoked: its messages are scored in order, by one owner of its state and offsets. Only the
//! router knows the placement; acknowledgements find their way back by the worker that sent the
//! record, not by a rule repeated elsewhere.
//!
//! The router task sits between the consumer thread and the workers (with one worker there is no
//! router: the consumer feeds it directly). It splits each batch by partition, hands tasks to the
//! workers it places them on, and revocations to every worker after the batches before them. When
//! a worker's queue is full the router waits, its own one-slot queue fills, and the consumer
//! pauses: the backpressure of one worker reaches the consumer as before.

use std::collections::HashMap;
use std::sync::Arc;

use credence_event::lifecycle::LifecycleEvent;
use tokio::sync::{mpsc, oneshot};

use super::consumer::{Batch, Fetched};
use super::offsets::PartitionKey;

/// Which worker holds which partition's task.
#[derive(Debug)]
pub struct Placement {
    /// Worker and baselines of each placed task.
    owner: HashMap<PartitionKey, (usize, usize)>,
    /// Per worker: tasks, and baselines they held when placed.
    load: Vec<(usize, usize)>,
}

impl Placement {
    /// `n` workers (at least one), none loaded.
    pub fn new(n: usize) -> Placement {
        Placement { owner: HashMap::new(), load: vec![(0, 0); n.max(1)] }
    }

    /// Workers.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.load.len()
    }

    /// Places a task of `baselines` on the least loaded worker; returns it. A partition placed
    /// again (assigned anew) moves off its old worker's load first.
    pub fn place(&mut self, key: PartitionKey, baselines: usize) -> usize {
        self.remove(key);
        let w = (0..self.load.len()).min_by_key(|&w| (self.load[w], w)).unwrap_or(0);
        self.load[w].0 += 1;
        self.load[w].1 += baselines;
        self.owner.insert(key, (w, baselines));
        w
    }

    /// The worker holding a partition's task.
    pub fn owner(&self, key: PartitionKey) -> Option<usize> {
        self.owner.get(&key).map(|&(w, _)| w)
    }

    /// The lightest task of the most loaded worker, when it holds two tasks more than the least
    /// loaded one: (its partition, the worker).
    pub fn to_move(&self) -> Option<(PartitionKey, usize)> {
        let (max, min) = (self.load.iter().map(|l| l.0).max()?, self.load.iter().map(|l| l.0).min()?);
        if max < min + 2 {
            return None;
        }
        let from = self.load.iter().position(|l| l.0 == max)?;
        self.owner.iter().filter(|(_, (w, _))| *w == from).min_by_key(|(k, (_, b))| (*b, **k)).map(|(k, _)| (*k, from))
    }

    /// Forgets a revoked partition.
    pub fn remove(&mut self, key: PartitionKey) {
        if let Some((w, baselines)) = self.owner.remove(&key) {
            self.load[w].0 -= 1;
            self.load[w].1 -= baselines;
        }
    }

    /// Tasks per worker.
    #[cfg(test)]
    pub fn tasks(&self) -> Vec<usize> {
        self.load.iter().map(|l| l.0).collect()
    }
}

/// Forwards fetched items to their workers until the consumer's queue closes. A worker gone
/// (shutting down) is skipped; the others keep receiving. Messages of a partition with no task
/// placed (revoked meanwhile) are dropped: they were never stored.
pub async fn route(mut input: mpsc::Receiver<Fetched>, workers: Vec<mpsc::Sender<Fetched>>) {
    let mut placement = Placement::new(workers.len());
    while let Some(item) = input.recv().await {
        match item {
            Fetched::Task(task) => {
                let w = placement.place(task.key, task.load());
                let _ = workers[w].send(Fetched::Task(task)).await;
            }
            Fetched::Batch(batch) => {
                let mut parts: Vec<Vec<_>> = (0..workers.len()).map(|_| Vec::new()).collect();
                for r in batch.records {
                    if let Some(w) = placement.owner((r.topic, r.partition)) {
                        parts[w].push(r);
                    }
                }
                for (worker, records) in workers.iter().zip(parts) {
                    if !records.is_empty() {
                        let part = Batch { records, payloads: Arc::clone(&batch.payloads) };
                        let _ = worker.send(Fetched::Batch(part)).await;
                    }
                }
            }
            Fetched::Revoked { keys, done, deadline } => {
                for worker in &workers {
                    let _ = worker.send(Fetched::Revoked { keys: keys.clone(), done: done.clone(), deadline }).await;
                }
                for k in keys {
                    placement.remove(k);
                }
                rebalance(&mut placement, &workers).await;
            }
            // Only the router asks for these.
            Fetched::Release { .. } => {}
        }
    }
}

/// After a revocation, moves tasks from the most loaded worker to the least until no two differ
/// by more than one task (the group's assignor chose the revoked partitions, not by worker). A
/// moving task is released by its worker in order after the messages routed to it before, with
/// its deliveries acknowledged; messages that come meanwhile wait in the router's queue.
async fn rebalance(placement: &mut Placement, workers: &[mpsc::Sender<Fetched>]) {
    while let Some((key, from)) = placement.to_move() {
        let (reply, released) = oneshot::channel();
        if workers[from].send(Fetched::Release { key, reply }).await.is_err() {
            return;
        }
        // The worker is gone (shutting down), or the task was revoked meanwhile.
        let Ok(task) = released.await else { return };
        let to = placement.place(key, task.load());
        let _ = workers[to].send(Fetched::Task(task)).await;
    }
}

/// Copies every lifecycle record to every worker (each applies it to its tasks as their own
/// events reach the record's time), until the lifecycle reader's queue closes.
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
    use super::*;

    /// Issue 17's case: two pods of two workers, eight partitions, four to each pod: no worker
    /// holds more than half its pod's partitions, however the assignments come.
    #[test]
    fn tasks_spread_over_the_workers_by_load() {
        let mut p = Placement::new(2);
        // A pod's four partitions, as cooperative-sticky may assign them: 1, 5, 3, 7.
        for (i, part) in [1, 5, 3, 7].into_iter().enumerate() {
            p.place((0, part), 1000 * i);
        }
        assert_eq!(p.tasks(), vec![2, 2]);
        // Two revoked, two others assigned: still even.
        p.remove((0, 1));
        p.remove((0, 3));
        assert_eq!(p.owner((0, 1)), None);
        p.place((0, 0), 0);
        p.place((0, 2), 0);
        assert_eq!(p.tasks(), vec![2, 2]);
        // Equal counts: the lighter worker by baselines takes the next.
        let mut q = Placement::new(2);
        q.place((0, 0), 50_000);
        q.place((0, 1), 10);
        let w = q.place((0, 2), 0);
        assert_eq!(q.owner((0, 1)), Some(w), "the worker of the small task");
        assert_eq!(Placement::new(0).len(), 1);
    }

    /// What the assignor revokes is not balanced by worker: the router moves tasks back into
    /// balance, lightest first.
    #[test]
    fn a_lopsided_revocation_is_rebalanced() {
        let mut p = Placement::new(2);
        for part in 0..8 {
            p.place((0, part), 100 + part as usize);
        }
        assert_eq!(p.tasks(), vec![4, 4]);
        // Worker 0 holds 0, 2, 4, 6: three of them go.
        for part in [0, 2, 4, 1] {
            p.remove((0, part));
        }
        assert_eq!(p.tasks(), vec![1, 3]);
        let (key, from) = p.to_move().expect("unbalanced");
        assert_eq!((key, from), ((0, 3), 1), "the lightest task of the busier worker");
        p.place(key, 103);
        assert_eq!(p.tasks(), vec![2, 2]);
        assert_eq!(p.to_move(), None);
    }
}
