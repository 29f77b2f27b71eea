//! Times as the services write them: seconds since the Unix epoch, RFC 3339
//! (`2026-12-02T13:00:00Z`) and HTTP dates (`Wed, 02 Dec 2026 13:00:00 GMT`).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};

/// Whole seconds since the Unix epoch; 0 for a time before it.
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// `2026-12-02T13:00:00Z` for seconds since the Unix epoch; a time past
/// the year 9999 (which RFC 3339 cannot write) as its last second.
pub fn rfc3339(unix: u64) -> String {
    let time = DateTime::from_secs(i64::try_from(unix).unwrap_or(i64::MAX));
    time.fmt(Format::DateTime).unwrap_or_else(|_| "9999-12-31T23:59:59Z".into())
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-12-02T13:00:00Z`,
/// fractions and offsets allowed); `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let time = DateTime::from_str(text, Format::DateTimeWithOffset).ok()?;
    u64::try_from(time.secs()).ok()
}

/// Seconds since the Unix epoch of an HTTP `Date` (`Wed, 25 Nov 2026
/// 21:00:00 GMT`); `None` for anything else, a year past 9999 included.
pub fn parse_http_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim()).ok().map(unix_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unix_seconds() {
        assert_eq!(unix_secs(UNIX_EPOCH + Duration::from_millis(1_999)), 1);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_640_400), "2026-11-25T21:00:00Z");
        assert_eq!(rfc3339(1_582_979_415), "2020-02-29T12:30:15Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z", "clamped");
    }

    #[test]
    fn rfc3339_parsed() {
        assert_eq!(parse_rfc3339("2026-11-25T21:00:00Z"), Some(1_795_640_400));
        assert_eq!(parse_rfc3339("2026-11-25T22:00:00.5+01:00"), Some(1_795_640_400));
        for bad in ["", "2026-11-25", "2026-11-25T21:00:00Z\n::error::x", "tomorrow", "1969-12-31T23:59:59Z"]
        {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Wed, 25 Nov 2026 21:00:00 GMT"), Some(1_795_640_400));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sat, 29 Feb 2020 12:30:15 GMT"), Some(1_582_979_415));
        for bad in [
            "",
            "yesterday",
            "Wed, 25 Nov 2026 21:00:00 PST",
            "Wed, 32 Nov 2026 21:00:00 GMT",
            "Wed, 25 Foo 2026 21:00:00 GMT",
            "Thu, 25 Nov 2026 21:00:00 GMT",
            "Wed, 25 Nov 275760 21:00:00 GMT",
            "Wed, 25 Nov 18446744073709551615 21:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }
}
