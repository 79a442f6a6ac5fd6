//! State shared across credentials: peer-group profiles, population-wide change, and the labels
//! that turn value keys back into words for evidence.
//!
//! A change that many credentials make at once (a new endpoint every client starts calling, a
//! deploy that moves a whole service to new addresses, a traffic surge on everything) is not an
//! anomaly of any one of them. This module measures such change so scoring can discount it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Copy, Debug, Default)]
struct Adoption {
    window_start: u32,
    adopters: u32,
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
}

/// Events pooled before a peer profile may stand in for an immature member's own baseline.
pub const PEER_MIN_EVENTS: u32 = 300;

impl PeerProfile {
    /// Whether the profile has enough behind it to judge a newcomer.
    pub fn is_mature(&self) -> bool {
        self.events >= PEER_MIN_EVENTS && self.members.estimate() >= 2.0
    }
}

/// Population-wide state.
#[derive(Debug, Default)]
pub struct Population {
    minute: AtomicU32,
    minute_count: AtomicU32,
    /// Current surge factor (f32 bits): last full minute's count over its usual level.
    surge: AtomicU32,
    rate: Mutex<EwStats>,
    adoptions: DashMap<u64, Adoption>,
    op_labels: DashMap<u32, Box<str>>,
    agent_labels: DashMap<u32, Box<str>>,
}

impl Population {
    /// Counts one event at baseline time `t` toward the population rate. Lock-free except once a
    /// minute.
    pub fn count_event(&self, t: u32) {
        let minute = t / 60;
        let current = self.minute.load(Ordering::Relaxed);
        if minute > current
            && self.minute.compare_exchange(current, minute, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            let count = self.minute_count.swap(1, Ordering::AcqRel) as f32;
            if current != 0 {
                if let Ok(mut rate) = self.rate.lock() {
                    // Gaps of silent minutes count as zero-traffic minutes, capped so a long
                    // replay gap does not wipe the history.
                    let silent = (minute - current - 1).min(30);
                    for _ in 0..silent {
                        rate.update(0.0, SURGE_ALPHA, 1.0);
                    }
                    let usual = rate.mean.max(1.0);
                    let factor = if rate.n >= SURGE_MIN_MINUTES { count / usual } else { 1.0 };
                    self.surge.store(factor.to_bits(), Ordering::Relaxed);
                    // A surge teaches the usual level only slowly.
                    let w = if factor > 2.0 { 0.1 } else { 1.0 };
                    rate.update(count, SURGE_ALPHA, w);
                }
            }
            return;
        }
        self.minute_count.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times busier than usual the whole population was in the last full minute (at
    /// least 1).
    pub fn surge_factor(&self) -> f32 {
        f32::from_bits(self.surge.load(Ordering::Relaxed)).max(1.0)
    }

    /// How many other credentials took up this value recently.
    pub fn adopters(&self, dim: Dim, key: u32, now: u32) -> u32 {
        self.adoptions
            .get(&adoption_key(dim, key))
            .filter(|a| now.saturating_sub(a.window_start) <= ADOPTION_WINDOW_SECS)
            .map_or(0, |a| a.adopters)
    }

    /// Records that a credential took up a value new to it.
    pub fn adopt(&self, dim: Dim, key: u32, now: u32) {
        let k = adoption_key(dim, key);
        let mut a = match self.adoptions.get_mut(&k) {
            Some(a) => a,
            // `len` locks every shard of the map in turn: asked only for a value not yet held.
            None if self.adoptions.len() >= MAX_ADOPTIONS => return,
            None => self.adoptions.entry(k).or_default(),
        };
        if now.saturating_sub(a.window_start) > ADOPTION_WINDOW_SECS {
            *a = Adoption { window_start: now, adopters: 0 };
        }
        a.adopters += 1;
    }

    /// Drops adoption records older than the window.
    pub fn sweep(&self, now: u32) {
        self.adoptions.retain(|_, a| now.saturating_sub(a.window_start) <= ADOPTION_WINDOW_SECS);
    }

    /// Remembers the text of an operation key, for evidence.
    pub fn label_op(&self, key: u32, text: impl FnOnce() -> String) {
        Self::label(&self.op_labels, key, text);
    }

    /// Remembers the text of a user-agent key, for evidence.
    pub fn label_agent(&self, key: u32, text: &str) {
        Self::label(&self.agent_labels, key, || text.to_string());
    }

    fn label(map: &DashMap<u32, Box<str>>, key: u32, text: impl FnOnce() -> String) {
        if !map.contains_key(&key) && map.len() < MAX_LABELS {
            let mut t = text();
            if t.len() > 120 {
                let mut cut = 120;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.truncate(cut);
            }
            map.insert(key, t.into_boxed_str());
        }
    }

    /// The text of an operation key.
    pub fn op_label(&self, key: u32) -> String {
        self.op_labels.get(&key).map_or_else(|| format!("operation #{key:08x}"), |l| l.to_string())
    }

    /// The text of a user-agent key.
    pub fn agent_label(&self, key: u32) -> String {
        self.agent_labels.get(&key).map_or_else(|| format!("client #{key:08x}"), |l| l.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_factor_tracks_population_rate() {
        let p = Population::default();
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
        let p = Population::default();
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
