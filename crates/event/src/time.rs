//! Timestamp parsing shared by the decoders.

use chrono::DateTime;

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
/// microseconds, chosen by magnitude (valid for dates between 2001 and 2286).
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
    Some(ms as i64)
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
}
