//! Attempts without a valid credential, by source network: key sprays and credential stuffing.
//!
//! A request the service rejected as nobody's (HTTP 401 with a key it does not know, a malformed
//! key, no key at all) has no credential to keep a baseline for: [`Engine`](crate::Engine) hands
//! it here instead, keyed by its source network (IPv4 /24, IPv6 /64, as the origin detectors
//! count networks). Per network and per window of [`WINDOW_MS`] this counts the distinct key
//! pseudonyms rejected (never a raw key: the decoder already replaced it), the attempts with no
//! key, and the successful requests of valid credentials from the same network. Many distinct
//! rejected keys and few successes is a spray of guessed or leaked keys; a gateway in front of
//! many honest users who now and then mistype (a NAT) has many successes; a client retrying with
//! one old key has one key.
//!
//! Each network has its own baseline: the decayed mean of distinct rejected keys in its past
//! windows, learned only from windows that did not alert (so a sprayer cannot teach its own
//! network that sprays are usual); a network alerts at [`USUAL_FACTOR`] times its usual level,
//! never below [`MIN_DISTINCT_KEYS`], and always from [`HIGH_DISTINCT_KEYS`]. A network without
//! an hour of such history alerts only when nearly all its requests fail; one with it alerts on
//! its usual level alone, so a spray from behind a NAT that honest users share is still seen once
//! it clearly exceeds the NAT's own mistakes (a slower one is not: it looks like them).
//!
//! State is per task, in memory only (not in snapshots or changelogs): a restart forgets at most
//! one window of counts and the networks' usual levels, which are relearned within hours. At most
//! [`DEFAULT_MAX_NETWORKS`] networks are held; beyond it the least recently seen go first
//! ([`Sprays::take_evicted`] counts them), so a flood of distinct source addresses costs bounded
//! memory.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use credence_event::{CredentialKind, Event, Outcome, Pseudonym};

use crate::attack::{Attack, Tactic};
use crate::baseline::CredentialState;
use crate::keys::KeySpace;
use crate::verdict::{Detector, NetworkSubject, Severity, Signal, Verdict};

/// Length of a counting window: 10 minutes. A scripted spray tries tens to thousands of keys a
/// minute, so even a slow one (one key a minute) reaches [`MIN_DISTINCT_KEYS`] within it; a person
/// mistyping tries one to three keys in a few minutes and then gets it right or gives up.
pub const WINDOW_MS: i64 = 600_000;
/// Fewest distinct rejected keys in a window that can alert: 10. Below it the ordinary mistakes
/// of a shared network (a typo, a key pasted with a trailing character, a rotated key still in a
/// config) are too many to page on; ten different wrong keys from one network in ten minutes is
/// not what people do by hand.
pub const MIN_DISTINCT_KEYS: u32 = 10;
/// Distinct rejected keys in a window that alert whatever the network's own history (and raise
/// High): 50, a list being worked through, not typos. It also bounds how far a slow sprayer can
/// raise its network's usual level.
pub const HIGH_DISTINCT_KEYS: u32 = 50;
/// Most of a window's requests that may have succeeded for it to count as a spray: 20 %. A spray
/// is nearly all failures; a NAT gateway in front of many honest users is nearly all successes
/// (one mistyped key among hundreds of valid requests), so a fifth separates them by a wide margin
/// either way.
pub const MAX_SUCCESS_SHARE: f32 = 0.2;
/// How far above its usual level a network's distinct rejected keys must be to alert: 3 times,
/// the margin the other rate detectors use for a busy caller's ordinary swings.
pub const USUAL_FACTOR: f32 = 3.0;
/// Windows a network must have failed in (without alerting) before its usual level alone
/// decides: 6, an hour's worth of its own mistakes. Until then a window alerts only when nearly
/// all its requests failed ([`MAX_SUCCESS_SHARE`]); after, a network many honest users share
/// (whose successes would hide anything) alerts on distinct rejected keys far above its own usual.
const MIN_USUAL_WINDOWS: u32 = 6;
/// Weight of a new window in a network's usual level: 0.1, about its last ten active windows,
/// so a network's usual is its recent habit, and one odd window moves it little.
const USUAL_WEIGHT: f32 = 0.1;
/// Distinct key pseudonyms remembered per network and window: [`HIGH_DISTINCT_KEYS`] plus room;
/// counting stops there (shown as "at least"), as no threshold lies above it. 64 × 4 bytes.
const MAX_KEYS_TRACKED: usize = 64;
/// Most networks held per task: 16,384, about 5 MiB at about 300 bytes each. A spray comes from
/// a handful of networks; the ones that fail now and then are many more but each is small.
pub const DEFAULT_MAX_NETWORKS: usize = 16_384;
/// Fraction of the store evicted at once when full (1 %), so eviction scans are rare.
const EVICT_FRACTION: usize = 100;
/// A network unseen this long is dropped by the sweep: 7 days, long enough to keep the usual
/// level of a network that fails now and then during a working week.
const IDLE_MS: i64 = 7 * 86_400_000;
/// Confidence (0–100) at [`MIN_DISTINCT_KEYS`]: 70, as the catalogue's day-one signals; rising
/// to 95 at [`HIGH_DISTINCT_KEYS`], where no honest explanation is left.
const BASE_CONFIDENCE: f32 = 70.0;

/// A source network: an IPv4 /24 or an IPv6 /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    /// The address with its host part cleared (IPv4 in the low 32 bits).
    prefix: u128,
    v6: bool,
}

impl Network {
    /// The network of an address.
    pub fn of(ip: IpAddr) -> Network {
        match ip {
            IpAddr::V4(v4) => Network { prefix: u128::from(u32::from(v4) & 0xffff_ff00), v6: false },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Network::of(IpAddr::V4(v4)),
                None => Network { prefix: u128::from(v6) & !u128::from(u64::MAX), v6: true },
            },
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(f, "{}/64", std::net::Ipv6Addr::from(self.prefix))
        } else {
            write!(f, "{}/24", std::net::Ipv4Addr::from(self.prefix as u32))
        }
    }
}

/// One network's counts in the current window and its usual level.
#[derive(Clone, Debug)]
struct NetState {
    window_start: i64,
    last_ms: i64,
    /// Attempts without a valid credential in the window.
    failures: u32,
    /// Of them, attempts that presented no key at all.
    no_key: u32,
    /// Successful requests of valid credentials from the network in the window.
    successes: u32,
    /// Distinct rejected key pseudonyms (folded to 32 bits) in the window, up to
    /// [`MAX_KEYS_TRACKED`].
    keys: Vec<u32>,
    /// The severity already raised in this window.
    raised: Option<Severity>,
    /// Decayed mean of distinct rejected keys per active window that did not alert.
    usual: f32,
    /// Windows learned into `usual`.
    windows: u32,
}

impl NetState {
    fn new(t: i64) -> NetState {
        NetState {
            window_start: t,
            last_ms: t,
            failures: 0,
            no_key: 0,
            successes: 0,
            keys: Vec::new(),
            raised: None,
            usual: 0.0,
            windows: 0,
        }
    }

    /// Starts a new window at `t` if the current one is over, learning the closed one.
    fn roll(&mut self, t: i64) {
        if t.saturating_sub(self.window_start) < WINDOW_MS {
            return;
        }
        if self.failures > 0 && self.raised.is_none() {
            let d = self.keys.len() as f32;
            self.usual = if self.windows == 0 { d } else { self.usual + USUAL_WEIGHT * (d - self.usual) };
            self.windows = self.windows.saturating_add(1);
        }
        self.window_start = t;
        self.failures = 0;
        self.no_key = 0;
        self.successes = 0;
        self.keys.clear();
        self.raised = None;
    }

    /// Distinct rejected keys that alert this network now.
    fn threshold(&self) -> u32 {
        let own = (USUAL_FACTOR * self.usual).ceil() as u32;
        own.clamp(MIN_DISTINCT_KEYS, HIGH_DISTINCT_KEYS)
    }
}

/// What an attempt is evidence of, and which key it presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKey {
    /// A key the service did not accept and nobody here holds a baseline for (its pseudonym).
    Unknown(Pseudonym),
    /// No key at all (a missing token).
    Missing,
}

/// The networks seen failing authentication in one task. Plain map behind `&mut`.
#[derive(Debug)]
pub struct Sprays {
    nets: HashMap<Network, NetState>,
    max: usize,
    evicted: u64,
}

impl Default for Sprays {
    fn default() -> Sprays {
        Sprays { nets: HashMap::new(), max: DEFAULT_MAX_NETWORKS, evicted: 0 }
    }
}

/// Whether an event is an attempt without a valid credential, given whether its subject is a
/// credential the engine knows: a rejected credential (HTTP 401, invalid key or signature) that
/// is either absent or unknown here. A known credential that fails is that credential's own
/// business (a revoked key still in use, a client with a stale secret), judged by its baseline.
pub fn is_attempt(event: &Event<'_>, known: bool) -> Option<AttemptKey> {
    if event.outcome != Outcome::AuthFailed {
        return None;
    }
    match event.credential_kind {
        CredentialKind::Missing => Some(AttemptKey::Missing),
        _ if known => None,
        _ => Some(AttemptKey::Unknown(event.credential)),
    }
}

impl Sprays {
    /// Networks held.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Networks evicted for room since the last call, reset.
    pub fn take_evicted(&mut self) -> u64 {
        std::mem::take(&mut self.evicted)
    }

    /// Sets the most networks held.
    pub fn set_max_networks(&mut self, max: usize) {
        self.max = max.max(1);
    }

    /// Counts a request of a valid credential: a success from a network that is being watched
    /// (it has failed recently) counts against a spray. Nothing is created for other networks,
    /// so the usual path costs one lookup only while some network is watched.
    pub fn note(&mut self, event: &Event<'_>) {
        if self.nets.is_empty() || event.outcome != Outcome::Success {
            return;
        }
        let Some(ip) = event.origin.ip else { return };
        if let Some(n) = self.nets.get_mut(&Network::of(ip)) {
            n.roll(event.time_ms);
            n.last_ms = n.last_ms.max(event.time_ms);
            n.successes = n.successes.saturating_add(1);
        }
    }

    /// Counts an attempt without a valid credential; returns the verdict, an alert when its
    /// network's window crosses a threshold (once per severity and window), else a quiet one.
    /// An attempt with no IP address cannot be placed in a network and is only counted by the
    /// caller.
    pub fn attempt(&mut self, event: &Event<'_>, key: AttemptKey, keys: &KeySpace) -> Verdict {
        let quiet = Verdict { state: CredentialState::New, ..Verdict::default() };
        let Some(ip) = event.origin.ip else { return quiet };
        let net = Network::of(ip);
        let t = event.time_ms;
        if !self.nets.contains_key(&net) {
            self.make_room();
        }
        let n = self.nets.entry(net).or_insert_with(|| NetState::new(t));
        n.roll(t);
        n.last_ms = n.last_ms.max(t);
        n.failures = n.failures.saturating_add(1);
        match key {
            AttemptKey::Missing => n.no_key = n.no_key.saturating_add(1),
            AttemptKey::Unknown(p) => {
                let folded = (p.as_u128() as u32) ^ ((p.as_u128() >> 64) as u32) | 1;
                if n.keys.len() < MAX_KEYS_TRACKED && !n.keys.contains(&folded) {
                    n.keys.push(folded);
                }
            }
        }
        let distinct = n.keys.len() as u32;
        let threshold = n.threshold();
        let total = n.failures.saturating_add(n.successes) as f32;
        let success_share = n.successes as f32 / total.max(1.0);
        let mostly_failing = success_share <= MAX_SUCCESS_SHARE;
        if distinct < threshold || !(mostly_failing || n.windows >= MIN_USUAL_WINDOWS) {
            return quiet;
        }
        let severity = if distinct >= HIGH_DISTINCT_KEYS { Severity::High } else { Severity::Medium };
        if n.raised.is_some_and(|r| r >= severity) {
            return quiet;
        }
        n.raised = Some(severity);
        let (observed, baseline) = evidence(net, n, t, threshold);
        let attack = if n.successes > 0 && mostly_failing {
            // A few requests from the network succeed among the rejected keys: keys from a list,
            // some of which work. (On a network mostly succeeding, the successes are its honest
            // users'.)
            Attack::new(Tactic::CredentialAccess, "T1110.004", "Brute Force: Credential Stuffing")
        } else {
            Attack::new(Tactic::CredentialAccess, "T1110", "Brute Force")
        };
        let span = (distinct.min(HIGH_DISTINCT_KEYS) - MIN_DISTINCT_KEYS.min(distinct)) as f32;
        let confidence = BASE_CONFIDENCE + 25.0 * span / (HIGH_DISTINCT_KEYS - MIN_DISTINCT_KEYS) as f32;
        let score = severity.typical_score();
        let signal = Signal::new(Detector::KeySpray, score, observed, baseline).with_attack(attack);
        Verdict {
            score,
            confidence: confidence.round() as u8,
            severity: Some(severity),
            signals: vec![signal],
            state: CredentialState::New,
            network: Some(NetworkSubject { subject: keys.network_subject(&net.to_string()), label: net.to_string() }),
        }
    }

    /// Drops networks unseen for 7 days as of `now_ms`.
    pub fn sweep(&mut self, now_ms: i64) {
        self.nets.retain(|_, n| now_ms.saturating_sub(n.last_ms) < IDLE_MS);
    }

    /// When full, evicts a percent of the networks, least recently seen first.
    fn make_room(&mut self) {
        if self.nets.len() < self.max {
            return;
        }
        let mut seen: Vec<(i64, Network)> = self.nets.iter().map(|(k, n)| (n.last_ms, *k)).collect();
        let n = (self.max / EVICT_FRACTION).max(1);
        seen.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        for (_, k) in &seen[..n] {
            self.nets.remove(k);
        }
        self.evicted += n as u64;
    }
}

/// The observed and baseline text of a spray signal: counts only, never a key.
fn evidence(net: Network, n: &NetState, t: i64, threshold: u32) -> (String, String) {
    let distinct = n.keys.len();
    let at_least = if distinct >= MAX_KEYS_TRACKED { "at least " } else { "" };
    let mins = (t.saturating_sub(n.window_start) as f64 / 60_000.0).max(0.0);
    let observed = format!(
        "{at_least}{distinct} distinct rejected keys from {net} in {mins:.1} min: {} failed attempts ({} with no key), {} successful requests from the network",
        n.failures, n.no_key, n.successes
    );
    let usual = if n.windows == 0 {
        "no earlier failures from this network".to_string()
    } else {
        format!(
            "usually {:.1} distinct rejected keys per {}-min window (over {} windows)",
            n.usual,
            WINDOW_MS / 60_000,
            n.windows
        )
    };
    let baseline = format!(
        "{usual}; alerts at {threshold} in {} min with at most {:.0}% successes",
        WINDOW_MS / 60_000,
        MAX_SUCCESS_SHARE * 100.0
    );
    (observed, baseline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::Pseudonymizer;

    const T0: i64 = 1_772_409_600_000;

    fn keys() -> KeySpace {
        KeySpace::new([7; 16])
    }

    fn attempt_event(t: i64, ip: &str, key: &str, p: &Pseudonymizer) -> Event<'static> {
        let mut e = Event::new(t, p.credential(key), "GET /v1/orders");
        e.outcome = Outcome::AuthFailed;
        e.credential_kind = CredentialKind::ApiKey;
        e.origin.ip = Some(ip.parse().unwrap());
        e
    }

    fn success(t: i64, ip: &str, p: &Pseudonymizer) -> Event<'static> {
        let mut e = Event::new(t, p.credential("good"), "GET /v1/orders");
        e.origin.ip = Some(ip.parse().unwrap());
        e
    }

    /// Runs `n` attempts with distinct keys from `ip`, a second apart; returns the alerts.
    fn spray(s: &mut Sprays, t0: i64, ip: &str, n: usize) -> Vec<Verdict> {
        let p = Pseudonymizer::insecure_demo();
        let mut alerts = Vec::new();
        for i in 0..n {
            let e = attempt_event(t0 + i as i64 * 1000, ip, &format!("guess-{i}"), &p);
            let v = s.attempt(&e, is_attempt(&e, false).unwrap(), &keys());
            if v.is_alert() {
                alerts.push(v);
            }
        }
        alerts
    }

    #[test]
    fn a_spray_alerts_once_per_severity_naming_its_network_and_no_key() {
        let mut s = Sprays::default();
        let alerts = spray(&mut s, T0, "203.0.113.9", 120);
        let sev: Vec<_> = alerts.iter().map(|v| v.severity.unwrap()).collect();
        assert_eq!(sev, vec![Severity::Medium, Severity::High]);
        let v = &alerts[0];
        let n = v.network.as_ref().unwrap();
        assert_eq!(n.label, "203.0.113.0/24");
        let sig = &v.signals[0];
        assert_eq!(sig.detector, Detector::KeySpray);
        assert_eq!(sig.attack.as_ref().unwrap().technique, "T1110");
        assert!(sig.observed.starts_with("10 distinct rejected keys from 203.0.113.0/24"), "{}", sig.observed);
        assert!(!sig.observed.contains("guess-"));
        assert!(alerts[1].confidence > v.confidence);
    }

    #[test]
    fn a_nat_gateway_with_many_honest_users_and_some_typos_is_quiet() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sprays::default();
        for i in 0..600 {
            let t = T0 + i * 1000;
            // 30 distinct mistyped keys in 10 minutes among 570 good requests.
            let e = if i % 20 == 0 {
                attempt_event(t, "198.51.100.7", &format!("typo-{i}"), &p)
            } else {
                success(t, "198.51.100.8", &p)
            };
            let v = match is_attempt(&e, false) {
                Some(k) if e.outcome == Outcome::AuthFailed => s.attempt(&e, k, &keys()),
                _ => {
                    s.note(&e);
                    Verdict::default()
                }
            };
            assert!(!v.is_alert(), "at {i}: {:?}", v.signals);
        }
    }

    #[test]
    fn one_old_key_retried_is_not_a_spray_and_known_keys_are_not_attempts() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sprays::default();
        for i in 0..500 {
            let e = attempt_event(T0 + i * 1000, "192.0.2.1", "old-key", &p);
            assert!(!s.attempt(&e, is_attempt(&e, false).unwrap(), &keys()).is_alert());
        }
        let e = attempt_event(T0, "192.0.2.1", "held", &p);
        assert_eq!(is_attempt(&e, true), None);
        let mut missing = e.clone();
        missing.credential_kind = CredentialKind::Missing;
        assert_eq!(is_attempt(&missing, true), Some(AttemptKey::Missing));
    }

    #[test]
    fn successes_among_a_spray_map_to_stuffing() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sprays::default();
        s.attempt(&attempt_event(T0, "203.0.113.1", "k", &p), AttemptKey::Missing, &keys());
        s.note(&success(T0 + 1, "203.0.113.2", &p));
        let alerts = spray(&mut s, T0 + 2, "203.0.113.3", 12);
        assert_eq!(alerts[0].signals[0].attack.as_ref().unwrap().technique, "T1110.004");
    }

    #[test]
    fn a_network_that_usually_fails_more_needs_more_and_never_learns_a_spray() {
        let mut s = Sprays::default();
        // A day of windows with 6 distinct rejected keys each (a busy shared network).
        for w in 0..144 {
            assert!(spray(&mut s, T0 + w * WINDOW_MS, "10.1.2.3", 6).is_empty());
        }
        // Its threshold is now 18: 12 keys do not alert, 20 do.
        let t = T0 + 144 * WINDOW_MS;
        assert!(spray(&mut s, t, "10.1.2.3", 12).is_empty());
        assert_eq!(spray(&mut s, t + WINDOW_MS, "10.1.2.3", 20).len(), 1);
        // The alerting window was not learned.
        let n = s.nets.get(&Network::of("10.1.2.3".parse().unwrap())).unwrap();
        assert!(n.usual < 7.0, "{}", n.usual);
    }

    #[test]
    fn a_flood_of_networks_is_bounded_and_counted() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sprays::default();
        s.set_max_networks(1000);
        for i in 0..5000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 | (i << 8));
            let e = attempt_event(T0 + i64::from(i), &ip.to_string(), "x", &p);
            s.attempt(&e, AttemptKey::Missing, &keys());
        }
        assert!(s.len() <= 1000);
        assert_eq!(s.take_evicted() as usize + s.len(), 5000);
        s.sweep(T0 + IDLE_MS + 10_000);
        assert!(s.is_empty());
    }

    #[test]
    fn networks_print_as_prefixes() {
        assert_eq!(Network::of("2001:db8:1:2:3::4".parse().unwrap()).to_string(), "2001:db8:1:2::/64");
        assert_eq!(Network::of("::ffff:192.0.2.77".parse().unwrap()).to_string(), "192.0.2.0/24");
    }
}
