//! The per-credential baseline: what is normal for one subject, in a fixed few hundred bytes.
//!
//! Scoring reads a [`Baseline`] (see `score.rs`); learning ([`Baseline::learn`]) is a separate step
//! with its own weight, so analyst feedback can later decide which events may teach it.
//! `Baseline` is serde-serialisable; [`SNAPSHOT_VERSION`] versions its layout for snapshots.

use credence_event::{Event, GeoPoint, Outcome};
use serde::{Deserialize, Serialize};

use crate::config::DetectConfig;
use crate::keys::{self, KeySpace};
use crate::stats::{decay, DistinctBits, EwStats, FreqTable, Half};

/// Format version of saved state (snapshots and changelog records, `credence-state`): bump it on
/// any change to the serialised fields of [`Baseline`] or of any other saved part (peer profiles,
/// the population, open findings, the clock), and migrate or refuse the older version there. 5 is
/// the first version written; `tests/data/state` keeps a snapshot of each version. 6 added a
/// finding's context (operations, resources, account, region, key hint) at its end; 7 the
/// baseline's hour-scale counts, cadence of silences and weak-signal memory (issue 19).
pub const SNAPSHOT_VERSION: u16 = 7;

/// Seconds since 2000-01-01T00:00:00Z: the compact clock baselines store (u32 lasts to 2136).
pub const EPOCH_BASE_SECS: i64 = 946_684_800;

/// Converts epoch milliseconds to the baseline clock (at least 1, so 0 can mean "never").
pub fn to_secs(time_ms: i64) -> u32 {
    (time_ms.div_euclid(1000) - EPOCH_BASE_SECS).clamp(1, i64::from(u32::MAX)) as u32
}

/// Converts the baseline clock back to epoch milliseconds.
pub fn to_ms(secs: u32) -> i64 {
    (i64::from(secs) + EPOCH_BASE_SECS) * 1000
}

/// Smoothing of per-minute request counts (over active minutes): about 100 minutes of memory.
const RATE_ALPHA: f32 = 0.01;
/// Smoothing of per-event volume: about 500 events of memory.
const VOLUME_ALPHA: f32 = 0.002;
/// Smoothing of an operation's typical response size: about 20 responses of memory.
const OP_VOLUME_ALPHA: f32 = 0.05;
/// Largest move of an operation's typical size per response, ln(1 + bytes) in thousandths (1%
/// of a size): a changed size is learned within about a hundred responses, not twenty.
const OP_VOLUME_STEP: f32 = 10.0;
/// A response this much larger than its operation's usual size, ln(1 + bytes) above the
/// credential's usual excess, is *inflated*: ln 2.5.
pub const INFLATED_LN: f32 = 0.916_290_7;
/// Share of inflated responses assumed at least, whatever the history shows.
const INFLATED_SHARE_FLOOR: f32 = 0.01;
/// Half-life of the largest run of inflated responses remembered: a week.
pub const INFLATED_PEAK_HALF_LIFE_SECS: u32 = 7 * 86_400;
/// How far behind the subject's latest event an event may be and still count as in order, seconds.
/// Later than that (a partition behind the others while a backlog is caught up, a CloudTrail
/// delivery file arriving late) it is scored and learned only where order does not matter: it
/// neither joins nor breaks the windows, the rate, the travel and concurrency tracking, which are
/// about the present.
pub const LATE_AFTER_SECS: u32 = 300;
/// The hour-scale count's half-life: an hour, the window the sparse credentials are
/// judged over (a credential making a few calls an hour has too few in ten minutes to judge).
pub const HOUR_SECS: u32 = 3_600;
/// Half-life of a credential's busiest hour remembered: a week, so the busy hours of its usual
/// week (a Monday batch, a month-end export a few weeks back at a quarter of its weight) count.
pub const HOUR_PEAK_HALF_LIFE_SECS: u32 = 7 * 86_400;
/// A silence of at least this long counts towards the credential's cadence: shorter pauses are
/// within one working session.
pub const GAP_MIN_SECS: u32 = 3_600;
/// Each new silence multiplies the remembered longest one by this first: about the last thirty
/// silences count (0.97^30 = 0.4), a month of a daily key's nights and weekends.
const GAP_PEAK_DECAY: f32 = 0.97;
/// Silences the longest one is effectively taken over (the memory of [`GAP_PEAK_DECAY`]).
const GAP_MEMORY: f32 = 33.0;
/// ln(1/p) for the chance p = 1/300 that a silence this long is routine: if a credential's
/// silences were exponential with mean m, the longest of n is about m ln(n + 1), and one longer
/// than m ln(1/p) comes once in 1/p silences. 300 silences is about a year of a daily key's.
const DORMANT_LN_ODDS: f32 = 5.70;
/// Weak signals within this long of each other corroborate one another: an hour, one working
/// session (the finding window too).
pub const CORROBORATION_SECS: u32 = 3_600;

/// Smoothing of per-window aggregates: about 50 windows of memory.
const WINDOW_ALPHA: f32 = 0.02;

/// Smoothing of the jump rate: about 200 located events of memory.
const JUMP_ALPHA: f32 = 0.005;

/// Whether moving `km` in `secs` is faster than any journey (with a floor on distance, since IP
/// geolocation is coarse, and on time, since clocks are).
pub fn is_jump(km: f64, secs: u32, cfg: &DetectConfig) -> bool {
    let hours = f64::from(secs.max(60)) / 3600.0;
    km >= f64::from(cfg.min_travel_km) && km / hours > f64::from(cfg.max_travel_kmh)
}

/// A credential's lifecycle state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// Just seen (or announced as created): too little history to judge by itself.
    #[default]
    New,
    /// Building its baseline.
    Learning,
    /// Enough history that its own baseline is trusted.
    Established,
    /// Idle beyond the dormancy threshold (known at its next use or by the sweeper).
    Dormant,
    /// Revoked: every use is a ghost-credential alert.
    Revoked,
    /// Expired: a successful use means enforcement failed.
    Expired,
    /// Rotated: the old value should fall out of use after a grace period.
    Rotated,
}

impl CredentialState {
    /// Every state, for metrics.
    pub const ALL: [CredentialState; 7] = [
        CredentialState::New,
        CredentialState::Learning,
        CredentialState::Established,
        CredentialState::Dormant,
        CredentialState::Revoked,
        CredentialState::Expired,
        CredentialState::Rotated,
    ];

    /// Name, for labels and text.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialState::New => "new",
            CredentialState::Learning => "learning",
            CredentialState::Established => "established",
            CredentialState::Dormant => "dormant",
            CredentialState::Revoked => "revoked",
            CredentialState::Expired => "expired",
            CredentialState::Rotated => "rotated",
        }
    }

    /// Terminal states set by lifecycle records, not by behaviour.
    pub fn is_retired(self) -> bool {
        matches!(self, CredentialState::Revoked | CredentialState::Expired | CredentialState::Rotated)
    }
}

/// One event reduced to the keys and numbers the baseline works with. Built once per event.
#[derive(Clone, Debug)]
pub struct Observation<'e> {
    /// The event itself, for evidence text.
    pub event: &'e Event<'e>,
    /// Baseline clock.
    pub t: u32,
    /// Hour of the week, 0 = Monday 00:00 UTC.
    pub hour_of_week: u8,
    /// Operation key.
    pub op: u32,
    /// Network key (/24 or /64), or a hashed host name when the source is not an IP.
    pub net: Option<u32>,
    /// ASN key.
    pub asn: Option<u32>,
    /// Country key.
    pub country: Option<u32>,
    /// User-agent key.
    pub agent: Option<u32>,
    /// Resource key.
    pub resource: Option<u32>,
    /// Peer-group key.
    pub peer: Option<u64>,
    /// The coarsest origin identity available, for concurrent-use tracking.
    pub origin: Option<u32>,
    /// ln(1 + response bytes), when the response size is logged.
    pub ln_bytes: Option<f32>,
}

impl<'e> Observation<'e> {
    /// Reduces an event.
    pub fn new(event: &'e Event<'e>, keys: &KeySpace) -> Observation<'e> {
        let t = to_secs(event.time_ms);
        // 2000-01-01 was a Saturday: shift so that 0 is Monday 00:00.
        let hour_of_week = (((u64::from(t) / 3600) + 5 * 24) % 168) as u8;
        let o = &event.origin;
        let net = match (o.ip, o.host.as_deref()) {
            (Some(ip), _) => Some(keys::network(ip)),
            (None, Some(h)) => Some(keys.host(h)),
            (None, None) => None,
        };
        let asn = o.asn.map(keys::asn);
        let country = o.country.map(keys::country);
        Observation {
            event,
            t,
            hour_of_week,
            op: keys.operation(event.service.as_deref(), &event.operation),
            net,
            asn,
            country,
            agent: event.user_agent.as_deref().map(|u| keys.user_agent(u)),
            resource: event.resource.as_deref().map(|r| keys.resource(r)),
            peer: event.peer_group.as_deref().or(event.principal.as_deref()).map(|g| keys.peer(g)),
            origin: country.or(asn).or(net),
            ln_bytes: event.bytes_out.map(|b| (b as f32).ln_1p()),
        }
    }
}

/// Hour-of-week activity counts, halved whenever one saturates (which is also how they decay).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HourProfile {
    #[serde(with = "crate::stats::serde_arrays")]
    counts: [u8; 168],
    /// Sum of `counts` (at most 168 x 255, so 16 bits).
    total: u16,
}

impl Default for HourProfile {
    fn default() -> Self {
        HourProfile { counts: [0; 168], total: 0 }
    }
}

impl HourProfile {
    /// Activity in hour `h` relative to a uniform week (1.0 = average), smoothed over neighbours.
    pub fn relative(&self, h: u8) -> f32 {
        let c = |i: i32| f32::from(self.counts[(i.rem_euclid(168)) as usize]);
        let h = i32::from(h);
        let smoothed = c(h) + 0.5 * (c(h - 1) + c(h + 1));
        let p = (smoothed + 0.1) / (2.0 * self.total as f32 + 33.6);
        p * 168.0
    }

    /// Activity in the hour of day of `h` (any weekday) relative to an average hour.
    pub fn relative_hour_of_day(&self, h: u8) -> f32 {
        let hod = i32::from(h % 24);
        let c = |hour: i32| -> f32 {
            (0..7).map(|d| f32::from(self.counts[(d * 24 + hour.rem_euclid(24)) as usize])).sum()
        };
        let smoothed = c(hod) + 0.5 * (c(hod - 1) + c(hod + 1));
        let p = (smoothed + 0.1) / (2.0 * self.total as f32 + 4.8);
        p * 24.0
    }

    /// The raw counts per hour of the week (0 = Monday 00:00 UTC), halved whenever one saturates.
    pub fn counts(&self) -> &[u8; 168] {
        &self.counts
    }

    /// Total weight behind the profile.
    pub fn total(&self) -> u32 {
        u32::from(self.total)
    }

    fn learn(&mut self, h: u8) {
        let i = usize::from(h) % 168;
        if self.counts[i] == u8::MAX {
            for c in &mut self.counts {
                *c /= 2;
            }
            self.total = self.counts.iter().map(|&c| u16::from(c)).sum();
        }
        self.counts[i] += 1;
        self.total += 1;
    }
}

/// A tumbling window's running totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Window start, baseline clock (0 = none open).
    pub start: u32,
    /// Events in the window.
    pub events: u32,
    /// Response bytes in the window (an `f32` holds a window's total to within a byte in 16 MB,
    /// far finer than any threshold, in half the room).
    pub bytes: f32,
    /// Events with a size.
    pub sized: u32,
    /// Access failures (denied, rejected, expired).
    pub failures: u32,
    /// Expired or rejected credential failures.
    pub auth_failures: u32,
    /// Events in the window just before this one, when it ended where this one began (within a
    /// tenth of a window; 0 otherwise): a burst that straddles the boundary is still one burst
    /// ([`Window::sliding_events`]).
    pub previous: u32,
    /// Distinct operations.
    pub ops: DistinctBits,
    /// Distinct resources.
    pub resources: DistinctBits,
    /// Distinct operations among failures.
    pub failed_ops: DistinctBits,
    /// Distinct resources among failures.
    pub failed_resources: DistinctBits,
    /// Distinct operations that were new to the credential and its peers when they came (each
    /// is new once).
    pub unfamiliar_ops: u16,
}

impl Window {
    /// Whether `t` falls inside the window that started at `start` and lasts `len` seconds.
    pub fn contains(&self, t: u32, len: u32) -> bool {
        self.start != 0 && t >= self.start && t < self.start.saturating_add(len)
    }

    /// Events in the `len` seconds up to `t` (which falls inside this window), counting the
    /// previous window's in proportion to the part of it those seconds cover.
    pub fn sliding_events(&self, t: u32, len: u32) -> f32 {
        let elapsed = t.saturating_sub(self.start) as f32 / len.max(1) as f32;
        self.events as f32 + self.previous as f32 * (1.0 - elapsed).max(0.0)
    }

    /// Adds one event to the window's totals; `unfamiliar_op`: its operation is new to the
    /// credential and its peers.
    pub fn add(&mut self, obs: &Observation<'_>, unfamiliar_op: bool) {
        let e = obs.event;
        self.events += 1;
        self.unfamiliar_ops = self.unfamiliar_ops.saturating_add(u16::from(unfamiliar_op));
        if let Some(b) = e.bytes_out {
            self.bytes += b as f32;
            self.sized += 1;
        }
        self.ops.insert(obs.op);
        if let Some(r) = obs.resource {
            self.resources.insert(r);
        }
        if e.outcome.is_access_failure() {
            self.failures += 1;
            self.failed_ops.insert(obs.op);
            if let Some(r) = obs.resource {
                self.failed_resources.insert(r);
            }
            if matches!(e.outcome, Outcome::Expired | Outcome::AuthFailed) {
                self.auth_failures += 1;
            }
        }
    }
}

/// Response volume over the last hours against what the same operations usually return,
/// exponentially decayed (half-life a third of the long window), so a slow exfiltration is never
/// split across window boundaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecentVolume {
    /// Time of the last update, baseline clock.
    pub t: u32,
    /// Decayed count of sized responses.
    pub n: f32,
    /// Decayed sum of each response's excess over its operation's usual size, ln(1 + bytes).
    pub excess: f32,
    /// Decayed bytes returned.
    pub bytes: f32,
    /// Decayed bytes at the same operations' typical sizes.
    pub expected_bytes: f32,
    /// Decayed count of inflated responses ([`INFLATED_LN`] above usual).
    pub inflated: f32,
    /// Decayed count of inflated responses the credential's share of them explains (each
    /// response adds the share at the time: [`SizedResponse::share`]).
    pub expected_inflated: f32,
}

impl RecentVolume {
    /// The totals as of `t`, with one more response added.
    pub fn at(&self, t: u32, window_secs: u32, s: &SizedResponse) -> RecentVolume {
        let f = crate::stats::decay(t.saturating_sub(self.t), (window_secs / 3).max(1));
        RecentVolume {
            t: t.max(self.t),
            n: self.n * f + 1.0,
            excess: self.excess * f + s.excess,
            bytes: self.bytes * f + s.bytes as f32,
            expected_bytes: self.expected_bytes * f + s.usual.exp_m1().max(0.0),
            inflated: self.inflated * f + f32::from(u8::from(s.inflated)),
            expected_inflated: self.expected_inflated * f + s.share,
        }
    }

    /// Bytes returned beyond what the same operations usually return.
    pub fn extra_bytes(&self) -> f64 {
        f64::from(self.bytes - self.expected_bytes)
    }

    /// Inflated responses beyond the count the credential's share of them explains.
    pub fn surplus(&self) -> f32 {
        self.inflated - self.expected_inflated
    }

    /// [`surplus`](Self::surplus) in binomial standard deviations (at the mean share).
    pub fn surplus_z(&self) -> f32 {
        let expected = self.expected_inflated;
        if expected <= 0.0 || self.n <= 0.0 {
            return 0.0;
        }
        let share = (expected / self.n).min(0.9);
        self.surplus() / (expected * (1.0 - share)).sqrt()
    }
}

/// What scoring found about an event that changes how its baseline learns it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scored {
    /// The operation is new to the credential and its peers.
    pub unfamiliar_op: bool,
    /// A privilege-changing or security-control-weakening operation new to the credential.
    pub privileged: bool,
    /// The event raised an alert for its volume (`exfiltration`). Its response stays out of the
    /// slow-exfiltration window: the burst has been reported, and hours later its bytes, still in
    /// the window, would raise a second finding on an ordinary request.
    pub volume_reported: bool,
    /// The event raised an alert for its request rate: its hour-scale count starts again, so
    /// the burst reported is not reported again on the ordinary requests of the next hours.
    pub rate_reported: bool,
    /// Detectors (bit per `Detector as u16`) of signals that stayed below the alert score, and
    /// their noisy-OR score: remembered to corroborate the next weak signal of another detector.
    pub weak: (u16, u8),
}

/// One response's size against its baseline: see [`Baseline::sized`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizedResponse {
    /// Bytes returned.
    pub bytes: u64,
    /// ln(1 + bytes) above the operation's typical size (the credential's when the operation has
    /// none).
    pub excess: f32,
    /// The operation's typical ln(1 + bytes).
    pub usual: f32,
    /// At least [`INFLATED_LN`] above the credential's usual excess.
    pub inflated: bool,
    /// How often the credential's responses are inflated ([`Inflation::share`], floored).
    pub share: f32,
}

/// How often a credential's responses are *inflated* (at least [`INFLATED_LN`] above their
/// operations' usual size), and how far its runs of them usually go: people download files in
/// sessions, a service's responses keep their size. Slow exfiltration is a run beyond both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inflation {
    /// Share of responses that were inflated.
    pub share: f32,
    /// The recent inflated responses beyond what `share` explains
    /// ([`RecentVolume::surplus`]), sampled at every response.
    pub surplus: EwStats,
    /// The largest surplus among the runs that have ended, decaying with a half-life of
    /// [`INFLATED_PEAK_HALF_LIFE_SECS`].
    pub peak: f32,
    /// The largest surplus of the run in progress (0 when none is).
    pub run: f32,
}

impl Inflation {
    /// Learns whether a response was inflated; `n` counts the responses learned so far.
    fn learn_share(&mut self, inflated: bool, n: u32, w: f32) {
        if w > 0.0 {
            // A plain mean at first (like `Baseline::residual`), then exponentially weighted.
            self.share += crate::stats::ew_weight(VOLUME_ALPHA, n, w) * (f32::from(u8::from(inflated)) - self.share);
        }
    }

    /// Learns the run of inflated responses as of `recent`, `dt` seconds after the last sized
    /// response.
    fn learn_run(&mut self, recent: &RecentVolume, dt: u32, w: f32) {
        let surplus = recent.surplus();
        self.surplus.update(surplus, VOLUME_ALPHA, w);
        self.peak *= decay(dt, INFLATED_PEAK_HALF_LIFE_SECS);
        if surplus < 1.0 {
            // The run is over: it becomes part of what this credential does.
            if w > 0.0 {
                self.peak = self.peak.max(self.run);
            }
            self.run = 0.0;
        } else {
            self.run = self.run.max(surplus);
        }
    }
}

/// Statistics of closed short windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// ln(1 + bytes per window).
    pub log_bytes: EwStats,
    /// Distinct operations per window.
    pub ops: EwStats,
    /// Distinct resources per window.
    pub resources: EwStats,
    /// Requests per (active) window.
    pub events: EwStats,
    /// Failure ratio per window.
    pub failure_ratio: EwStats,
}

/// Where the credential was last used, for travel and concurrency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Whereabouts {
    /// Last located position and when.
    pub last_geo: Option<(GeoPoint, u32)>,
    /// Current origin key and its position.
    pub origin: u32,
    /// Position of the current origin, if known.
    pub origin_geo: Option<GeoPoint>,
    /// The other origin it alternates with, and its position.
    pub alt: u32,
    /// Position of the alternate origin.
    pub alt_geo: Option<GeoPoint>,
    /// Alternations between `origin` and `alt` since `since`.
    pub switches: u16,
    /// Start of the alternation run.
    pub since: u32,
}

/// How long alternation between two origins is tracked, seconds.
pub const CONCURRENCY_WINDOW_SECS: u32 = 3600;

impl Whereabouts {
    fn learn(&mut self, obs: &Observation<'_>) {
        let geo = obs.event.origin.geo;
        if let Some(g) = geo {
            self.last_geo = Some((g, obs.t));
        }
        let Some(o) = obs.origin else { return };
        if o == self.origin {
            if geo.is_some() {
                self.origin_geo = geo;
            }
            return;
        }
        if o == self.alt && obs.t.saturating_sub(self.since) <= CONCURRENCY_WINDOW_SECS {
            // Back to the other origin: one more alternation.
            self.switches = self.switches.saturating_add(1);
            std::mem::swap(&mut self.origin, &mut self.alt);
            std::mem::swap(&mut self.origin_geo, &mut self.alt_geo);
        } else {
            // A move to a third origin (or the first): start a new run.
            self.switches = u16::from(self.origin != 0);
            self.since = obs.t;
            self.alt = self.origin;
            self.alt_geo = self.origin_geo;
            self.origin_geo = None;
        }
        self.origin = o;
        if geo.is_some() {
            self.origin_geo = geo;
        }
    }
}

/// Everything Credence remembers about one subject (a credential, or the session its short-lived
/// credentials roll up to). Fixed size; see `tests::baseline_is_small`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Lifecycle state.
    pub state: CredentialState,
    /// When the state last changed (baseline clock).
    pub state_since: u32,
    /// First event (or `created` record).
    pub first_seen: u32,
    /// Last event.
    pub last_seen: u32,
    /// Events learned, saturating.
    pub events: u32,
    /// Peer group key.
    pub peer: u64,
    /// Operations.
    pub ops: FreqTable<10, 4>,
    /// Typical response size of each operation in `ops` (same slot), as 1 + ln(1 + bytes) in
    /// thousandths, 0 while the operation has no sized response: exfiltration is judged against
    /// what the operation usually returns. (Without the 1, an operation that returns nothing,
    /// such as `HeadObject`, never had a typical size and was judged against the credential's
    /// mean response: every call a huge negative excess that swamped the excess statistics.)
    pub op_volume: [u16; 10],
    /// Source networks.
    pub nets: FreqTable<4, 2>,
    /// Autonomous systems.
    pub asns: FreqTable<3, 1>,
    /// Countries.
    pub countries: FreqTable<3, 1>,
    /// User agents.
    pub agents: FreqTable<3, 1>,
    /// Hour-of-week profile.
    pub hours: HourProfile,
    /// Privilege-changing operations ever learned, saturating (only "none" and "some" matter).
    pub privileged_ops: u8,
    /// Requests in the minute of `last_seen` (the current minute), saturating.
    pub minute_count: u16,
    /// Requests over about the last hour: a count decayed with a half-life of an hour
    /// ([`HOUR_SECS`]), as of `last_seen`. Judged against [`Baseline::hour_count_peak`] and the
    /// credential's own hourly rate, so a credential that makes five calls an hour is as well
    /// watched as one that makes five thousand a minute.
    pub hour_count: f32,
    /// Response bytes over about the last hour, decayed the same way.
    pub hour_bytes: f32,
    /// The largest `hour_count` lately (its busiest hours), decaying with a half-life of
    /// [`HOUR_PEAK_HALF_LIFE_SECS`], applied once a day.
    pub hour_count_peak: Half,
    /// The largest `hour_bytes` lately, the same way.
    pub hour_bytes_peak: Half,
    /// The longest silence (an hour or more without a use) among about the last thirty, hours:
    /// dormancy is judged against the credential's own cadence ([`Baseline::dormant_after`]).
    pub gap_peak_hours: Half,
    /// Silences of an hour or more seen, saturating.
    pub gaps: u8,
    /// Detectors (bit `Detector as u16`) that raised signals too weak to alert on their own in
    /// the last [`CORROBORATION_SECS`]: they corroborate a later weak signal of another detector.
    pub weak: u16,
    /// When `weak` was last added to: baseline clock minute, modulo 2^16 (45 days, far beyond
    /// the hour it is read within).
    pub weak_at: u16,
    /// The noisy-OR score (0–100) of the signals behind `weak`, one per detector.
    pub weak_score: u8,
    /// Requests per active minute.
    pub rate: EwStats,
    /// ln(1 + bytes) per event.
    pub volume: EwStats,
    /// Short window in progress.
    pub short: Window,
    /// Closed short windows.
    pub short_stats: WindowStats,
    /// Response volume over the last hours against the operations' usual sizes.
    pub recent: RecentVolume,
    /// Each response's excess over its operation's usual size, ln(1 + bytes).
    pub residual: EwStats,
    /// How often responses are inflated, and how runs of them usually go.
    pub inflation: Inflation,
    /// Travel and concurrency tracking.
    pub whereabouts: Whereabouts,
    /// Share of located events that were "impossible" jumps from the previous location: high
    /// for credentials legitimately used from many places at once (app-wide keys, mobile carrier
    /// egress, anycast), for which impossible travel means nothing.
    pub jump_rate: EwStats,
    /// Changed since last taken for a checkpoint (fits in the struct's padding: no size cost).
    #[serde(skip)]
    pub(crate) dirty: crate::state::Dirty,
}

impl Baseline {
    /// A fresh baseline first seen at `t`.
    pub fn new(t: u32) -> Baseline {
        Baseline { first_seen: t, last_seen: t, state_since: t, ..Baseline::default() }
    }

    /// Loads the whole baseline into the CPU cache at once, before scoring reads it field by field.
    ///
    /// Among many credentials a baseline is usually out of cache, and its 936 bytes span 15 cache
    /// lines (every field is `Copy`: the clone is a plain copy, no allocation). Read in the
    /// detectors' order, each line's miss waits on the code that reads the previous one; a copy of
    /// the whole baseline (kept by `black_box`, so not optimised away) issues all the loads
    /// together and the misses overlap. Safe code has no prefetch instruction; this trades a copy
    /// from cache for most of the misses' latency. Measured with `score_update/warm` (100k
    /// baselines): a median 1.32x the events/s without it (1.13x–2.21x) in nine interleaved runs
    /// (docs/BENCHMARKS.md).
    #[inline]
    pub fn load_into_cache(&self) {
        std::hint::black_box(self.clone());
    }

    /// How much larger than usual a response of `ln_bytes` = ln(1 + bytes) is for operation `op`:
    /// against the operation's own typical size when it has one, else the credential's. Returns
    /// (excess, the operation's typical ln(1 + bytes)).
    pub fn volume_excess(&self, op: u32, ln_bytes: f32) -> (f32, f32) {
        let x = ln_bytes;
        let expected = match self.ops.slot_of(op).and_then(|i| self.op_typical(i)) {
            Some(milli) => milli / 1000.0,
            None => self.volume.mean,
        };
        (x - expected, expected)
    }

    /// The typical size of the operation in `ops` slot `slot`, ln(1 + bytes) in thousandths;
    /// `None` until it has had a sized response (see [`Baseline::op_volume`]).
    fn op_typical(&self, slot: usize) -> Option<f32> {
        self.op_volume[slot].checked_sub(1).map(f32::from)
    }

    /// The observed response against this baseline, `None` when the event carries no size.
    pub fn sized(&self, obs: &Observation<'_>) -> Option<SizedResponse> {
        let (bytes, ln) = (obs.event.bytes_out?, obs.ln_bytes?);
        let (excess, usual) = self.volume_excess(obs.op, ln);
        let inflated = self.residual.n > 0 && excess - self.residual.mean >= INFLATED_LN;
        // Few responses say little about how rare inflated ones are: assume at least 2 in n.
        let floor = INFLATED_SHARE_FLOOR.max(2.0 / self.residual.n.max(1) as f32);
        Some(SizedResponse { bytes, excess, usual, inflated, share: self.inflation.share.max(floor).min(0.9) })
    }

    /// How far the recent responses run above their usual excess: (mean shift in ln(1 + bytes),
    /// that shift in standard errors). Zero until `recent` holds anything.
    pub fn recent_shift(&self, recent: &RecentVolume) -> (f32, f32) {
        if recent.n <= 0.0 {
            return (0.0, 0.0);
        }
        let shift = recent.excess / recent.n - self.residual.mean;
        (shift, shift / (self.residual.sd(0.3) / recent.n.sqrt()))
    }

    /// The idle time from which a use is a dormant credential waking, seconds: the longer of
    /// `cfg.dormancy_secs` (the floor, whatever the cadence) and what the credential's own
    /// silences make improbable. With n silences seen (at most `GAP_MEMORY`, 33) the longest, M,
    /// is about m ln(n + 1) for mean silence m; a silence longer than m ln(1/p) is routine with
    /// probability p, so the bar is M ln(1/p) / ln(n + 1): 1.6 M for a long history, 8 M after a
    /// single silence. A key used daily (weekends its longest silences, 64 hours) is dormant
    /// after about 4.5 days; one that runs monthly only after two months.
    pub fn dormant_after(&self, cfg: &DetectConfig) -> u32 {
        let n = f32::from(self.gaps).min(GAP_MEMORY);
        let cadence =
            if n < 1.0 { 0.0 } else { self.gap_peak_hours.get() * 3_600.0 * DORMANT_LN_ODDS / (n + 1.0).ln() };
        cadence.min(u32::MAX as f32).max(cfg.dormancy_secs as f32) as u32
    }

    /// The idle time before `t` and whether it makes the credential dormant: a credential with a
    /// history (`learning_events`) idle beyond [`Baseline::dormant_after`], or one whose
    /// `created` record is older than `cfg.dormancy_secs` and that is used for the first time.
    pub fn dormancy(&self, cfg: &DetectConfig, t: u32) -> Option<u32> {
        if self.state.is_retired() {
            return None;
        }
        if self.events == 0 {
            let age = t.saturating_sub(self.first_seen);
            return (self.state == CredentialState::New && age >= cfg.dormancy_secs).then_some(age);
        }
        let idle = t.saturating_sub(self.last_seen);
        // The floor first: the cadence's logarithm only for the rare long silence.
        (idle >= cfg.dormancy_secs && idle >= self.dormant_after(cfg)).then_some(idle)
    }

    /// The hour-scale request count and response bytes as of `t`, with `bytes` more: (count,
    /// bytes).
    pub fn hour_totals(&self, t: u32, bytes: u64) -> (f32, f32) {
        let f = decay(t.saturating_sub(self.last_seen), HOUR_SECS);
        let f = if self.events == 0 { 0.0 } else { f };
        (self.hour_count * f + 1.0, self.hour_bytes * f + bytes as f32)
    }

    /// The detectors of the weak signals still recent at `t` (see [`Baseline::weak`]) and their
    /// score.
    pub fn recent_weak(&self, t: u32) -> (u16, u8) {
        let age_min = ((t / 60) as u16).wrapping_sub(self.weak_at);
        let fresh =
            u32::from(age_min) * 60 <= CORROBORATION_SECS && t.saturating_sub(self.last_seen) <= CORROBORATION_SECS;
        if fresh {
            (self.weak, self.weak_score)
        } else {
            (0, 0)
        }
    }

    /// Whether an event at `t` arrives late: [`LATE_AFTER_SECS`] or more behind the latest event
    /// learned.
    pub fn is_late(&self, t: u32) -> bool {
        self.events > 0 && t.saturating_add(LATE_AFTER_SECS) <= self.last_seen
    }

    /// How far the baseline is from maturity, 0–1 (events and age both count).
    pub fn maturity(&self, cfg: &DetectConfig, now: u32) -> f32 {
        let by_events = self.events as f32 / cfg.mature_events.max(1) as f32;
        let by_age = now.saturating_sub(self.first_seen) as f32 / cfg.mature_age_secs.max(1) as f32;
        by_events.min(by_age).clamp(0.0, 1.0)
    }

    /// The state this baseline is in at `now`, before the event at `now` is learned.
    pub fn state_at(&self, cfg: &DetectConfig, now: u32) -> CredentialState {
        if self.state.is_retired() {
            return self.state;
        }
        let idle = now.saturating_sub(self.last_seen);
        if self.events > 0 && idle >= cfg.dormancy_secs && idle >= self.dormant_after(cfg) {
            return CredentialState::Dormant;
        }
        self.state
    }

    /// Learns the hour-scale totals, their peaks and the silence before this event (in order,
    /// before `last_seen` moves).
    fn learn_pace(&mut self, obs: &Observation<'_>, w: f32, scored: Scored) {
        let t = obs.t;
        let idle = if self.events == 0 { 0 } else { t.saturating_sub(self.last_seen) };
        if idle >= GAP_MIN_SECS && w > 0.0 {
            let hours = idle as f32 / 3_600.0;
            let p = self.gap_peak_hours.get() * GAP_PEAK_DECAY;
            // An alerted silence (a dormant key waking) teaches at its weight, like any anomaly.
            self.gap_peak_hours = Half::new(if hours > p { p + w * (hours - p) } else { p });
            self.gaps = self.gaps.saturating_add(1);
        }
        // Peaks decay once a day: a 16-bit value rounds down by up to 0.8%, against 9% a day.
        if self.events > 0 && t / 86_400 != self.last_seen / 86_400 {
            let f = decay(idle, HOUR_PEAK_HALF_LIFE_SECS);
            self.hour_count_peak = Half::new(self.hour_count_peak.get() * f);
            self.hour_bytes_peak = Half::new(self.hour_bytes_peak.get() * f);
        }
        // The peaks learn each clock hour's totals when the next begins, so the hour in progress
        // is judged against the hours before it, not against itself; an alerted event teaches
        // them at its weight.
        if self.events > 0 && t / HOUR_SECS != self.last_seen / HOUR_SECS {
            let raise = |peak: Half, x: f32| {
                let p = peak.get();
                if x > p {
                    Half::new(p + w * (x - p))
                } else {
                    peak
                }
            };
            self.hour_count_peak = raise(self.hour_count_peak, self.hour_count);
            self.hour_bytes_peak = raise(self.hour_bytes_peak, self.hour_bytes);
        }
        let (count, bytes) = self.hour_totals(t, obs.event.bytes_out.unwrap_or(0));
        // A burst reported starts the count again: it is not reported again hours later on
        // ordinary requests while it decays.
        self.hour_count = if scored.rate_reported { 0.0 } else { count };
        self.hour_bytes = if scored.volume_reported { 0.0 } else { bytes };
    }

    /// Teaches the baseline one observation with weight `w` in `[0, 1]`, with what scoring found
    /// about it. Counters, clocks and windows always advance (they measure what happened), except
    /// that a response already reported as exfiltration stays out of the slow-exfiltration
    /// window; profiles learn in proportion to `w`.
    pub fn learn(&mut self, obs: &Observation<'_>, w: f32, scored: Scored, cfg: &DetectConfig) {
        let t = obs.t;
        let hl = cfg.profile_half_life_secs;
        let sized = self.sized(obs);
        // One response moves an operation's typical size by at most OP_VOLUME_STEP: a run of
        // inflated responses (slow exfiltration) cannot quickly redefine "usual".
        if let (Some((slot, fresh)), Some(x)) = (self.ops.learn(obs.op, t, hl, w), obs.ln_bytes) {
            let x = x * 1000.0;
            let mean = match self.op_typical(slot) {
                Some(mean) if !fresh => {
                    mean + (OP_VOLUME_ALPHA * w * (x - mean)).clamp(-OP_VOLUME_STEP, OP_VOLUME_STEP)
                }
                _ => x,
            };
            self.op_volume[slot] = 1 + mean.clamp(0.0, f32::from(u16::MAX - 1)) as u16;
        }
        if let Some(k) = obs.net {
            self.nets.learn(k, t, hl, w);
        }
        if let Some(k) = obs.asn {
            self.asns.learn(k, t, hl, w);
        }
        if let Some(k) = obs.country {
            self.countries.learn(k, t, hl, w);
        }
        if let Some(k) = obs.agent {
            self.agents.learn(k, t, hl, w);
        }
        if w > 0.0 {
            self.hours.learn(obs.hour_of_week);
        }
        if scored.weak.0 != 0 {
            let (had, score) = self.recent_weak(t);
            // Each detector counts once: a weak signal repeated on every event of a session (an
            // unusual hour) does not corroborate itself.
            let added = if scored.weak.0 & !had != 0 { scored.weak.1 } else { 0 };
            let miss = (1.0 - f32::from(score) / 100.0) * (1.0 - f32::from(added) / 100.0);
            self.weak = had | scored.weak.0;
            self.weak_score = (100.0 * (1.0 - miss)).round().min(100.0) as u8;
            self.weak_at = (t / 60) as u16;
        }
        if scored.privileged && w > 0.0 {
            self.privileged_ops = self.privileged_ops.saturating_add(1);
        }
        if let Some(p) = obs.peer {
            self.peer = p;
        }

        if let Some(x) = obs.ln_bytes {
            self.volume.update(x, VOLUME_ALPHA, w);
        }
        if let Some(s) = &sized {
            self.residual.update(s.excess, VOLUME_ALPHA, w);
            self.inflation.learn_share(s.inflated, self.residual.n, w);
        }
        if self.is_late(t) {
            // Order-free profiles only (above); the present is left as it is.
            self.events = self.events.saturating_add(1);
            return;
        }

        // Request rate per active minute (the current minute is `last_seen`'s).
        if self.events == 0 || t / 60 != self.last_seen / 60 {
            if self.events > 0 {
                self.rate.update(f32::from(self.minute_count), RATE_ALPHA, w);
            }
            self.minute_count = 0;
        }
        self.minute_count = self.minute_count.saturating_add(1);
        self.learn_pace(obs, w, scored);

        // Short window: fold the closed one into its statistics, then add this event.
        if !self.short.contains(t, cfg.short_window_secs) {
            if self.short.start != 0 && self.short.events > 0 {
                let s = &self.short;
                let st = &mut self.short_stats;
                if s.sized > 0 {
                    st.log_bytes.update(s.bytes.ln_1p(), WINDOW_ALPHA, w);
                }
                st.ops.update(s.ops.estimate(), WINDOW_ALPHA, w);
                st.resources.update(s.resources.estimate(), WINDOW_ALPHA, w);
                st.events.update(s.events as f32, WINDOW_ALPHA, w);
                st.failure_ratio.update(s.failures as f32 / s.events as f32, WINDOW_ALPHA, w);
            }
            // The window before counts towards a sliding count only if it ended about where this
            // one begins (within a tenth of a window).
            let len = cfg.short_window_secs;
            let adjacent = self.short.start != 0 && t < self.short.start.saturating_add(len + len / 10);
            let previous = if adjacent { self.short.events } else { 0 };
            self.short = Window { start: t, previous, ..Window::default() };
        }
        self.short.add(obs, scored.unfamiliar_op);
        if let Some(s) = sized.as_ref().filter(|_| !scored.volume_reported) {
            let since = t.saturating_sub(self.recent.t);
            self.recent = self.recent.at(t, cfg.long_window_secs, s);
            self.inflation.learn_run(&self.recent, since, w);
        }

        if let (Some(here), Some((there, then))) = (obs.event.origin.geo, self.whereabouts.last_geo) {
            let jump = is_jump(here.distance_km(there), t.saturating_sub(then), cfg);
            self.jump_rate.update(if jump { 1.0 } else { 0.0 }, JUMP_ALPHA, 1.0);
        }
        self.whereabouts.learn(obs);

        // Lifecycle transitions driven by use.
        self.events = self.events.saturating_add(1);
        self.last_seen = self.last_seen.max(t);
        let next = match self.state {
            s if s.is_retired() => s,
            CredentialState::New if self.events >= cfg.learning_events => CredentialState::Learning,
            CredentialState::Learning | CredentialState::Dormant
                if self.events >= cfg.mature_events && t.saturating_sub(self.first_seen) >= cfg.mature_age_secs =>
            {
                CredentialState::Established
            }
            CredentialState::Dormant => CredentialState::Learning,
            s => s,
        };
        if next != self.state {
            self.state = next;
            self.state_since = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credence_event::{Pseudonym, Pseudonymizer};

    #[test]
    fn baseline_is_small() {
        let size = std::mem::size_of::<Baseline>();
        // The budget is 1 KiB per resident credential: the baseline's heap chunk and the map slot
        // (~40 bytes at typical load) and the rest measured at 1,018 bytes with a 944-byte chunk.
        // glibc's malloc gives a request of n bytes a chunk of n + 8 (its header) rounded up to
        // 16: 928 and 936 bytes both take 944 (measured: 1M boxes of each cost 944 bytes apiece,
        // 944 bytes cost 960), so the chunk, not the size, is what must not grow.
        let chunk = (size + 8).div_ceil(16) * 16;
        assert!(
            chunk <= 944,
            "Baseline is {size} bytes, a {chunk}-byte heap chunk; the budget is 944 (under 1 KiB per credential)"
        );
    }

    #[test]
    fn inflated_responses_do_not_quickly_become_usual() {
        let cfg = DetectConfig::default();
        let ks = KeySpace::new([2; 16]);
        let mut b = Baseline::default();
        // Learns one response of `bytes` at minute `i`; returns its excess over usual beforehand.
        let mut learn = |i: i64, bytes: u64| {
            let mut e = Event::new(1_000_000_000_000 + i * 60_000, Pseudonym::default(), "GetObject");
            e.bytes_out = Some(bytes);
            let obs = Observation::new(&e, &ks);
            let (excess, _) = b.volume_excess(obs.op, obs.ln_bytes.unwrap_or_default());
            b.learn(&obs, 1.0, Scored::default(), &cfg);
            excess
        };
        for i in 0..500 {
            learn(i, 10_000);
        }
        // Forty responses five times the usual size (a slow exfiltration's pace) still stand out
        // at the end: the operation's typical size moved by under half of the ln 5 gap.
        let excess = (500..540).map(|i| learn(i, 50_000)).last().unwrap_or_default();
        assert!(excess > 0.9, "excess {excess}");
        // A lasting change is learned in time.
        let excess = (540..1_000).map(|i| learn(i, 50_000)).last().unwrap_or_default();
        assert!(excess.abs() < 0.05, "excess {excess}");
    }

    /// An operation that returns nothing (`HeadObject`, a 204) has a typical size of zero bytes,
    /// not "none": judged against the credential's mean response instead, each call was a large
    /// negative excess that dragged the excess statistics down and made half the credential's
    /// ordinary responses look inflated.
    #[test]
    fn an_operation_that_returns_nothing_has_a_typical_size_of_nothing() {
        let cfg = DetectConfig::default();
        let ks = KeySpace::new([2; 16]);
        let mut b = Baseline::default();
        for i in 0..600 {
            let (op, bytes) = if i % 2 == 0 { ("HeadObject", 0) } else { ("GetObject", 100_000) };
            let mut e = Event::new(1_000_000_000_000 + i * 60_000, Pseudonym::default(), op);
            e.bytes_out = Some(bytes);
            b.learn(&Observation::new(&e, &ks), 1.0, Scored::default(), &cfg);
        }
        // (The first GetObject, new, was judged against the credential's mean: its excess stays
        // in the variance for a while.)
        assert!(b.residual.mean.abs() < 0.05 && b.residual.sd(0.0) < 0.6, "residual {:?}", b.residual);
        assert!(b.inflation.share < 0.02, "usual share of inflated responses {}", b.inflation.share);
        let mut e = Event::new(1_000_000_000_000 + 600 * 60_000, Pseudonym::default(), "GetObject");
        e.bytes_out = Some(300_000);
        let obs = Observation::new(&e, &ks);
        let sized = b.sized(&obs).unwrap();
        assert!(sized.inflated, "three times the usual size is inflated: {sized:?}");
    }

    #[test]
    fn a_late_event_teaches_profiles_but_leaves_the_present_alone() {
        let cfg = DetectConfig::default();
        let ks = KeySpace::new([3; 16]);
        let t0 = 1_000_000_000_000;
        let event = |t: i64, op: &'static str, lat: f32| {
            let mut e = Event::new(t, Pseudonym::default(), op);
            e.origin.geo = Some(GeoPoint { lat, lon: 0.0 });
            e.bytes_out = Some(1_000);
            e
        };
        let mut b = Baseline::default();
        for i in 0..10 {
            let e = event(t0 + i * 60_000, "GetObject", 10.0);
            b.learn(&Observation::new(&e, &ks), 1.0, Scored::default(), &cfg);
        }
        let (present, short, recent) = (b.whereabouts, b.short, b.recent);
        // An hour old, from elsewhere, with an operation never seen: arrives now.
        let late = event(t0 - 3_600_000, "ListBuckets", -30.0);
        let obs = Observation::new(&late, &ks);
        assert!(b.is_late(obs.t));
        b.learn(&obs, 1.0, Scored::default(), &cfg);
        assert_eq!((b.whereabouts, b.short, b.recent), (present, short, recent), "windows and whereabouts unchanged");
        assert!(b.ops.slot_of(obs.op).is_some(), "the operation is learned");
        assert_eq!(b.events, 11);
        // A few seconds out of order is not late.
        assert!(!b.is_late(obs.t + 3_600_000 + 540 - 5));
    }

    #[test]
    fn time_base_round_trips_and_weeks_start_monday() {
        // 2026-03-02T00:00:00Z is a Monday.
        let monday = 1_772_409_600_000;
        assert_eq!(to_ms(to_secs(monday)), monday);
        let cred = Pseudonymizer::insecure_demo().credential("k");
        let e = Event::new(monday + 3_600_000 * 25, cred, "op");
        let obs = Observation::new(&e, &KeySpace::new([0; 16]));
        assert_eq!(obs.hour_of_week, 25);
    }

    #[test]
    fn lifecycle_advances_with_use() {
        let cfg = DetectConfig { mature_events: 20, learning_events: 5, mature_age_secs: 3600, ..Default::default() };
        let ks = KeySpace::new([1; 16]);
        let mut b = Baseline::new(to_secs(0));
        for i in 0..30 {
            let e = Event::new(1_000_000_000_000 + i * 600_000, Pseudonym::default(), "op");
            let obs = Observation::new(&e, &ks);
            if i == 0 {
                b = Baseline::new(obs.t);
            }
            b.learn(&obs, 1.0, Scored::default(), &cfg);
            if i == 6 {
                assert_eq!(b.state, CredentialState::Learning);
            }
        }
        assert_eq!(b.state, CredentialState::Established);
        let later = b.last_seen + cfg.dormancy_secs;
        assert_eq!(b.state_at(&cfg, later), CredentialState::Dormant);
    }
}
