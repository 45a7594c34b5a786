//! The one place that reads the wall clock; everything else receives `now`.

use std::sync::atomic::{AtomicI64, Ordering};

use orderguard_domain::clock::Timestamp;

/// Milliseconds added to the wall clock: 0 except in an instance whose clock a simulation moves
/// (`dev.simulated_clock`, `POST /dev/clock`), which lives through weeks in minutes.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

#[allow(clippy::disallowed_methods)]
fn wall_clock() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

pub fn now() -> Timestamp {
    Timestamp(wall_clock().saturating_add(OFFSET_MS.load(Ordering::Relaxed)))
}

/// Moves this process's clock so that `now()` reads `at` (and runs on from there); `None` goes
/// back to the wall clock. For simulations only: the caller checks that the instance allows it.
pub fn set_simulated(at: Option<i64>) {
    OFFSET_MS.store(at.map_or(0, |at| at.saturating_sub(wall_clock())), Ordering::Relaxed);
}

/// RFC 3339 in UTC with milliseconds: `2026-11-24T15:04:05.123Z`.
pub fn rfc3339(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return String::from("invalid-time");
    };
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&format).unwrap_or_else(|_| String::from("invalid-time"))
}

/// The (UTC) day of a time: `2026-11-24`.
pub fn day(millis: i64) -> String {
    rfc3339(millis).chars().take(10).collect()
}

/// Midnight (UTC) of a day written `YYYY-MM-DD`, in milliseconds.
pub fn parse_day(day: &str) -> Option<i64> {
    parse_rfc3339(&format!("{day}T00:00:00Z"))
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_rfc3339() {
        assert_eq!(super::rfc3339(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
        assert_eq!(super::parse_rfc3339("2025-11-24T17:00:00.123+01:00"), Some(1_764_000_000_123));
        assert_eq!(super::parse_rfc3339("yesterday"), None);
        assert_eq!(super::day(1_764_000_000_123), "2025-11-24");
        assert_eq!(super::parse_day("2025-11-24"), Some(1_763_942_400_000));
        assert_eq!(super::parse_day("2025-11-24T10:00:00Z"), None);
    }
}
