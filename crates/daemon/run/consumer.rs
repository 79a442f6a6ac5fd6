//! The consumer thread: owns the polling of the input consumer group, so rebalance callbacks and
//! their synchronous commits run on this dedicated thread, never on a tokio worker.
//!
//! It copies fetched messages into batches for the worker. When the worker's queue is full it
//! waits for room without polling (librdkafka's prefetch queue is bounded, so fetching stops
//! too); if that lasts longer than [`FULL_WAIT`], the worker is stalled (alerts unacknowledged,
//! broker down), so it pauses every assigned partition (librdkafka drops what it prefetched and
//! later resumes from the first message not handed over) and goes back to polling, so group
//! membership and rebalances go on; when there is room again it resumes. On revocation it commits the stored offsets
//! synchronously, then tells the worker in order with the messages. At shutdown it stops
//! forwarding, waits for the worker to store its last offsets, commits, and leaves the group.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::events::{
    CommitFailed, Committed, ConsumeFailed, ConsumptionPaused, ConsumptionResumed, ConsumptionStalled, FinalCommit,
    InternalEvent, KafkaClientError, PartitionsAssigned, PartitionsRevoked, RebalanceFailed, Subscribed,
};
use super::metrics::Metrics;
use super::offsets::PartitionKey;
use super::Topics;

/// Most messages in one batch handed to the worker.
pub const BATCH_MESSAGES: usize = 512;
/// A batch is handed over once its payloads reach this many bytes.
const BATCH_BYTES: usize = 1 << 20;
/// How long a full queue is waited on before the partitions are paused: long enough that normal
/// backpressure never pauses (pausing discards librdkafka's prefetched messages), short enough
/// that rebalances are served promptly.
const FULL_WAIT: Duration = Duration::from_millis(250);
/// Wait for room, then poll timeout, while paused: only callbacks are served.
const PAUSED_POLL: Duration = Duration::from_millis(10);
/// Poll timeout when idle.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// A pause longer than this is reported as a stall.
const STALL_AFTER: Duration = Duration::from_secs(5);

/// One fetched message.
#[derive(Debug)]
pub struct Record {
    /// Topic index into [`Topics`].
    pub topic: u16,
    /// Partition.
    pub partition: i32,
    /// Assignment epoch of the partition when fetched.
    pub epoch: u32,
    /// Offset.
    pub offset: i64,
    /// The message's timestamp, ms: stands in for records without a time of their own.
    pub timestamp_ms: Option<i64>,
    /// Where the message value is in its batch's [`Batch::payloads`] (empty for a tombstone).
    pub payload: Range<usize>,
}

/// Messages fetched together, their values copied out of librdkafka into one buffer: one
/// allocation per batch, not one per message (which a worker thread then freed into the
/// consumer thread's malloc arena, contending with its next allocations).
#[derive(Debug)]
pub struct Batch {
    /// The messages, in the order fetched.
    pub records: Vec<Record>,
    /// Their values, end to end.
    pub payloads: Arc<Vec<u8>>,
}

/// What the consumer thread hands the worker, in order.
#[derive(Debug)]
pub enum Fetched {
    /// Messages.
    Batch(Batch),
    /// Partitions revoked: everything of theirs has been sent before this.
    Revoked(Vec<PartitionKey>),
}

/// Rebalance bookkeeping handed from the callbacks to the polling loop.
#[derive(Debug)]
enum Note {
    Assigned(Vec<PartitionKey>),
    Revoked(Vec<PartitionKey>),
}

/// The input consumer's context: logs, rebalances, commits.
#[derive(Debug)]
pub struct GroupContext {
    topics: Arc<Topics>,
    notes: Mutex<Vec<Note>>,
    metrics: Arc<Metrics>,
}

/// The input consumer.
pub type GroupConsumer = BaseConsumer<GroupContext>;

impl GroupContext {
    /// A context for the consumer of `topics`.
    pub fn new(topics: Arc<Topics>, metrics: Arc<Metrics>) -> GroupContext {
        GroupContext { topics, notes: Mutex::new(Vec::new()), metrics }
    }

    fn keys(&self, tpl: &TopicPartitionList) -> Vec<PartitionKey> {
        tpl.elements().iter().filter_map(|e| Some((self.topics.index(e.topic())?, e.partition()))).collect()
    }

    fn note(&self, n: Note) {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).push(n);
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    tpl.elements().iter().map(|e| format!("{}/{}", e.topic(), e.partition())).collect::<Vec<_>>().join(",")
}

/// "Nothing to commit" is not a failure.
fn commit_result(r: KafkaResult<()>) -> KafkaResult<()> {
    match r {
        Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
        other => other,
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        super::kafka::log_line("consumer", level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        KafkaClientError { client: "consumer", error: &error, reason }.emit();
    }

    /// Consumer lag per assigned input partition; series of partitions no longer assigned (lag
    /// unknown, -1) are removed. Labels are bounded: configured topics and their partitions.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (name, topic) in &statistics.topics {
            if self.topics.index(name).is_none() {
                continue;
            }
            for (partition, p) in &topic.partitions {
                if *partition < 0 {
                    continue;
                }
                let label = partition.to_string();
                if p.consumer_lag >= 0 {
                    self.metrics.lag.with_label_values(&[name.as_str(), &label]).set(p.consumer_lag);
                } else {
                    let _ = self.metrics.lag.remove_label_values(&[name.as_str(), &label]);
                }
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                // Commit what is stored (every event before it scored, its alerts acknowledged)
                // while the partitions are still ours. Runs on the consumer thread.
                let commit = commit_result(consumer.commit_consumer_state(CommitMode::Sync));
                PartitionsRevoked { partitions: describe(tpl), commit, metrics: &self.metrics }.emit();
                self.note(Note::Revoked(self.keys(tpl)));
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => RebalanceFailed { error: e }.emit(),
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            PartitionsAssigned { partitions: describe(tpl), metrics: &self.metrics }.emit();
            self.note(Note::Assigned(self.keys(tpl)));
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) => Committed { metrics: &self.metrics }.emit(),
            // Nothing to commit: neither a success nor a failure.
            Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => {}
            Err(e) => CommitFailed { error: &e, metrics: &self.metrics }.emit(),
        }
    }
}

/// Flags the run sequence uses to steer the consumer thread.
#[derive(Debug, Default)]
pub struct Steering {
    /// Stop handing messages over (shutdown has begun).
    pub stop_fetching: AtomicBool,
    /// The worker has stored its last offsets: commit and leave.
    pub close: AtomicBool,
}

/// Starts the consumer thread. It subscribes, then runs until [`Steering::close`].
pub fn spawn(
    consumer: Arc<GroupConsumer>,
    topics: Arc<Topics>,
    out: mpsc::Sender<Fetched>,
    steering: Arc<Steering>,
) -> std::io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new().name("credence-consumer".into()).spawn(move || {
        let mut poller = Poller {
            consumer: &consumer,
            topics: &topics,
            runtime,
            out,
            epochs: HashMap::new(),
            next_epoch: 1,
            held: VecDeque::new(),
            batch: Vec::with_capacity(BATCH_MESSAGES),
            payloads: Vec::new(),
            paused_since: None,
            stall_reported: false,
        };
        poller.run(&steering);
        // The worker has stored its last offsets: commit them, then leave the group (dropping
        // the last reference closes the consumer, which revokes and commits once more).
        let result = commit_result(consumer.commit_consumer_state(CommitMode::Sync));
        FinalCommit { result, metrics: &consumer.context().metrics }.emit();
        consumer.unsubscribe();
    })
}

struct Poller<'a> {
    consumer: &'a GroupConsumer,
    topics: &'a Topics,
    /// For waiting on the queue to the worker.
    runtime: tokio::runtime::Handle,
    out: mpsc::Sender<Fetched>,
    epochs: HashMap<PartitionKey, u32>,
    next_epoch: u32,
    /// Items not yet accepted by the worker's queue.
    held: VecDeque<Fetched>,
    batch: Vec<Record>,
    /// The values of `batch`.
    payloads: Vec<u8>,
    paused_since: Option<Instant>,
    stall_reported: bool,
}

impl Poller<'_> {
    fn run(&mut self, steering: &Steering) {
        let names = self.topics.names();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Err(e) = self.consumer.subscribe(&refs) {
            ConsumeFailed { error: &e }.emit();
        } else {
            Subscribed { topics: &names }.emit();
        }
        let mut stopping = false;
        while !steering.close.load(Ordering::Acquire) {
            if !stopping && steering.stop_fetching.load(Ordering::Acquire) {
                // Stop fetching: what was not handed over was never stored, so it is simply
                // fetched again by whoever consumes next.
                stopping = true;
                self.held.clear();
                self.batch.clear();
                self.payloads.clear();
                self.set_paused(true);
            }
            if !stopping {
                self.forward(if self.paused_since.is_some() { PAUSED_POLL } else { FULL_WAIT });
                let backlog = !self.held.is_empty();
                self.set_paused(backlog);
            }
            let timeout = if self.paused_since.is_some() {
                PAUSED_POLL
            } else if self.batch.is_empty() {
                IDLE_POLL
            } else {
                Duration::ZERO
            };
            match self.consumer.poll(timeout) {
                Some(Ok(m)) if !stopping => self.add(&m),
                Some(Ok(_)) => {}
                Some(Err(e)) => ConsumeFailed { error: &e }.emit(),
                None => self.seal(),
            }
            self.apply_notes();
            if let Some(since) = self.paused_since {
                if !self.stall_reported && !stopping && since.elapsed() > STALL_AFTER {
                    self.stall_reported = true;
                    let metrics = &self.consumer.context().metrics;
                    ConsumptionStalled { paused_ms: since.elapsed().as_millis() as u64, metrics }.emit();
                }
            }
        }
    }

    fn add(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) {
        let Some(topic) = self.topics.index(m.topic()) else { return };
        let partition = m.partition();
        let epoch = self.epochs.get(&(topic, partition)).copied().unwrap_or(0);
        let start = self.payloads.len();
        self.payloads.extend_from_slice(m.payload().unwrap_or_default());
        let payload = start..self.payloads.len();
        let timestamp_ms = m.timestamp().to_millis();
        self.batch.push(Record { topic, partition, epoch, offset: m.offset(), timestamp_ms, payload });
        if self.batch.len() >= BATCH_MESSAGES || self.payloads.len() >= BATCH_BYTES {
            self.seal();
        }
    }

    /// Moves the batch being filled to the hand-over queue.
    fn seal(&mut self) {
        if !self.batch.is_empty() {
            let records = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_MESSAGES));
            // The next batch is likely the size of this one.
            let next = Vec::with_capacity(self.payloads.len());
            let payloads = std::mem::replace(&mut self.payloads, next);
            self.held.push_back(Fetched::Batch(Batch { records, payloads: Arc::new(payloads) }));
        }
    }

    /// Hands queued items to the worker, waiting up to `wait` for room each.
    fn forward(&mut self, wait: Duration) {
        while let Some(item) = self.held.pop_front() {
            let item = match self.out.try_send(item) {
                Ok(()) => continue,
                Err(TrySendError::Full(item)) => item,
                // The worker is gone (shutting down): nothing more to hand over.
                Err(TrySendError::Closed(_)) => {
                    self.held.clear();
                    return;
                }
            };
            let out = &self.out;
            match self.runtime.block_on(async { tokio::time::timeout(wait, out.reserve()).await }) {
                Ok(Ok(permit)) => permit.send(item),
                Ok(Err(_closed)) => {
                    self.held.clear();
                    return;
                }
                Err(_elapsed) => {
                    self.held.push_front(item);
                    return;
                }
            }
        }
    }

    fn set_paused(&mut self, pause: bool) {
        if pause == self.paused_since.is_some() {
            return;
        }
        let Ok(assignment) = self.consumer.assignment() else { return };
        if pause {
            if self.consumer.pause(&assignment).is_ok() {
                self.paused_since = Some(Instant::now());
                ConsumptionPaused.emit();
            }
        } else if self.consumer.resume(&assignment).is_ok() {
            let since = self.paused_since.take();
            ConsumptionResumed {
                paused_ms: since.map_or(0, |s| s.elapsed().as_millis() as u64),
                was_stalled: std::mem::take(&mut self.stall_reported),
                metrics: &self.consumer.context().metrics,
            }
            .emit();
        }
    }

    fn apply_notes(&mut self) {
        let notes = std::mem::take(&mut *self.consumer.context().notes.lock().unwrap_or_else(|e| e.into_inner()));
        for note in notes {
            match note {
                Note::Assigned(keys) => {
                    let mut tpl = TopicPartitionList::new();
                    for k in &keys {
                        self.epochs.insert(*k, self.next_epoch);
                        tpl.add_partition(self.topics.name(k.0), k.1);
                    }
                    self.next_epoch += 1;
                    // Newly assigned partitions start unpaused; keep them in step.
                    if self.paused_since.is_some() {
                        let _ = self.consumer.pause(&tpl);
                    }
                }
                Note::Revoked(keys) => {
                    self.seal();
                    for k in &keys {
                        self.epochs.remove(k);
                    }
                    // Messages of revoked partitions not yet handed over are left to the new owner.
                    for item in &mut self.held {
                        if let Fetched::Batch(b) = item {
                            b.records.retain(|r| !keys.contains(&(r.topic, r.partition)));
                        }
                    }
                    self.held.push_back(Fetched::Revoked(keys));
                }
            }
            self.consumer.context().metrics.partitions_assigned.set(self.epochs.len() as i64);
        }
    }
}
