//! The one place that reads the wall clock; everything else receives `now`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use orderguard_domain::clock::Timestamp;

/// An instance's clock: the wall clock, moved by an offset in an instance whose clock a simulation
/// moves (`dev.simulated_clock`, `POST /dev/clock`), which lives through weeks in minutes. Clones
/// share the offset, so every part of one instance reads the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

#[allow(clippy::disallowed_methods)]
fn wall_clock() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        Timestamp(wall_clock().saturating_add(self.offset_ms.load(Ordering::Relaxed)))
    }

    /// Moves this clock so that `now()` reads `at` (and runs on from there); `None` goes back to the
    /// wall clock. For simulations only: the caller checks that the instance allows it.
    pub fn set_simulated(&self, at: Option<Timestamp>) {
        self.offset_ms.store(at.map_or(0, |at| at.millis().saturating_sub(wall_clock())), Ordering::Relaxed);
    }
}

/// The wall clock itself, never moved by a simulation: for claims that another party checks
/// against its own clock (the assertions orderguard signs for a gateway's token endpoint).
pub fn real_now() -> Timestamp {
    Timestamp(wall_clock())
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
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(1_764_000_000_123), "2025-11-24T16:00:00.123Z");
        assert_eq!(parse_rfc3339("2025-11-24T17:00:00.123+01:00"), Some(1_764_000_000_123));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(day(1_764_000_000_123), "2025-11-24");
        assert_eq!(parse_day("2025-11-24"), Some(1_763_942_400_000));
        assert_eq!(parse_day("2025-11-24T10:00:00Z"), None);
    }

    #[test]
    fn a_simulated_clock_runs_on_and_its_clones_follow() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.set_simulated(Some(Timestamp(1_000_000)));
        let read = copy.now().millis();
        assert!((1_000_000..1_060_000).contains(&read), "{read}");
        clock.set_simulated(None);
        assert!(copy.now().millis() > 1_700_000_000_000);
    }
}
