//! The HTTP sinks (`[[sinks]]`): one task per sink delivers the finding records routed to it —
//! at most `max_concurrent` requests at once, started at most `max_per_sec` a second, each retried
//! with exponential backoff and jitter on a failure (a 5xx or 429 answer, a timeout, a refused
//! connection) up to `max_attempts`, then dead-lettered. Its outcome is acknowledged to the worker
//! that sent it, so the input offset behind it is committed only once the record was delivered or
//! set aside: a sink that fails keeps its records (bounded by the daemon's `max_in_flight`) and
//! slows consumption through the backpressure the daemon already has, never more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use credence_finding::incident::{Incident, IncidentUpdate};
use credence_finding::{Finding, FindingUpdate};
use rand::Rng as _;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use tokio::sync::{mpsc, Semaphore};

use super::events::http::{SinkDeadLettered, SinkRequestFailed};
use super::events::InternalEvent;
use super::kafka::AlertProducer;
use super::metrics::Metrics;
use super::offsets::Origin;
use super::sinks::Acked;
use crate::config::{HttpSinkKind, ResolvedSink};

pub mod payload;

/// First wait before a retry; it doubles with each attempt.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A record for an HTTP sink: its body, the finding's uid (for dead letters), its origin and the
/// worker to acknowledge it to.
#[derive(Debug)]
pub struct Job {
    /// The body to POST.
    pub body: Vec<u8>,
    /// The finding's uid.
    pub uid: String,
    /// The input message it came from.
    pub origin: Origin,
    /// The worker that sent it.
    pub worker: usize,
}

/// A sink as the workers see it: which findings it takes, how to render them, where to send them.
#[derive(Debug, Clone)]
pub struct SinkHandle {
    /// Its configuration and secrets.
    pub sink: Arc<ResolvedSink>,
    /// Its task's queue.
    pub tx: mpsc::Sender<Job>,
}

impl SinkHandle {
    /// Whether a finding is routed to this sink.
    pub fn routes(&self, f: &Finding) -> bool {
        let c = &self.sink.config;
        c.records.findings()
            && f.severity >= c.min_severity
            && (c.detectors.is_empty() || f.detectors().any(|d| c.detectors.contains(&d)))
            && (c.tactics.is_empty() || f.attacks().any(|a| c.tactics.contains(&a.tactic)))
            && (c.categories.is_empty() || c.categories.contains(&f.category))
    }

    /// Whether an incident is routed to this sink: a detector or tactic filter matches when one
    /// of its findings does; an incident is of the security category.
    pub fn routes_incident(&self, i: &Incident) -> bool {
        let c = &self.sink.config;
        c.records.incidents()
            && i.severity >= c.min_severity
            && (c.detectors.is_empty() || i.members.iter().flat_map(|m| &m.detectors).any(|d| c.detectors.contains(d)))
            && (c.tactics.is_empty() || i.tactics().iter().any(|t| c.tactics.contains(t)))
            && (c.categories.is_empty() || c.categories.contains(&credence_detect::Category::Security))
    }

    /// The body this sink receives for an incident record (`ocsf`: the rendered Incident Finding).
    pub fn incident_body(&self, u: &IncidentUpdate, ocsf: &[u8]) -> Vec<u8> {
        let c = &self.sink.config;
        let link = c.finding_url.as_ref().map(|t| t.replace("{uid}", &u.incident.uid));
        payload::incident_body(c.kind, u, ocsf, self.sink.secret.as_deref(), link.as_deref())
    }

    /// The body this sink receives for a finding record (`ocsf`: the rendered OCSF finding).
    pub fn body(&self, u: &FindingUpdate, ocsf: &[u8]) -> Vec<u8> {
        let c = &self.sink.config;
        let link = c.finding_url.as_ref().map(|t| t.replace("{uid}", &u.finding.uid));
        payload::body(c.kind, u, ocsf, self.sink.secret.as_deref(), link.as_deref())
    }
}

/// What the sink tasks share.
#[derive(Clone)]
pub struct Shared {
    /// For dead letters.
    pub producer: AlertProducer,
    /// The dead-letter topic.
    pub dead_letter_topic: Option<Arc<str>>,
    /// Acknowledgements, one queue per worker.
    pub acks: Vec<mpsc::Sender<Acked>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("dead_letter_topic", &self.dead_letter_topic).finish_non_exhaustive()
    }
}

/// Starts one task per sink; returns their handles. `capacity`: each sink's queue (the daemon's
/// `max_in_flight`: every delivery in flight fits).
pub fn spawn(sinks: &[ResolvedSink], capacity: usize, shared: &Shared) -> anyhow::Result<Vec<SinkHandle>> {
    let mut handles = Vec::new();
    for s in sinks {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(s.config.timeout_ms))
            .user_agent(concat!("credence/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sink = Arc::new(s.clone());
        let name: Arc<str> = Arc::from(s.config.name.as_str());
        tracing::info!(
            sink = %name,
            kind = s.config.kind.as_str(),
            min_severity = s.config.min_severity.as_str(),
            "HTTP sink ready"
        );
        tokio::spawn(run(rx, Deliver { client, sink: sink.clone(), name, shared: shared.clone() }));
        handles.push(SinkHandle { sink, tx });
    }
    Ok(handles)
}

/// One sink's delivery context.
#[derive(Debug, Clone)]
struct Deliver {
    client: reqwest::Client,
    sink: Arc<ResolvedSink>,
    name: Arc<str>,
    shared: Shared,
}

/// The sink's task: takes jobs at its pace and delivers each in a task of its own, at most
/// `max_concurrent` at once. Ends when every worker has dropped its sender.
async fn run(mut rx: mpsc::Receiver<Job>, d: Deliver) {
    let c = &d.sink.config;
    let permits = Arc::new(Semaphore::new(c.max_concurrent));
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / c.max_per_sec));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while let Some(job) = rx.recv().await {
        pace.tick().await;
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let d = d.clone();
        tokio::spawn(async move {
            d.deliver(job).await;
            drop(permit);
        });
    }
}

impl Deliver {
    /// Delivers one record, retrying, then dead-letters it; acknowledges it either way.
    async fn deliver(&self, job: Job) {
        let c = &self.sink.config;
        let mut wait = BACKOFF_FIRST;
        let mut last_error = String::new();
        for attempt in 1..=c.max_attempts {
            match self.attempt(&job.body).await {
                Ok(()) => {
                    self.shared.metrics.delivered(&self.name).inc();
                    self.shared.metrics.health.sink_failing.store(false, std::sync::atomic::Ordering::Release);
                    self.ack(&job).await;
                    return;
                }
                Err(e) => {
                    let retry = attempt < c.max_attempts;
                    SinkRequestFailed { sink: &self.name, attempt, error: &e, retry, metrics: &self.shared.metrics }
                        .emit();
                    last_error = e;
                }
            }
            if attempt < c.max_attempts {
                // Full jitter on the upper half: retries of many records spread out.
                let jittered = wait.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
                tokio::time::sleep(jittered).await;
                wait = (wait * 2).min(BACKOFF_MAX);
            }
        }
        self.dead_letter(&job, &last_error).await;
        self.ack(&job).await;
    }

    /// One POST: `Ok` on a 2xx answer; an error otherwise (with the status or the transport
    /// error, never the URL: it is a secret for Slack).
    async fn attempt(&self, body: &[u8]) -> Result<(), String> {
        let c = &self.sink.config;
        let mut req = self.client.post(&self.sink.url).header("content-type", "application/json").body(body.to_vec());
        if c.kind == HttpSinkKind::Webhook {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string();
            let key = self.sink.secret.as_deref().unwrap_or_default().as_bytes();
            req = req
                .header("x-credence-timestamp", &ts)
                .header("x-credence-signature", payload::signature(key, &ts, body));
        }
        let started = Instant::now();
        match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {} after {} ms", r.status().as_u16(), started.elapsed().as_millis())),
            Err(e) if e.is_timeout() => Err(format!("timed out after {} ms", c.timeout_ms)),
            Err(e) if e.is_connect() => Err("could not connect".into()),
            Err(e) => Err(format!("request failed ({})", e.without_url())),
        }
    }

    /// Sets a record aside on the dead-letter topic, with the sink and the last error in headers.
    async fn dead_letter(&self, job: &Job, error: &str) {
        let Some(topic) = &self.shared.dead_letter_topic else {
            SinkDeadLettered { sink: &self.name, uid: &job.uid, error, kept: false, metrics: &self.shared.metrics }
                .emit();
            return;
        };
        let headers = OwnedHeaders::new_with_capacity(4)
            .insert(Header { key: "credence.sink", value: Some(self.name.as_ref()) })
            .insert(Header { key: "credence.error", value: Some(error) })
            .insert(Header { key: "credence.error_type", value: Some("sink_failed") })
            .insert(Header { key: "credence.finding_uid", value: Some(job.uid.as_str()) });
        let record = FutureRecord::<str, [u8]>::to(topic).payload(&job.body).headers(headers);
        // Waits for the broker (the producer retries on its own until its delivery timeout).
        let kept = self.shared.producer.send(record, Duration::from_secs(30)).await.is_ok();
        SinkDeadLettered { sink: &self.name, uid: &job.uid, error, kept, metrics: &self.shared.metrics }.emit();
    }

    async fn ack(&self, job: &Job) {
        if let Some(tx) = self.shared.acks.get(job.worker) {
            // A worker gone is shutting down: its acknowledgements no longer matter.
            let _ = tx.send((self.name.clone(), vec![job.origin])).await;
        }
    }
}
