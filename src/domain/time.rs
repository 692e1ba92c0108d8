//! Timestamps: stored as integer milliseconds since the epoch, shown as RFC 3339 UTC with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// Largest millisecond value we accept or store (year 9999), well inside ±(2^53 − 1).
pub const MAX_MS: i64 = 253_402_300_799_999;

pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored time (epoch milliseconds) as API.md shows it: `2024-01-15T10:30:00.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_ms(self.0))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ms(self.0))
    }
}

/// `2024-01-15T10:30:00.000Z`, clamped to years 1970 to 9999. chrono's RFC 3339 writer: measured alone
/// it takes under a third of the time of the hand-written formatter it replaced (bench/rfc3339.rs).
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms.clamp(0, MAX_MS))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A query-parameter time: RFC 3339 or integer milliseconds since the epoch.
pub fn parse_time_param(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().filter(|ms| *ms <= MAX_MS);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
        .filter(|ms| (0..=MAX_MS).contains(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        assert_eq!(format_ms(1_705_314_600_000), "2024-01-15T10:30:00.000Z");
        assert_eq!(format_ms(1_705_314_600_123), "2024-01-15T10:30:00.123Z");
    }

    #[test]
    fn clamps_to_the_supported_years() {
        assert_eq!(format_ms(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(
            parse_time_param("2024-01-15T10:30:00.000Z"),
            Some(1_705_314_600_000)
        );
        assert_eq!(parse_time_param("1705314600000"), Some(1_705_314_600_000));
        assert_eq!(parse_time_param("yesterday"), None);
        assert_eq!(parse_time_param("-5"), None);
        assert_eq!(parse_time_param("99999999999999999999"), None);
    }
}
