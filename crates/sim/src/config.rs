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
        }
    }
}

impl SimConfig {
    /// A small stream for tests: 300 credentials, 10 days, 3 incidents and 1 confounder per kind
    /// (a few hundred thousand events).
    pub fn small() -> SimConfig {
        SimConfig { credentials: 300, days: 10, incidents_per_kind: 3, confounders_per_kind: 1, ..SimConfig::default() }
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
