//! The synchronous per-event pipeline shared by `replay`, `demo` and the daemon: decode, score and
//! learn, fold into findings. No I/O here: callers feed bytes in and take findings out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::{Activity, Aggregator, Finding, FindingUpdate};
use credence_detect::{Detector, Engine, LearnPolicy, Severity};
use credence_event::lifecycle::LifecycleEvent;
use credence_event::{DecodeError, Decoder, ErrorType};

/// How often (in events) open findings are checked for closing.
const CLOSE_CHECK_EVERY: u64 = 4096;
/// How often, in event time, idle baselines are swept out of the engine: an O(baselines) pass,
/// so rarely.
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// What the pipeline hands back.
#[derive(Debug)]
pub enum Output<'a> {
    /// A finding opened, escalated or widened: publish it.
    Finding(FindingUpdate),
    /// A finding closed (idle past the window, or at the end): for evaluation and metrics.
    Closed(Finding),
    /// A record could not be decoded.
    DecodeError(&'a DecodeError),
}

/// Running totals for the end-of-run summary.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Messages read.
    pub messages: u64,
    /// Events decoded and scored.
    pub events: u64,
    /// Lifecycle records applied.
    pub lifecycle: u64,
    /// Decode errors by type.
    pub decode_errors: BTreeMap<ErrorType, u64>,
    /// Findings opened, by severity at opening.
    pub findings_by_severity: BTreeMap<Severity, u64>,
    /// Findings opened, by opening detector.
    pub findings_by_detector: BTreeMap<Detector, u64>,
    /// Finding updates (escalations, new detectors).
    pub finding_updates: u64,
    /// Event time of the first and last event.
    pub time_range: Option<(i64, i64)>,
}

impl Summary {
    /// Findings opened.
    pub fn findings(&self) -> u64 {
        self.findings_by_severity.values().sum()
    }

    /// Decode errors in all.
    pub fn errors(&self) -> u64 {
        self.decode_errors.values().sum()
    }
}

/// Decoder, engine and aggregator for one stream.
#[derive(Debug)]
pub struct Pipeline {
    decoder: Decoder,
    engine: Arc<Engine>,
    aggregator: Aggregator,
    summary: Summary,
    latest_ms: i64,
    /// Event time of the last sweep of idle baselines.
    swept_ms: i64,
    /// Lifecycle records waiting for the event time to reach them (replay).
    pending_lifecycle: VecDeque<LifecycleEvent<'static>>,
}

impl Pipeline {
    /// A pipeline with an engine of its own.
    pub fn new(decoder: Decoder, engine: Engine, aggregator: Aggregator) -> Pipeline {
        Pipeline::with_engine(decoder, Arc::new(engine), aggregator)
    }

    /// A pipeline over an engine the caller keeps a handle to (the daemon reads every scoring
    /// worker's engine for its gauges).
    pub fn with_engine(decoder: Decoder, engine: Arc<Engine>, aggregator: Aggregator) -> Pipeline {
        Pipeline {
            decoder,
            engine,
            aggregator,
            summary: Summary::default(),
            latest_ms: i64::MIN,
            swept_ms: i64::MIN,
            pending_lifecycle: VecDeque::new(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Decodes one message and runs every record in it through the engine. A record without a
    /// usable time of its own takes the latest event time seen (its position in the stream).
    pub fn process(&mut self, message: &[u8], out: &mut dyn FnMut(Output<'_>)) {
        let position = (self.latest_ms != i64::MIN).then_some(self.latest_ms);
        self.process_at(message, position, out);
    }

    /// Like [`Pipeline::process`], with the message's ingest time (a Kafka timestamp) standing in
    /// for records without a time.
    pub fn process_at(&mut self, message: &[u8], ingest_ms: Option<i64>, out: &mut dyn FnMut(Output<'_>)) {
        self.summary.messages += 1;
        let mut records = Vec::with_capacity(1);
        self.decoder.decode_at(message, ingest_ms, &mut records);
        // Batches (CloudTrail delivery files, gateway batches) are not reliably time-ordered;
        // baselines expect event-time order within a credential.
        if records.len() > 1 {
            records.sort_by_key(|r| r.as_ref().map_or(i64::MIN, |e| e.time_ms));
        }
        for record in &records {
            let event = match record {
                Ok(e) => e,
                Err(e) => {
                    *self.summary.decode_errors.entry(e.error_type()).or_default() += 1;
                    out(Output::DecodeError(e));
                    continue;
                }
            };
            while self.pending_lifecycle.front().is_some_and(|l| l.time_ms <= event.time_ms) {
                if let Some(l) = self.pending_lifecycle.pop_front() {
                    self.lifecycle(&l);
                }
            }
            self.summary.events += 1;
            self.latest_ms = self.latest_ms.max(event.time_ms);
            self.summary.time_range = Some(match self.summary.time_range {
                None => (event.time_ms, event.time_ms),
                Some((a, b)) => (a.min(event.time_ms), b.max(event.time_ms)),
            });
            let verdict = self.engine.process(event, LearnPolicy::Default);
            if verdict.is_alert() {
                if let Some(update) = self.aggregator.observe(event, &verdict) {
                    match update.activity {
                        Activity::Create => {
                            *self.summary.findings_by_severity.entry(update.finding.severity).or_default() += 1;
                            *self.summary.findings_by_detector.entry(update.finding.primary()).or_default() += 1;
                        }
                        Activity::Update => self.summary.finding_updates += 1,
                    }
                    out(Output::Finding(update));
                }
            }
            if self.summary.events % CLOSE_CHECK_EVERY == 0 {
                for f in self.aggregator.close_idle(self.latest_ms) {
                    out(Output::Closed(f));
                }
                if self.latest_ms.saturating_sub(self.swept_ms) >= SWEEP_EVERY_MS {
                    self.engine.sweep(self.latest_ms);
                    self.swept_ms = self.latest_ms;
                }
            }
        }
    }

    /// Applies a lifecycle record.
    pub fn lifecycle(&mut self, ev: &LifecycleEvent<'_>) {
        self.summary.lifecycle += 1;
        self.engine.apply_lifecycle(ev);
    }

    /// Queues lifecycle records to be applied in event-time order as events arrive (replay of
    /// history, where the lifecycle log is a separate file).
    pub fn schedule_lifecycle(&mut self, mut records: Vec<LifecycleEvent<'static>>) {
        records.sort_by_key(|r| r.time_ms);
        for r in records {
            // Keep the queue in time order even when a later batch holds older records.
            let at = self.pending_lifecycle.partition_point(|q| q.time_ms <= r.time_ms);
            self.pending_lifecycle.insert(at, r);
        }
    }

    /// Closes every open finding (end of input), applying lifecycle records still queued.
    pub fn finish(&mut self, out: &mut dyn FnMut(Output<'_>)) {
        while let Some(l) = self.pending_lifecycle.pop_front() {
            self.lifecycle(&l);
        }
        for f in self.aggregator.close_all() {
            out(Output::Closed(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_detect::{DetectConfig, KeySpace};
    use credence_event::lifecycle::LifecycleAction;
    use credence_event::ocsf::ApiActivity;
    use credence_event::{Format, Pseudonymizer};

    /// 2026-03-02T00:00:00Z.
    const T0: i64 = 1_772_409_600_000;

    fn message(time_ms: i64) -> Vec<u8> {
        serde_json::to_vec(&ApiActivity {
            time_ms,
            uid: "e",
            credential_uid: "key-1",
            user_uid: "svc",
            issuer: None,
            operation: "GET /v1/x",
            service: "api",
            http_method: "GET",
            path: "/v1/x",
            status: 200,
            error: None,
            bytes_out: 10,
            ip: "198.51.100.1".parse().unwrap(),
            asn: None,
            country: None,
            city: None,
            geo: None,
            user_agent: "ua",
        })
        .unwrap()
    }

    /// Regression: a later batch of lifecycle records holding older ones must not be applied
    /// after the newer records already queued.
    #[test]
    fn lifecycle_batches_out_of_order_are_applied_in_time_order() {
        let p = Pseudonymizer::insecure_demo();
        let engine = Engine::new(DetectConfig::default(), KeySpace::new([1; 16]));
        let mut pipeline =
            Pipeline::new(Decoder::new(Format::Ocsf, p.clone()), engine, Aggregator::new(3_600_000, Severity::Low));
        let record =
            |time_ms, action| LifecycleEvent { time_ms, credential: p.credential("key-1"), action, reason: None };
        pipeline.schedule_lifecycle(vec![record(T0 + 1_000_000, LifecycleAction::Revoked)]);
        pipeline.schedule_lifecycle(vec![record(T0 + 500_000, LifecycleAction::Created)]);
        let mut findings = Vec::new();
        pipeline.process(&message(T0 + 750_000), &mut |o| {
            if let Output::Finding(u) = o {
                findings.push(u.finding.primary());
            }
        });
        assert!(findings.is_empty(), "used between creation and revocation: {findings:?}");
        pipeline.process(&message(T0 + 1_500_000), &mut |o| {
            if let Output::Finding(u) = o {
                findings.push(u.finding.primary());
            }
        });
        assert_eq!(findings, vec![Detector::GhostCredential]);
    }
}
