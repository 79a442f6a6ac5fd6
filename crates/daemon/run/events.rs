//! Internal events: one small type per notable occurrence. `emit()` logs it and, for those that
//! carry the [`Metrics`], counts it in the same place, so logs and metrics cannot drift apart.
//!
//! Levels: INFO for lifecycle (start, assignment, revocation, shutdown), WARN for recoverable
//! trouble, ERROR only where data could be lost or an operator must act; per-message detail is
//! DEBUG. No event carries a raw credential: findings are keyed by pseudonym, decode errors are
//! redacted by the decoder.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode as Code;
use std::sync::atomic::Ordering;

use credence_detect::{Detector, Severity};
use tracing::{debug, error, info, warn};

use super::metrics::Metrics;

pub mod http;
pub mod state;

/// Something worth logging and counting.
pub trait InternalEvent {
    /// Logs the event and counts it.
    fn emit(self);
}

/// The fixed set of `error_type` values for Kafka trouble: the only error labels metrics will use.
pub fn error_type(e: &KafkaError) -> &'static str {
    match e.rdkafka_error_code() {
        Some(Code::BrokerTransportFailure | Code::AllBrokersDown | Code::Resolve | Code::NetworkException) => {
            "broker_unreachable"
        }
        Some(Code::Authentication | Code::SaslAuthenticationFailed | Code::SSL) => "authentication",
        Some(Code::TopicAuthorizationFailed | Code::GroupAuthorizationFailed | Code::ClusterAuthorizationFailed) => {
            "authorization"
        }
        Some(Code::MessageTimedOut | Code::RequestTimedOut | Code::OperationTimedOut) => "timed_out",
        Some(Code::QueueFull) => "queue_full",
        Some(Code::UnknownTopic | Code::UnknownTopicOrPartition | Code::UnknownPartition) => "unknown_topic",
        Some(Code::MessageSizeTooLarge) => "message_too_large",
        Some(Code::Fatal) => "fatal",
        _ => "other",
    }
}

/// The daemon is starting.
#[derive(Debug)]
pub struct Starting<'a> {
    /// Input topics.
    pub topics: &'a [String],
    /// Consumer group.
    pub group: &'a str,
    /// Alerts topic and file.
    pub alerts: String,
}

impl InternalEvent for Starting<'_> {
    fn emit(self) {
        info!(
            version = env!("CARGO_PKG_VERSION"),
            topics = ?self.topics,
            group = self.group,
            alerts = %self.alerts,
            "credence starting"
        );
    }
}

/// The admin server is listening.
#[derive(Debug)]
pub struct AdminListening {
    /// The address bound (with the port chosen, if 0 was asked for).
    pub addr: Option<std::net::SocketAddr>,
}

impl InternalEvent for AdminListening {
    fn emit(self) {
        let addr = self.addr.map(|a| a.to_string()).unwrap_or_default();
        info!(addr = %addr, "admin server listening: /metrics, /healthz, /readyz");
    }
}

/// The lifecycle topic was read to its end.
#[derive(Debug)]
pub struct LifecycleCaughtUp {
    /// Records read.
    pub records: u64,
    /// Time taken, ms.
    pub elapsed_ms: u64,
}

impl InternalEvent for LifecycleCaughtUp {
    fn emit(self) {
        info!(records = self.records, elapsed_ms = self.elapsed_ms, "lifecycle topic read to its end");
    }
}

/// The lifecycle topic was not read to its end in time; consumption starts anyway.
#[derive(Debug)]
pub struct LifecycleCatchUpTimedOut {
    /// The timeout, s.
    pub timeout_secs: u64,
}

impl InternalEvent for LifecycleCatchUpTimedOut {
    fn emit(self) {
        warn!(
            timeout_secs = self.timeout_secs,
            "lifecycle topic not read to its end in time; consuming events anyway (late records apply when read)"
        );
    }
}

/// A lifecycle record could not be decoded.
#[derive(Debug)]
pub struct LifecycleRejected<'a> {
    /// Origin.
    pub partition: i32,
    /// Origin.
    pub offset: i64,
    /// Error type.
    pub error_type: &'static str,
    /// Redacted reason.
    pub error: &'a str,
}

impl InternalEvent for LifecycleRejected<'_> {
    fn emit(self) {
        warn!(
            partition = self.partition,
            offset = self.offset,
            error_type = self.error_type,
            error = self.error,
            "lifecycle record skipped"
        );
    }
}

/// The consumer subscribed to the input topics.
#[derive(Debug)]
pub struct Subscribed<'a> {
    /// Topics.
    pub topics: &'a [String],
}

impl InternalEvent for Subscribed<'_> {
    fn emit(self) {
        info!(topics = ?self.topics, "consuming");
    }
}

/// Partitions were assigned to this consumer.
#[derive(Debug)]
pub struct PartitionsAssigned<'a> {
    /// `topic/partition` list.
    pub partitions: String,
    /// Counted here (readiness).
    pub metrics: &'a Metrics,
}

impl InternalEvent for PartitionsAssigned<'_> {
    fn emit(self) {
        self.metrics.health.assigned.store(true, Ordering::Release);
        self.metrics.ops.assigned.inc();
        info!(partitions = %self.partitions, "partitions assigned");
    }
}

/// Partitions are being revoked; stored offsets were committed first.
#[derive(Debug)]
pub struct PartitionsRevoked<'a> {
    /// `topic/partition` list.
    pub partitions: String,
    /// The synchronous commit's outcome.
    pub commit: Result<(), KafkaError>,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for PartitionsRevoked<'_> {
    fn emit(self) {
        self.metrics.ops.revoked.inc();
        count_commit(self.metrics, &self.commit);
        match self.commit {
            Ok(()) => info!(partitions = %self.partitions, "partitions revoked; offsets committed"),
            Err(e) => warn!(
                partitions = %self.partitions,
                error_type = error_type(&e),
                error = %e,
                "partitions revoked; committing their offsets failed (their uncommitted events will be processed again)"
            ),
        }
    }
}

/// The group protocol reported a rebalance error.
#[derive(Debug)]
pub struct RebalanceFailed<'a> {
    /// The error.
    pub error: &'a KafkaError,
}

impl InternalEvent for RebalanceFailed<'_> {
    fn emit(self) {
        warn!(error_type = error_type(self.error), error = %self.error, "rebalance error");
    }
}

fn count_commit(m: &Metrics, r: &Result<(), KafkaError>) {
    match r {
        Ok(()) => m.commits_ok.inc(),
        Err(_) => m.commits_error.inc(),
    }
}

/// An automatic offset commit succeeded (counted only).
#[derive(Debug)]
pub struct Committed<'a> {
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for Committed<'_> {
    fn emit(self) {
        self.metrics.commits_ok.inc();
    }
}

/// An offset commit (automatic or explicit) failed.
#[derive(Debug)]
pub struct CommitFailed<'a> {
    /// The error.
    pub error: &'a KafkaError,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for CommitFailed<'_> {
    fn emit(self) {
        self.metrics.commits_error.inc();
        warn!(error_type = error_type(self.error), error = %self.error, "offset commit failed; will retry");
    }
}

/// The final commit at shutdown.
#[derive(Debug)]
pub struct FinalCommit<'a> {
    /// Outcome.
    pub result: Result<(), KafkaError>,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for FinalCommit<'_> {
    fn emit(self) {
        count_commit(self.metrics, &self.result);
        self.metrics.health.assigned.store(false, Ordering::Release);
        match self.result {
            Ok(()) => info!("offsets committed"),
            Err(e) => warn!(
                error_type = error_type(&e),
                error = %e,
                "final offset commit failed (uncommitted events will be processed again)"
            ),
        }
    }
}

/// Consumption paused because downstream is full.
#[derive(Debug)]
pub struct ConsumptionPaused;

impl InternalEvent for ConsumptionPaused {
    fn emit(self) {
        debug!("consumption paused: the pipeline is full");
    }
}

/// Consumption has been paused for long: the alert sinks are slow or unreachable.
#[derive(Debug)]
pub struct ConsumptionStalled<'a> {
    /// Paused for, ms.
    pub paused_ms: u64,
    /// Counted here (readiness).
    pub metrics: &'a Metrics,
}

impl InternalEvent for ConsumptionStalled<'_> {
    fn emit(self) {
        self.metrics.health.stalled.store(true, Ordering::Release);
        warn!(paused_ms = self.paused_ms, "consumption paused: alerts are not being acknowledged");
    }
}

/// Consumption resumed.
#[derive(Debug)]
pub struct ConsumptionResumed<'a> {
    /// Paused for, ms.
    pub paused_ms: u64,
    /// Whether a stall had been reported.
    pub was_stalled: bool,
    /// Counted here (readiness).
    pub metrics: &'a Metrics,
}

impl InternalEvent for ConsumptionResumed<'_> {
    fn emit(self) {
        self.metrics.health.stalled.store(false, Ordering::Release);
        if self.was_stalled {
            info!(paused_ms = self.paused_ms, "consumption resumed");
        } else {
            debug!(paused_ms = self.paused_ms, "consumption resumed");
        }
    }
}

/// A consumer error other than a rebalance (fetch errors, broker trouble).
#[derive(Debug)]
pub struct ConsumeFailed<'a> {
    /// The error.
    pub error: &'a KafkaError,
}

impl InternalEvent for ConsumeFailed<'_> {
    fn emit(self) {
        let error_type = error_type(self.error);
        // Broker trouble is already reported once by the client's error callback.
        if error_type == "broker_unreachable" {
            debug!(error_type, error = %self.error, "consumer error");
        } else {
            warn!(error_type, error = %self.error, "consumer error");
        }
    }
}

/// A message failed to decode: it goes to the dead-letter topic (or is dropped if there is none).
#[derive(Debug)]
pub struct MessageUndecodable<'a> {
    /// Origin.
    pub topic: &'a str,
    /// Origin.
    pub partition: i32,
    /// Origin.
    pub offset: i64,
    /// Decode error type.
    pub error_type: &'static str,
    /// Whether it goes to a dead-letter topic.
    pub dead_lettered: bool,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for MessageUndecodable<'_> {
    fn emit(self) {
        if self.dead_lettered {
            self.metrics.dead_lettered.inc();
        }
        debug!(
            topic = self.topic,
            partition = self.partition,
            offset = self.offset,
            error_type = self.error_type,
            dead_lettered = self.dead_lettered,
            "undecodable message"
        );
    }
}

/// A finding record was handed to the sinks.
#[derive(Debug)]
pub struct FindingRaised<'a> {
    /// Finding uid.
    pub uid: &'a str,
    /// Revision.
    pub revision: u32,
    /// Severity.
    pub severity: Severity,
    /// The detector that opened it.
    pub detector: Detector,
    /// A new finding (not an update of one already raised): counted.
    pub opened: bool,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for FindingRaised<'_> {
    fn emit(self) {
        if self.opened {
            self.metrics.finding(self.detector, self.severity).inc();
        }
        debug!(uid = self.uid, revision = self.revision, severity = self.severity.as_str(), "finding");
    }
}

/// An incident record was handed to the sinks.
#[derive(Debug)]
pub struct IncidentRaised<'a> {
    /// The record.
    pub update: &'a credence_finding::incident::IncidentUpdate,
    /// Counted here.
    pub metrics: &'a Metrics,
}

impl InternalEvent for IncidentRaised<'_> {
    fn emit(self) {
        let i = &self.update.incident;
        match self.update.activity {
            credence_finding::Activity::Create => {
                self.metrics.incident(i.severity).inc();
                info!(uid = %i.uid, severity = i.severity.as_str(), findings = i.findings, "incident opened");
            }
            _ => debug!(uid = %i.uid, revision = i.revision, severity = i.severity.as_str(), "incident"),
        }
    }
}

/// A delivery failed after the producer's own retries; it is sent again, and the offsets behind
/// it stay uncommitted until it succeeds. Counted every time; logged (`log`) at most once per
/// [`DELIVERY_FAILED_EVERY`] (a missing topic fails every delivery in flight), with the number
/// of failures not logged.
#[derive(Debug)]
pub struct DeliveryFailed<'a> {
    /// `alerts` or `dead_letter`.
    pub sink: &'static str,
    /// The error.
    pub error: &'a KafkaError,
    /// Failures since the last one logged.
    pub unlogged: u64,
    /// Whether to log this one.
    pub log: bool,
    /// Counted here (and readiness).
    pub metrics: &'a Metrics,
}

/// Deliveries to a sink were acknowledged (counted only; the sink is healthy again).
#[derive(Debug)]
pub struct DeliveryAcked<'a> {
    /// `alerts`, `file` or `dead_letter`.
    pub sink: &'static str,
    /// How many.
    pub records: u64,
    /// Counted here (and readiness).
    pub metrics: &'a Metrics,
}

impl InternalEvent for DeliveryAcked<'_> {
    fn emit(self) {
        self.metrics.delivered(self.sink).inc_by(self.records);
        self.metrics.health.sink_failing.store(false, Ordering::Release);
    }
}

/// Least time between two logged delivery failures.
pub const DELIVERY_FAILED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl InternalEvent for DeliveryFailed<'_> {
    fn emit(self) {
        self.metrics.failed(self.sink).inc();
        self.metrics.health.sink_failing.store(true, Ordering::Release);
        if !self.log {
            return;
        }
        error!(
            sink = self.sink,
            error_type = error_type(self.error),
            error = %self.error,
            unlogged = self.unlogged,
            "delivery failed; retrying (consumption stalls until it succeeds)"
        );
    }
}

/// Writing the alerts file failed; the write is retried.
#[derive(Debug)]
pub struct FileSinkFailed<'a> {
    /// The error.
    pub error: &'a std::io::Error,
    /// Counted here (and readiness).
    pub metrics: &'a Metrics,
}

impl InternalEvent for FileSinkFailed<'_> {
    fn emit(self) {
        self.metrics.failed("file").inc();
        self.metrics.health.sink_failing.store(true, Ordering::Release);
        error!(error_type = "io", error = %self.error, "writing the alerts file failed; retrying");
    }
}

/// librdkafka reported an error through a client's error callback.
#[derive(Debug)]
pub struct KafkaClientError<'a> {
    /// Which client.
    pub client: &'static str,
    /// The error.
    pub error: &'a KafkaError,
    /// librdkafka's reason text.
    pub reason: &'a str,
}

impl InternalEvent for KafkaClientError<'_> {
    fn emit(self) {
        if self.error.rdkafka_error_code() == Some(Code::Fatal) {
            error!(
                client = self.client,
                error_type = "fatal",
                reason = self.reason,
                "fatal Kafka client error; shutting down"
            );
        } else {
            warn!(
                client = self.client,
                error_type = error_type(self.error),
                reason = self.reason,
                "Kafka client error"
            );
        }
    }
}

/// A shutdown was requested.
#[derive(Debug)]
pub struct ShutdownRequested {
    /// Why.
    pub reason: &'static str,
}

impl InternalEvent for ShutdownRequested {
    fn emit(self) {
        info!(reason = self.reason, "shutting down: stop fetching, drain, flush alerts, commit");
    }
}

/// In-flight deliveries did not all complete before the deadline; their offsets stay
/// uncommitted, so their events are processed again after a restart.
#[derive(Debug)]
pub struct DrainIncomplete {
    /// Deliveries still unacknowledged.
    pub unacked: usize,
}

impl InternalEvent for DrainIncomplete {
    fn emit(self) {
        warn!(
            unacked = self.unacked,
            "shutdown deadline reached with deliveries in flight; their events stay uncommitted"
        );
    }
}

/// The daemon stopped.
#[derive(Debug)]
pub struct Stopped<'a> {
    /// Totals.
    pub totals: &'a super::worker::Totals,
    /// Shutdown duration, ms.
    pub shutdown_ms: u64,
}

impl InternalEvent for Stopped<'_> {
    fn emit(self) {
        let t = self.totals;
        info!(
            messages = t.messages,
            events = t.events,
            findings = t.findings,
            dead_letters = t.dead_letters,
            lifecycle = t.lifecycle,
            stale = t.stale,
            unacked = t.unacked,
            shutdown_ms = self.shutdown_ms,
            "credence stopped"
        );
    }
}
