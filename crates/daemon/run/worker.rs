//! A scoring worker task: owns the partition tasks placed on it (each with its pipeline: decoder,
//! engine with its baselines, open findings, clock), the offset tracker of their partitions, its
//! in-flight deliveries and, with a changelog, its transactional producer; the first worker also
//! refreshes the pod's gauges.
//!
//! One `select! { biased; … }` loop: shutdown first, then acknowledgements (so completions drain
//! before new input), then lifecycle records, then fetched items (tasks, messages, revocations),
//! taken only while fewer than `max_in_flight` deliveries are unacknowledged, then the checkpoint
//! timer. When it stops taking messages, the consumer thread's queue fills and the consumer
//! pauses: that is the backpressure.
//!
//! A checkpoint ([`super::changelog`]): every `[state] checkpoint_interval_secs`, when partitions
//! are revoked, and at shutdown, the worker stops taking input until every delivery is
//! acknowledged, takes what changed in each task and commits it with the input offsets in one
//! transaction, off the runtime's threads. The interval's checkpoint is not waited for: the
//! worker goes on scoring while its transaction is committed (a hundred milliseconds to a second:
//! waited for, the worker idled, the consumer's queue filled and it paused its partitions, which
//! makes librdkafka drop what it had fetched and fetch it again); its result comes back as an
//! input of the loop, and the next interval's waits for it. Revocations, hand-overs and shutdown
//! wait for it. Without a changelog it stores offsets as they advance and the consumer commits
//! them.
//!
//! Scoring is synchronous and short (microseconds per event); a batch of at most
//! [`super::consumer::BATCH_MESSAGES`] messages is processed between two awaits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use credence_event::lifecycle::LifecycleEvent;
use credence_finding::incident::{IncidentUpdate, Incidents};
use credence_finding::ocsf::{render, render_incident, Product};
use credence_finding::pipeline::{Output, Pipeline};
use credence_finding::{Activity, FindingUpdate};
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::debug;

use super::changelog::{ChangelogTopics, TxnProducer};
use super::consumer::{Batch, Fetched, GroupConsumer, Record};
use super::events::{
    DeliveryAcked, DeliveryFailed, DrainIncomplete, FindingRaised, IncidentRaised, InternalEvent, MessageUndecodable,
    DELIVERY_FAILED_EVERY,
};
use super::http::{Job, SinkHandle};
use super::kafka::AlertProducer;
use super::latency::Latencies;
use super::metrics::Metrics;
use super::offsets::{Offsets, Origin, PartitionKey};
use super::shutdown::Shutdown;
use super::sinks::{Acked, DeadLetter, Delivered, FileLine, InFlight, Outbound, Sink};
use super::task::Task;
use super::Topics;

/// Wait before sending a record again after its delivery failed.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Wait before sending again when the producer queue or the file sink queue was full.
const FULL_BACKOFF: Duration = Duration::from_millis(20);
/// Timer for retries.
const TICK: Duration = Duration::from_millis(20);
/// How often the baseline gauges are refreshed (counting states walks every baseline).
const GAUGES_EVERY: Duration = Duration::from_secs(10);

mod checkpoint;

/// Running totals, logged at shutdown.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Messages taken from the inputs.
    pub messages: u64,
    /// Events scored.
    pub events: u64,
    /// Finding records published.
    pub findings: u64,
    /// Undecodable messages.
    pub dead_letters: u64,
    /// Lifecycle records received.
    pub lifecycle: u64,
    /// Messages skipped because their partition had been reassigned.
    pub stale: u64,
    /// Deliveries still unacknowledged at exit.
    pub unacked: usize,
}

impl Totals {
    /// Adds another worker's totals (lifecycle records reach every worker: counted once).
    pub fn merge(&mut self, other: &Totals) {
        self.messages += other.messages;
        self.events += other.events;
        self.findings += other.findings;
        self.dead_letters += other.dead_letters;
        self.lifecycle = self.lifecycle.max(other.lifecycle);
        self.stale += other.stale;
        self.unacked += other.unacked;
    }
}

/// One worker's figures, for the pod's gauges.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// Baselines held.
    pub active: usize,
    /// Baselines by state.
    pub states: Vec<(credence_detect::CredentialState, usize)>,
    /// State parts changed and not yet checkpointed.
    pub dirty: usize,
    /// Unix time of the last committed checkpoint (0: none yet, or no changelog).
    pub last_checkpoint: i64,
}

/// What the worker is built from.
pub struct WorkerParts {
    /// This worker's index; worker 0 refreshes the gauges.
    pub shard: usize,
    /// Latency windows shared by the workers.
    pub latency: Arc<Mutex<Latencies>>,
    /// Input topics.
    pub topics: Arc<Topics>,
    /// For storing offsets and the group's metadata.
    pub consumer: Arc<GroupConsumer>,
    /// Alerts and dead letters.
    pub producer: AlertProducer,
    /// The changelog, when state is kept on one.
    pub changelog: Option<Changelog>,
    /// Alerts topic.
    pub alerts_topic: Option<Arc<str>>,
    /// Dead-letter topic.
    pub dead_letter_topic: Option<Arc<str>>,
    /// Largest payload copied into a dead letter.
    pub dead_letter_max_bytes: usize,
    /// Alerts file writer queue.
    pub file: Option<mpsc::Sender<FileLine>>,
    /// Acknowledgements of the alerts file and the HTTP sinks.
    pub acks: Option<mpsc::Receiver<Acked>>,
    /// The HTTP sinks.
    pub http: Vec<SinkHandle>,
    /// The suppression rules in force, when a file names them.
    pub suppressions: Option<super::suppress::Rules>,
    /// With `[alerts] incidents`: how far apart a principal's findings may be to be one incident.
    pub incident_window_ms: Option<i64>,
    /// Product metadata in findings.
    pub product: Product,
    /// Unacknowledged deliveries beyond which no message is taken.
    pub max_in_flight: usize,
    /// Lifecycle records read before the worker started (the catch-up), in time order.
    pub lifecycle_initial: Vec<LifecycleEvent<'static>>,
    /// The pod's bound on baselines, shared out among its partitions' tasks.
    pub max_credentials: usize,
    /// Every worker's figures, by worker: each refreshes its own, worker 0 publishes their sums.
    pub gauges: Arc<Mutex<Vec<Gauges>>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

/// The worker's changelog: its transactional producer, where records go, and how often.
pub struct Changelog {
    /// The transactional producer (one per worker).
    pub producer: Arc<TxnProducer>,
    /// Changelog topic names.
    pub topics: ChangelogTopics,
    /// Time between checkpoints.
    pub interval: Duration,
}

/// The worker.
pub struct Worker {
    parts: WorkerParts,
    /// The tasks placed on this worker.
    tasks: HashMap<PartitionKey, Task>,
    /// Every lifecycle record received, in arrival order: a new task gets them all.
    lifecycle_log: Vec<LifecycleEvent<'static>>,
    acks: Option<mpsc::Receiver<Acked>>,
    offsets: Offsets,
    flights: FuturesUnordered<InFlight>,
    retry: VecDeque<(Instant, Outbound)>,
    in_flight: usize,
    totals: Totals,
    findings: Vec<FindingUpdate>,
    advanced: Vec<(PartitionKey, i64)>,
    /// When a delivery failure was last logged, and failures since.
    failure_log: (Option<Instant>, u64),
    /// Unix time of the last committed checkpoint.
    last_checkpoint: i64,
    /// Kafka timestamps of the batch being processed, ms.
    batch_timestamps: Vec<i64>,
    /// Processing time of each message of the batch being processed, ns.
    batch_processing: Vec<u64>,
    /// Per input topic, counts of the batch being processed.
    batch_counts: Vec<TopicCounts>,
    /// Acknowledgements still come.
    acks_open: bool,
    /// The incidents of the findings this worker raises (its tasks' principals), when on.
    incidents: Option<Incidents>,
    /// The interval's checkpoint whose transaction is being committed.
    committing: Option<checkpoint::Committing>,
}

/// One input topic's counts over a batch, added to its counters after the batch.
#[derive(Debug, Default, Clone, Copy)]
struct TopicCounts {
    consumed: u64,
    decoded: u64,
    scored: u64,
}

impl std::fmt::Debug for WorkerParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerParts").field("topics", &self.topics).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("tasks", &self.tasks.len())
            .field("in_flight", &self.in_flight)
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker.
    pub fn new(mut parts: WorkerParts) -> Worker {
        let acks = parts.acks.take();
        let lifecycle_log = std::mem::take(&mut parts.lifecycle_initial);
        let totals = Totals { lifecycle: lifecycle_log.len() as u64, ..Totals::default() };
        let acks_open = acks.is_some();
        let incidents = parts.incident_window_ms.map(Incidents::new);
        Worker {
            incidents,
            parts,
            tasks: HashMap::new(),
            lifecycle_log,
            acks,
            offsets: Offsets::default(),
            flights: FuturesUnordered::new(),
            retry: VecDeque::new(),
            in_flight: 0,
            totals,
            findings: Vec::new(),
            advanced: Vec::new(),
            failure_log: (None, 0),
            last_checkpoint: 0,
            batch_timestamps: Vec::new(),
            batch_processing: Vec::new(),
            batch_counts: Vec::new(),
            acks_open,
            committing: None,
        }
    }

    /// Runs until `shutdown`, then drains in-flight deliveries for at most `drain_for`, takes a
    /// last checkpoint (or stores the final offsets). Returns the totals.
    pub async fn run(
        mut self,
        mut input: mpsc::Receiver<Fetched>,
        mut lifecycle: mpsc::Receiver<LifecycleEvent<'static>>,
        shutdown: Shutdown,
        drain_for: Duration,
    ) -> Totals {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut gauges = tokio::time::interval(GAUGES_EVERY);
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interval = self.parts.changelog.as_ref().map_or(Duration::from_secs(3600), |c| c.interval);
        let mut checkpoints = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        checkpoints.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        let (mut input_open, mut lifecycle_open) = (true, true);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                Some(done) = self.flights.next(), if !self.flights.is_empty() => self.delivered(done),
                acks = recv_acks(&mut self.acks), if self.acks_open => match acks {
                    Some((sink, origins)) => self.acked(&sink, origins),
                    None => self.acks_open = false,
                },
                result = checkpoint::commit_done(&mut self.committing), if self.committing.is_some() => {
                    self.committed(result, &shutdown);
                }
                ev = lifecycle.recv(), if lifecycle_open => match ev {
                    Some(ev) => self.lifecycle(ev),
                    None => lifecycle_open = false,
                },
                // Timers before input: under a backlog, input is always ready.
                _ = checkpoints.tick(), if self.parts.changelog.is_some() => {
                    self.checkpoint_in_background(Instant::now() + interval).await;
                }
                _ = tick.tick() => self.retry_due(),
                _ = gauges.tick() => self.refresh_gauges(),
                item = input.recv(), if input_open && self.in_flight < self.parts.max_in_flight => match item {
                    Some(Fetched::Batch(batch)) => self.batch(batch),
                    Some(Fetched::Task(task)) => self.add_task(*task),
                    Some(Fetched::Release { key, reply }) => {
                        if let Some(task) = self.release(key, Instant::now() + drain_for, &shutdown).await {
                            let _ = reply.send(Box::new(task));
                        }
                    }
                    Some(Fetched::Revoked { keys, done, deadline }) => {
                        self.revoke(&keys, deadline, &shutdown).await;
                        drop(done);
                    }
                    None => {
                        // The consumer thread is gone without being asked to stop.
                        input_open = false;
                        shutdown.trigger_failure("the consumer thread stopped");
                    }
                },
            }
            self.store_offsets();
        }
        // Shutdown: take no more input; wait for what is in flight, then checkpoint or store
        // the last offsets.
        drop(input);
        let deadline = Instant::now() + drain_for;
        self.drain(deadline).await;
        if self.parts.changelog.is_some() {
            self.checkpoint("shutdown", deadline, &shutdown).await;
        }
        self.store_offsets();
        if self.in_flight > 0 {
            DrainIncomplete { unacked: self.in_flight }.emit();
        }
        self.totals.unacked = self.in_flight;
        self.totals.events += self.tasks.values().map(|t| t.pipeline.summary().events).sum::<u64>();
        self.refresh_gauges();
        self.totals
    }

    /// Waits until every delivery in flight is acknowledged, or `deadline`.
    async fn drain(&mut self, deadline: Instant) {
        let mut tick = tokio::time::interval(TICK);
        let until = tokio::time::sleep_until(deadline.into());
        tokio::pin!(until);
        while self.in_flight > 0 {
            tokio::select! {
                biased;
                Some(done) = self.flights.next(), if !self.flights.is_empty() => self.delivered(done),
                acks = recv_acks(&mut self.acks), if self.acks_open => match acks {
                    Some((sink, origins)) => self.acked(&sink, origins),
                    None => self.acks_open = false,
                },
                _ = tick.tick() => self.retry_due(),
                _ = &mut until => break,
            }
            self.store_offsets();
        }
    }

    /// Baselines held, by state, evictions, checkpoints and latency quantiles, every
    /// [`GAUGES_EVERY`]: each worker counts its own tasks into the shared figures; the first
    /// publishes their sums and the shared latency windows. Each task's share of the pod's bound
    /// on baselines is set here too, as partitions come and go.
    fn refresh_gauges(&mut self) {
        let wall_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let assigned = self.parts.consumer.context().assigned.load(std::sync::atomic::Ordering::Acquire);
        let share = self.parts.max_credentials / assigned.max(1);
        let mut own = Gauges { last_checkpoint: self.last_checkpoint, ..Gauges::default() };
        let mut counts = credence_detect::EngineCounters::default();
        for t in self.tasks.values_mut() {
            t.pipeline.engine_mut().set_max_credentials(share);
            let c = t.pipeline.engine_mut().take_counts();
            self.parts.metrics.geoip.add(t.pipeline.take_enrich_stats());
            let engine = t.pipeline.engine();
            own.active += engine.len();
            own.dirty += t.pipeline.pending_changes();
            counts.evicted_capacity += c.evicted_capacity;
            counts.evicted_established += c.evicted_established;
            counts.evicted_idle += c.evicted_idle;
            counts.seeded += c.seeded;
            counts.attempts += c.attempts;
            counts.evicted_networks += c.evicted_networks;
            // States as of the task's own clock.
            let now_ms = t.pipeline.summary().time_range.map_or(wall_ms, |(_, last)| last);
            for (state, n) in engine.states(now_ms) {
                match own.states.iter_mut().find(|(s, _)| *s == state) {
                    Some(c) => c.1 += n,
                    None => own.states.push((state, n)),
                }
            }
        }
        // Counters grow by what the tasks counted since the last refresh (taken from them, so a
        // task that moves between workers is counted once).
        let m = &self.parts.metrics;
        m.evicted_capacity.inc_by(counts.evicted_capacity - counts.evicted_established);
        m.evicted_established.inc_by(counts.evicted_established);
        m.evicted_idle.inc_by(counts.evicted_idle);
        m.state.seeded.inc_by(counts.seeded);
        m.spray_attempts.inc_by(counts.attempts);
        m.spray_networks_evicted.inc_by(counts.evicted_networks);
        m.state.worker_partitions.with_label_values(&[&self.parts.shard.to_string()]).set(self.tasks.len() as i64);
        let mut all = self.parts.gauges.lock().unwrap_or_else(|e| e.into_inner());
        all[self.parts.shard] = own;
        if self.parts.shard != 0 {
            return;
        }
        self.parts.metrics.ops.set_readiness(&self.parts.metrics.health);
        let mut sum = Gauges::default();
        let mut states = Vec::new();
        let mut oldest_checkpoint = i64::MAX;
        for g in all.iter() {
            sum.active += g.active;
            sum.dirty += g.dirty;
            oldest_checkpoint = oldest_checkpoint.min(g.last_checkpoint);
            states.extend(g.states.iter().copied());
        }
        drop(all);
        {
            let mut latency = self.parts.latency.lock().unwrap_or_else(|e| e.into_inner());
            latency.processing.publish(&m.processing_quantiles);
            latency.end_to_end.publish(&m.end_to_end_quantiles);
        }
        m.baselines_active.set(sum.active as i64);
        m.set_states(&states);
        m.state.dirty.set(sum.dirty as i64);
        if self.parts.changelog.is_some() {
            m.state.last_checkpoint.set(if oldest_checkpoint == i64::MAX { 0 } else { oldest_checkpoint });
        }
    }

    fn lifecycle(&mut self, ev: LifecycleEvent<'static>) {
        self.totals.lifecycle += 1;
        for t in self.tasks.values_mut() {
            schedule(t, &ev);
        }
        self.lifecycle_log.push(ev);
    }

    /// Processes a batch of fetched messages. The clock is read once per message (the end of one
    /// is the start of the next) and once after the batch for every message's end-to-end latency
    /// (a message's own share of the batch is microseconds); the metrics shared by the workers
    /// are updated once per batch, not per message (two workers adding to the same counters per
    /// message contend for their cache lines).
    fn batch(&mut self, batch: Batch) {
        let Batch { records, payloads } = batch;
        let mut timestamps = std::mem::take(&mut self.batch_timestamps);
        timestamps.extend(records.iter().filter_map(|r| r.timestamp_ms));
        let mut counts = std::mem::take(&mut self.batch_counts);
        counts.clear();
        counts.resize(self.parts.metrics.topics.len(), TopicCounts::default());
        let mut mark = Instant::now();
        for r in records {
            let payload = payloads.get(r.payload.clone()).unwrap_or_default();
            let processed = self.record(&r, payload, &mut counts);
            let now = Instant::now();
            if processed {
                self.batch_processing.push(u64::try_from((now - mark).as_nanos()).unwrap_or(u64::MAX));
            }
            mark = now;
        }
        let now_ms = wall_clock_ms();
        let metrics = &*self.parts.metrics;
        for (topic, c) in metrics.topics.iter().zip(&counts) {
            topic.consumed.inc_by(c.consumed);
            topic.decoded.inc_by(c.decoded);
            topic.scored.inc_by(c.scored);
        }
        let (end_to_end, processing) = (metrics.end_to_end.local(), metrics.processing.local());
        let mut latency = self.parts.latency.lock().unwrap_or_else(|e| e.into_inner());
        for t in timestamps.drain(..) {
            // A producer clock ahead of ours counts as no delay.
            let age_ms = now_ms.saturating_sub(t).max(0);
            end_to_end.observe(age_ms as f64 / 1000.0);
            latency.end_to_end.record(age_ms as u64);
        }
        for ns in self.batch_processing.drain(..) {
            processing.observe(ns as f64 * 1e-9);
            latency.processing.record(ns);
        }
        drop(latency);
        end_to_end.flush();
        processing.flush();
        self.batch_timestamps = timestamps;
        self.batch_counts = counts;
    }

    /// Processes one message; false when it was skipped (its partition was revoked or
    /// reassigned since it was fetched).
    fn record(&mut self, r: &Record, payload: &[u8], counts: &mut [TopicCounts]) -> bool {
        self.totals.messages += 1;
        let origin = Origin { topic: r.topic, partition: r.partition, epoch: r.epoch, offset: r.offset };
        let Some(task) = self.tasks.get_mut(&(r.topic, r.partition)).filter(|t| t.epoch == r.epoch) else {
            self.totals.stale += 1;
            return false;
        };
        if !self.offsets.begin(origin) {
            self.totals.stale += 1;
            return false;
        }
        let mut findings = std::mem::take(&mut self.findings);
        let mut first_error: Option<(&'static str, String)> = None;
        let mut errors = 0u32;
        let metrics = &*self.parts.metrics;
        let pipeline = &mut task.pipeline;
        let decoded = |p: &Pipeline| p.summary().events + p.summary().skips();
        let (decoded_before, scored_before) = (decoded(pipeline), scored(pipeline));
        // The arrival clock: the message's Kafka timestamp, capped by ours (a producer clock
        // ahead of ours must not widen what is trusted); ours when the message has none.
        let wall_ms = wall_clock_ms();
        let arrival_ms = r.timestamp_ms.map_or(wall_ms, |t| t.min(wall_ms));
        pipeline.process_at(payload, Some(arrival_ms), &mut |o| match o {
            Output::Finding(u) => findings.push(u),
            Output::DecodeError(e) => {
                errors += 1;
                // Every error counts (MessageUndecodable below logs the message once).
                metrics.decode_error(r.topic, e.error_type()).inc();
                if first_error.is_none() {
                    first_error = Some((e.error_type().as_str(), e.to_string()));
                }
            }
            Output::Skipped(s) => {
                errors += 1;
                metrics.set_aside(r.topic, s.reason).inc();
                if first_error.is_none() {
                    first_error = Some((s.reason.as_str(), s.to_string()));
                }
            }
            // The close record: its sinks learn that the incident is over (PagerDuty resolves it).
            Output::Closed(f) => findings.push(FindingUpdate::close(f)),
        });
        let c = &mut counts[usize::from(r.topic)];
        c.consumed += 1;
        c.decoded += decoded(pipeline) - decoded_before;
        c.scored += scored(pipeline).saturating_sub(scored_before);
        let mut deliveries = 0;
        for mut u in findings.drain(..) {
            if let Some(rules) = &self.parts.suppressions {
                u.suppressed = rules.check(&u.finding, &self.parts.metrics);
            }
            deliveries += self.publish(origin, &u);
            for iu in self.incidents.as_mut().map(|i| i.observe(&u)).unwrap_or_default() {
                deliveries += self.publish_incident(origin, &iu);
            }
        }
        self.findings = findings;
        if let Some((error_type, error)) = first_error {
            deliveries += self.dead_letter(origin, error_type, &error, errors, payload.to_vec());
        }
        self.offsets.finish(origin, deliveries);
        true
    }

    /// Hands one finding record to every alert sink. Returns the deliveries started.
    fn publish(&mut self, origin: Origin, u: &FindingUpdate) -> u32 {
        let f = &u.finding;
        FindingRaised {
            uid: &f.uid,
            revision: f.revision,
            severity: f.severity,
            detector: f.primary(),
            opened: u.activity == Activity::Create,
            metrics: &self.parts.metrics,
        }
        .emit();
        self.totals.findings += 1;
        // Serialising a `serde_json::Value` cannot fail.
        let mut json = serde_json::to_vec(&render(u, &self.parts.product)).unwrap_or_default();
        let file = self.parts.file.is_some();
        let mut n = 0;
        // The HTTP sinks the finding is routed to, from the rendered finding (before the alerts
        // topic takes it). A suppressed finding goes to none: it is recorded, not sent to people.
        let routed = if u.suppressed.is_some() { 0 } else { self.parts.http.len() };
        for i in 0..routed {
            let h = &self.parts.http[i];
            if h.routes(f) {
                let body = h.body(u, &json);
                self.submit(Outbound {
                    origin,
                    sink: Sink::Http(i),
                    key: Some(f.uid.clone()),
                    payload: body,
                    headers: None,
                });
                n += 1;
            }
        }
        if let Some(topic) = self.parts.alerts_topic.clone() {
            let payload = if file { json.clone() } else { std::mem::take(&mut json) };
            self.submit(Outbound::alert(topic, origin, u, payload));
            n += 1;
        }
        if file {
            self.submit(Outbound { origin, sink: Sink::File, key: None, payload: json, headers: None });
            n += 1;
        }
        n
    }

    /// Hands one incident record to the alerts topic and file, and the HTTP sinks that take
    /// incidents. Returns the deliveries started.
    fn publish_incident(&mut self, origin: Origin, u: &IncidentUpdate) -> u32 {
        IncidentRaised { update: u, metrics: &self.parts.metrics }.emit();
        let mut json = serde_json::to_vec(&render_incident(u, &self.parts.product)).unwrap_or_default();
        let file = self.parts.file.is_some();
        let mut n = 0;
        for i in 0..self.parts.http.len() {
            let h = &self.parts.http[i];
            if h.routes_incident(&u.incident) {
                let body = h.incident_body(u, &json);
                let key = Some(u.incident.uid.clone());
                self.submit(Outbound { origin, sink: Sink::Http(i), key, payload: body, headers: None });
                n += 1;
            }
        }
        if let Some(topic) = self.parts.alerts_topic.clone() {
            let payload = if file { json.clone() } else { std::mem::take(&mut json) };
            self.submit(Outbound::incident(topic, origin, u, payload));
            n += 1;
        }
        if file {
            self.submit(Outbound { origin, sink: Sink::File, key: None, payload: json, headers: None });
            n += 1;
        }
        n
    }

    fn dead_letter(
        &mut self,
        origin: Origin,
        error_type: &'static str,
        error: &str,
        errors: u32,
        payload: Vec<u8>,
    ) -> u32 {
        self.totals.dead_letters += 1;
        let source_topic = self.parts.topics.name(origin.topic);
        MessageUndecodable {
            topic: source_topic,
            partition: origin.partition,
            offset: origin.offset,
            error_type,
            dead_lettered: self.parts.dead_letter_topic.is_some(),
            metrics: &self.parts.metrics,
        }
        .emit();
        let Some(topic) = self.parts.dead_letter_topic.clone() else { return 0 };
        let input = self.parts.topics.input(origin.topic);
        let what = DeadLetter {
            error,
            error_type,
            errors,
            source_topic,
            format: self.parts.topics.format(input).as_str(),
            max_payload_bytes: self.parts.dead_letter_max_bytes,
        };
        let out = Outbound::dead_letter(topic, origin, &what, payload);
        self.submit(out);
        1
    }

    /// Starts a new delivery.
    fn submit(&mut self, out: Outbound) {
        self.in_flight += 1;
        self.send(out);
    }

    /// Sends (or sends again) a delivery; a full queue puts it on the retry list.
    fn send(&mut self, out: Outbound) {
        match &out.sink {
            Sink::Alerts(topic) | Sink::DeadLetter(topic) => {
                let mut rec = FutureRecord::<str, [u8]>::to(topic).payload(&out.payload);
                if let Some(k) = &out.key {
                    rec = rec.key(k.as_str());
                }
                if let Some(h) = &out.headers {
                    rec = rec.headers(h.clone());
                }
                match self.parts.producer.send_result(rec) {
                    Ok(fut) => self.flights.push(InFlight { origin: out.origin, sink: out.sink.clone(), fut }),
                    Err((e, _)) => {
                        debug!(sink = out.sink.label(), error = %e, "producer queue refused a record; retrying");
                        self.retry.push_back((Instant::now() + FULL_BACKOFF, out));
                    }
                }
            }
            Sink::Http(i) => {
                let Some(h) = self.parts.http.get(*i) else { return };
                let job = Job {
                    body: out.payload,
                    uid: out.key.unwrap_or_default(),
                    origin: out.origin,
                    worker: self.parts.shard,
                };
                if let Err(TrySendError::Full(job) | TrySendError::Closed(job)) = h.tx.try_send(job) {
                    let again = Outbound {
                        origin: job.origin,
                        sink: Sink::Http(*i),
                        key: Some(job.uid),
                        payload: job.body,
                        headers: None,
                    };
                    self.retry.push_back((Instant::now() + FULL_BACKOFF, again));
                }
            }
            Sink::File => {
                let Some(tx) = &self.parts.file else { return };
                match tx.try_send((out.payload, out.origin, self.parts.shard)) {
                    Ok(()) => {}
                    Err(TrySendError::Full((payload, origin, _)) | TrySendError::Closed((payload, origin, _))) => {
                        let again = Outbound { origin, sink: Sink::File, key: None, payload, headers: None };
                        self.retry.push_back((Instant::now() + FULL_BACKOFF, again));
                    }
                }
            }
        }
    }

    fn retry_due(&mut self) {
        let now = Instant::now();
        let due = self.retry.iter().take_while(|(t, _)| *t <= now).count();
        for (_, out) in self.retry.drain(..due).collect::<Vec<_>>() {
            self.send(out);
        }
    }

    fn delivered(&mut self, (origin, sink, result): Delivered) {
        match result {
            Some(Ok(_)) => {
                self.in_flight -= 1;
                self.offsets.acked(origin);
                DeliveryAcked { sink: sink.label(), records: 1, metrics: &self.parts.metrics }.emit();
            }
            Some(Err((e, msg))) => {
                // Never drop it: its offset must not be committed until it is delivered.
                let (last, unlogged) = &mut self.failure_log;
                let log = last.is_none_or(|t| t.elapsed() >= DELIVERY_FAILED_EVERY);
                let metrics = &self.parts.metrics;
                DeliveryFailed { sink: sink.label(), error: &e, unlogged: *unlogged, log, metrics }.emit();
                if log {
                    *last = Some(Instant::now());
                    *unlogged = 0;
                } else {
                    *unlogged += 1;
                }
                self.retry.push_back((Instant::now() + RETRY_BACKOFF, Outbound::from_failed(origin, sink, msg)));
            }
            // The producer went away (only at exit): the offset stays unstored.
            None => self.in_flight -= 1,
        }
    }

    /// Acknowledgements from the alerts file or an HTTP sink (which counted its deliveries).
    fn acked(&mut self, sink: &str, origins: Vec<Origin>) {
        if sink == "file" {
            DeliveryAcked { sink: "file", records: origins.len() as u64, metrics: &self.parts.metrics }.emit();
        }
        for o in origins {
            self.in_flight -= 1;
            self.offsets.acked(o);
        }
    }

    /// Stores the watermarks that moved; auto-commit sends them to the broker. With a changelog,
    /// offsets are committed by checkpoints instead.
    fn store_offsets(&mut self) {
        if self.parts.changelog.is_some() {
            return;
        }
        self.advanced.clear();
        self.offsets.take_advanced(&mut self.advanced);
        if self.advanced.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::with_capacity(self.advanced.len());
        for &((topic, partition), offset) in &self.advanced {
            // Infallible for a valid partition and offset.
            let _ = tpl.add_partition_offset(self.parts.topics.name(topic), partition, Offset::Offset(offset));
        }
        if let Err(e) = self.parts.consumer.store_offsets(&tpl) {
            // A partition revoked meanwhile: its new owner starts from the last commit.
            debug!(error = %e, "storing offsets failed");
        }
    }
}

/// Events a task's engine has scored.
fn scored(p: &Pipeline) -> u64 {
    p.engine().counters().scored
}

/// Queues a lifecycle record into a task's pipeline: in order (the usual case) or ahead of its
/// events, it applies when event time reaches it; already in the past for the task's events, it
/// applies from the next event. (A record older than one already queued waits behind it.)
fn schedule(t: &mut Task, ev: &LifecycleEvent<'static>) {
    let latest = t.pipeline.summary().time_range.map_or(t.pipeline.clock().latest_ms, |(_, b)| b);
    if ev.time_ms >= t.lifecycle_horizon || ev.time_ms > latest {
        t.lifecycle_horizon = t.lifecycle_horizon.max(ev.time_ms);
        t.pipeline.schedule_lifecycle(vec![ev.clone()]);
    } else {
        t.pipeline.lifecycle(ev);
    }
}

async fn recv_acks(rx: &mut Option<mpsc::Receiver<Acked>>) -> Option<Acked> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

/// The machine's clock, epoch ms.
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
