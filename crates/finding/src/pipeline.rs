//! The synchronous per-event pipeline shared by `replay`, `demo` and the daemon: decode, score and
//! learn, fold into findings. No I/O here: callers feed bytes in and take findings out.

use std::collections::{BTreeMap, VecDeque};

use std::sync::{Arc, Mutex};

use crate::aggregate::FindingKey;
use crate::event_time::{Bounds, SkipReason, Skipped, MAX_HELD};
use crate::parts::{Clock, Part, PartOwned, PartRef};
use crate::{Activity, Aggregator, Change, Finding, FindingUpdate};
use credence_detect::state::{Mismatch, Seed};
use credence_detect::{Detector, Engine, LearnPolicy, Severity};
use credence_event::geoip::{EnrichStats, Enricher};
use credence_event::lifecycle::LifecycleEvent;
use credence_event::{DecodeError, Decoder, ErrorType, Event};

/// How often, in event time, open findings are checked for closing: their grace is a day
/// ([`crate::aggregate::CLOSE_GRACE_MS`]), so a minute is precise enough, and by event time (not
/// a count of events) the check falls at the same points of a stream however it was cut by
/// restarts.
const CLOSE_CHECK_EVERY_MS: i64 = 60_000;
/// How often, in event time, idle baselines are swept out of the engine: an O(baselines) pass,
/// so rarely.
const SWEEP_EVERY_MS: i64 = 3_600_000;

/// Open findings of a snapshot, by subject, to be taken with their subject's seeded baseline.
#[derive(Debug, Default)]
pub struct FindingSeed {
    by_subject: Mutex<std::collections::HashMap<u128, Vec<(FindingKey, Finding)>>>,
}

impl FindingSeed {
    /// Adds an open finding.
    pub fn insert(&self, key: FindingKey, finding: Finding) {
        self.by_subject.lock().unwrap_or_else(|e| e.into_inner()).entry(key.0).or_default().push((key, finding));
    }

    /// Takes a subject's open findings.
    pub fn take(&self, subject: u128) -> Vec<(FindingKey, Finding)> {
        self.by_subject.lock().unwrap_or_else(|e| e.into_inner()).remove(&subject).unwrap_or_default()
    }
}

/// A restored part that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The value does not belong to its key.
    #[error("a state record's value does not match its key {0:?}")]
    Mismatch(Part),
    /// The state was learned under another pseudonymisation key.
    #[error("the state was saved under another pseudonymisation key: its credentials and values match nothing here")]
    OtherKey,
}

impl From<Mismatch> for RestoreError {
    fn from(m: Mismatch) -> RestoreError {
        RestoreError::Mismatch(Part::Engine(m.0))
    }
}

/// What the pipeline hands back.
#[derive(Debug)]
pub enum Output<'a> {
    /// A finding opened, escalated or widened: publish it.
    Finding(FindingUpdate),
    /// A finding closed (idle past the window, or at the end): for evaluation and metrics.
    Closed(Finding),
    /// A record could not be decoded.
    DecodeError(&'a DecodeError),
    /// A record was decoded but its time is not trusted: set aside, not scored
    /// ([`crate::event_time`]).
    Skipped(Skipped),
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
    /// Records decoded and set aside for their time, by reason ([`crate::event_time`]).
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Findings opened, by their latest severity (an escalation moves a finding up).
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

    /// Records set aside for their time, in all.
    pub fn skips(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Decoder, engine and aggregator for one stream.
#[derive(Debug)]
pub struct Pipeline {
    decoder: Decoder,
    engine: Engine,
    aggregator: Aggregator,
    summary: Summary,
    clock: Clock,
    /// Whether the clock changed since it was last taken ([`Pipeline::take_changes`]).
    clock_changed: bool,
    /// Open findings to take with seeded baselines.
    finding_seed: Option<Arc<FindingSeed>>,
    /// Lifecycle records waiting for the event time to reach them (replay).
    pending_lifecycle: VecDeque<LifecycleEvent<'static>>,
    /// Fills in the origin (country, city, coordinates, ASN) of events whose log carries an IP
    /// address only, when GeoIP databases are configured.
    enricher: Option<Enricher>,
    /// How far event time is trusted.
    bounds: Bounds,
    /// The machine's clock, epoch ms, when the stream is history (replay): no record may lie
    /// beyond it.
    wall_clock_ms: Option<i64>,
    /// Records dated ahead of the stream, waiting for a later record to confirm their time
    /// (streams without an arrival clock; see [`crate::event_time`]).
    held: Vec<Event<'static>>,
}

impl Pipeline {
    /// A pipeline over an engine of its own.
    pub fn new(decoder: Decoder, engine: Engine, aggregator: Aggregator) -> Pipeline {
        let key_fingerprint = engine.key_space().fingerprint();
        let bounds = Bounds::of(engine.config());
        Pipeline {
            bounds,
            wall_clock_ms: None,
            held: Vec::new(),
            decoder,
            engine,
            aggregator,
            clock: Clock { latest_ms: i64::MIN, swept_ms: i64::MIN, checked_ms: i64::MIN, key_fingerprint },
            clock_changed: false,
            finding_seed: None,
            summary: Summary::default(),
            pending_lifecycle: VecDeque::new(),
            enricher: None,
        }
    }

    /// Enriches every event's origin from GeoIP databases before it is scored.
    pub fn set_enricher(&mut self, enricher: Enricher) {
        self.enricher = Some(enricher);
    }

    /// The enrichment counts since the last call, resetting them (zero without an enricher).
    pub fn take_enrich_stats(&mut self) -> EnrichStats {
        self.enricher.as_mut().map(Enricher::take_stats).unwrap_or_default()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to change.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Declares the stream history read now (`replay`): no record may be dated more than
    /// `max_ahead_secs` after `now_ms`, the machine's clock.
    pub fn set_wall_clock(&mut self, now_ms: i64) {
        self.wall_clock_ms = Some(now_ms);
    }

    /// The watermark: the latest trusted event time less the allowed out-of-orderness
    /// (`i64::MIN`: no time yet). Findings close and baselines are swept on it.
    pub fn watermark(&self) -> i64 {
        self.bounds.watermark(self.clock.latest_ms)
    }

    /// Records held waiting for their time to be confirmed.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Decodes one message of a stream without an arrival clock (a file) and runs every record in
    /// it through the engine. A record without a usable time of its own takes the latest trusted
    /// event time (its position in the stream). A record dated ahead of the stream is held until a
    /// later one confirms its time ([`crate::event_time`]).
    pub fn process(&mut self, message: &[u8], out: &mut dyn FnMut(Output<'_>)) {
        let position = (self.clock.latest_ms != i64::MIN).then_some(self.clock.latest_ms);
        self.run(message, position, None, out);
    }

    /// Like [`Pipeline::process`], for a message that arrived at `arrival_ms` (a Kafka
    /// timestamp): it stands in for records without a time, and records dated more than
    /// `max_ahead_secs` after it are set aside. `None`: as [`Pipeline::process`].
    pub fn process_at(&mut self, message: &[u8], arrival_ms: Option<i64>, out: &mut dyn FnMut(Output<'_>)) {
        match arrival_ms {
            Some(_) => self.run(message, arrival_ms, arrival_ms, out),
            None => self.process(message, out),
        }
    }

    fn run(
        &mut self,
        message: &[u8],
        ingest_ms: Option<i64>,
        arrival_ms: Option<i64>,
        out: &mut dyn FnMut(Output<'_>),
    ) {
        self.summary.messages += 1;
        let mut records = Vec::with_capacity(1);
        self.decoder.decode_at(message, ingest_ms, &mut records);
        // Batches (CloudTrail delivery files, gateway batches) are not reliably time-ordered;
        // baselines expect event-time order within a credential.
        if records.len() > 1 {
            records.sort_by_key(|r| r.as_ref().map_or(i64::MIN, |e| e.time_ms));
        }
        for record in records {
            match record {
                Ok(mut event) => {
                    if let Some(enricher) = &mut self.enricher {
                        enricher.enrich(&mut event.origin);
                    }
                    self.admit(event, arrival_ms, out)
                }
                Err(e) => {
                    *self.summary.decode_errors.entry(e.error_type()).or_default() += 1;
                    out(Output::DecodeError(&e));
                }
            }
        }
    }

    /// Scores a decoded record whose time is trusted, holds one that waits for confirmation,
    /// sets aside the rest.
    fn admit(&mut self, event: Event<'_>, arrival_ms: Option<i64>, out: &mut dyn FnMut(Output<'_>)) {
        let t = event.time_ms;
        match arrival_ms {
            Some(arrival) => {
                if let Some(s) = self.bounds.ahead(t, arrival) {
                    return self.skip(s, out);
                }
            }
            None => {
                if let Some(s) = self.wall_clock_ms.and_then(|now| self.bounds.ahead(t, now)) {
                    return self.skip(s, out);
                }
                // This record reaches the records held up to its time: they were not alone.
                self.release(t.saturating_add(self.bounds.ahead_ms), out);
                let latest = self.clock.latest_ms;
                if latest == i64::MIN || self.bounds.ahead(t, latest).is_some() {
                    return self.hold(event.into_owned(), out);
                }
            }
        }
        self.score_trusted(&event, out);
    }

    /// Scores a record unless it is too old for the watermark.
    fn score_trusted(&mut self, event: &Event<'_>, out: &mut dyn FnMut(Output<'_>)) {
        match self.bounds.too_old(event.time_ms, self.clock.latest_ms) {
            Some(s) => self.skip(s, out),
            None => self.score(event, out),
        }
    }

    fn skip(&mut self, s: Skipped, out: &mut dyn FnMut(Output<'_>)) {
        *self.summary.skipped.entry(s.reason).or_default() += 1;
        out(Output::Skipped(s));
    }

    /// Holds a record dated ahead of the stream; when too many are held, the one farthest ahead
    /// is set aside.
    fn hold(&mut self, event: Event<'static>, out: &mut dyn FnMut(Output<'_>)) {
        if self.held.len() >= MAX_HELD {
            let latest = self.clock.latest_ms.max(0);
            let far = self.held.iter().enumerate().max_by_key(|(_, e)| e.time_ms).map(|(i, e)| (i, e.time_ms));
            let reason = SkipReason::Future;
            match far {
                Some((i, far_ms)) if far_ms > event.time_ms => {
                    self.held.swap_remove(i);
                    self.skip(Skipped { reason, time_ms: far_ms, bound_ms: latest }, out);
                }
                _ => return self.skip(Skipped { reason, time_ms: event.time_ms, bound_ms: latest }, out),
            }
        }
        self.held.push(event);
    }

    /// Scores, in time order, the held records dated at or before `until_ms`.
    fn release(&mut self, until_ms: i64, out: &mut dyn FnMut(Output<'_>)) {
        if self.held.iter().all(|e| e.time_ms > until_ms) {
            return;
        }
        let (mut due, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.held).into_iter().partition(|e| e.time_ms <= until_ms);
        self.held = keep;
        due.sort_by_key(|e| e.time_ms);
        for e in &due {
            self.score_trusted(e, out);
        }
    }

    /// Runs one trusted record through the engine and the aggregator; advances the clock.
    fn score(&mut self, event: &Event<'_>, out: &mut dyn FnMut(Output<'_>)) {
        while self.pending_lifecycle.front().is_some_and(|l| l.time_ms <= event.time_ms) {
            if let Some(l) = self.pending_lifecycle.pop_front() {
                self.lifecycle(&l);
            }
        }
        self.summary.events += 1;
        if event.time_ms > self.clock.latest_ms {
            self.clock.latest_ms = event.time_ms;
            self.clock_changed = true;
        }
        self.summary.time_range = Some(match self.summary.time_range {
            None => (event.time_ms, event.time_ms),
            Some((a, b)) => (a.min(event.time_ms), b.max(event.time_ms)),
        });
        let seeded = self.engine.counters().seeded;
        let verdict = self.engine.process(event, LearnPolicy::Default);
        if self.engine.counters().seeded != seeded {
            self.take_seeded_findings(event.subject);
        }
        if verdict.is_alert() {
            let update = self.aggregator.observe(event, &verdict);
            for f in self.aggregator.take_ended() {
                out(Output::Closed(f));
            }
            if let Some(update) = update {
                match update.activity {
                    Activity::Create => {
                        *self.summary.findings_by_severity.entry(update.finding.severity).or_default() += 1;
                        *self.summary.findings_by_detector.entry(update.finding.primary()).or_default() += 1;
                    }
                    Activity::Update => {
                        self.summary.finding_updates += 1;
                        for c in &update.changes {
                            if let Change::Escalated { from, to } = c {
                                let by = &mut self.summary.findings_by_severity;
                                if let Some(n) = by.get_mut(from) {
                                    *n = n.saturating_sub(1);
                                }
                                by.retain(|_, n| *n > 0);
                                *by.entry(*to).or_default() += 1;
                            }
                        }
                    }
                    Activity::Close => {}
                }
                out(Output::Finding(update));
            }
        }
        let now = self.watermark();
        if now.saturating_sub(self.clock.checked_ms) >= CLOSE_CHECK_EVERY_MS {
            self.clock.checked_ms = now;
            for f in self.aggregator.close_idle(now) {
                out(Output::Closed(f));
            }
            if now.saturating_sub(self.clock.swept_ms) >= SWEEP_EVERY_MS {
                self.engine.sweep(now);
                self.clock.swept_ms = now;
            }
        }
    }

    /// Applies a lifecycle record.
    pub fn lifecycle(&mut self, ev: &LifecycleEvent<'_>) {
        self.summary.lifecycle += 1;
        let seeded = self.engine.counters().seeded;
        self.engine.apply_lifecycle(ev);
        if self.engine.counters().seeded != seeded {
            self.take_seeded_findings(ev.credential);
        }
    }

    /// Starts this pipeline from a seed (see [`credence_detect::state::Seed`]): baselines are
    /// taken from `baselines` when their subject first comes, and with them the subject's open
    /// findings from `findings`.
    pub fn set_seed(&mut self, baselines: Arc<Seed>, findings: Arc<FindingSeed>) {
        self.engine.set_seed(baselines);
        self.finding_seed = Some(findings);
    }

    /// Moves a newly seeded subject's open findings into the aggregator.
    fn take_seeded_findings(&mut self, subject: credence_event::Pseudonym) {
        let Some(seed) = &self.finding_seed else { return };
        for (key, f) in seed.take(subject.as_u128()) {
            self.aggregator.restore(key, Some(f));
            self.aggregator.mark_changed(key);
        }
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

    /// The stream's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The open findings.
    pub fn aggregator(&self) -> &Aggregator {
        &self.aggregator
    }

    /// Starts tracking what changes, for [`Pipeline::take_changes`]; with `held_changed`,
    /// everything held counts as changed from here (see [`Engine::track_changes`]).
    pub fn track_changes(&mut self, held_changed: bool) {
        self.engine.track_changes(held_changed);
        self.aggregator.track_changes(held_changed);
        self.clock_changed = held_changed;
    }

    /// Every part of the state, for a snapshot.
    pub fn export(&self, visit: &mut dyn FnMut(Part, Option<PartRef<'_>>)) {
        visit(Part::Clock, Some(PartRef::Clock(self.clock)));
        self.engine.export(&mut |k, v| visit(Part::Engine(k), v.map(PartRef::Engine)));
        self.aggregator.export(&mut |k, f| visit(Part::Finding(k), f.map(PartRef::Finding)));
    }

    /// The parts changed since the last call (`None`: removed), forgetting them: what a
    /// checkpoint writes.
    pub fn take_changes(&mut self, visit: &mut dyn FnMut(Part, Option<PartRef<'_>>)) {
        self.engine.take_changes(&mut |k, v| visit(Part::Engine(k), v.map(PartRef::Engine)));
        self.aggregator.take_changes(&mut |k, f| visit(Part::Finding(k), f.map(PartRef::Finding)));
        // The clock last: a changelog read up to it holds everything it covers.
        if std::mem::take(&mut self.clock_changed) {
            visit(Part::Clock, Some(PartRef::Clock(self.clock)));
        }
    }

    /// Marks a part changed again (its checkpoint was not committed): the next
    /// [`Pipeline::take_changes`] reports it as it then stands.
    pub fn mark_changed(&mut self, part: Part) {
        match part {
            Part::Engine(k) => self.engine.mark_changed(k),
            Part::Finding(k) => self.aggregator.mark_changed(k),
            Part::Clock => self.clock_changed = true,
        }
    }

    /// Parts changed and not yet taken (for metrics; open findings not counted).
    pub fn pending_changes(&self) -> usize {
        self.engine.pending_changes() + usize::from(self.clock_changed)
    }

    /// Puts one part back (`None`: removed), as read from a snapshot or changelog. A clock of
    /// another key space is refused.
    pub fn restore(&mut self, part: Part, value: Option<PartOwned>) -> Result<(), RestoreError> {
        match (part, value) {
            (Part::Engine(k), Some(PartOwned::Engine(v))) => self.engine.restore(k, Some(v))?,
            (Part::Engine(k), None) => self.engine.restore(k, None)?,
            (Part::Finding(k), Some(PartOwned::Finding(f))) => self.aggregator.restore(k, Some(*f)),
            (Part::Finding(k), None) => self.aggregator.restore(k, None),
            (Part::Clock, Some(PartOwned::Clock(c))) => {
                if c.key_fingerprint != self.clock.key_fingerprint {
                    return Err(RestoreError::OtherKey);
                }
                self.clock = c;
            }
            (part, _) => return Err(RestoreError::Mismatch(part)),
        }
        Ok(())
    }

    /// Ends a run whose state is kept (saved to continue from later): scores the records still
    /// held (each after every other record), applies lifecycle records already due, keeps open
    /// findings open and leaves future lifecycle records to the next run. Findings the held
    /// records raise are handed to `out`.
    pub fn suspend(&mut self, out: &mut dyn FnMut(Output<'_>)) {
        self.release(i64::MAX, out);
        while self.pending_lifecycle.front().is_some_and(|l| l.time_ms <= self.clock.latest_ms) {
            if let Some(l) = self.pending_lifecycle.pop_front() {
                self.lifecycle(&l);
            }
        }
        self.pending_lifecycle.clear();
    }

    /// Closes every open finding (end of input), scoring the records still held (each after
    /// every other record) and applying lifecycle records still queued.
    pub fn finish(&mut self, out: &mut dyn FnMut(Output<'_>)) {
        self.release(i64::MAX, out);
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
        // Arrival times as the daemon's: each record scored as it comes.
        pipeline.process_at(&message(T0 + 750_000), Some(T0 + 750_000), &mut |o| {
            if let Output::Finding(u) = o {
                findings.push(u.finding.primary());
            }
        });
        assert!(findings.is_empty(), "used between creation and revocation: {findings:?}");
        pipeline.process_at(&message(T0 + 1_500_000), Some(T0 + 1_500_000), &mut |o| {
            if let Output::Finding(u) = o {
                findings.push(u.finding.primary());
            }
        });
        assert_eq!(findings, vec![Detector::GhostCredential]);
    }

    fn pipeline() -> Pipeline {
        let p = Pseudonymizer::insecure_demo();
        let engine = Engine::new(DetectConfig::default(), KeySpace::new([1; 16]));
        Pipeline::new(Decoder::new(Format::Ocsf, p), engine, Aggregator::new(3_600_000, Severity::Low))
    }

    /// Runs messages through a pipeline without an arrival clock (as `replay`), then finishes;
    /// returns what was set aside.
    fn replayed(p: &mut Pipeline, times: &[i64]) -> Vec<Skipped> {
        let mut skipped = Vec::new();
        let before = p.summary().events;
        for &t in times {
            p.process(&message(t), &mut |o| {
                if let Output::Skipped(s) = o {
                    skipped.push(s);
                }
            });
        }
        p.finish(&mut |o| {
            if let Output::Skipped(s) = o {
                skipped.push(s);
            }
        });
        assert_eq!(
            p.summary().events - before + skipped.len() as u64,
            times.len() as u64,
            "every record accounted for"
        );
        skipped
    }

    /// A sparse stream (records hours apart, as one credential's log) is scored whole: each jump
    /// ahead is confirmed by the record after it, the last by the end of the input.
    #[test]
    fn gaps_in_a_stream_lose_nothing() {
        let mut p = pipeline();
        let hour = 3_600_000;
        let times: Vec<i64> = (0..6).map(|i| T0 + i * 5 * hour).collect();
        let skipped = replayed(&mut p, &times);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(p.summary().events, 6);
        assert_eq!(p.clock().latest_ms, T0 + 25 * hour);
        assert_eq!(p.watermark(), T0 + 25 * hour - 300_000);
    }

    /// Regression (issue 19): one record dated 2100 in a stream moved its clock to 2100.
    #[test]
    fn a_forged_future_record_never_moves_the_clock() {
        let forged = 4_102_444_800_000; // 2100-01-01
        let minute = 60_000;
        let times: Vec<i64> = (0..100).map(|i| T0 + i * minute).collect();
        // Without a wall clock: held, never confirmed, scored after everything else.
        let mut p = pipeline();
        for &t in &times[..50] {
            p.process(&message(t), &mut |_| {});
        }
        p.process(&message(forged), &mut |_| {});
        assert_eq!((p.held(), p.clock().latest_ms), (1, times[49]), "held, the clock unmoved");
        for &t in &times[50..] {
            p.process(&message(t), &mut |_| {});
        }
        assert_eq!((p.held(), p.clock().latest_ms), (1, times[99]));
        assert_eq!(p.summary().events, 100);
        // With the machine's clock (replay): set aside at once, with its reason.
        let mut p = pipeline();
        p.set_wall_clock(T0 + 1000 * minute);
        let mut skipped = Vec::new();
        for &t in times.iter().take(10).chain([forged].iter()).chain(&times[10..]) {
            p.process(&message(t), &mut |o| {
                if let Output::Skipped(s) = o {
                    skipped.push(s);
                }
            });
        }
        p.finish(&mut |_| {});
        assert_eq!(skipped.len(), 1);
        assert_eq!((skipped[0].reason, skipped[0].time_ms), (SkipReason::Future, forged));
        assert_eq!(p.summary().skipped.get(&SkipReason::Future), Some(&1));
        assert_eq!((p.summary().events, p.clock().latest_ms), (100, times[99]));
        // Forged first: the stream still starts on its own time.
        let mut p = pipeline();
        let mut all = vec![T0 + 400 * 86_400_000];
        all.extend(&times);
        for &t in &all {
            p.process(&message(t), &mut |_| {});
        }
        assert_eq!(p.clock().latest_ms, times[99], "a first record dated ahead does not start the clock");
    }

    /// With an arrival clock (the daemon's Kafka timestamp), a record dated past it is set aside;
    /// one older than the watermark by more than the idle TTL too; neither moves the clock.
    #[test]
    fn records_ahead_of_their_arrival_or_impossibly_old_are_set_aside() {
        let mut p = pipeline();
        let mut skipped = Vec::new();
        let mut run = |p: &mut Pipeline, t: i64, arrival: i64| {
            p.process_at(&message(t), Some(arrival), &mut |o| {
                if let Output::Skipped(s) = o {
                    skipped.push(s.reason);
                }
            })
        };
        run(&mut p, T0, T0 + 1_000);
        run(&mut p, T0 + 301_000, T0 + 1_000); // 300 s ahead: allowed
        run(&mut p, T0 + 700_000, T0 + 2_000); // ahead of its arrival
        run(&mut p, T0 - 200 * 86_400_000, T0 + 3_000); // 200 days behind
        run(&mut p, 1, T0 + 4_000); // 1970
        assert_eq!(skipped, vec![SkipReason::Future, SkipReason::TooOld, SkipReason::TooOld]);
        assert_eq!(p.clock().latest_ms, T0 + 301_000);
        assert_eq!(p.summary().events, 2);
        assert_eq!(p.summary().skips(), 3);
    }
}
