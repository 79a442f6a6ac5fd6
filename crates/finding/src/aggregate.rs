//! Folding alert-worthy verdicts into findings, so a SOC sees one finding per credential incident
//! instead of one alert per event.
//!
//! Anomalies of one subject and category (security or operational) within `window_ms` of each
//! other update one open finding. An update is emitted only when the finding gets worse (higher
//! severity) or wider (a new detector, a new ATT&CK technique, or a new operation, resource or
//! origin, each listed in the update's [`Change`]s): a burst of 10,000 anomalous requests yields
//! a handful of records, not 10,000, and every distinct action in it shows in one. A finding that
//! closes yields a last record with its final counts ([`Activity::Close`]).

use std::collections::{HashMap, HashSet};

use credence_detect::{Attack, Category, CredentialState, Detector, Severity, Signal, Verdict};
use credence_event::{Event, GeoPoint, Pseudonym};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Default time without a new anomaly after which a finding closes: one hour.
pub const DEFAULT_WINDOW_MS: i64 = 3_600_000;
/// Most related event ids kept per finding (the count is kept in full).
const MAX_RELATED: usize = 32;
/// Most source samples kept per finding.
const MAX_SOURCES: usize = 8;
/// Most distinct operations kept per finding, each announced by an update: an incident's
/// follow-up actions are a handful (stop the trail, delete it, create a user, attach a policy);
/// an enumeration of hundreds is one finding whose count says so, not hundreds of updates.
pub const MAX_OPERATIONS: usize = 16;
/// Most distinct resources kept per finding, each announced by an update (as operations).
pub const MAX_RESOURCES: usize = 16;
/// Most distinct regions kept per finding.
const MAX_REGIONS: usize = 8;
/// How far past a finding's window the stream's clock must be before the finding is closed by it.
/// The clock is the latest event time of the whole stream, and parts of a stream run behind it
/// (one partition behind another while a backlog is consumed, a late source): a finding whose own
/// events lag keeps its identity as long as its own anomalies stay within the window.
pub const CLOSE_GRACE_MS: i64 = 86_400_000;
/// Most findings open at once; beyond it the least recently updated is closed early.
const MAX_OPEN: usize = 100_000;

/// Whether a record opens a finding, updates it or closes it (OCSF `activity_id` 1, 2 and 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// First record of a finding.
    Create,
    /// The finding escalated or widened.
    Update,
    /// The finding closed (no anomaly for its window, or the end of a replay): its final counts.
    Close,
}

impl Activity {
    /// OCSF's `activity_id` and `activity_name`.
    pub fn ocsf(self) -> (u32, &'static str) {
        match self {
            Activity::Create => (1, "Create"),
            Activity::Update => (2, "Update"),
            Activity::Close => (3, "Close"),
        }
    }

    /// Its name in headers: `create`, `update`, `close`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Create => "create",
            Activity::Update => "update",
            Activity::Close => "close",
        }
    }
}

/// What an update adds to its finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The severity rose.
    Escalated {
        /// From.
        from: Severity,
        /// To.
        to: Severity,
    },
    /// A detector (or an ATT&CK technique of one) new to the finding.
    Detector(Detector),
    /// An operation new to the finding.
    Operation(String),
    /// A resource new to the finding.
    Resource(String),
    /// A source (address) new to the finding.
    Origin(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Escalated { from, to } => write!(f, "severity {} → {}", from.as_str(), to.as_str()),
            Change::Detector(d) => write!(f, "detector {}", d.as_str()),
            Change::Operation(o) => write!(f, "operation {o}"),
            Change::Resource(r) => write!(f, "resource {r}"),
            Change::Origin(a) => write!(f, "origin {a}"),
        }
    }
}

/// A resource acted on in a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Its ARN, name or path, as logged.
    pub name: String,
    /// Its type (`bucket`, `secret`, `trail`, ...), when the decoder knows.
    pub kind: Option<String>,
}

/// What a finding's events say beyond the anomaly: every operation and resource, where in a
/// cloud, which key. Added in state format 6, last in [`Finding`] so that a format-5 finding reads
/// as one with an empty context.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Distinct operations of the anomalous events, first seen first (at most [`MAX_OPERATIONS`]).
    pub operations: Vec<String>,
    /// Distinct resources acted on, first seen first (at most [`MAX_RESOURCES`]).
    pub resources: Vec<ResourceRef>,
    /// The cloud account, as first logged.
    pub account: Option<String>,
    /// Regions, first seen first.
    pub regions: Vec<String>,
    /// A non-secret hint of the access key (`AKIA…WXYZ`), when the log names one.
    pub key_hint: Option<String>,
    /// The organisation of each source's autonomous system, when enriched.
    pub as_orgs: Vec<(u32, String)>,
}

/// One source of activity seen in a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceSample {
    /// IP address, or the logged host when not an IP.
    pub address: String,
    /// ASN.
    pub asn: Option<u32>,
    /// Country code.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Coordinates.
    pub geo: Option<GeoPoint>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Operation and service.
    pub operation: String,
    /// Service.
    pub service: Option<String>,
    /// When.
    pub time_ms: i64,
}

/// A finding: one incident on one credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic id: the same event stream always yields the same id, so consumers can
    /// deduplicate after a replay or a crash.
    pub uid: String,
    /// Subject (baseline key) pseudonym.
    pub subject: Pseudonym,
    /// Credential pseudonym of the first anomalous event.
    pub credential: Pseudonym,
    /// Principal, if logged.
    pub principal: Option<String>,
    /// Peer group, if logged.
    pub peer_group: Option<String>,
    /// Security or operational.
    pub category: Category,
    /// First anomalous event time.
    pub first_ms: i64,
    /// Latest anomalous event time.
    pub last_ms: i64,
    /// Highest severity so far.
    pub severity: Severity,
    /// Highest combined score so far.
    pub score: u8,
    /// Confidence of the highest-scoring verdict.
    pub confidence: u8,
    /// Strongest signal per detector and ATT&CK technique, strongest first: a finding on a
    /// credential that stopped a trail and created an access key keeps both techniques.
    pub signals: Vec<Signal>,
    /// Anomalous events folded in.
    pub count: u64,
    /// Ids of the triggering events (the first 32).
    pub related: Vec<String>,
    /// Where the anomalous activity came from (first few distinct).
    pub sources: Vec<SourceSample>,
    /// Credential lifecycle state at the first event.
    pub state: CredentialState,
    /// Revision: 0 when created, +1 per update.
    pub revision: u32,
    /// Operations, resources, account, region, key (format 6; keep it last).
    pub context: Context,
}

impl Finding {
    /// The strongest detector.
    pub fn primary(&self) -> Detector {
        self.signals.first().map_or(Detector::NewOrigin, |s| s.detector)
    }

    /// Detectors involved, strongest first, each once.
    pub fn detectors(&self) -> impl Iterator<Item = Detector> + '_ {
        let mut seen = Vec::with_capacity(self.signals.len());
        self.signals.iter().map(|s| s.detector).filter(move |d| {
            let first = !seen.contains(d);
            if first {
                seen.push(*d);
            }
            first
        })
    }

    /// The ATT&CK tactics and techniques the finding's signals are evidence of, strongest first,
    /// each once.
    pub fn attacks(&self) -> impl Iterator<Item = &Attack> + '_ {
        let mut seen: Vec<&Attack> = Vec::new();
        self.signals.iter().filter_map(|s| s.attack.as_ref()).filter(move |a| {
            let first = !seen.contains(a);
            if first {
                seen.push(a);
            }
            first
        })
    }
}

/// A finding record to publish.
#[derive(Clone, Debug)]
pub struct FindingUpdate {
    /// Create, update or close.
    pub activity: Activity,
    /// The finding as it now stands.
    pub finding: Finding,
    /// What this update adds (empty for a create or a close).
    pub changes: Vec<Change>,
    /// The suppression rule that covers the finding, if one does (set by whoever holds the
    /// rules, before publishing: [`crate::suppress::Suppressions::check`]).
    pub suppressed: Option<crate::suppress::Suppressed>,
}

impl FindingUpdate {
    /// The close record of a finding.
    pub fn close(finding: Finding) -> FindingUpdate {
        FindingUpdate { activity: Activity::Close, finding, changes: Vec::new(), suppressed: None }
    }
}

/// Folds verdicts into findings. Owned by one pipeline; not shared.
#[derive(Debug)]
pub struct Aggregator {
    window_ms: i64,
    min_severity: Severity,
    open: HashMap<(u128, bool), Finding>,
    /// Findings ended by their subject's own later anomaly (beyond the window), not yet handed
    /// out by [`Aggregator::close_idle`].
    ended: Vec<Finding>,
    /// Keys of open findings changed (or closed) since [`Aggregator::take_changes`], when tracked.
    changes: Option<HashSet<FindingKey>>,
}

/// What an open finding belongs to: its subject and whether it is operational (not security).
pub type FindingKey = (u128, bool);

fn category_key(c: Category) -> bool {
    c == Category::Operational
}

impl Aggregator {
    /// An aggregator closing findings after `window_ms` without anomalies and reporting verdicts
    /// of at least `min_severity`.
    pub fn new(window_ms: i64, min_severity: Severity) -> Aggregator {
        Aggregator { window_ms: window_ms.max(1), min_severity, open: HashMap::new(), ended: Vec::new(), changes: None }
    }

    /// Starts tracking which open findings change (for [`Aggregator::take_changes`]); with
    /// `held_changed`, every open finding counts as changed from here.
    pub fn track_changes(&mut self, held_changed: bool) {
        self.changes = Some(if held_changed { self.open.keys().copied().collect() } else { HashSet::new() });
    }

    /// Every open finding, for a snapshot.
    pub fn export(&self, visit: &mut dyn FnMut(FindingKey, Option<&Finding>)) {
        for (k, f) in &self.open {
            visit(*k, Some(f));
        }
    }

    /// The open findings changed since the last call (`None`: closed), forgetting them.
    pub fn take_changes(&mut self, visit: &mut dyn FnMut(FindingKey, Option<&Finding>)) {
        let Some(keys) = &mut self.changes else { return };
        for k in keys.drain() {
            visit(k, self.open.get(&k));
        }
    }

    /// Puts an open finding back (`None`: it was closed), as read from a snapshot or changelog.
    pub fn restore(&mut self, key: FindingKey, finding: Option<Finding>) {
        match finding {
            Some(f) => {
                self.open.insert(key, f);
            }
            None => {
                self.open.remove(&key);
            }
        }
    }

    /// Marks an open finding (or its closing) changed again: the next
    /// [`Aggregator::take_changes`] reports it as it then stands.
    pub fn mark_changed(&mut self, key: FindingKey) {
        self.changed(key);
    }

    fn changed(&mut self, key: FindingKey) {
        if let Some(c) = &mut self.changes {
            c.insert(key);
        }
    }

    /// Findings open now.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Folds one event's verdict in. Returns a record to publish when a finding opens, escalates
    /// or widens.
    pub fn observe(&mut self, event: &Event<'_>, verdict: &Verdict) -> Option<FindingUpdate> {
        let severity = verdict.severity.filter(|s| *s >= self.min_severity)?;
        let primary = verdict.signals.first()?;
        let category = if verdict.signals.iter().all(|s| s.detector.category() == Category::Operational) {
            Category::Operational
        } else {
            Category::Security
        };
        // A key spray's subject is its source network, not the credential its event presented.
        let (subject, credential, principal, peer_group) = match &verdict.network {
            Some(n) => (n.subject, n.subject, Some(n.label.as_str()), None),
            None => (event.subject, event.credential, event.principal.as_deref(), event.peer_group.as_deref()),
        };
        let key = (subject.as_u128(), category_key(category));
        self.changed(key);
        let now = event.time_ms;
        let window = self.window_ms;
        if self.open.get(&key).is_some_and(|f| now - f.last_ms > window) {
            self.ended.extend(self.open.remove(&key));
        }
        if self.open.len() >= MAX_OPEN && !self.open.contains_key(&key) {
            self.evict_oldest();
        }
        let mut created = false;
        let f = self.open.entry(key).or_insert_with(|| {
            created = true;
            Finding {
                uid: finding_uid(subject, category, now, primary.detector),
                subject,
                credential,
                principal: principal.map(str::to_owned),
                peer_group: peer_group.map(str::to_owned),
                category,
                first_ms: now,
                last_ms: now,
                severity,
                score: verdict.score,
                confidence: verdict.confidence,
                signals: Vec::new(),
                count: 0,
                related: Vec::new(),
                sources: Vec::new(),
                state: verdict.state,
                revision: 0,
                context: Context::default(),
            }
        });
        f.count += 1;
        f.last_ms = f.last_ms.max(now);
        if f.related.len() < MAX_RELATED {
            if let Some(id) = event.event_uid.as_deref() {
                if !f.related.iter().any(|r| r == id) {
                    f.related.push(id.to_owned());
                }
            }
        }
        let mut changes = Vec::new();
        if record_source(f, event) && !created {
            changes.push(Change::Origin(f.sources.last().map(|s| s.address.clone()).unwrap_or_default()));
        }
        record_context(f, event, if created { None } else { Some(&mut changes) });
        if severity > f.severity {
            changes.push(Change::Escalated { from: f.severity, to: severity });
            f.severity = severity;
        }
        if verdict.score > f.score {
            f.score = verdict.score;
            f.confidence = verdict.confidence;
        }
        for s in &verdict.signals {
            match f.signals.iter_mut().find(|x| x.detector == s.detector && x.attack == s.attack) {
                Some(x) if s.score > x.score => *x = s.clone(),
                Some(_) => {}
                None => {
                    f.signals.push(s.clone());
                    if !created && !changes.contains(&Change::Detector(s.detector)) {
                        changes.push(Change::Detector(s.detector));
                    }
                }
            }
        }
        f.signals.sort_by_key(|s| std::cmp::Reverse(s.score));
        if !created && changes.is_empty() {
            return None;
        }
        if !created {
            f.revision += 1;
        }
        let activity = if created { Activity::Create } else { Activity::Update };
        Some(FindingUpdate { activity, finding: f.clone(), changes, suppressed: None })
    }

    /// Closes findings idle for longer than the window and [`CLOSE_GRACE_MS`] as of `now_ms`, the
    /// stream's latest event time; returns them. (A finding's own later anomaly beyond the window
    /// opens a new finding whether or not the old one was closed.)
    pub fn close_idle(&mut self, now_ms: i64) -> Vec<Finding> {
        let window = self.window_ms.saturating_add(CLOSE_GRACE_MS);
        let keys: Vec<_> = self.open.iter().filter(|(_, f)| now_ms - f.last_ms > window).map(|(k, _)| *k).collect();
        let mut closed = std::mem::take(&mut self.ended);
        for k in keys {
            closed.extend(self.open.remove(&k));
            self.changed(k);
        }
        in_stream_order(&mut closed);
        closed
    }

    /// Findings ended since the last call by their subject's own later anomaly (beyond the window)
    /// or evicted for room: to be closed at once, since only open findings are saved with the
    /// state (one held here across a restart would never get its close record).
    pub fn take_ended(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.ended)
    }

    /// Closes every open finding (end of a replay, shutdown).
    pub fn close_all(&mut self) -> Vec<Finding> {
        let mut closed = std::mem::take(&mut self.ended);
        let keys: Vec<FindingKey> = self.open.keys().copied().collect();
        for k in keys {
            closed.extend(self.open.remove(&k));
            self.changed(k);
        }
        in_stream_order(&mut closed);
        closed
    }

    fn evict_oldest(&mut self) {
        if let Some(k) = self.open.iter().min_by_key(|(_, f)| f.last_ms).map(|(k, _)| *k) {
            self.ended.extend(self.open.remove(&k));
            self.changed(k);
        }
    }
}

/// Keeps the event's source if it is new to the finding (and there is room); true if it was kept
/// and its address is new (the same address with another user agent is no new origin).
/// Closed findings in the order their last anomalies came (then by uid), not the map's: the same
/// stream gives the same close records in the same order.
fn in_stream_order(closed: &mut [Finding]) {
    closed.sort_by(|a, b| (a.last_ms, &a.uid).cmp(&(b.last_ms, &b.uid)));
}

fn record_source(f: &mut Finding, e: &Event<'_>) -> bool {
    if f.sources.len() >= MAX_SOURCES {
        return false;
    }
    let address = match (e.origin.ip, e.origin.host.as_deref()) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(h)) => h.to_owned(),
        (None, None) => return false,
    };
    let ua = e.user_agent.as_deref();
    if f.sources.iter().any(|s| s.address == address && s.user_agent.as_deref() == ua) {
        return false;
    }
    let new_address = !f.sources.iter().any(|s| s.address == address);
    if let (Some(asn), Some(org)) = (e.origin.asn, e.origin.org.as_deref()) {
        if !f.context.as_orgs.iter().any(|(a, _)| *a == asn) {
            f.context.as_orgs.push((asn, org.to_owned()));
        }
    }
    f.sources.push(SourceSample {
        address,
        asn: e.origin.asn,
        country: e.origin.country.map(|c| c.to_string()),
        city: e.origin.city.as_deref().map(str::to_owned),
        geo: e.origin.geo,
        user_agent: ua.map(str::to_owned),
        operation: e.operation.to_string(),
        service: e.service.as_deref().map(str::to_owned),
        time_ms: e.time_ms,
    });
    new_address
}

/// Adds the event's operation, resource, account, region and key hint to the finding's context;
/// new operations and resources are listed in `changes`, when given.
fn record_context(f: &mut Finding, e: &Event<'_>, mut changes: Option<&mut Vec<Change>>) {
    let c = &mut f.context;
    if c.operations.len() < MAX_OPERATIONS && !c.operations.iter().any(|o| *o == e.operation) {
        c.operations.push(e.operation.to_string());
        if let Some(ch) = changes.as_deref_mut() {
            ch.push(Change::Operation(e.operation.to_string()));
        }
    }
    if let Some(r) = e.resource.as_deref() {
        if c.resources.len() < MAX_RESOURCES && !c.resources.iter().any(|x| x.name == r) {
            c.resources.push(ResourceRef { name: r.to_owned(), kind: e.cloud.resource_type.map(str::to_owned) });
            if let Some(ch) = changes {
                ch.push(Change::Resource(r.to_owned()));
            }
        }
    }
    if c.account.is_none() {
        c.account = e.cloud.account.as_deref().map(str::to_owned);
    }
    if let Some(r) = e.cloud.region.as_deref() {
        if c.regions.len() < MAX_REGIONS && !c.regions.iter().any(|x| x == r) {
            c.regions.push(r.to_owned());
        }
    }
    if c.key_hint.is_none() {
        c.key_hint = e.cloud.key_hint.map(|h| h.to_string());
    }
}

/// Deterministic finding id: a hash of subject, category, first anomalous event time and the
/// detector that opened it. Contains nothing reversible beyond the (already keyed) pseudonym.
pub fn finding_uid(subject: Pseudonym, category: Category, first_ms: i64, detector: Detector) -> String {
    let mut h = Sha256::new();
    h.update(b"credence/finding/v1\0");
    h.update(subject.0);
    h.update([category_key(category) as u8]);
    h.update(first_ms.to_be_bytes());
    h.update(detector.as_str().as_bytes());
    let d = h.finalize();
    let x = hex::encode(&d[..16]);
    // UUID-shaped for the consumers that expect one.
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::Pseudonymizer;

    fn verdict(detector: Detector, score: u8, severity: Severity) -> Verdict {
        Verdict {
            score,
            confidence: 80,
            severity: Some(severity),
            signals: vec![Signal::new(detector, score, "o".into(), "b".into())],
            state: CredentialState::Established,
            network: None,
        }
    }

    #[test]
    fn repeated_anomalies_update_one_finding() {
        let p = Pseudonymizer::insecure_demo();
        let cred = p.credential("k1");
        let mut agg = Aggregator::new(DEFAULT_WINDOW_MS, Severity::Low);
        let mut records = Vec::new();
        for i in 0..1000 {
            let mut e = Event::new(1_000_000 + i * 1000, cred, "GetObject");
            let id = format!("ev-{i}");
            e.event_uid = Some(id.as_str().into());
            let v = if i == 500 {
                verdict(Detector::Exfiltration, 92, Severity::High)
            } else {
                verdict(Detector::RateBurst, 70, Severity::Low)
            };
            if let Some(u) = agg.observe(&e, &v) {
                records.push(u);
            }
        }
        assert_eq!(records.len(), 2, "one create, one escalation");
        assert_eq!(records[0].activity, Activity::Create);
        assert_eq!(records[1].activity, Activity::Update);
        assert_eq!(records[0].finding.uid, records[1].finding.uid);
        assert_eq!(records[1].finding.severity, Severity::High);
        assert_eq!(records[1].finding.primary(), Detector::Exfiltration);
        assert_eq!(records[0].finding.related, vec!["ev-0"]);
        let closed = agg.close_all();
        assert_eq!(closed[0].count, 1000);
        assert_eq!(closed[0].related.len(), MAX_RELATED);
    }

    #[test]
    fn a_quiet_window_closes_the_finding_and_ids_are_deterministic() {
        let cred = Pseudonymizer::insecure_demo().credential("k2");
        let mut agg = Aggregator::new(60_000, Severity::Low);
        let v = verdict(Detector::NewOrigin, 70, Severity::Low);
        let a = agg.observe(&Event::new(0, cred, "x"), &v).unwrap();
        let b = agg.observe(&Event::new(120_000, cred, "x"), &v).unwrap();
        assert_ne!(a.finding.uid, b.finding.uid);
        let mut again = Aggregator::new(60_000, Severity::Low);
        assert_eq!(again.observe(&Event::new(0, cred, "x"), &v).unwrap().finding.uid, a.finding.uid);
        // The first ended when the second opened; the second closes by the stream's clock only
        // after the grace for parts of the stream running behind.
        assert_eq!(agg.close_idle(120_000 + 60_001).iter().map(|f| &f.uid).collect::<Vec<_>>(), vec![&a.finding.uid]);
        assert!(agg.close_idle(120_000 + 60_001).is_empty());
        assert_eq!(agg.close_idle(120_000 + 60_001 + CLOSE_GRACE_MS).len(), 1);
    }

    /// A subject whose events lag the stream's clock (its partition behind the others) keeps one
    /// finding while its own anomalies stay within the window.
    #[test]
    fn a_lagging_subject_keeps_its_finding_while_the_clock_runs_ahead() {
        let cred = Pseudonymizer::insecure_demo().credential("lagging");
        let mut agg = Aggregator::new(3_600_000, Severity::Low);
        let v = verdict(Detector::SlowExfiltration, 70, Severity::Low);
        let first = agg.observe(&Event::new(0, cred, "x"), &v).unwrap();
        // Other partitions have moved the clock six hours on.
        assert!(agg.close_idle(6 * 3_600_000).is_empty());
        let v2 = verdict(Detector::Exfiltration, 80, Severity::Medium);
        let next = agg.observe(&Event::new(600_000, cred, "x"), &v2).unwrap();
        assert_eq!(next.activity, Activity::Update);
        assert_eq!(next.finding.uid, first.finding.uid);
    }

    #[test]
    fn below_min_severity_is_ignored_and_categories_split() {
        let cred = Pseudonymizer::insecure_demo().credential("k3");
        let mut agg = Aggregator::new(60_000, Severity::Medium);
        assert!(agg.observe(&Event::new(0, cred, "x"), &verdict(Detector::NewOrigin, 65, Severity::Low)).is_none());
        let mut agg = Aggregator::new(60_000, Severity::Low);
        let s = agg.observe(&Event::new(0, cred, "x"), &verdict(Detector::Enumeration, 70, Severity::Low)).unwrap();
        let o =
            agg.observe(&Event::new(1, cred, "x"), &verdict(Detector::ExpiredTokenStorm, 70, Severity::Low)).unwrap();
        assert_ne!(s.finding.uid, o.finding.uid);
        assert_eq!(o.finding.category, Category::Operational);
    }
}
