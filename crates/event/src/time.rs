//! Timestamp parsing shared by the decoders.

use chrono::DateTime;

/// The earliest event time a decoder accepts, epoch ms: 1970-01-01T00:00:00Z. Earlier times are
/// negative epochs, which no API log writes; they come from arithmetic on unset clocks.
pub const MIN_EVENT_MS: i64 = 0;
/// The latest event time a decoder accepts, epoch ms: 9999-12-31T23:59:59.999Z, the last instant
/// an RFC 3339 timestamp (four-digit year) can write, so every accepted time can be written back
/// in a finding. A time beyond it (`"time": 1e30`) is an error, never clamped. Times inside this
/// range but implausible for the stream (a record dated 2100) are the pipeline's watermark's to
/// judge, not the decoder's.
pub const MAX_EVENT_MS: i64 = 253_402_300_799_999;

/// Whether `ms` lies between [`MIN_EVENT_MS`] and [`MAX_EVENT_MS`].
pub fn in_range(ms: i64) -> bool {
    (MIN_EVENT_MS..=MAX_EVENT_MS).contains(&ms)
}

/// Why a time is out of range, for an error message.
pub fn out_of_range_reason(ms: i64) -> String {
    let side = if ms < MIN_EVENT_MS { "before 1970-01-01" } else { "after 9999-12-31" };
    format!("{side}: event times must lie between 1970-01-01 and 9999-12-31 (epoch ms {ms})")
}

/// Parses an RFC 3339 timestamp (also with a space instead of `T`, as some exporters write) to
/// epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let parsed = if bytes.get(10) == Some(&b' ') {
        let mut fixed = String::with_capacity(s.len());
        fixed.push_str(&s[..10]);
        fixed.push('T');
        fixed.push_str(&s[11..]);
        DateTime::parse_from_rfc3339(&fixed)
    } else {
        DateTime::parse_from_rfc3339(s)
    };
    parsed.ok().map(|t| t.timestamp_millis())
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ms}ms"),
    }
}

/// Interprets a numeric epoch timestamp whose unit is not stated: seconds, milliseconds or
/// microseconds, chosen by magnitude (valid for dates between 2001 and 2286). `None` for what is
/// not a positive finite number or lands beyond [`MAX_EVENT_MS`] (`1e30` is not clamped).
pub fn epoch_to_ms(v: f64) -> Option<i64> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    let ms = if v < 1e10 {
        v * 1e3
    } else if v < 1e13 {
        v
    } else if v < 1e16 {
        v / 1e3
    } else {
        v / 1e6
    };
    // Compared as a float first: `as i64` saturates, which would turn 1e30 into a valid-looking time.
    (ms <= MAX_EVENT_MS as f64).then_some(ms as i64).filter(|&ms| in_range(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        assert_eq!(parse_rfc3339_ms("2024-07-30T21:31:21Z"), Some(1_722_375_081_000));
        assert_eq!(parse_rfc3339_ms("2024-07-30 21:31:21Z"), Some(1_722_375_081_000));
        assert_eq!(parse_rfc3339_ms("2024-07-30T21:31:21.250+00:00"), Some(1_722_375_081_250));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(parse_rfc3339_ms(""), None);
        assert_eq!(format_rfc3339_ms(1_722_375_081_250), "2024-07-30T21:31:21.250Z");
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(epoch_to_ms(1_722_375_081.0), Some(1_722_375_081_000));
        assert_eq!(epoch_to_ms(1_722_375_081_250.0), Some(1_722_375_081_250));
        assert_eq!(epoch_to_ms(1_722_375_081_250_000.0), Some(1_722_375_081_250));
        assert_eq!(epoch_to_ms(-1.0), None);
    }

    /// Regression (issue 19/21): `"time": 1e30` was clamped to the largest i64 and accepted.
    #[test]
    fn huge_epochs_are_out_of_range_not_clamped() {
        assert_eq!(epoch_to_ms(1e30), None);
        assert_eq!(epoch_to_ms(f64::MAX), None);
        assert_eq!(epoch_to_ms(f64::INFINITY), None);
        assert_eq!(epoch_to_ms(f64::NAN), None);
        // 2100-01-01 in seconds is in range: implausible, but the watermark's to judge.
        assert_eq!(epoch_to_ms(4_102_444_800.0), Some(4_102_444_800_000));
        assert!(in_range(MAX_EVENT_MS) && !in_range(MAX_EVENT_MS + 1) && !in_range(-1));
        assert_eq!(format_rfc3339_ms(MAX_EVENT_MS), "9999-12-31T23:59:59.999Z");
    }
}
