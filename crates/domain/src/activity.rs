//! What happened recently around a verification: to its number, its customer, the client's
//! network, the device and the number range. The hard limits and the risk rules read these
//! counts. Each subject's activity is one small, bounded value that the service locks, reads,
//! changes and writes back in the transaction of the verification, so that limits are exact
//! under parallel requests and on several instances (no read-then-write between transactions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The longest window any count looks back over, except the range's 7-day baseline.
const HORIZON_MS: i64 = DAY_MS;

/// Occurrences kept per count: more than the largest configurable limit, so a count at a limit is
/// exact; beyond it only "at least this many" matters.
pub const MAX_KEPT: usize = 64;

/// The times of recent occurrences (milliseconds, oldest first), at most `MAX_KEPT` within a day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Times(Vec<i64>);

impl Times {
    /// Occurrences after `since`.
    pub fn count_after(&self, since: Timestamp) -> u32 {
        let first = self.0.partition_point(|&t| t <= since.millis());
        u32::try_from(self.0.len() - first).unwrap_or(u32::MAX)
    }

    /// Occurrences within the `window_ms` before `now`: one exactly `window_ms` old has left it.
    pub fn count_within(&self, now: Timestamp, window_ms: i64) -> u32 {
        self.count_after(Timestamp(now.millis() - window_ms))
    }

    pub fn record(&mut self, at: Timestamp) {
        let position = self.0.partition_point(|&t| t <= at.millis());
        self.0.insert(position, at.millis());
        let oldest_kept = at.millis() - HORIZON_MS;
        let expired = self.0.partition_point(|&t| t < oldest_kept);
        let surplus = self.0.len().saturating_sub(MAX_KEPT);
        self.0.drain(..expired.max(surplus));
    }

    /// When fewer than `limit` occurrences will lie in a window of `window_ms` ending then, counting
    /// only those after `since`: the moment the limit frees up (`None` if it is not reached).
    pub fn frees_at(&self, since: Timestamp, window_ms: i64, limit: u32) -> Option<Timestamp> {
        let counted = self.0.get(self.0.partition_point(|&t| t <= since.millis())..).unwrap_or_default();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit == 0 {
            return Some(Timestamp(i64::MAX));
        }
        if counted.len() < limit {
            return None;
        }
        // The occurrence that must leave the window for the count to drop below the limit.
        counted.get(counted.len() - limit).map(|&t| Timestamp(t + window_ms))
    }
}

/// Wrong codes typed, and when an analyst last lifted the lock they caused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrongCodes {
    #[serde(default)]
    pub times: Times,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<i64>,
}

impl WrongCodes {
    /// The wrong codes that count towards a lock now: within the window and after the last lift.
    fn since(&self, now: Timestamp, window_ms: i64) -> Timestamp {
        Timestamp((now.millis() - window_ms).max(self.lifted_at.unwrap_or(i64::MIN)))
    }

    pub fn count(&self, now: Timestamp, window_ms: i64) -> u32 {
        self.times.count_after(self.since(now, window_ms))
    }

    /// When a lock at `limit` ends by itself, if there is one.
    pub fn locked_until(&self, now: Timestamp, window_ms: i64, limit: u32) -> Option<Timestamp> {
        self.times.frees_at(self.since(now, window_ms), window_ms, limit).filter(|&until| until > now)
    }
}

/// Something seen with a subject (a device, a shipping country, a customer) and when it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub key: String,
    pub at: i64,
}

/// At most this many distinct things seen are kept per subject, the least recent dropped first.
const MAX_SEEN: usize = 16;

/// Distinct things seen with a subject, most recent last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeenSet(Vec<Seen>);

impl SeenSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|s| s.key == key)
    }

    /// Distinct keys seen after `since`.
    pub fn count_after(&self, since: Timestamp) -> u32 {
        u32::try_from(self.0.iter().filter(|s| s.at > since.millis()).count()).unwrap_or(u32::MAX)
    }

    pub fn record(&mut self, key: &str, at: Timestamp) {
        self.0.retain(|s| s.key != key);
        self.0.push(Seen { key: key.to_owned(), at: at.millis() });
        if self.0.len() > MAX_SEEN {
            self.0.remove(0);
        }
    }
}

/// One number, across every brand of the deployment (keyed by the number's keyed hash).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberActivity {
    /// Codes sent to the number: new verifications and resends.
    #[serde(default)]
    pub sms: Times,
    /// Verifications started for the number.
    #[serde(default)]
    pub created: Times,
    /// Wrong codes per brand: an attacker at one brand cannot lock the number out of the others.
    #[serde(default)]
    pub wrong_codes: BTreeMap<String, WrongCodes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_approved_at: Option<i64>,
}

/// One customer of one brand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerActivity {
    /// Verifications started, not counting those a hard limit refused.
    #[serde(default)]
    pub created: Times,
    #[serde(default)]
    pub wrong_codes: WrongCodes,
    /// Devices (keyed hashes of the shop's device ids) with an approved verification.
    #[serde(default)]
    pub devices: SeenSet,
    /// Shipping countries of approved orders.
    #[serde(default)]
    pub shipping_countries: SeenSet,
}

/// One client network (IPv4 /24, IPv6 /56) or one device, at one brand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceActivity {
    #[serde(default)]
    pub created: Times,
    /// Customers (short keyed references) who started verifications from it.
    #[serde(default)]
    pub customers: SeenSet,
}

/// Counts in fixed-width time buckets (bucket index → count), for rates over long windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Buckets(BTreeMap<i64, u32>);

impl Buckets {
    pub fn add(&mut self, at: Timestamp, width_ms: i64, keep: i64) {
        let index = at.millis().div_euclid(width_ms);
        *self.0.entry(index).or_default() += 1;
        self.0.retain(|&i, _| i > index - keep);
    }

    /// The count of the buckets that overlap the window: the oldest, partly expired one counts in
    /// full, so a bucketed limit never lets more through than an exact one.
    pub fn count_within(&self, now: Timestamp, window_ms: i64, width_ms: i64) -> u32 {
        let newest = now.millis().div_euclid(width_ms);
        let oldest = (now.millis() - window_ms).div_euclid(width_ms);
        self.0.range(oldest..=newest).map(|(_, &n)| n).sum()
    }
}

/// One number range (by default the number without its last four digits), across every brand:
/// the SMS pumping signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeActivity {
    /// Codes sent to the range, per minute (the burst window).
    #[serde(default)]
    pub sent: Buckets,
    /// Codes to the range that were used to approve a verification, per minute: pumped codes never are.
    #[serde(default)]
    pub approved: Buckets,
    /// Codes sent per hour over the last 7 days (the range's usual rate).
    #[serde(default)]
    pub hourly: Buckets,
    /// The times of the latest codes (those within the grace are still being typed).
    #[serde(default)]
    pub recent: Times,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_until: Option<i64>,
}

pub const BASELINE_HOURS: i64 = 7 * 24;

/// The burst rule (SMS pumping): codes to one range within `BURST_WINDOW_MS`, not used to approve,
/// reaching `BURST_MIN` and `BURST_FACTOR` times the range's usual rate, pause sends to the range
/// for `BURST_COOLDOWN_MS`. Numbers approved within `BURST_EXEMPT_MS` are exempt, and their codes
/// are not counted. A code younger than `BURST_GRACE_MS` may still be on its way to being typed:
/// while the older codes show that most are typed (at least `BURST_EVIDENCE` of them, half or more
/// used), fresh codes count only past `BURST_FRESH_ALLOWANCE`, so a launch-day rush does not look
/// like pumping, whose codes are never typed. Without such evidence every unused code counts.
pub const BURST_WINDOW_MS: i64 = 10 * MINUTE_MS;
pub const BURST_MIN: u32 = 20;
pub const BURST_GRACE_MS: i64 = MINUTE_MS;
pub const BURST_FRESH_ALLOWANCE: u32 = 20;
pub const BURST_EVIDENCE: u32 = 5;
pub const BURST_FACTOR: f64 = 10.0;
pub const BURST_COOLDOWN_MS: i64 = 30 * MINUTE_MS;
pub const BURST_EXEMPT_MS: i64 = 90 * DAY_MS;

/// A burst found: the range's counts when it started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub unconfirmed: u32,
    pub usual_rate: f64,
    pub until: Timestamp,
}

impl RangeActivity {
    pub fn record_sent(&mut self, at: Timestamp) {
        self.sent.add(at, MINUTE_MS, 60);
        self.hourly.add(at, HOUR_MS, BASELINE_HOURS + 1);
        self.recent.record(at);
    }

    pub fn record_approved(&mut self, at: Timestamp) {
        self.approved.add(at, MINUTE_MS, 60);
    }

    /// Codes sent to the range within the window and not (yet) used to approve.
    pub fn unconfirmed_within(&self, now: Timestamp, window_ms: i64) -> u32 {
        let sent = self.sent.count_within(now, window_ms, MINUTE_MS);
        let approved = self.approved.count_within(now, window_ms, MINUTE_MS);
        sent.saturating_sub(approved)
    }

    /// Codes sent per `window_ms` on average over the last 7 days.
    pub fn usual_rate(&self, now: Timestamp, window_ms: i64) -> f64 {
        let week = self.hourly.count_within(now, BASELINE_HOURS * HOUR_MS, HOUR_MS);
        f64::from(week) * window_ms as f64 / (BASELINE_HOURS * HOUR_MS) as f64
    }

    pub fn is_blocked(&self, now: Timestamp) -> bool {
        self.blocked_until.is_some_and(|until| until > now.millis())
    }

    /// Whether one more code now makes a burst; if so, the range pauses from now on.
    pub fn start_burst_with_next(&mut self, now: Timestamp) -> Option<Burst> {
        let fresh = self.recent.count_within(now, BURST_GRACE_MS) + 1;
        let sent = self.sent.count_within(now, BURST_WINDOW_MS, MINUTE_MS) + 1;
        let approved = self.approved.count_within(now, BURST_WINDOW_MS, MINUTE_MS);
        let aged = sent.saturating_sub(fresh);
        let unconfirmed = sent.saturating_sub(approved);
        let counted = if aged >= BURST_EVIDENCE && approved * 2 < aged {
            // The older codes are mostly not typed: every unused code counts.
            unconfirmed
        } else {
            // Codes past the grace and not used, and fresh ones beyond what a rush brings.
            aged.saturating_sub(approved) + fresh.saturating_sub(BURST_FRESH_ALLOWANCE)
        };
        let usual_rate = self.usual_rate(now, BURST_WINDOW_MS);
        if counted < BURST_MIN || f64::from(counted) < BURST_FACTOR * usual_rate {
            return None;
        }
        let until = Timestamp(now.millis() + BURST_COOLDOWN_MS);
        self.blocked_until = Some(until.millis());
        Some(Burst { unconfirmed: counted, usual_rate, until })
    }
}

impl NumberActivity {
    /// Approved recently: an honest customer, exempt from the burst rule.
    pub fn is_burst_exempt(&self, now: Timestamp) -> bool {
        self.last_approved_at.is_some_and(|at| now.millis() - at < BURST_EXEMPT_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn at(minutes: i64) -> Timestamp {
        Timestamp(T0.millis() + minutes * MINUTE_MS)
    }

    #[test]
    fn times_count_within_a_window_and_forget_after_a_day() {
        let mut times = Times::default();
        for m in [0, 5, 9] {
            times.record(at(m));
        }
        assert_eq!(times.count_within(at(10), 10 * MINUTE_MS), 2, "the one at minute 0 has left");
        times.record(at(30));
        assert_eq!(times.count_within(at(30), 10 * MINUTE_MS), 1);
        assert_eq!(times.count_within(at(30), DAY_MS), 4);
        times.record(at(24 * 60 + 6));
        assert_eq!(times.count_within(at(24 * 60 + 6), DAY_MS), 3, "the first two are older than a day");
    }

    #[test]
    fn times_keep_at_most_max_kept() {
        let mut times = Times::default();
        for s in 0..200 {
            times.record(Timestamp(T0.millis() + s));
        }
        assert_eq!(times.count_after(Timestamp(T0.millis() - 1)), MAX_KEPT as u32);
    }

    #[test]
    fn a_limit_frees_when_the_oldest_counted_leaves_the_window() {
        let mut times = Times::default();
        for m in [0, 2, 4] {
            times.record(at(m));
        }
        let since = Timestamp(at(4).millis() - 10 * MINUTE_MS);
        assert_eq!(times.frees_at(since, 10 * MINUTE_MS, 3), Some(at(10)));
        assert_eq!(times.frees_at(since, 10 * MINUTE_MS, 2), Some(at(12)));
        assert_eq!(times.frees_at(since, 10 * MINUTE_MS, 4), None);
    }

    #[test]
    fn a_lift_forgets_earlier_wrong_codes() {
        let mut wrong = WrongCodes::default();
        for m in 0..10 {
            wrong.times.record(at(m));
        }
        assert_eq!(wrong.locked_until(at(10), DAY_MS, 10), Some(Timestamp(at(0).millis() + DAY_MS)));
        wrong.lifted_at = Some(at(10).millis());
        assert_eq!(wrong.count(at(11), DAY_MS), 0);
        assert_eq!(wrong.locked_until(at(11), DAY_MS, 10), None);
        wrong.times.record(at(12));
        assert_eq!(wrong.count(at(12), DAY_MS), 1);
    }

    #[test]
    fn bucketed_counts_take_the_partly_expired_bucket_in_full() {
        let mut buckets = Buckets::default();
        buckets.add(Timestamp(at(0).millis() + 59_000), MINUTE_MS, 60);
        buckets.add(at(5), MINUTE_MS, 60);
        // At minute 10:30 the window starts at 0:30: the bucket of minute 0 still counts.
        assert_eq!(buckets.count_within(Timestamp(at(10).millis() + 30_000), 10 * MINUTE_MS, MINUTE_MS), 2);
        assert_eq!(buckets.count_within(at(11), 10 * MINUTE_MS, MINUTE_MS), 1);
    }

    #[test]
    fn a_range_counts_codes_not_used_and_its_usual_rate() {
        let mut range = RangeActivity::default();
        for m in 0..5 {
            range.record_sent(at(m));
        }
        range.record_approved(at(3));
        assert_eq!(range.unconfirmed_within(at(5), 10 * MINUTE_MS), 4);
        let rate = range.usual_rate(at(5), 10 * MINUTE_MS);
        assert!((rate - 5.0 / 1008.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn a_burst_needs_twenty_unused_codes_well_above_the_usual_rate() {
        // A pumper's steady stream, one code every 10 s, none typed: once five are a minute old
        // and unused, every unused code counts, and the 20th is paused.
        let mut range = RangeActivity::default();
        let mut sent = 0;
        let burst = loop {
            let t = Timestamp(at(0).millis() + sent * 10_000);
            if let Some(burst) = range.start_burst_with_next(t) {
                break burst;
            }
            range.record_sent(t);
            sent += 1;
        };
        assert_eq!((sent, burst.unconfirmed), (19, 20));
        let t = Timestamp(at(0).millis() + sent * 10_000);
        assert!(range.is_blocked(t) && !range.is_blocked(Timestamp(t.millis() + BURST_COOLDOWN_MS)));

        // A pumper's flood within seconds: the fresh codes beyond the allowance count at once.
        let mut flood = RangeActivity::default();
        let mut sent = 0;
        while flood.start_burst_with_next(Timestamp(at(0).millis() + sent * 100)).is_none() {
            flood.record_sent(Timestamp(at(0).millis() + sent * 100));
            sent += 1;
        }
        assert_eq!(sent, 39);

        // A busy range: 300 codes an hour all week; 25 unused more in ten minutes is its usual traffic.
        let mut busy = RangeActivity::default();
        for h in 0..BASELINE_HOURS {
            *busy.hourly.0.entry(at(0).millis().div_euclid(HOUR_MS) - h).or_default() += 300;
        }
        for s in 0..25 {
            busy.record_sent(Timestamp(at(0).millis() + s * 10_000));
        }
        assert_eq!(busy.start_burst_with_next(at(5)), None);

        // A launch-day rush: 20 codes a minute for five minutes, each typed 30 s after it was
        // sent, one in eight never typed.
        let mut rush = RangeActivity::default();
        for n in 0..100 {
            let t = Timestamp(at(0).millis() + n * 3_000);
            assert_eq!(rush.start_burst_with_next(t), None, "code {n}");
            rush.record_sent(t);
            if n % 8 != 0 {
                rush.record_approved(Timestamp(t.millis() + 30_000));
            }
        }
    }

    #[test]
    fn seen_sets_count_distinct_keys() {
        let mut seen = SeenSet::default();
        seen.record("a", at(0));
        seen.record("b", at(1));
        seen.record("a", at(2));
        assert_eq!(seen.count_after(Timestamp(at(0).millis() - 1)), 2);
        assert_eq!(seen.count_after(at(1)), 1);
        assert!(seen.contains("b") && !seen.contains("c"));
    }
}
