//! Trusted event time: what a record's time may do to the stream's clock.
//!
//! The pipeline's clock is a watermark with bounded out-of-orderness (Flink's): the latest
//! trusted event time less `out_of_orderness_secs`. Findings close and idle baselines are swept on
//! the watermark. A record moves the clock only when its time is trusted:
//!
//! - **Ahead of its arrival** (`future`): dated more than `max_ahead_secs` after the clock it
//!   arrived by. In the daemon that is the Kafka message timestamp (the time the record was
//!   produced, capped by the daemon's own clock): nothing is logged after it is shipped. In
//!   `replay`, which has no arrival clock of its own, it is the machine's clock (history cannot lie
//!   in the future) and the stream itself: a record dated more than `max_ahead_secs` past the
//!   latest trusted time is held until a later record reaches its time (a stream that resumes after
//!   a quiet night confirms the jump; a lone forged record never is), and scored when confirmed or
//!   at the end of the input, after every other record.
//! - **Impossibly old** (`too_old`): older than the watermark by more than the engine's
//!   `idle_ttl_secs` (180 days by default). The engine forgets a credential idle that long, so the
//!   stream holds nothing such a record could be judged against; learning from it would plant a
//!   first use months before any other and make a newcomer look long established.
//!
//! Both are counted by reason and set aside (dead-lettered by the daemon, skipped with their reason
//! by `replay`), never scored, and never move the clock. Times no RFC 3339 timestamp can write
//! (`"time": 1e30`) are decode errors already ([`credence_event::time::in_range`]).

use std::fmt;

use credence_event::time::format_rfc3339_ms;

/// Why a decoded record was set aside instead of scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Dated more than `max_ahead_secs` after its arrival clock.
    Future,
    /// Older than the watermark by more than the baselines' idle TTL.
    TooOld,
}

impl SkipReason {
    /// Every reason, for resolving metric children up front.
    pub const ALL: [SkipReason; 2] = [SkipReason::Future, SkipReason::TooOld];

    /// The label value (`reason` on metrics, `credence.error_type` on dead letters).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Future => "future",
            SkipReason::TooOld => "too_old",
        }
    }
}

/// A record set aside: why, its time, and the bound it broke. Carries no field of the record
/// beyond its time, so it is safe to log and to put on a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Why.
    pub reason: SkipReason,
    /// The record's time, epoch ms.
    pub time_ms: i64,
    /// The bound it broke, epoch ms: the latest time allowed (`future`) or the earliest
    /// (`too_old`).
    pub bound_ms: i64,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, b) = (format_rfc3339_ms(self.time_ms), format_rfc3339_ms(self.bound_ms));
        match self.reason {
            SkipReason::Future => write!(f, "event time {t} is ahead of its arrival clock (latest trusted time {b})"),
            SkipReason::TooOld => {
                write!(f, "event time {t} is older than the stream's watermark allows (earliest trusted time {b})")
            }
        }
    }
}

/// Most records held at once waiting for their time to be confirmed (replay). Beyond it the one
/// dated farthest ahead is set aside as `future`: a stream that keeps jumping ahead without ever
/// confirming is not a stream resuming after a gap. 4,096 records of a few hundred bytes each are
/// a few MB at most.
pub const MAX_HELD: usize = 4096;

/// The bounds, in ms, from the engine's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// `max_ahead_secs` in ms.
    pub ahead_ms: i64,
    /// `out_of_orderness_secs` in ms.
    pub out_of_orderness_ms: i64,
    /// `idle_ttl_secs` in ms: how far behind the watermark a record may lie.
    pub max_age_ms: i64,
}

impl Bounds {
    /// From the detection settings.
    pub fn of(cfg: &credence_detect::DetectConfig) -> Bounds {
        Bounds {
            ahead_ms: i64::from(cfg.event_time.max_ahead_secs) * 1000,
            out_of_orderness_ms: i64::from(cfg.event_time.out_of_orderness_secs) * 1000,
            max_age_ms: i64::from(cfg.idle_ttl_secs) * 1000,
        }
    }

    /// The watermark for a latest trusted time (`i64::MIN`: none yet).
    pub fn watermark(&self, latest_ms: i64) -> i64 {
        if latest_ms == i64::MIN {
            i64::MIN
        } else {
            latest_ms.saturating_sub(self.out_of_orderness_ms)
        }
    }

    /// Whether a record at `time_ms` is too far ahead of `arrival_ms`.
    pub fn ahead(&self, time_ms: i64, arrival_ms: i64) -> Option<Skipped> {
        let bound = arrival_ms.saturating_add(self.ahead_ms);
        (time_ms > bound).then_some(Skipped { reason: SkipReason::Future, time_ms, bound_ms: bound })
    }

    /// Whether a record at `time_ms` is too old for the watermark of `latest_ms`.
    pub fn too_old(&self, time_ms: i64, latest_ms: i64) -> Option<Skipped> {
        if latest_ms == i64::MIN {
            return None;
        }
        let bound = self.watermark(latest_ms).saturating_sub(self.max_age_ms);
        (time_ms < bound).then_some(Skipped { reason: SkipReason::TooOld, time_ms, bound_ms: bound })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_772_409_600_000;

    #[test]
    fn bounds_judge_ahead_and_old_records() {
        let b = Bounds::of(&credence_detect::DetectConfig::default());
        assert_eq!(b.watermark(T0), T0 - 300_000);
        assert_eq!(b.watermark(i64::MIN), i64::MIN);
        assert!(b.ahead(T0 + 300_000, T0).is_none(), "five minutes ahead is allowed");
        let s = b.ahead(T0 + 300_001, T0).expect("beyond is not");
        assert_eq!((s.reason, s.bound_ms), (SkipReason::Future, T0 + 300_000));
        assert!(s.to_string().contains("2026-03-02T00:05:00.001Z"), "{s}");
        let day = 86_400_000;
        assert!(b.too_old(T0 - 179 * day, T0).is_none());
        assert_eq!(b.too_old(T0 - 181 * day, T0).map(|s| s.reason), Some(SkipReason::TooOld));
        assert!(b.too_old(0, i64::MIN).is_none(), "nothing is too old before the first record");
        assert!(b.ahead(i64::MAX, i64::MAX).is_none(), "no overflow");
    }
}
