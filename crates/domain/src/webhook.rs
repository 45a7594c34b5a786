//! Outgoing webhooks: when a delivery that failed is tried again, and what an answer means. The
//! schedule follows the Standard Webhooks recommendation (retries over about three days, each a
//! little random so that many receivers coming back do not get every retry at once).

/// The waits after each failed attempt, as multiples of the base (5 s by default): 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h — about three days in all.
const WAITS: [i64; 9] = [1, 60, 360, 1_440, 3_600, 7_200, 10_080, 14_400, 17_280];

/// How long to wait after `attempts` failed attempts; `None` when the schedule is spent.
/// `jitter` (any byte) moves the wait by up to ±20 %.
pub fn retry_after_ms(base_ms: i64, attempts: u32, jitter: u8) -> Option<i64> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let wait = WAITS.get(index)?.saturating_mul(base_ms);
    let spread = wait / 5;
    Some(wait - spread + spread.saturating_mul(2).saturating_mul(i64::from(jitter)) / 255)
}

/// What the receiver's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx: done.
    Delivered,
    /// `410 Gone`: the receiver is gone for good; its endpoint is disabled.
    Gone,
    /// Anything else (redirects are not followed), or no answer: try again later.
    Retry,
}

pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        _ => Verdict::Retry,
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Its retries are spent.
    Failed,
    /// Not sent: the endpoint answered `410 Gone`, was disabled or was deleted.
    Gone,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [Self::Pending, Self::Delivered, Self::Failed, Self::Gone];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Gone => "gone",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Where an endpoint was declared: the configuration file (read-only elsewhere), or the admin
/// area and the command line (kept in the database with its secret sealed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    Config,
    Stored,
}

impl EndpointSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Stored => "stored",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Config, Self::Stored].into_iter().find(|s| s.as_str() == value)
    }
}

/// Why orderguard disabled an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledReason {
    /// It answered `410 Gone`.
    Gone,
    /// No delivery to it succeeded for the configured time.
    Failing,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Failing => "failing",
        }
    }
}

/// Whether an endpoint whose attempts have all failed since `failing_since` (ms) is to be
/// disabled at `now`, after `disable_after_ms` of failures.
pub fn keeps_failing(failing_since: i64, now: i64, disable_after_ms: i64) -> bool {
    now.saturating_sub(failing_since) >= disable_after_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spread_over_about_three_days() {
        assert_eq!(retry_after_ms(5_000, 0, 0), None);
        let middle = |attempts| retry_after_ms(5_000, attempts, 128).unwrap();
        assert!((4_900..=5_100).contains(&middle(1)), "{}", middle(1));
        assert!((295_000..=305_000).contains(&middle(2)));
        assert_eq!(retry_after_ms(5_000, 10, 0), None);
        let total: i64 = (1..=9).map(middle).sum();
        assert!((70 * 3_600_000..=80 * 3_600_000).contains(&total), "{total}");
        assert_eq!(retry_after_ms(5_000, 1, 0), Some(4_000));
        assert_eq!(retry_after_ms(5_000, 1, 255), Some(6_000));
    }

    #[test]
    fn an_endpoint_is_disabled_once_it_has_failed_long_enough() {
        let day = 86_400_000;
        assert!(!keeps_failing(0, 5 * day - 1, 5 * day));
        assert!(keeps_failing(0, 5 * day, 5 * day));
    }

    #[test]
    fn names_round_trip() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        for source in [EndpointSource::Config, EndpointSource::Stored] {
            assert_eq!(EndpointSource::parse(source.as_str()), Some(source));
        }
    }

    #[test]
    fn answers_mean_done_gone_or_again() {
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(Some(410)), Verdict::Gone);
        for status in [Some(301), Some(400), Some(500), None] {
            assert_eq!(verdict(status), Verdict::Retry);
        }
    }
}
