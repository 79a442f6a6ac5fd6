//! State shared across credentials: peer-group profiles, population-wide change, and the labels
//! that turn value keys back into words for evidence.
//!
//! A change that many credentials make at once (a new endpoint every client starts calling, a
//! deploy that moves a whole service to new addresses, a traffic surge on everything) is not an
//! anomaly of any one of them. This module measures such change so scoring can discount it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::state::{Item, Key, Owned};
use crate::stats::{DistinctBits, EwStats, FreqTable};

/// How long adoptions of a new value are counted together, seconds: a deploy reaches its callers
/// within hours, a staged client release within a day or two.
pub const ADOPTION_WINDOW_SECS: u32 = 24 * 3600;
/// Most adoption records kept; beyond it new values are not tracked until the sweeper runs.
const MAX_ADOPTIONS: usize = 200_000;
/// Most labels kept per kind.
const MAX_LABELS: usize = 100_000;
/// Smoothing of the population's per-minute event count: about 2 hours of memory.
const SURGE_ALPHA: f32 = 0.008;
/// Minutes of history before a surge factor is trusted.
const SURGE_MIN_MINUTES: u32 = 60;

/// Which dimension a value belongs to, for adoption tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// Operation.
    Op = 1,
    /// Network.
    Net = 2,
    /// Autonomous system.
    Asn = 3,
    /// Country.
    Country = 4,
    /// User agent.
    Agent = 5,
}

fn adoption_key(dim: Dim, key: u32) -> u64 {
    (dim as u64) << 32 | u64::from(key)
}

/// Credentials that took up one new value within a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adoption {
    /// Start of the window, baseline clock.
    pub window_start: u32,
    /// Credentials that took the value up in it.
    pub adopters: u32,
}

/// What a peer group (credentials of one role, team or consumer) does, pooled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerProfile {
    /// Operations of all members.
    pub ops: FreqTable<24, 8>,
    /// Networks of all members.
    pub nets: FreqTable<8, 2>,
    /// ASNs of all members.
    pub asns: FreqTable<6, 2>,
    /// Countries of all members.
    pub countries: FreqTable<4, 1>,
    /// Events pooled, saturating.
    pub events: u32,
    /// Distinct members, approximately.
    pub members: DistinctBits,
    /// Changed since last taken for a checkpoint.
    #[serde(skip)]
    pub(crate) dirty: crate::state::Dirty,
}

/// Events pooled before a peer profile may stand in for an immature member's own baseline.
pub const PEER_MIN_EVENTS: u32 = 300;

impl PeerProfile {
    /// Whether the profile has enough behind it to judge a newcomer.
    pub fn is_mature(&self) -> bool {
        self.events >= PEER_MIN_EVENTS && self.members.estimate() >= 2.0
    }
}

/// The population's traffic rate, for the surge factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Surge {
    /// Current minute (baseline clock / 60).
    pub minute: u32,
    /// Events counted in `minute`.
    pub minute_count: u32,
    /// Last full minute's count over its usual level.
    pub factor: f32,
    /// Events per minute.
    pub rate: EwStats,
}

/// Population-wide state: the traffic rate (surge factor), adoptions of new values, and labels.
/// Owned by one task (`&mut`), like the baselines it judges with.
#[derive(Debug, Default)]
pub struct Population {
    surge: Surge,
    adoptions: HashMap<u64, Adoption>,
    op_labels: HashMap<u32, Box<str>>,
    agent_labels: HashMap<u32, Box<str>>,
    /// What changed since [`Population::take_changes`], when tracked.
    changes: Option<PopulationChanges>,
}

/// Keys of the population's parts that changed since they were last taken.
#[derive(Debug, Default)]
struct PopulationChanges {
    surge: bool,
    adoptions: HashSet<u64>,
    op_labels: Vec<u32>,
    agent_labels: Vec<u32>,
}

impl Population {
    /// Counts one event at baseline time `t` toward the population rate.
    pub fn count_event(&mut self, t: u32) {
        let minute = t / 60;
        let s = &mut self.surge;
        if minute > s.minute {
            let current = s.minute;
            let count = s.minute_count as f32;
            s.minute = minute;
            s.minute_count = 1;
            if current != 0 {
                // Gaps of silent minutes count as zero-traffic minutes, capped so a long replay
                // gap does not wipe the history.
                let silent = (minute - current - 1).min(30);
                for _ in 0..silent {
                    s.rate.update(0.0, SURGE_ALPHA, 1.0);
                }
                let usual = s.rate.mean.max(1.0);
                s.factor = if s.rate.n >= SURGE_MIN_MINUTES { count / usual } else { 1.0 };
                // A surge teaches the usual level only slowly.
                let w = if s.factor > 2.0 { 0.1 } else { 1.0 };
                s.rate.update(count, SURGE_ALPHA, w);
            }
            if let Some(c) = &mut self.changes {
                c.surge = true;
            }
            return;
        }
        s.minute_count += 1;
    }

    /// How many times busier than usual the whole population was in the last full minute (at
    /// least 1).
    pub fn surge_factor(&self) -> f32 {
        self.surge.factor.max(1.0)
    }

    /// How many other credentials took up this value recently.
    pub fn adopters(&self, dim: Dim, key: u32, now: u32) -> u32 {
        self.adoptions
            .get(&adoption_key(dim, key))
            .filter(|a| now.saturating_sub(a.window_start) <= ADOPTION_WINDOW_SECS)
            .map_or(0, |a| a.adopters)
    }

    /// Records that a credential took up a value new to it.
    pub fn adopt(&mut self, dim: Dim, key: u32, now: u32) {
        let k = adoption_key(dim, key);
        let full = self.adoptions.len() >= MAX_ADOPTIONS;
        let a = match self.adoptions.get_mut(&k) {
            Some(a) => a,
            None if full => return,
            None => self.adoptions.entry(k).or_default(),
        };
        if now.saturating_sub(a.window_start) > ADOPTION_WINDOW_SECS {
            *a = Adoption { window_start: now, adopters: 0 };
        }
        a.adopters += 1;
        if let Some(c) = &mut self.changes {
            c.adoptions.insert(k);
        }
    }

    /// Drops adoption records older than the window.
    pub fn sweep(&mut self, now: u32) {
        let changes = &mut self.changes;
        self.adoptions.retain(|k, a| {
            let keep = now.saturating_sub(a.window_start) <= ADOPTION_WINDOW_SECS;
            if let (false, Some(c)) = (keep, changes.as_mut()) {
                // Reported as removed by `take_changes`, which finds it gone.
                c.adoptions.insert(*k);
            }
            keep
        });
    }

    /// Remembers the text of an operation key, for evidence.
    pub fn label_op(&mut self, key: u32, text: impl FnOnce() -> String) {
        if Self::label(&mut self.op_labels, key, text) {
            if let Some(c) = &mut self.changes {
                c.op_labels.push(key);
            }
        }
    }

    /// Remembers the text of a user-agent key, for evidence.
    pub fn label_agent(&mut self, key: u32, text: &str) {
        if Self::label(&mut self.agent_labels, key, || text.to_string()) {
            if let Some(c) = &mut self.changes {
                c.agent_labels.push(key);
            }
        }
    }

    /// Inserts a label unless one is held or the map is full; true when inserted.
    fn label(map: &mut HashMap<u32, Box<str>>, key: u32, text: impl FnOnce() -> String) -> bool {
        if map.contains_key(&key) || map.len() >= MAX_LABELS {
            return false;
        }
        let mut t = text();
        if t.len() > 120 {
            let mut cut = 120;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t.truncate(cut);
        }
        map.insert(key, t.into_boxed_str());
        true
    }

    /// The text of an operation key.
    pub fn op_label(&self, key: u32) -> String {
        self.op_labels.get(&key).map_or_else(|| format!("operation #{key:08x}"), |l| l.to_string())
    }

    /// The text of a user-agent key.
    pub fn agent_label(&self, key: u32) -> String {
        self.agent_labels.get(&key).map_or_else(|| format!("client #{key:08x}"), |l| l.to_string())
    }

    /// Starts (or stops) tracking what changes, for [`Population::take_changes`].
    pub(crate) fn track_changes(&mut self, on: bool) {
        self.changes = on.then(PopulationChanges::default);
    }

    /// Every part, for a snapshot.
    pub(crate) fn export(&self, visit: &mut dyn FnMut(Key, Option<Item<'_>>)) {
        visit(Key::Surge, Some(Item::Surge(self.surge)));
        for (&k, a) in &self.adoptions {
            visit(Key::Adoption(k), Some(Item::Adoption(*a)));
        }
        for (&k, l) in &self.op_labels {
            visit(Key::OpLabel(k), Some(Item::OpLabel(l)));
        }
        for (&k, l) in &self.agent_labels {
            visit(Key::AgentLabel(k), Some(Item::AgentLabel(l)));
        }
    }

    /// The parts that changed since the last call (`None`: removed), forgetting them.
    pub(crate) fn take_changes(&mut self, visit: &mut dyn FnMut(Key, Option<Item<'_>>)) {
        let Some(c) = &mut self.changes else { return };
        if std::mem::take(&mut c.surge) {
            visit(Key::Surge, Some(Item::Surge(self.surge)));
        }
        for k in c.adoptions.drain() {
            visit(Key::Adoption(k), self.adoptions.get(&k).map(|a| Item::Adoption(*a)));
        }
        for k in c.op_labels.drain(..) {
            visit(Key::OpLabel(k), self.op_labels.get(&k).map(|l| Item::OpLabel(l)));
        }
        for k in c.agent_labels.drain(..) {
            visit(Key::AgentLabel(k), self.agent_labels.get(&k).map(|l| Item::AgentLabel(l)));
        }
    }

    /// Marks a part changed again (see `Engine::mark_changed`).
    pub(crate) fn mark_changed(&mut self, key: Key) {
        let Some(c) = &mut self.changes else { return };
        match key {
            Key::Surge => c.surge = true,
            Key::Adoption(k) => {
                c.adoptions.insert(k);
            }
            Key::OpLabel(k) => c.op_labels.push(k),
            Key::AgentLabel(k) => c.agent_labels.push(k),
            Key::Baseline(_) | Key::Peer(_) => {}
        }
    }

    /// Applies one restored part (`None`: removed).
    pub(crate) fn restore(&mut self, key: Key, item: Option<Owned>) -> Result<(), Key> {
        match (key, item) {
            (Key::Surge, Some(Owned::Surge(s))) => self.surge = s,
            (Key::Surge, None) => self.surge = Surge::default(),
            (Key::Adoption(k), Some(Owned::Adoption(a))) => {
                self.adoptions.insert(k, a);
            }
            (Key::Adoption(k), None) => {
                self.adoptions.remove(&k);
            }
            (Key::OpLabel(k), Some(Owned::OpLabel(l))) => {
                self.op_labels.insert(k, l);
            }
            (Key::OpLabel(k), None) => {
                self.op_labels.remove(&k);
            }
            (Key::AgentLabel(k), Some(Owned::AgentLabel(l))) => {
                self.agent_labels.insert(k, l);
            }
            (Key::AgentLabel(k), None) => {
                self.agent_labels.remove(&k);
            }
            (key, _) => return Err(key),
        }
        Ok(())
    }

    /// The keys of every part held.
    pub(crate) fn keys(&self) -> Vec<Key> {
        let mut keys = vec![Key::Surge];
        keys.extend(self.adoptions.keys().map(|&k| Key::Adoption(k)));
        keys.extend(self.op_labels.keys().map(|&k| Key::OpLabel(k)));
        keys.extend(self.agent_labels.keys().map(|&k| Key::AgentLabel(k)));
        keys
    }

    /// Adoption records held.
    pub fn adoptions(&self) -> usize {
        self.adoptions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_factor_tracks_population_rate() {
        let mut p = Population::default();
        let mut t = 1_000_000u32;
        for _ in 0..120 {
            for _ in 0..100 {
                p.count_event(t);
            }
            t += 60;
        }
        assert!((p.surge_factor() - 1.0).abs() < 0.2, "{}", p.surge_factor());
        for _ in 0..2 {
            for _ in 0..500 {
                p.count_event(t);
            }
            t += 60;
        }
        p.count_event(t);
        assert!(p.surge_factor() > 3.0, "{}", p.surge_factor());
    }

    #[test]
    fn adoption_counts_within_window() {
        let mut p = Population::default();
        for _ in 0..5 {
            p.adopt(Dim::Op, 42, 1000);
        }
        assert_eq!(p.adopters(Dim::Op, 42, 1000 + 60), 5);
        assert_eq!(p.adopters(Dim::Op, 42, 1000 + ADOPTION_WINDOW_SECS + 1), 0);
        assert_eq!(p.adopters(Dim::Net, 42, 1000), 0);
        p.sweep(1000 + ADOPTION_WINDOW_SECS + 1);
        assert_eq!(p.adopters(Dim::Op, 42, 1000), 0);
    }
}
