//! How fast one bind may submit.

use std::time::Duration;

use tokio::time::Instant;

/// Bounds of the pause a bind takes when the SMSC throttles.
const THROTTLE_PAUSE_MIN: Duration = Duration::from_millis(20);
const THROTTLE_PAUSE_MAX: Duration = Duration::from_secs(1);

/// When each submit_sm of a bind may go out: no faster than the configured rate, and not while
/// the SMSC throttles. A throttling answer pauses the bind; the pause doubles while the SMSC keeps
/// throttling submits sent after the last pause began (answers to earlier ones say nothing new)
/// and is forgotten at the first accepted submit. SMSCs that count per second are thus met with
/// pauses of at most about a second, and nothing is booked far ahead.
#[derive(Debug)]
pub(super) struct Pacing {
    interval: Duration,
    pause: Duration,
    next: Instant,
    paused_at: Instant,
}

impl Pacing {
    pub(super) fn new(max_per_second: Option<u32>, now: Instant) -> Self {
        let interval = max_per_second.map_or(Duration::ZERO, |rate| Duration::from_secs(1) / rate.max(1));
        Self { interval, pause: Duration::ZERO, next: now, paused_at: now }
    }

    /// Books the next free turn if it comes by `latest`, and gives its time; a turn that would come
    /// too late is not booked, so that messages which give up do not push the others back.
    pub(super) fn book(&mut self, now: Instant, latest: Instant) -> Option<Instant> {
        let turn = self.next.max(now);
        if turn > latest {
            return None;
        }
        self.next = turn + self.interval;
        Some(turn)
    }

    /// A submit sent at `sent` was throttled.
    pub(super) fn throttled(&mut self, sent: Instant, now: Instant) {
        if sent >= self.paused_at {
            self.pause = (self.pause * 2).clamp(THROTTLE_PAUSE_MIN, THROTTLE_PAUSE_MAX);
            self.paused_at = now;
        }
        self.next = self.next.max(now + self.pause);
    }

    pub(super) fn accepted(&mut self) {
        self.pause = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_keeps_the_configured_rate() {
        let start = Instant::now();
        let mut pacing = Pacing::new(Some(100), start);
        let far = start + Duration::from_secs(60);
        let turns: Vec<Duration> = (0..3).map(|_| pacing.book(start, far).unwrap() - start).collect();
        assert_eq!(turns, [Duration::ZERO, Duration::from_millis(10), Duration::from_millis(20)]);
        // Turns that would come too late are refused and not booked.
        let soon = start + Duration::from_millis(25);
        assert_eq!(pacing.book(start, soon), None);
        assert_eq!(pacing.book(start, soon), None);
        assert_eq!(pacing.book(start, far), Some(start + Duration::from_millis(30)));
    }

    #[test]
    fn throttling_pauses_the_bind_longer_while_it_goes_on() {
        let start = Instant::now();
        let mut pacing = Pacing::new(None, start);
        let far = start + Duration::from_secs(60);
        assert_eq!(pacing.book(start, far), Some(start), "no cap: no wait");
        // A window's worth of submits sent together and throttled pauses the bind once.
        let answered = start + Duration::from_millis(3);
        for _ in 0..20 {
            pacing.throttled(start, answered);
        }
        assert_eq!(pacing.book(answered, far), Some(answered + THROTTLE_PAUSE_MIN));
        // A submit sent after the pause and throttled again doubles it.
        let later = answered + THROTTLE_PAUSE_MIN;
        pacing.throttled(later, later);
        assert_eq!(pacing.book(later, far), Some(later + THROTTLE_PAUSE_MIN * 2));
        for n in 0..10 {
            let now = later + Duration::from_secs(n);
            pacing.throttled(now, now);
        }
        assert_eq!(pacing.pause, THROTTLE_PAUSE_MAX);
        pacing.accepted();
        let now = later + Duration::from_secs(20);
        assert_eq!(pacing.book(now, now + Duration::from_secs(60)), Some(now), "an accepted submit ends the pauses");
    }
}
