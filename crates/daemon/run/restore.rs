//! The restorer thread: builds the task of each newly assigned partition, reading its state back
//! from the partition's changelog (read-committed: only checkpoints that were committed, with the
//! offsets they cover) before its first message is scored. Kafka Streams' `StoreChangelogReader`.
//!
//! The consumer thread pauses a partition when it is assigned and asks for its task here; the
//! task goes back to the consumer thread, which hands it to the scoring workers in order with the
//! messages and resumes the partition. Partitions assigned together are restored together (one
//! consumer fetching all their changelog partitions). A changelog that is empty starts the
//! partition from the initial snapshot, if one is configured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use credence_finding::parts::Part;
use credence_finding::pipeline::{Pipeline, RestoreError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::changelog::ChangelogTopics;
use super::events::state::{ChangelogOfAnotherKey, PartitionRestored, StateRecordsDamaged};
use super::events::{ConsumeFailed, InternalEvent};
use super::kafka::LogContext;
use super::metrics::Metrics;
use super::offsets::PartitionKey;
use super::task::{Task, TaskFactory};
use super::Topics;

/// How long the restorer waits for requests before checking whether to stop.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Poll timeout while reading changelogs.
const POLL: Duration = Duration::from_millis(100);

/// A partition to build the task of.
#[derive(Debug)]
pub struct Request {
    /// The input partition.
    pub key: PartitionKey,
    /// Its assignment epoch.
    pub epoch: u32,
}

/// What the restorer needs.
pub struct Restorer {
    /// Reads changelogs (`None`: no changelog, every task starts from the seed or afresh).
    pub consumer: Option<BaseConsumer<LogContext>>,
    /// Input topics.
    pub topics: Arc<Topics>,
    /// Changelog topics.
    pub changelogs: ChangelogTopics,
    /// Builds pipelines.
    pub factory: Arc<TaskFactory>,
    /// Partitions to restore.
    pub requests: Receiver<Request>,
    /// Built tasks, to the consumer thread.
    pub done: Sender<Task>,
    /// Set to stop.
    pub stop: Arc<AtomicBool>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer").finish_non_exhaustive()
    }
}

/// Starts the restorer thread.
pub fn spawn(restorer: Restorer) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("credence-restore".into()).spawn(move || restorer.run())
}

/// One partition being read back.
struct Restoring {
    request: Request,
    pipeline: Pipeline,
    records: u64,
    damaged: u64,
    first_error: Option<String>,
    /// Keys read, kept in case the changelog turns out to be of another key.
    keys: Vec<Part>,
    /// A clock of this key space was read.
    trusted: bool,
    foreign: bool,
    started: Instant,
}

impl Restorer {
    fn run(self) {
        while !self.stop.load(Ordering::Acquire) {
            let first = match self.requests.recv_timeout(IDLE_WAIT) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            batch.extend(self.requests.try_iter());
            self.metrics.state.restoring.add(batch.len() as i64);
            let tasks = self.restore(batch);
            for t in tasks {
                self.metrics.state.restoring.dec();
                if self.done.send(t).is_err() {
                    return;
                }
            }
        }
    }

    /// Reads the changelog partitions of `batch` to their ends, together.
    fn restore(&self, batch: Vec<Request>) -> Vec<Task> {
        let started = Instant::now();
        let mut by_changelog: HashMap<(String, i32), Restoring> = HashMap::new();
        for request in batch {
            let input = self.topics.input(request.key.0);
            let name = self.changelogs.name(request.key.0).to_string();
            let pipeline = self.factory.pipeline(input);
            let r = Restoring {
                pipeline,
                records: 0,
                damaged: 0,
                first_error: None,
                keys: Vec::new(),
                trusted: false,
                foreign: false,
                started,
                request,
            };
            by_changelog.insert((name, r.request.key.1), r);
        }
        if let Some(consumer) = &self.consumer {
            self.read(consumer, &mut by_changelog);
        }
        by_changelog.into_iter().map(|((name, partition), r)| self.finish(&name, partition, r)).collect()
    }

    /// Reads every partition of `parts` from its beginning to its end (read-committed).
    fn read(&self, consumer: &BaseConsumer<LogContext>, parts: &mut HashMap<(String, i32), Restoring>) {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in parts.keys() {
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Beginning);
        }
        if let Err(e) = consumer.assign(&tpl) {
            ConsumeFailed { error: &e }.emit();
            return;
        }
        let mut open: Vec<(String, i32)> = parts.keys().cloned().collect();
        while !open.is_empty() && !self.stop.load(Ordering::Acquire) {
            match consumer.poll(POLL) {
                None => {}
                Some(Ok(m)) => {
                    let Some(r) = parts.get_mut(&(m.topic().to_string(), m.partition())) else { continue };
                    apply(r, m.key().unwrap_or_default(), m.payload());
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    // Which topic's partition: the changelogs of several inputs can share numbers,
                    // so ask the consumer for positions at their ends.
                    open.retain(|(topic, partition)| *partition != p || !at_end(consumer, topic, *partition));
                }
                Some(Err(e)) => ConsumeFailed { error: &e }.emit(),
            }
        }
        let _ = consumer.unassign();
    }

    /// Completes a restored task: seeded if its changelog was empty, afresh if it was another
    /// key's; tracked for the next checkpoint from here.
    fn finish(&self, name: &str, partition: i32, mut r: Restoring) -> Task {
        let changelog = format!("{name}/{partition}");
        if r.damaged > 0 {
            let first_error = r.first_error.take().unwrap_or_default();
            StateRecordsDamaged {
                changelog: changelog.clone(),
                records: r.damaged,
                first_error,
                metrics: &self.metrics,
            }
            .emit();
        }
        let mut seeded = false;
        if r.foreign {
            ChangelogOfAnotherKey { changelog, records: r.records }.emit();
            r.pipeline = self.factory.pipeline(self.topics.input(r.request.key.0));
            if self.factory.changelog {
                r.pipeline.track_changes(true);
            }
            // The next checkpoint removes what the other key's state left.
            for part in r.keys.drain(..) {
                r.pipeline.mark_changed(part);
            }
        } else if r.records == 0 && self.factory.seed(&mut r.pipeline) {
            seeded = true;
            if self.factory.changelog {
                r.pipeline.track_changes(true);
            }
        } else if self.factory.changelog {
            r.pipeline.track_changes(false);
        }
        let key = r.request.key;
        PartitionRestored {
            partition: format!("{}/{}", self.topics.name(key.0), key.1),
            records: r.records,
            baselines: r.pipeline.engine().len(),
            findings: r.pipeline.aggregator().open_count(),
            seeded,
            took: r.started.elapsed(),
            metrics: &self.metrics,
        }
        .emit();
        Task { key, epoch: r.request.epoch, pipeline: r.pipeline, lifecycle_horizon: i64::MIN }
    }
}

/// Whether the consumer's position in a partition is at its end.
fn at_end(consumer: &BaseConsumer<LogContext>, topic: &str, partition: i32) -> bool {
    let Ok(positions) = consumer.position() else { return true };
    let Some(Offset::Offset(pos)) = positions.find_partition(topic, partition).map(|e| e.offset()) else {
        // Nothing consumed yet: an empty partition.
        return true;
    };
    match consumer.fetch_watermarks(topic, partition, Duration::from_secs(5)) {
        Ok((_, high)) => pos >= high,
        Err(_) => true,
    }
}

/// Applies one changelog record to the partition being restored.
fn apply(r: &mut Restoring, key: &[u8], value: Option<&[u8]>) {
    r.records += 1;
    let (part, value) = match credence_state::decode(key, value) {
        Ok(x) => x,
        Err(e) => {
            r.damaged += 1;
            r.first_error.get_or_insert_with(|| e.to_string());
            return;
        }
    };
    if !r.trusted {
        r.keys.push(part);
    }
    match r.pipeline.restore(part, value) {
        // The clock vouches for the key the state was learned under: no need to keep keys.
        Ok(()) if part == Part::Clock => {
            r.trusted = true;
            r.keys = Vec::new();
        }
        Ok(()) => {}
        Err(RestoreError::OtherKey) => r.foreign = true,
        Err(e @ RestoreError::Mismatch(_)) => {
            r.damaged += 1;
            r.first_error.get_or_insert_with(|| e.to_string());
        }
    }
}
