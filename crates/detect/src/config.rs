//! Detection settings. Every field has a default suited to a typical API estate; units are in the
//! names. Constants that are not worth a setting live beside the code that uses them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

const DAY: u32 = 86_400;

/// Detection settings (the `[detect]` section of the daemon's configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Events before a credential leaves `new` for `learning`. Default 10.
    pub learning_events: u32,
    /// Events before a credential can be `established`. Default 50.
    pub mature_events: u32,
    /// Age before a credential can be `established`, seconds. Default 3 days.
    pub mature_age_secs: u32,
    /// The least idle time after which the next use can be a dormant-credential reactivation,
    /// seconds: a credential is dormant when idle beyond this and beyond what its own cadence of
    /// silences makes routine (a key used daily after about 4.5 days, a monthly job after two
    /// months), and a credential first used this long after its `created` record is a dormant
    /// key waking. Default 4 days: longer than the longest routine break of a working week
    /// (Friday evening to Tuesday morning after a long weekend, about 3.6 days), so a weekday key
    /// whose short history has not shown a weekend yet is not dormant over one.
    pub dormancy_secs: u32,
    /// Grace period after a rotation during which the old credential may still be used, seconds.
    /// Default 1 day.
    pub rotation_grace_secs: u32,
    /// Combined score (0–100) from which an event is alert-worthy. Default 60.
    pub alert_score: u8,
    /// Confidence (0–100) below which nothing alerts. Default 30.
    pub min_confidence: u8,
    /// Half-life of categorical memories (operations, networks, countries, clients), seconds.
    /// Default 14 days.
    pub profile_half_life_secs: u32,
    /// Short window for bursts, enumeration, probing and exfiltration, seconds. Default 600.
    pub short_window_secs: u32,
    /// Long window for slow exfiltration, seconds. Default 6 hours.
    pub long_window_secs: u32,
    /// Speed above which two consecutive uses are impossible travel, km/h. Default 1000
    /// (a commercial flight with margin).
    pub max_travel_kmh: f32,
    /// Distances below this are never impossible travel: geolocation of IPs is that coarse, km.
    /// Default 500.
    pub min_travel_km: f32,
    /// Most baselines kept in memory (the daemon shares them out among its partitions); the least
    /// recently seen are evicted beyond it. Default 1M.
    pub max_credentials: usize,
    /// Baselines idle longer than this are dropped by the sweeper, seconds. Must exceed
    /// `dormancy_secs`. Default 180 days.
    pub idle_ttl_secs: u32,
    /// Learning weight (0–1) of an event that raised an alert: anomalies teach the baseline only
    /// slowly, so an attacker cannot quickly make themselves normal. Default 0.2.
    pub alert_learn_weight: f32,
    /// A TOML file extending or overriding the built-in operation risk catalogue (ATT&CK tactic,
    /// technique and severity per operation; the format of `crates/detect/catalogue.toml`): its
    /// rules are tried first. Read by the binary, which builds the engines with
    /// `Catalogue::with_overrides`. Default: none.
    pub catalogue_file: Option<PathBuf>,
    /// Bounds of the event-time clock (`[detect.event_time]`): how far ahead of its arrival a
    /// record may be dated, and the watermark's out-of-orderness. Defaults 300 s and 300 s.
    pub event_time: crate::event_time::EventTimeConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            learning_events: 10,
            mature_events: 50,
            mature_age_secs: 3 * DAY,
            dormancy_secs: 4 * DAY,
            rotation_grace_secs: DAY,
            alert_score: 60,
            min_confidence: 30,
            profile_half_life_secs: 14 * DAY,
            short_window_secs: 600,
            long_window_secs: 6 * 3600,
            max_travel_kmh: 1000.0,
            min_travel_km: 500.0,
            max_credentials: 1_000_000,
            idle_ttl_secs: 180 * DAY,
            alert_learn_weight: 0.2,
            catalogue_file: None,
            event_time: crate::event_time::EventTimeConfig::default(),
        }
    }
}

impl DetectConfig {
    /// Every problem with the settings, at once.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.mature_events < self.learning_events {
            p.push("detect.mature_events must be at least detect.learning_events".into());
        }
        if self.idle_ttl_secs <= self.dormancy_secs {
            p.push("detect.idle_ttl_secs must exceed detect.dormancy_secs, or dormant credentials are forgotten before they can wake".into());
        }
        if self.alert_score == 0 || self.alert_score > 100 {
            p.push("detect.alert_score must be in 1..=100".into());
        }
        if self.min_confidence > 100 {
            p.push("detect.min_confidence must be in 0..=100".into());
        }
        if self.short_window_secs == 0 || self.long_window_secs <= self.short_window_secs {
            p.push("detect.long_window_secs must exceed detect.short_window_secs > 0".into());
        }
        if !(0.0..=1.0).contains(&self.alert_learn_weight) {
            p.push("detect.alert_learn_weight must be in 0..=1".into());
        }
        if self.max_credentials == 0 {
            p.push("detect.max_credentials must be positive".into());
        }
        if self.profile_half_life_secs < 3600 {
            p.push("detect.profile_half_life_secs must be at least an hour".into());
        }
        if !(self.max_travel_kmh > 0.0 && self.min_travel_km >= 0.0) {
            p.push("detect.max_travel_kmh must be positive and detect.min_travel_km non-negative".into());
        }
        p.extend(self.event_time.problems());
        p
    }
}
