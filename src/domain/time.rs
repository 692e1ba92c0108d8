//! Timestamps: stored as integer milliseconds since the epoch, shown as RFC 3339 UTC with milliseconds.

use chrono::{DateTime, Utc};

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

/// `2024-01-15T10:30:00.000Z`. Written by hand (a page formats up to 200 of these): civil date from
/// days since the epoch by Howard Hinnant's algorithm, checked against chrono in the tests.
pub fn format_ms(ms: i64) -> String {
    let ms = ms.clamp(0, MAX_MS);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
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
    use chrono::SecondsFormat;

    #[test]
    fn formats_with_milliseconds_and_z() {
        assert_eq!(format_ms(1_705_314_600_000), "2024-01-15T10:30:00.000Z");
        assert_eq!(format_ms(1_705_314_600_123), "2024-01-15T10:30:00.123Z");
    }

    #[test]
    fn hand_formatting_matches_chrono() {
        let mut ms = 0i64;
        while ms < MAX_MS {
            let expected = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(format_ms(ms), expected, "{ms}");
            ms += 7_777_777_777 + ms / 3;
        }
        for ms in [951_782_400_000, 951_868_799_999, 4_107_542_400_000, MAX_MS] {
            let expected = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(format_ms(ms), expected);
        }
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
