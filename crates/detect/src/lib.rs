//! Per-credential behavioural baselines, the detectors that score events against them, and the
//! [`Engine`] that holds them all in memory.
//!
//! The flow for one event: [`Engine::process`] reduces it to an [`Observation`], looks up its
//! subject's [`Baseline`] (one map lookup), scores it ([`score::score`], read-only), decides how
//! much it may teach ([`LearnPolicy`]), and learns ([`Baseline::learn`]). Scoring and learning are
//! separate steps so analyst feedback can later veto learning.
//!
//! An engine is owned by one task (`&mut self`): in the daemon, one per assigned input partition;
//! in `replay`, one for the whole stream. Its state can be taken out part by part ([`state`]) for
//! a snapshot or a changelog and put back with [`Engine::restore`].
//!
//! Pure and synchronous: no I/O, no clock (all time is event time), no async runtime.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use credence_event::lifecycle::{LifecycleAction, LifecycleEvent};
use credence_event::{CredentialKind, Event, Outcome, Pseudonym};

pub mod attack;
pub mod baseline;
pub mod catalogue;
pub mod config;
pub mod event_time;
pub mod keys;
pub mod population;
pub mod score;
pub mod session;
pub mod spray;
pub mod state;
pub mod stats;
pub mod verdict;

pub use attack::{Attack, Tactic};
pub use baseline::{Baseline, CredentialState, Observation, Scored, SNAPSHOT_VERSION};
pub use catalogue::{Catalogue, CatalogueError};
pub use config::DetectConfig;
pub use event_time::EventTimeConfig;
pub use keys::KeySpace;
pub use population::{Dim, PeerProfile, Population};
pub use verdict::{Advice, Category, Detector, NetworkSubject, Severity, Signal, Verdict};

use baseline::to_secs;
use keys::PseudonymHasher;
use score::{Context, Novelty};
use session::Sessions;
use state::{Dirty, Item, Key, Mismatch, Owned, Seed};

/// How much an event may teach its baseline, decided after scoring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearnPolicy {
    /// Full weight if the event did not alert, `DetectConfig::alert_learn_weight` if it did.
    Default,
    /// Learn at this weight (0–1) regardless.
    Weight(f32),
    /// Update clocks and windows only ("benign, but don't learn"; "malicious: never learn").
    Never,
}

/// Counters the engine keeps for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Baselines evicted because the store was full.
    pub evicted_capacity: u64,
    /// Of those, established ones (fewer newcomers than the percent evicted at once were held).
    pub evicted_established: u64,
    /// Baselines dropped by the sweeper for idleness.
    pub evicted_idle: u64,
    /// Events scored.
    pub scored: u64,
    /// Baselines taken from the seed.
    pub seeded: u64,
    /// Attempts without a valid credential counted by the key-spray detector (no baseline made).
    pub attempts: u64,
    /// Source networks the key-spray detector evicted for room.
    pub evicted_networks: u64,
}

/// Baselines by subject, hashed by folding the pseudonym (already uniform under the HMAC key).
type BaselineMap = HashMap<Pseudonym, Box<Baseline>, BuildHasherDefault<PseudonymHasher>>;

/// The detection state of one task: baselines by subject, and the view they are judged with
/// beside their own history (peer profiles and the population). Plain maps behind `&mut`.
#[derive(Debug)]
pub struct Engine {
    baselines: BaselineMap,
    view: View,
    counters: EngineCounters,
    /// What changed since [`Engine::take_changes`], when tracked.
    changes: Option<Changes>,
    /// Baselines to start from, taken when their subject first comes.
    seed: Option<Arc<Seed>>,
    /// Attempts without a valid credential, by source network (in memory only).
    sprays: spray::Sprays,
    /// The temporary-credential binding: live temporary keys and where they were first used.
    /// In memory only (see [`session`]).
    sessions: Sessions,
}

/// What a baseline is judged with beside its own history: the settings, the key space, the peer
/// profiles and the population. Apart from the baselines so that one can be borrowed mutably while
/// the view is read.
#[derive(Debug)]
struct View {
    cfg: DetectConfig,
    keys: KeySpace,
    peers: HashMap<u64, Box<PeerProfile>>,
    population: Population,
    /// The operation risk catalogue (shared rules, a classification cache of this engine's own).
    catalogue: Catalogue,
}

/// Keys of parts changed since they were last taken (beside the parts' own `dirty` flags).
#[derive(Debug, Default)]
struct Changes {
    /// Baselines marked dirty, each once.
    baselines: Vec<Pseudonym>,
    /// Baselines dropped (evicted or swept).
    dropped: Vec<Pseudonym>,
    /// Peer profiles marked dirty, each once.
    peers: Vec<u64>,
}

/// Most peer groups tracked; beyond it, new groups get no profile.
const MAX_PEER_GROUPS: usize = 100_000;
/// Fraction of the store evicted at once when it is full, so eviction scans are rare.
const EVICT_FRACTION: usize = 100;
/// Confidence (0–100) of a catalogued risky operation, whatever the baseline's maturity: what a
/// call means needs no history. 80 reads as high confidence in OCSF (`confidence_id` 3 from 75)
/// and leaves the top of the scale to near-certain evidence (ghost credentials 95, impossible
/// travel 85).
const RISKY_OPERATION_CONFIDENCE: f32 = 80.0;

impl Engine {
    /// An engine with the given settings and value-key secret, and the built-in operation risk
    /// catalogue.
    pub fn new(cfg: DetectConfig, keys: KeySpace) -> Engine {
        Engine::with_catalogue(cfg, keys, Catalogue::builtin())
    }

    /// An engine with the given settings, value-key secret and operation risk catalogue (the
    /// built-in one extended by a user's file: [`Catalogue::with_overrides`]).
    pub fn with_catalogue(cfg: DetectConfig, keys: KeySpace, catalogue: Catalogue) -> Engine {
        Engine {
            baselines: BaselineMap::default(),
            view: View { cfg, keys, peers: HashMap::new(), population: Population::default(), catalogue },
            counters: EngineCounters::default(),
            changes: None,
            seed: None,
            sprays: spray::Sprays::default(),
            sessions: Sessions::default(),
        }
    }

    /// Settings in force.
    pub fn config(&self) -> &DetectConfig {
        &self.view.cfg
    }

    /// Counters for metrics.
    pub fn counters(&self) -> &EngineCounters {
        &self.counters
    }

    /// The eviction and seeding counts since the last call, reset (`scored` is left running):
    /// for metrics that add each engine's share once, wherever the engine goes.
    pub fn take_counts(&mut self) -> EngineCounters {
        self.counters.evicted_networks += self.sprays.take_evicted();
        let c = self.counters;
        self.counters = EngineCounters { scored: c.scored, ..EngineCounters::default() };
        EngineCounters { scored: 0, ..c }
    }

    /// Population-wide state.
    pub fn population(&self) -> &Population {
        &self.view.population
    }

    /// Baselines held.
    pub fn len(&self) -> usize {
        self.baselines.len()
    }

    /// Whether no baseline is held.
    pub fn is_empty(&self) -> bool {
        self.baselines.is_empty()
    }

    /// Peer profiles held.
    pub fn peer_groups(&self) -> usize {
        self.view.peers.len()
    }

    /// Scores one event and learns from it: the per-event hot path.
    pub fn process(&mut self, event: &Event<'_>, policy: LearnPolicy) -> Verdict {
        if event.outcome == Outcome::AuthFailed {
            if let Some(v) = self.attempt(event) {
                return v;
            }
        } else if !self.sprays.is_empty() {
            self.sprays.note(event);
        }
        let obs = Observation::new(event, &self.view.keys);
        let credential_state = self.retired_credential(event);
        let key = event.subject;
        // One lookup on the hot path; the store is checked for room (and the seed for the
        // subject) only for a subject not held.
        if !self.baselines.contains_key(&key) {
            self.make_room();
            self.take_seeded(key);
        }
        let baseline = self.baselines.entry(key).or_insert_with(|| Box::new(Baseline::new(obs.t)));
        baseline.load_into_cache();
        // The population's traffic is its known callers' (past their first `learning_events`):
        // what makes everyone's bursts usual is the usual callers getting busier, and counting
        // made-up credentials would let a spray of them raise every burst threshold.
        if baseline.events >= self.view.cfg.learning_events {
            self.view.population.count_event(obs.t);
        }
        let view = &self.view;
        let stolen = self.sessions.judge(event, obs.t);
        let (verdict, novelty) = view.assess(baseline, &obs, credential_state, stolen);
        let weight = match policy {
            LearnPolicy::Default if verdict.is_alert() => view.cfg.alert_learn_weight,
            LearnPolicy::Default => 1.0,
            LearnPolicy::Weight(w) => w.clamp(0.0, 1.0),
            LearnPolicy::Never => 0.0,
        };
        let reported = |d: Detector| verdict.is_alert() && verdict.signals.iter().any(|s| s.detector == d);
        let scored = Scored {
            unfamiliar_op: novelty.op_unfamiliar,
            privileged: novelty.privileged,
            volume_reported: reported(Detector::Exfiltration),
            rate_reported: reported(Detector::RateBurst),
            weak: verdict.weak(),
        };
        baseline.learn(&obs, weight, scored, &view.cfg);
        mark_dirty(&mut self.changes, &mut baseline.dirty, key);
        // An event judged malicious binds no key: the binding is the owner's.
        if policy != LearnPolicy::Never {
            self.sessions.learn(event, obs.t, view.cfg.max_credentials);
        }
        self.learn_shared(&obs, novelty, weight);
        self.counters.scored += 1;
        verdict
    }

    /// Counts a rejected request that names no credential known here (an unknown or malformed
    /// key, none at all) as evidence of a key spray from its network, and returns its verdict;
    /// `None` for a known credential's own failure. No baseline is made for it: a spray of made-up
    /// keys would otherwise fill the store with baselines of keys that belong to no one.
    fn attempt(&mut self, event: &Event<'_>) -> Option<Verdict> {
        let key = event.subject;
        let known = event.credential_kind != CredentialKind::Missing && {
            if !self.baselines.contains_key(&key) {
                self.take_seeded(key);
            }
            self.baselines.contains_key(&key)
        };
        let k = spray::is_attempt(event, known)?;
        self.counters.attempts += 1;
        Some(self.sprays.attempt(event, k, &self.view.keys))
    }

    /// Sets the most source networks the key-spray detector holds.
    pub fn set_max_networks(&mut self, max: usize) {
        self.sprays.set_max_networks(max);
    }

    /// Source networks the key-spray detector holds.
    pub fn networks(&self) -> usize {
        self.sprays.len()
    }

    /// Scores one event without learning from it.
    pub fn score(&self, event: &Event<'_>) -> Verdict {
        let obs = Observation::new(event, &self.view.keys);
        let credential_state = self.retired_credential(event);
        let fresh;
        let baseline: &Baseline = match self.baselines.get(&event.subject) {
            Some(b) => b,
            None => {
                fresh = Baseline::new(obs.t);
                &fresh
            }
        };
        self.view.assess(baseline, &obs, credential_state, self.sessions.judge(event, obs.t)).0
    }

    /// The lifecycle state of the presented credential when it is retired and differs from the
    /// subject (a revoked temporary key whose session baseline lives on).
    fn retired_credential(&self, event: &Event<'_>) -> Option<(CredentialState, u32)> {
        if event.credential == event.subject {
            return None;
        }
        let b = self.baselines.get(&event.credential)?;
        b.state.is_retired().then_some((b.state, b.state_since))
    }

    /// Updates peer profiles, adoption counts and labels after an event was learned.
    fn learn_shared(&mut self, obs: &Observation<'_>, novelty: Novelty, weight: f32) {
        let t = obs.t;
        let hl = self.view.cfg.profile_half_life_secs;
        if novelty.op {
            self.view.population.adopt(Dim::Op, obs.op, t);
            let e = obs.event;
            self.view.population.label_op(obs.op, || match e.service.as_deref() {
                Some(s) => format!("{s} {}", e.operation),
                None => e.operation.to_string(),
            });
        }
        if novelty.agent {
            if let (Some(k), Some(ua)) = (obs.agent, obs.event.user_agent.as_deref()) {
                self.view.population.adopt(Dim::Agent, k, t);
                self.view.population.label_agent(k, ua);
            }
        }
        for (novel, dim, key) in [
            (novelty.net, Dim::Net, obs.net),
            (novelty.asn, Dim::Asn, obs.asn),
            (novelty.country, Dim::Country, obs.country),
        ] {
            if let (true, Some(k)) = (novel, key) {
                self.view.population.adopt(dim, k, t);
            }
        }
        let Some(pk) = obs.peer else { return };
        if weight <= 0.0 {
            return;
        }
        if !self.view.peers.contains_key(&pk) && self.view.peers.len() >= MAX_PEER_GROUPS {
            return;
        }
        let p = self.view.peers.entry(pk).or_default();
        p.ops.learn(obs.op, t, hl, weight);
        if let Some(k) = obs.net {
            p.nets.learn(k, t, hl, weight);
        }
        if let Some(k) = obs.asn {
            p.asns.learn(k, t, hl, weight);
        }
        if let Some(k) = obs.country {
            p.countries.learn(k, t, hl, weight);
        }
        p.events = p.events.saturating_add(1);
        p.members.insert(obs.event.subject.as_u128() as u32 | 1);
        if let Some(c) = &mut self.changes {
            if !p.dirty.0 {
                p.dirty.0 = true;
                c.peers.push(pk);
            }
        }
    }
}

impl View {
    /// Scores an observation against a baseline (read-only) and judges the signals.
    fn assess(
        &self,
        baseline: &Baseline,
        obs: &Observation<'_>,
        credential_state: Option<(CredentialState, u32)>,
        stolen: Option<Signal>,
    ) -> (Verdict, Novelty) {
        let peer_key = obs.peer.or(Some(baseline.peer).filter(|&p| p != 0));
        let ctx = Context {
            cfg: &self.cfg,
            peer: peer_key.and_then(|k| self.peers.get(&k)).map(|b| &**b),
            population: &self.population,
            catalogue: &self.catalogue,
            credential_state,
        };
        let state = baseline.state_at(&self.cfg, obs.t);
        let (mut signals, novelty) = score::score(baseline, obs, &ctx);
        if let Some(s) = stolen {
            signals.push(s);
            signals.sort_by_key(|s| std::cmp::Reverse(s.score));
        }
        (self.judge(baseline, obs, signals, state, novelty.agent), novelty)
    }

    /// Combines signals into a verdict: score, confidence, severity.
    fn judge(
        &self,
        b: &Baseline,
        obs: &Observation<'_>,
        mut signals: Vec<Signal>,
        state: CredentialState,
        new_client: bool,
    ) -> Verdict {
        if signals.is_empty() {
            return Verdict { state, ..Verdict::default() };
        }
        // Noisy-OR (`verdict::combine`); weak signals of other detectors earlier in the hour
        // corroborate an event's own weak ones.
        let mut score = verdict::combine(&signals);
        if score < self.cfg.alert_score && verdict::corroborate(&mut signals, b.recent_weak(obs.t)) {
            signals.sort_by_key(|s| std::cmp::Reverse(s.score));
            score = verdict::combine(&signals);
        }
        let maturity = b.maturity(&self.cfg, obs.t);
        let confidence = signals
            .iter()
            .map(|s| match s.detector {
                Detector::GhostCredential => 95.0,
                // A second network for one temporary key needs no baseline either.
                Detector::ImpossibleTravel
                | Detector::ConcurrentUse
                | Detector::ExpiredTokenStorm
                | Detector::StolenSession => 85.0,
                // The catalogue's judgement of an operation needs no baseline: as sure on a
                // credential's first call as on its thousandth.
                Detector::RiskyOperation => RISKY_OPERATION_CONFIDENCE,
                Detector::AccessProbing | Detector::Enumeration => 60.0 + 25.0 * maturity,
                _ => 35.0 + 60.0 * maturity,
            })
            .fold(0.0f32, f32::max) as u8;
        let severity = self.severity(score, confidence, &signals, new_client);
        Verdict { score, confidence, severity, signals, state, network: None }
    }

    fn severity(&self, score: u8, confidence: u8, signals: &[Signal], new_client: bool) -> Option<Severity> {
        let has = |d: Detector| signals.iter().any(|s| s.detector == d);
        if let Some(g) = signals.iter().find(|s| s.detector == Detector::GhostCredential) {
            return Some(if g.score >= 95 { Severity::Critical } else { Severity::High });
        }
        // A catalogued risky operation raises at the catalogue's severity whatever the thresholds
        // and caps: the day-one layer does not wait for a baseline.
        let catalogued = signals
            .iter()
            .filter(|s| s.detector == Detector::RiskyOperation)
            .map(|s| Severity::of_score(s.score))
            .max();
        if score < self.cfg.alert_score || confidence < self.cfg.min_confidence {
            return catalogued;
        }
        let mut sev = Severity::of_score(score);
        // A new origin on its own, with the usual client and behaviour, is what travel and
        // infrastructure changes look like too: worth a look, never an emergency. Someone else's
        // client from somewhere else is another matter.
        // A temporary key seen from a second network with the client it was bound to is such a
        // move too (`session::OTHER_NETWORK_SCORE`).
        let moved = |s: &Signal| s.detector == Detector::StolenSession && s.score <= session::OTHER_NETWORK_SCORE;
        let origin_only = !new_client
            && signals.iter().all(|s| {
                matches!(s.detector, Detector::NewOrigin | Detector::UnusualHour | Detector::DormantReactivation)
                    || moved(s)
            });
        if origin_only && (has(Detector::NewOrigin) || signals.iter().any(moved)) {
            sev = sev.min(Severity::Medium);
        }
        if signals.iter().all(|s| s.detector.category() == verdict::Category::Operational) {
            sev = sev.min(Severity::Low);
        }
        Some(catalogued.map_or(sev, |c| sev.max(c)))
    }
}

impl Engine {
    /// Applies a lifecycle record to its credential's state machine.
    pub fn apply_lifecycle(&mut self, ev: &LifecycleEvent<'_>) {
        let t = to_secs(ev.time_ms);
        if !self.baselines.contains_key(&ev.credential) {
            self.make_room();
            self.take_seeded(ev.credential);
        }
        let b = self.baselines.entry(ev.credential).or_insert_with(|| Box::new(Baseline::new(t)));
        let next = match ev.action {
            // A creation older than the state in force (a record applied late, or again when the
            // lifecycle log is read anew after a restart) cannot bring a retired credential back
            // nor send an established one back to learning.
            LifecycleAction::Created if t < b.state_since => b.state,
            LifecycleAction::Created => {
                if b.events == 0 && b.first_seen != t {
                    b.first_seen = t;
                    mark_dirty(&mut self.changes, &mut b.dirty, ev.credential);
                }
                CredentialState::New
            }
            LifecycleAction::Revoked => CredentialState::Revoked,
            // Expiry does not override a revocation.
            LifecycleAction::Expired if b.state == CredentialState::Revoked => CredentialState::Revoked,
            LifecycleAction::Expired => CredentialState::Expired,
            LifecycleAction::Rotated if b.state == CredentialState::Revoked => CredentialState::Revoked,
            LifecycleAction::Rotated => CredentialState::Rotated,
        };
        if next != b.state {
            b.state = next;
            b.state_since = t;
            mark_dirty(&mut self.changes, &mut b.dirty, ev.credential);
        }
    }

    /// One subject's baseline (for snapshots, inspection and tests).
    pub fn baseline(&self, subject: Pseudonym) -> Option<&Baseline> {
        self.baselines.get(&subject).map(|b| &**b)
    }

    /// Every baseline held, in no particular order.
    pub fn baselines(&self) -> impl Iterator<Item = (Pseudonym, &Baseline)> + '_ {
        self.baselines.iter().map(|(k, b)| (*k, &**b))
    }

    /// One peer group's profile.
    pub fn peer(&self, group: u64) -> Option<&PeerProfile> {
        self.view.peers.get(&group).map(|p| &**p)
    }

    /// The key space events are reduced with (to look up a peer group or an operation by name).
    pub fn key_space(&self) -> &KeySpace {
        &self.view.keys
    }

    /// Drops baselines idle beyond `idle_ttl_secs` (retired credentials are kept for as long:
    /// a ghost can come back), stale adoption records and the bindings of temporary keys past
    /// their longest life. Returns how many baselines were dropped.
    pub fn sweep(&mut self, now_ms: i64) -> usize {
        let now = to_secs(now_ms);
        let ttl = self.view.cfg.idle_ttl_secs;
        let before = self.baselines.len();
        let changes = &mut self.changes;
        self.baselines.retain(|k, b| {
            let keep = now.saturating_sub(b.last_seen.max(b.state_since)) < ttl;
            if let (false, Some(c)) = (keep, changes.as_mut()) {
                c.dropped.push(*k);
            }
            keep
        });
        let dropped = before.saturating_sub(self.baselines.len());
        self.counters.evicted_idle += dropped as u64;
        self.view.population.sweep(now);
        self.sprays.sweep(now_ms);
        self.sessions.sweep(now);
        dropped
    }

    /// Keeps the store within `max_credentials`: when full, evicts a percent of it, the least
    /// valuable first. A baseline's value grows with its history, so the store is segmented by
    /// it (as caches segment an LRU to resist scans): credentials still `new` (fewer than
    /// `learning_events` events) go first, then those still learning, and only then established
    /// ones; least recently seen first within each. A flood of made-up credential ids, each seen
    /// once, so washes out only other newcomers, never the baselines that took days to learn.
    /// Retired credentials are never evicted: their state must outlive their silence.
    fn make_room(&mut self) {
        let max = self.view.cfg.max_credentials;
        if self.baselines.len() < max {
            return;
        }
        let cfg = &self.view.cfg;
        let tier = |b: &Baseline| -> u8 {
            if b.events < cfg.learning_events {
                0
            } else if b.events < cfg.mature_events {
                1
            } else {
                2
            }
        };
        let mut seen: Vec<(u8, u32, Pseudonym)> = self
            .baselines
            .iter()
            .filter(|(_, b)| !b.state.is_retired())
            .map(|(k, b)| (tier(b), b.last_seen, *k))
            .collect();
        let n = (max / EVICT_FRACTION).max(1).min(seen.len());
        if n == 0 {
            return;
        }
        seen.select_nth_unstable(n - 1);
        for &(tier, _, k) in &seen[..n] {
            self.baselines.remove(&k);
            if let Some(c) = &mut self.changes {
                c.dropped.push(k);
            }
            if tier == 2 {
                self.counters.evicted_established += 1;
            }
        }
        self.counters.evicted_capacity += n as u64;
    }

    /// Baselines by lifecycle state at `now_ms` (for metrics).
    pub fn states(&self, now_ms: i64) -> [(CredentialState, usize); 7] {
        let now = to_secs(now_ms);
        let mut counts = CredentialState::ALL.map(|s| (s, 0usize));
        for b in self.baselines.values() {
            let s = b.state_at(&self.view.cfg, now);
            if let Some(c) = counts.iter_mut().find(|(state, _)| *state == s) {
                c.1 += 1;
            }
        }
        counts
    }

    /// Approximate bytes held per baseline: the boxed baseline, its map slot, allocator overhead.
    pub fn bytes_per_baseline() -> usize {
        std::mem::size_of::<Baseline>() + std::mem::size_of::<(Pseudonym, Box<Baseline>)>() * 2 + 16
    }

    /// Changes the bound on baselines held (a task's share of its process's bound, as
    /// partitions come and go); a store above it shrinks as new subjects come.
    pub fn set_max_credentials(&mut self, max: usize) {
        self.view.cfg.max_credentials = max.max(1);
    }

    /// Starts the engine from a seed: baselines are taken from it when their subject first comes
    /// (see [`Seed`]).
    pub fn set_seed(&mut self, seed: Arc<Seed>) {
        self.seed = Some(seed);
    }

    /// Moves a subject's seeded baseline into the store, if the seed holds one.
    fn take_seeded(&mut self, key: Pseudonym) {
        let Some(mut b) = self.seed.as_ref().and_then(|s| s.take(key)) else { return };
        self.counters.seeded += 1;
        mark_dirty(&mut self.changes, &mut b.dirty, key);
        self.baselines.insert(key, b);
    }

    /// Starts tracking what changes (for [`Engine::take_changes`]). With `held_changed`,
    /// everything held counts as changed from here (state that came from elsewhere and is not in
    /// the changelog yet); without, only what changes next (state just read back from it). Off by
    /// default: `replay` without a state directory does not need it.
    pub fn track_changes(&mut self, held_changed: bool) {
        let mut c = Changes::default();
        for (k, b) in &mut self.baselines {
            b.dirty.0 = held_changed;
            if held_changed {
                c.baselines.push(*k);
            }
        }
        for (k, p) in &mut self.view.peers {
            p.dirty.0 = held_changed;
            if held_changed {
                c.peers.push(*k);
            }
        }
        self.changes = Some(c);
        self.view.population.track_changes(true);
        if held_changed {
            for k in self.view.population.keys() {
                self.view.population.mark_changed(k);
            }
        }
    }

    /// Every part of the state, for a snapshot.
    pub fn export(&self, visit: &mut dyn FnMut(Key, Option<Item<'_>>)) {
        for (k, b) in &self.baselines {
            visit(Key::Baseline(*k), Some(Item::Baseline(b)));
        }
        for (k, p) in &self.view.peers {
            visit(Key::Peer(*k), Some(Item::Peer(p)));
        }
        self.view.population.export(visit);
    }

    /// The parts changed since the last call, or since [`Engine::track_changes`] (`None`:
    /// dropped), forgetting them: what a checkpoint writes to the changelog. A part dropped and
    /// then recreated is reported as it now is.
    pub fn take_changes(&mut self, visit: &mut dyn FnMut(Key, Option<Item<'_>>)) {
        let Some(c) = &mut self.changes else { return };
        for k in c.dropped.drain(..) {
            if !self.baselines.contains_key(&k) {
                visit(Key::Baseline(k), None);
            }
        }
        for k in c.baselines.drain(..) {
            if let Some(b) = self.baselines.get_mut(&k) {
                if std::mem::take(&mut b.dirty.0) {
                    visit(Key::Baseline(k), Some(Item::Baseline(b)));
                }
            }
        }
        for k in c.peers.drain(..) {
            if let Some(p) = self.view.peers.get_mut(&k) {
                p.dirty.0 = false;
                visit(Key::Peer(k), Some(Item::Peer(p)));
            }
        }
        self.view.population.take_changes(visit);
    }

    /// Marks a part changed again (its checkpoint was not committed): the next
    /// [`Engine::take_changes`] reports it as it then stands.
    pub fn mark_changed(&mut self, key: Key) {
        let Some(c) = &mut self.changes else { return };
        match key {
            Key::Baseline(k) => match self.baselines.get_mut(&k) {
                Some(b) => mark_dirty(&mut self.changes, &mut b.dirty, k),
                None => c.dropped.push(k),
            },
            Key::Peer(k) => {
                if let Some(p) = self.view.peers.get_mut(&k) {
                    if !p.dirty.0 {
                        p.dirty.0 = true;
                        c.peers.push(k);
                    }
                }
            }
            key => self.view.population.mark_changed(key),
        }
    }

    /// Parts changed and not yet taken (for metrics).
    pub fn pending_changes(&self) -> usize {
        self.changes.as_ref().map_or(0, |c| c.baselines.len() + c.dropped.len() + c.peers.len())
    }

    /// Puts one part back (`None`: it was dropped), as read from a snapshot or changelog.
    /// Restoring does not count as a change.
    pub fn restore(&mut self, key: Key, value: Option<Owned>) -> Result<(), Mismatch> {
        match (key, value) {
            (Key::Baseline(k), Some(Owned::Baseline(b))) => {
                self.baselines.insert(k, b);
            }
            (Key::Baseline(k), None) => {
                self.baselines.remove(&k);
            }
            (Key::Peer(k), Some(Owned::Peer(p))) => {
                self.view.peers.insert(k, p);
            }
            (Key::Peer(k), None) => {
                self.view.peers.remove(&k);
            }
            (key, value) => return self.view.population.restore(key, value).map_err(Mismatch),
        }
        Ok(())
    }
}

/// Marks a part dirty, listing its key the first time.
fn mark_dirty(changes: &mut Option<Changes>, dirty: &mut Dirty, key: Pseudonym) {
    if let Some(c) = changes {
        if !dirty.0 {
            dirty.0 = true;
            c.baselines.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::Pseudonymizer;

    const T0: i64 = 1_772_409_600_000;

    #[test]
    fn the_store_stays_within_max_credentials_and_counts_evictions() {
        let cfg = DetectConfig { max_credentials: 1_000, ..DetectConfig::default() };
        let mut engine = Engine::new(cfg, KeySpace::new([2; 16]));
        let p = Pseudonymizer::insecure_demo();
        for i in 0..5_000 {
            let e = Event::new(T0 + i * 1_000, p.credential(&format!("key-{i}")), "GET /x");
            engine.process(&e, LearnPolicy::Default);
        }
        assert!(engine.len() <= 1_000, "{} baselines held", engine.len());
        assert!(engine.counters().evicted_capacity >= 4_000);
        // The most recent credential survived; the first was evicted.
        assert!(engine.baseline(p.credential("key-4999")).is_some());
        assert!(engine.baseline(p.credential("key-0")).is_none());
    }

    /// A flood of made-up credential ids, each seen once, at a full store: the established
    /// baselines stay (the newcomers evict each other), and only newcomers are counted evicted.
    /// With the plain LRU this replaced, the flood evicted every established baseline.
    #[test]
    fn a_flood_of_new_ids_does_not_evict_established_baselines() {
        let cfg = DetectConfig { max_credentials: 1_000, ..DetectConfig::default() };
        let mature = cfg.mature_events as i64;
        let mut engine = Engine::new(cfg, KeySpace::new([2; 16]));
        let p = Pseudonymizer::insecure_demo();
        let established: Vec<_> = (0..200).map(|i| p.credential(&format!("service-{i}"))).collect();
        let minute = 60_000;
        for round in 0..mature + 5 {
            for (i, &c) in established.iter().enumerate() {
                engine.process(&Event::new(T0 + round * minute + i as i64, c, "GET /x"), LearnPolicy::Default);
            }
        }
        let flood_start = T0 + (mature + 10) * minute;
        for i in 0..20_000 {
            let e = Event::new(flood_start + i * 10, p.credential(&format!("random-{i}")), "GET /");
            engine.process(&e, LearnPolicy::Default);
        }
        assert!(engine.len() <= 1_000, "{} baselines held", engine.len());
        let kept =
            established.iter().filter(|&&c| engine.baseline(c).is_some_and(|b| b.events as i64 > mature)).count();
        assert_eq!(kept, established.len(), "established baselines evicted by the flood");
        assert!(engine.counters().evicted_capacity >= 19_000);
        assert_eq!(engine.counters().evicted_established, 0);
    }

    #[test]
    fn sweep_drops_only_baselines_idle_past_the_ttl() {
        let cfg = DetectConfig::default();
        let ttl_ms = i64::from(cfg.idle_ttl_secs) * 1000;
        let mut engine = Engine::new(cfg, KeySpace::new([3; 16]));
        let p = Pseudonymizer::insecure_demo();
        engine.process(&Event::new(T0, p.credential("old"), "op"), LearnPolicy::Default);
        engine.process(&Event::new(T0 + ttl_ms, p.credential("recent"), "op"), LearnPolicy::Default);
        assert_eq!(engine.sweep(T0 + ttl_ms + 1_000), 1);
        assert!(engine.baseline(p.credential("old")).is_none());
        assert!(engine.baseline(p.credential("recent")).is_some());
        assert_eq!(engine.counters().evicted_idle, 1);
    }

    #[test]
    fn scoring_does_not_learn_and_learning_policy_is_honoured() {
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([4; 16]));
        let p = Pseudonymizer::insecure_demo();
        let e = Event::new(T0, p.credential("k"), "op");
        engine.score(&e);
        assert!(engine.is_empty(), "score() must not create or teach a baseline");
        engine.process(&e, LearnPolicy::Never);
        let b = engine.baseline(e.subject).unwrap();
        assert_eq!(b.events, 1, "clocks and counters advance");
        assert!(b.ops.is_empty(), "but a never-learn event teaches no profile");
    }

    /// Partitions are consumed at their own pace, so a use from before a revocation can arrive
    /// after it: only uses at or after the revocation are ghosts.
    #[test]
    fn only_uses_after_the_revocation_are_ghost_uses() {
        use credence_event::lifecycle::{LifecycleAction, LifecycleEvent};
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([6; 16]));
        let credential = Pseudonymizer::insecure_demo().credential("k");
        let revoked_at = T0 + 3_600_000;
        engine.apply_lifecycle(&LifecycleEvent {
            time_ms: revoked_at,
            credential,
            action: LifecycleAction::Revoked,
            reason: None,
        });
        let mut ghost = |t| {
            let v = engine.process(&Event::new(t, credential, "op"), LearnPolicy::Default);
            v.signals.iter().any(|s| s.detector == Detector::GhostCredential)
        };
        assert!(ghost(revoked_at + 60_000), "a use after the revocation");
        assert!(!ghost(revoked_at - 60_000), "a use from before it, arriving late");
        assert!(ghost(revoked_at), "a use at the revocation's own time");
    }

    /// A lifecycle record can be applied after a later one (the log read again after a restart,
    /// records out of order): a stale creation must not undo a revocation.
    #[test]
    fn a_creation_applied_after_a_later_revocation_does_not_undo_it() {
        use credence_event::lifecycle::{LifecycleAction, LifecycleEvent};
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([5; 16]));
        let credential = Pseudonymizer::insecure_demo().credential("k");
        let record = |time_ms, action| LifecycleEvent { time_ms, credential, action, reason: None };
        let state = |engine: &Engine| engine.baseline(credential).map(|b| b.state);
        for r in [
            record(T0, LifecycleAction::Created),
            record(T0 + 60_000, LifecycleAction::Revoked),
            // Another pipeline reaching the same log.
            record(T0, LifecycleAction::Created),
        ] {
            engine.apply_lifecycle(&r);
        }
        assert_eq!(state(&engine), Some(CredentialState::Revoked));
        // A creation after the revocation (the identifier reissued) still applies.
        engine.apply_lifecycle(&record(T0 + 120_000, LifecycleAction::Created));
        assert_eq!(state(&engine), Some(CredentialState::New));
    }

    /// Replays `days` of a credential's routine (a request every five minutes, alternating
    /// between two operations of steady size, with a download session of `session` responses at
    /// five times the usual size each afternoon), then `attack`: (minute offset, operation,
    /// bytes) after the history. Returns the slow-exfiltration signals the attack raised.
    fn slow_exfiltration_signals(
        seed: &str,
        days: i64,
        session: usize,
        attack: &[(i64, &'static str, u64)],
    ) -> Vec<String> {
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([6; 16]));
        let credential = Pseudonymizer::insecure_demo().credential(seed);
        let event = |t_ms: i64, op: &'static str, bytes: u64| {
            let mut e = Event::new(t_ms, credential, op);
            e.bytes_out = Some(bytes);
            e
        };
        // Deterministic jitter of ±20%.
        let jitter = |i: i64, size: u64| size * (80 + (i * 37 % 41) as u64) / 100;
        let minute = 60_000;
        // The `i`th routine request from `start`.
        let routine = |start: i64, i: i64| {
            let (op, size) = if i % 2 == 0 { ("GET /orders", 2_000) } else { ("GET /items", 500) };
            event(start + i * 5 * minute, op, jitter(i, size))
        };
        let mut events: Vec<Event<'_>> = (0..days * 288).map(|i| routine(T0, i)).collect();
        for day in 0..days {
            for j in 0..session as i64 {
                events.push(event(
                    T0 + day * 1_440 * minute + 14 * 60 * minute + j * 4 * minute + 30_000,
                    "GET /orders",
                    10_000,
                ));
            }
        }
        let end = T0 + days * 1_440 * minute;
        // The routine goes on during the attack.
        let last = attack.iter().map(|a| a.0).max().unwrap_or(0);
        events.extend((0..last / 5 + 1).map(|i| routine(end, i)));
        let n_history = events.len();
        events.extend(attack.iter().map(|&(m, op, bytes)| event(end + m * minute + 10_000, op, bytes)));
        let is_attack: Vec<bool> = (0..events.len()).map(|i| i >= n_history).collect();
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by_key(|&i| events[i].time_ms);
        let mut found = Vec::new();
        for i in order {
            let v = engine.process(&events[i], LearnPolicy::Default);
            for s in v.signals.iter().filter(|s| s.detector == Detector::SlowExfiltration) {
                // The first sessions are new to the credential; later ones are its routine.
                let settled = events[i].time_ms >= T0 + 2 * 1_440 * minute;
                assert!(is_attack[i] || events[i].time_ms >= end || !settled, "raised in the history: {}", s.observed);
                if !(is_attack[i] || events[i].time_ms >= end) {
                    continue;
                }
                found.push(format!("{} ({})", s.observed, s.baseline));
            }
        }
        found
    }

    /// Slow exfiltration through a service's own calls: one response in three is four times its
    /// usual size, for four hours, among the routine's. The mean shift stays under 1.5x (the
    /// routine dilutes it); the run of inflated responses does not.
    #[test]
    fn slow_exfiltration_mixed_into_routine_traffic_is_found() {
        let attack: Vec<(i64, &'static str, u64)> = (0..24).map(|i| (i * 10 + 2, "GET /orders", 8_000)).collect();
        let found = slow_exfiltration_signals("service", 10, 0, &attack);
        assert!(found.iter().any(|s| s.contains("at least 2.5x")), "not found: {found:?}");
    }

    /// Twenty operations in three minutes: enumeration when they are new to the credential and its
    /// peers, not when they are its own repertoire or its peer group's (an app's screens).
    #[test]
    fn breadth_across_known_operations_is_not_enumeration() {
        let app: Vec<String> = (0..20).map(|i| format!("GET /app/screen-{i}")).collect();
        let admin: Vec<String> = (0..20).map(|i| format!("GET /admin/probe-{i}")).collect();
        // Six days of a request every five minutes (cycling through `own` of the app's
        // operations), with five peers calling all of them when `peers` is set; then `sweep`.
        let enumerates = |own: usize, peers: bool, sweep: &[String]| {
            let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([8; 16]));
            let p = Pseudonymizer::insecure_demo();
            let me = p.credential("me");
            let others: Vec<_> = (0..5).map(|i| p.credential(&format!("peer-{i}"))).collect();
            let event = |t: i64, c, op| {
                let mut e = Event::new(t, c, op);
                e.peer_group = Some("mobile-app".into());
                e
            };
            let minute = 60_000;
            let steps = 6 * 288;
            for i in 0..steps {
                let t = T0 + i * 5 * minute;
                engine.process(&event(t, me, app[i as usize % own].as_str()), LearnPolicy::Default);
                for (k, &c) in others.iter().enumerate().filter(|_| peers) {
                    let op = app[(i as usize + k) % app.len()].as_str();
                    engine.process(&event(t + 1_000 * (k as i64 + 1), c, op), LearnPolicy::Default);
                }
            }
            let end = T0 + steps * 5 * minute;
            sweep.iter().enumerate().any(|(j, op)| {
                let v = engine.process(&event(end + j as i64 * 10_000, me, op.as_str()), LearnPolicy::Default);
                v.signals.iter().any(|s| s.detector == Detector::Enumeration)
            })
        };
        assert!(enumerates(3, true, &admin), "operations no one in the group calls");
        assert!(enumerates(3, false, &app), "operations new to a credential without peers");
        assert!(!enumerates(app.len(), false, &app), "the credential's own repertoire");
        assert!(!enumerates(3, true, &app), "its peers' repertoire");
    }

    /// A burst that raised `exfiltration` (forty responses of 5 MB in eight minutes) followed by
    /// hours of the credential's usual requests: the burst is not reported again as slow
    /// exfiltration on the ordinary requests after it, while its bytes are still in the window.
    #[test]
    fn a_reported_burst_does_not_echo_as_slow_exfiltration() {
        let mut attack: Vec<(i64, &'static str, u64)> = (0..40).map(|i| (i / 5, "GET /orders", 5_000_000)).collect();
        attack.extend((2..40).map(|i| (i * 5, if i % 2 == 0 { "GET /orders" } else { "GET /items" }, 1_000)));
        let found = slow_exfiltration_signals("service", 10, 0, &attack);
        assert!(found.is_empty(), "the burst echoed: {found:?}");
    }

    /// A run of sixteen large responses in an hour: slow exfiltration for a credential that never
    /// has such runs; for one that downloads files in sessions like it every afternoon, what it
    /// usually does. A run four times its sessions is found again.
    #[test]
    fn a_run_like_the_credentials_usual_download_sessions_is_not_slow_exfiltration() {
        let run: Vec<(i64, &'static str, u64)> = (0..16).map(|i| (i * 4 + 2, "GET /orders", 10_000)).collect();
        let found = slow_exfiltration_signals("service", 10, 0, &run);
        assert!(found.iter().any(|s| s.contains("at least 2.5x")), "no sessions: {found:?}");
        let found = slow_exfiltration_signals("person", 10, 16, &run);
        assert!(found.is_empty(), "daily sessions of sixteen: {found:?}");
        let long: Vec<(i64, &'static str, u64)> = (0..60).map(|i| (i * 4 + 2, "GET /orders", 10_000)).collect();
        let found = slow_exfiltration_signals("person", 10, 16, &long);
        assert!(!found.is_empty(), "a run four times its sessions");
    }

    /// A burst of 100 requests in six minutes (17 a minute, under the per-minute floor) from a
    /// credential that makes one request every five minutes, placed across the boundary of its
    /// ten-minute windows (50 before, 50 after: neither window reaches the 60 floor alone), among
    /// the steady traffic of twenty other credentials (so the population is not surging).
    #[test]
    fn a_burst_split_by_the_window_boundary_is_still_a_burst() {
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([7; 16]));
        let p = Pseudonymizer::insecure_demo();
        let credential = p.credential("k");
        let others: Vec<_> = (0..20).map(|i| p.credential(&format!("other-{i}"))).collect();
        let minute = 60_000;
        let days = 2;
        let open = T0 + days * 288 * 5 * minute;
        let mut events: Vec<Event<'_>> =
            (0..days * 288).map(|i| Event::new(T0 + i * 5 * minute, credential, "GET /x")).collect();
        // Others: five requests a minute each, all along (a population rate takes hours to learn).
        for m in -days * 1_440..20 {
            for (i, &o) in others.iter().enumerate() {
                for k in 0..5 {
                    events.push(Event::new(open + m * minute + (i as i64 * 5 + k) * 500, o, "GET /y"));
                }
            }
        }
        // The next window opens with this request; the burst starts seven minutes into it.
        events.push(Event::new(open, credential, "GET /x"));
        let burst: Vec<i64> = (0..100).map(|j| open + 7 * minute + j * 6 * minute / 100).collect();
        events.extend(burst.iter().map(|&t| Event::new(t, credential, "GET /z")));
        events.sort_by_key(|e| e.time_ms);
        let mut fired = Vec::new();
        for e in &events {
            let v = engine.process(e, LearnPolicy::Default);
            if e.credential == credential && v.signals.iter().any(|s| s.detector == Detector::RateBurst) {
                fired.push(e.time_ms);
            }
        }
        assert!(!fired.is_empty(), "the burst was not seen");
        assert!(fired[0] >= open + 10 * minute, "fired before the boundary: the test does not split the burst");
    }
}
