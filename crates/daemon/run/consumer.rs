//! The consumer thread: owns the polling of the input consumer group, so rebalance callbacks and
//! their synchronous commits run on this dedicated thread, never on a tokio worker.
//!
//! It copies fetched messages into batches for the workers. When their queue is full it waits for
//! room without polling (librdkafka's prefetch queue is bounded, so fetching stops too); if that
//! lasts longer than [`FULL_WAIT`], the workers are stalled (alerts unacknowledged, broker down),
//! so it pauses every assigned partition (librdkafka drops what it prefetched and later resumes
//! from the first message not handed over) and goes back to polling, so group membership and
//! rebalances go on; when there is room again it resumes.
//!
//! Partition tasks: an assigned partition is paused at once and its task asked of the restorer
//! ([`super::restore`]); when the task comes back it is handed over in order before the
//! partition's first message, and the partition resumes. On revocation, in the rebalance callback
//! (the partitions are still ours), it hands over everything fetched before, then tells the
//! workers and waits until they have checkpointed and closed the revoked tasks (changelog: the
//! checkpoint commits the offsets) or stored their last offsets (no changelog: it then commits
//! them), within `daemon.shutdown_timeout_secs`. At shutdown it stops forwarding, waits for the
//! workers' last checkpoint or offsets, commits, and leaves the group.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
use super::restore::Request;
use super::task::Task;
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

/// Told when the workers are done with revoked partitions: each holder drops its clone when it
/// has checkpointed (or stored the offsets of) and closed its tasks; the consumer thread waits
/// until every clone is gone.
pub type RevokeDone = std::sync::mpsc::Sender<()>;

/// What the consumer thread hands the workers, in order.
#[derive(Debug)]
pub enum Fetched {
    /// An assigned partition's task, before any of its messages.
    Task(Box<Task>),
    /// Messages.
    Batch(Batch),
    /// The router moves a task to another worker: its worker hands it back once its messages
    /// before this are scored and their deliveries acknowledged.
    Release {
        /// The partition.
        key: PartitionKey,
        /// Where the task goes.
        reply: tokio::sync::oneshot::Sender<Box<Task>>,
    },
    /// Partitions revoked: everything of theirs has been sent before this. Done by `deadline`,
    /// or the workers close the tasks without a checkpoint (the partitions' new owner goes on
    /// from their last one).
    Revoked {
        /// The partitions.
        keys: Vec<PartitionKey>,
        /// Dropped when done.
        done: RevokeDone,
        /// After it, the consumer no longer waits.
        deadline: Instant,
    },
}

/// What the poll loop and the rebalance callbacks share (only the consumer thread takes it).
#[derive(Debug)]
struct Hand {
    out: mpsc::Sender<Fetched>,
    /// For waiting on the queue to the workers.
    runtime: tokio::runtime::Handle,
    epochs: HashMap<PartitionKey, u32>,
    next_epoch: u32,
    /// Assigned partitions whose task is being built: paused until it comes.
    restoring: HashSet<PartitionKey>,
    /// Items not yet accepted by the workers' queue.
    held: VecDeque<Fetched>,
    batch: Vec<Record>,
    /// The values of `batch`.
    payloads: Vec<u8>,
    paused_since: Option<Instant>,
    stall_reported: bool,
}

/// The input consumer's context: logs, rebalances, commits.
#[derive(Debug)]
pub struct GroupContext {
    topics: Arc<Topics>,
    metrics: Arc<Metrics>,
    hand: Mutex<Hand>,
    /// Asks the restorer for assigned partitions' tasks.
    restore: std::sync::mpsc::Sender<Request>,
    /// How long a revocation waits for the workers.
    revoke_wait: Duration,
    /// Offsets are committed in the workers' checkpoints (changelog), not by this consumer.
    transactional: bool,
    /// Input partitions assigned to this process (each task's share of `max_credentials`).
    pub assigned: Arc<AtomicUsize>,
}

/// The input consumer.
pub type GroupConsumer = BaseConsumer<GroupContext>;

/// What the group context is built from.
#[derive(Debug)]
pub struct GroupParts {
    /// Input topics.
    pub topics: Arc<Topics>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// To the workers.
    pub out: mpsc::Sender<Fetched>,
    /// Task requests to the restorer.
    pub restore: std::sync::mpsc::Sender<Request>,
    /// How long a revocation waits for the workers.
    pub revoke_wait: Duration,
    /// Offsets are committed by the workers' checkpoints.
    pub transactional: bool,
}

impl GroupContext {
    /// A context for the consumer of `topics`. Call from within the runtime.
    pub fn new(parts: GroupParts) -> GroupContext {
        let hand = Hand {
            out: parts.out,
            runtime: tokio::runtime::Handle::current(),
            epochs: HashMap::new(),
            next_epoch: 1,
            restoring: HashSet::new(),
            held: VecDeque::new(),
            batch: Vec::with_capacity(BATCH_MESSAGES),
            payloads: Vec::new(),
            paused_since: None,
            stall_reported: false,
        };
        GroupContext {
            topics: parts.topics,
            metrics: parts.metrics,
            hand: Mutex::new(hand),
            restore: parts.restore,
            revoke_wait: parts.revoke_wait,
            transactional: parts.transactional,
            assigned: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn keys(&self, tpl: &TopicPartitionList) -> Vec<PartitionKey> {
        tpl.elements().iter().filter_map(|e| Some((self.topics.index(e.topic())?, e.partition()))).collect()
    }

    fn hand(&self) -> MutexGuard<'_, Hand> {
        self.hand.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tpl(&self, keys: &[PartitionKey]) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for k in keys {
            tpl.add_partition(self.topics.name(k.0), k.1);
        }
        tpl
    }

    /// Revocation, in the callback: hands over what was fetched before, tells the workers, and
    /// waits until they are done with the partitions (or the wait is over).
    fn revoke(&self, consumer: &BaseConsumer<Self>, keys: Vec<PartitionKey>) -> KafkaResult<()> {
        let deadline = Instant::now() + self.revoke_wait;
        let (done, finished) = std::sync::mpsc::channel();
        {
            let mut h = self.hand();
            h.seal();
            for k in &keys {
                h.epochs.remove(k);
                h.restoring.remove(k);
            }
            // Messages of revoked partitions not yet handed over are left to the new owner.
            for item in &mut h.held {
                if let Fetched::Batch(b) = item {
                    b.records.retain(|r| !keys.contains(&(r.topic, r.partition)));
                }
            }
            h.held.push_back(Fetched::Revoked { keys, done, deadline });
            h.forward_until(deadline);
            self.assigned.store(h.epochs.len(), Ordering::Release);
            self.metrics.partitions_assigned.set(h.epochs.len() as i64);
        }
        // Every holder of `done` drops it when done; `Disconnected` then means all are.
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = finished.recv_timeout(left);
        if self.transactional {
            // The workers' checkpoint committed the offsets.
            Ok(())
        } else {
            // Commit what the workers stored (every event before it scored, its alerts
            // acknowledged) while the partitions are still ours.
            commit_result(consumer.commit_consumer_state(CommitMode::Sync))
        }
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
                // Offsets committed by the workers' transactions are not seen by this consumer
                // (its committed offset is the one read at assignment): there the lag is what was
                // not yet handed over, from the later of that and the next message's offset.
                let lag = match self.transactional {
                    false => p.consumer_lag,
                    true => match p.app_offset.max(p.committed_offset) {
                        position if position >= 0 && p.hi_offset >= 0 => (p.hi_offset - position).max(0),
                        _ => -1,
                    },
                };
                if lag >= 0 {
                    self.metrics.lag.with_label_values(&[name.as_str(), &label]).set(lag);
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
                let commit = self.revoke(consumer, self.keys(tpl));
                PartitionsRevoked { partitions: describe(tpl), commit, metrics: &self.metrics }.emit();
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => RebalanceFailed { error: e }.emit(),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else { return };
        PartitionsAssigned { partitions: describe(tpl), metrics: &self.metrics }.emit();
        let keys = self.keys(tpl);
        // Nothing is scored before the task is built: paused until then.
        let _ = consumer.pause(&self.tpl(&keys));
        let mut h = self.hand();
        let epoch = h.next_epoch;
        h.next_epoch += 1;
        for k in keys {
            h.epochs.insert(k, epoch);
            h.restoring.insert(k);
            let _ = self.restore.send(Request { key: k, epoch });
        }
        self.assigned.store(h.epochs.len(), Ordering::Release);
        self.metrics.partitions_assigned.set(h.epochs.len() as i64);
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
    /// The workers have checkpointed or stored their last offsets: commit and leave.
    pub close: AtomicBool,
}

/// Starts the consumer thread. It subscribes, then runs until [`Steering::close`]; built tasks
/// come from the restorer on `restored`.
pub fn spawn(
    consumer: Arc<GroupConsumer>,
    topics: Arc<Topics>,
    restored: std::sync::mpsc::Receiver<Task>,
    steering: Arc<Steering>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("credence-consumer".into()).spawn(move || {
        let mut poller = Poller { consumer: &consumer, topics: &topics, restored };
        poller.run(&steering);
        // The workers are done: commit what they stored (nothing, with a changelog: their last
        // checkpoint committed it), then leave the group (dropping the last reference closes
        // the consumer, which revokes once more).
        let result = commit_result(consumer.commit_consumer_state(CommitMode::Sync));
        FinalCommit { result, metrics: &consumer.context().metrics }.emit();
        consumer.unsubscribe();
    })
}

struct Poller<'a> {
    consumer: &'a GroupConsumer,
    topics: &'a Topics,
    restored: std::sync::mpsc::Receiver<Task>,
}

impl Poller<'_> {
    fn hand(&self) -> MutexGuard<'_, Hand> {
        self.consumer.context().hand()
    }

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
                let mut h = self.hand();
                h.held.clear();
                h.batch.clear();
                h.payloads.clear();
                drop(h);
                self.set_paused(true);
            }
            if !stopping {
                self.take_restored();
                let paused = self.hand().paused_since.is_some();
                let backlog = self.hand().forward(if paused { PAUSED_POLL } else { FULL_WAIT });
                self.set_paused(backlog);
            }
            let timeout = {
                let h = self.hand();
                if h.paused_since.is_some() {
                    PAUSED_POLL
                } else if h.batch.is_empty() {
                    IDLE_POLL
                } else {
                    Duration::ZERO
                }
            };
            match self.consumer.poll(timeout) {
                Some(Ok(m)) if !stopping => self.add(&m),
                Some(Ok(_)) => {}
                Some(Err(e)) => ConsumeFailed { error: &e }.emit(),
                None => self.hand().seal(),
            }
            let mut h = self.hand();
            if let Some(since) = h.paused_since {
                if !h.stall_reported && !stopping && since.elapsed() > STALL_AFTER {
                    h.stall_reported = true;
                    let metrics = &self.consumer.context().metrics;
                    ConsumptionStalled { paused_ms: since.elapsed().as_millis() as u64, metrics }.emit();
                }
            }
        }
    }

    /// Hands built tasks over (ahead of their partitions' messages) and resumes their partitions.
    fn take_restored(&mut self) {
        let mut resume = Vec::new();
        {
            let mut h = self.hand();
            while let Ok(task) = self.restored.try_recv() {
                // Revoked (or reassigned) while it was being built: dropped.
                if h.epochs.get(&task.key) != Some(&task.epoch) || !h.restoring.remove(&task.key) {
                    continue;
                }
                resume.push(task.key);
                h.seal();
                h.held.push_back(Fetched::Task(Box::new(task)));
            }
            // Paused as a whole for backpressure: they resume with the others.
            if h.paused_since.is_some() {
                resume.clear();
            }
        }
        if !resume.is_empty() {
            let _ = self.consumer.resume(&self.consumer.context().tpl(&resume));
        }
    }

    fn add(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) {
        let Some(topic) = self.topics.index(m.topic()) else { return };
        let partition = m.partition();
        let mut h = self.hand();
        let epoch = h.epochs.get(&(topic, partition)).copied().unwrap_or(0);
        let start = h.payloads.len();
        h.payloads.extend_from_slice(m.payload().unwrap_or_default());
        let payload = start..h.payloads.len();
        let timestamp_ms = m.timestamp().to_millis();
        h.batch.push(Record { topic, partition, epoch, offset: m.offset(), timestamp_ms, payload });
        if h.batch.len() >= BATCH_MESSAGES || h.payloads.len() >= BATCH_BYTES {
            h.seal();
        }
    }

    fn set_paused(&mut self, pause: bool) {
        let mut h = self.hand();
        if pause == h.paused_since.is_some() {
            return;
        }
        let Ok(assignment) = self.consumer.assignment() else { return };
        if pause {
            if self.consumer.pause(&assignment).is_ok() {
                h.paused_since = Some(Instant::now());
                ConsumptionPaused.emit();
            }
            return;
        }
        // Partitions whose task is still being built stay paused.
        let mut tpl = TopicPartitionList::new();
        for e in assignment.elements() {
            let restoring = self.topics.index(e.topic()).is_some_and(|t| h.restoring.contains(&(t, e.partition())));
            if !restoring {
                tpl.add_partition(e.topic(), e.partition());
            }
        }
        if self.consumer.resume(&tpl).is_ok() {
            let since = h.paused_since.take();
            ConsumptionResumed {
                paused_ms: since.map_or(0, |s| s.elapsed().as_millis() as u64),
                was_stalled: std::mem::take(&mut h.stall_reported),
                metrics: &self.consumer.context().metrics,
            }
            .emit();
        }
    }
}

impl Hand {
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

    /// Hands queued items to the workers, waiting up to `wait` for room each; true while some
    /// are left.
    fn forward(&mut self, wait: Duration) -> bool {
        while let Some(item) = self.held.pop_front() {
            let item = match self.out.try_send(item) {
                Ok(()) => continue,
                Err(TrySendError::Full(item)) => item,
                // The workers are gone (shutting down): nothing more to hand over.
                Err(TrySendError::Closed(_)) => {
                    self.held.clear();
                    return false;
                }
            };
            let out = &self.out;
            match self.runtime.block_on(async { tokio::time::timeout(wait, out.reserve()).await }) {
                Ok(Ok(permit)) => permit.send(item),
                Ok(Err(_closed)) => {
                    self.held.clear();
                    return false;
                }
                Err(_elapsed) => {
                    self.held.push_front(item);
                    return true;
                }
            }
        }
        false
    }

    /// Hands every queued item over, waiting for room until `deadline`.
    fn forward_until(&mut self, deadline: Instant) {
        while self.forward(PAUSED_POLL) && Instant::now() < deadline {}
    }
}
