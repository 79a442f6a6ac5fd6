//! How far a stream's event time is trusted (`[detect.event_time]`): the bounds of the watermark
//! clock the pipeline runs on (`credence_finding::pipeline`). Settings only; the clock itself is
//! the pipeline's.

use serde::{Deserialize, Serialize};

/// Bounds of the event-time clock. A record dated more than `max_ahead_secs` past its arrival
/// clock is set aside as `future`; one older than the watermark by more than the engine's
/// `idle_ttl_secs` as `too_old`. Neither is scored, and neither moves the clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventTimeConfig {
    /// How far a record's time may lie ahead of its arrival clock, seconds: the Kafka message
    /// timestamp (capped by the daemon's own clock) in the daemon; in `replay`, the latest trusted
    /// event time (and the machine's clock). Default 300: clocks kept by NTP agree to well under a
    /// second, so five minutes leaves room for a badly kept producer clock and still refuses any
    /// record dated in the future.
    pub max_ahead_secs: u32,
    /// Bounded out-of-orderness, seconds: the watermark trails the latest trusted event time by
    /// this much, and findings close and idle baselines are swept on the watermark, so records
    /// that much out of order still land in their open finding. Default 300: CloudTrail, the
    /// slowest of the supported sources, delivers most events within five minutes of the call.
    pub out_of_orderness_secs: u32,
}

impl Default for EventTimeConfig {
    fn default() -> Self {
        EventTimeConfig { max_ahead_secs: 300, out_of_orderness_secs: 300 }
    }
}

impl EventTimeConfig {
    /// Every problem with the settings.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.max_ahead_secs == 0 {
            p.push("detect.event_time.max_ahead_secs must be positive: clocks are never exactly in step".into());
        }
        if self.out_of_orderness_secs > 86_400 {
            p.push("detect.event_time.out_of_orderness_secs must be at most a day (86400)".into());
        }
        p
    }
}
