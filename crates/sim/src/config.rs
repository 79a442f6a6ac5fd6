//! Simulation parameters.

use serde::{Deserialize, Serialize};

/// 2026-03-02T00:00:00Z, a Monday: the default start of the simulated period.
pub const DEFAULT_START_MS: i64 = 1_772_409_600_000;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;

/// How the population splits between archetypes. Weights, normalised on use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchetypeMix {
    /// Machine workloads: AWS role sessions (`ASIA...`), service users (`AKIA...`) and gateway
    /// service keys (`ck_live_...`).
    pub services: f64,
    /// People with CLI access keys or personal access tokens.
    pub humans: f64,
    /// CI pipelines deploying with access keys or OIDC role sessions.
    pub ci: f64,
    /// B2B partner integrations (`pk_live_...`).
    pub partners: f64,
    /// Installs of the mobile app, each with its own token (`mt_...`).
    pub mobile: f64,
}

impl Default for ArchetypeMix {
    fn default() -> Self {
        ArchetypeMix { services: 0.34, humans: 0.22, ci: 0.08, partners: 0.08, mobile: 0.28 }
    }
}

/// Everything that shapes a simulated stream. The same configuration (including `seed`) always
/// produces the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Size of the initial credential population (credentials created by rotation or expiry
    /// come on top).
    pub credentials: u32,
    /// Length of the simulated period, in days.
    pub days: u32,
    /// Start of the period, epoch ms. Default 2026-03-02T00:00:00Z (a Monday).
    pub start_ms: i64,
    /// Incidents injected per incident kind.
    pub incidents_per_kind: u32,
    /// Benign confounders injected per confounder kind.
    pub confounders_per_kind: u32,
    /// Idle time, in days, that `dormant_reactivation` labels assume makes a credential dormant.
    /// Dormant credentials go silent on day 1–2 and come back at least this long (plus margin)
    /// later; run the detector with a dormancy threshold no larger than this.
    pub dormancy_days: f64,
    /// Minimum history, in days, a credential has before an incident hits it (except
    /// `dormant_reactivation` and `expired_token_storm`).
    pub min_history_days: f64,
    /// Incidents fall in the last this-many days of the period (and after `min_history_days`).
    pub incident_window_days: f64,
    /// Multiplies every credential's request rate (1.0 = realistic volumes).
    pub activity_scale: f64,
    /// Fraction of credentials first seen mid-stream (with a `created` lifecycle record).
    pub created_mid_stream: f64,
    /// Fraction of long-lived credentials rotated mid-stream (benign `rotated` + `created`).
    pub rotations: f64,
    /// Population split between archetypes.
    pub mix: ArchetypeMix,
    /// Share of services and people calling REST routes (`GET /v1/orders/{id}`) rather than AWS
    /// APIs (`DescribeInstances`): the operation vocabulary. Default 0.35 for services and 0.3
    /// for people, the demo's.
    pub rest_share: Option<f64>,
    /// How an attack's intensity and duration are drawn: the demo's by default.
    pub attacks: AttackShape,
}

/// The intensity and duration of injected attacks, where a world varies them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttackShape {
    /// Rate burst: its duration, minutes.
    pub burst_minutes: (f64, f64),
    /// Rate burst: its rate, times the victim's usual.
    pub burst_ratio: (f64, f64),
    /// Rate burst: its least rate, requests an hour (the demo's bursts are never sparse).
    pub burst_min_per_hour: f64,
    /// Rate burst: the victim's least usual requests a day.
    pub burst_min_daily: f64,
    /// Slow exfiltration: its duration, minutes.
    pub slow_minutes: (f64, f64),
    /// Slow exfiltration: each response's size, times its usual.
    pub slow_bytes: (f32, f32),
    /// Slow exfiltration: the rate of its requests, times the victim's usual (at least 12 an
    /// hour).
    pub slow_rate: (f64, f64),
    /// Exfiltration: each response's size, times its usual (AWS-style calls; REST routes a
    /// tenth of it, at least 3x).
    pub exfil_bytes: (f32, f32),
    /// Dormant reactivation: the silence before the key wakes, days (default: the dormancy
    /// threshold plus three days and more).
    pub dormant_idle_days: Option<(f64, f64)>,
    /// Dormant reactivation: share of the dormant keys that were created months before the
    /// period and are first used in it.
    pub dormant_created_share: f64,
}

impl Default for AttackShape {
    fn default() -> Self {
        AttackShape {
            burst_minutes: (5.0, 15.0),
            burst_ratio: (20.0, 60.0),
            burst_min_per_hour: 600.0,
            burst_min_daily: 40.0,
            slow_minutes: (180.0, 480.0),
            slow_bytes: (3.0, 6.0),
            slow_rate: (0.8, 1.5),
            exfil_bytes: (15.0, 60.0),
            dormant_idle_days: None,
            dormant_created_share: 0.0,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0x00c0_ffee,
            credentials: 2_000,
            days: 14,
            start_ms: DEFAULT_START_MS,
            incidents_per_kind: 6,
            confounders_per_kind: 2,
            dormancy_days: 7.0,
            min_history_days: 4.0,
            incident_window_days: 8.0,
            activity_scale: 1.0,
            created_mid_stream: 0.08,
            rotations: 0.02,
            mix: ArchetypeMix::default(),
            rest_share: None,
            attacks: AttackShape::default(),
        }
    }
}

impl SimConfig {
    /// A small stream for tests: 300 credentials, 10 days, 3 incidents and 1 confounder per kind
    /// (a few hundred thousand events).
    pub fn small() -> SimConfig {
        SimConfig { credentials: 300, days: 10, incidents_per_kind: 3, confounders_per_kind: 1, ..SimConfig::default() }
    }

    /// World `n`: a population, vocabulary and attack repertoire drawn from `n`, unlike the
    /// demo's (archetype mix, share of REST routes, activity level, share of keys issued
    /// mid-stream; bursts of 23–50x a credential's own rate lasting 36 minutes to 3 hours from
    /// as little as a few calls an hour, slow exfiltration of 2–3x responses over 6–28 hours,
    /// bulk reads of 34–150x, dormant keys silent 5–10 days or created months before their first
    /// use). The stream's seed is `n` too. Worlds are how detection is measured beyond the world
    /// it was built on: `scripts/eval-worlds.sh` keeps some for tuning and holds others out.
    pub fn world(n: u64) -> SimConfig {
        use rand::{Rng, SeedableRng};
        // A generator of its own, so the world's shape and its stream (seed `n`) are unrelated.
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(n ^ 0x05ee_d0f3_042d);
        let mut w = |lo: f64, hi: f64| rng.gen_range(lo..hi);
        let mix = ArchetypeMix {
            services: w(0.1, 0.6),
            humans: w(0.1, 0.5),
            ci: w(0.02, 0.15),
            partners: w(0.02, 0.2),
            mobile: w(0.0, 0.4),
        };
        let (b0, b1) = (w(23.0, 30.0), w(35.0, 50.0));
        let (d0, d1) = (w(5.0, 6.0), w(7.0, 10.0));
        let attacks = AttackShape {
            burst_minutes: (36.0, 180.0),
            burst_ratio: (b0, b1),
            burst_min_per_hour: 60.0,
            burst_min_daily: w(30.0, 100.0),
            slow_minutes: (360.0, 1_680.0),
            slow_bytes: (2.0, 3.0),
            slow_rate: (0.8, 1.5),
            exfil_bytes: (34.0, 150.0),
            dormant_idle_days: Some((d0, d1)),
            dormant_created_share: w(0.2, 0.5),
        };
        SimConfig {
            seed: n,
            activity_scale: w(0.4, 1.6),
            created_mid_stream: w(0.03, 0.15),
            rotations: w(0.0, 0.05),
            mix,
            rest_share: Some(w(0.1, 0.8)),
            attacks,
            ..SimConfig::default()
        }
    }

    /// The same configuration with another seed.
    pub fn with_seed(mut self, seed: u64) -> SimConfig {
        self.seed = seed;
        self
    }

    /// End of the period, epoch ms (exclusive).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + i64::from(self.days.max(1)) * DAY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world is drawn from its number alone, differs from the demo's and from other worlds, and
    /// has the attacks the issue describes.
    #[test]
    fn worlds_are_reproducible_and_unlike_the_demo() {
        let w = SimConfig::world(101);
        assert_eq!(w, SimConfig::world(101));
        assert_ne!(w, SimConfig::world(102));
        assert_ne!(w.mix, ArchetypeMix::default());
        assert_eq!(w.seed, 101);
        let a = &w.attacks;
        assert!(a.burst_ratio.0 >= 23.0 && a.burst_ratio.1 <= 50.0 && a.burst_minutes == (36.0, 180.0));
        assert!(a.dormant_idle_days.is_some_and(|(lo, hi)| lo >= 5.0 && hi <= 10.0));
        assert!(a.dormant_created_share > 0.0);
        assert_eq!(SimConfig::default().attacks, AttackShape::default());
    }

    #[test]
    fn partial_json_fills_defaults() {
        let cfg: SimConfig = serde_json::from_str(r#"{"seed": 5, "mix": {"mobile": 0.0}}"#).unwrap();
        assert_eq!(cfg.seed, 5);
        assert_eq!(cfg.credentials, SimConfig::default().credentials);
        assert_eq!(cfg.mix.mobile, 0.0);
        assert_eq!(cfg.mix.services, ArchetypeMix::default().services);
        let back: SimConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(SimConfig::small().end_ms() - SimConfig::small().start_ms, 10 * DAY_MS);
    }
}
