//! A circuit breaker per SMS provider: after `failure_threshold` failures in a row the provider is
//! skipped for `open_ms`; then one message probes it (half-open). A success closes the breaker, a
//! failure opens it again.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send as usual.
    Send,
    /// Send: this message is the probe of a half-open breaker.
    Probe,
    /// Skip the provider.
    Skip,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    open_ms: i64,
    failures: u32,
    /// While open: when a probe may go. While half-open: when a probe that never reported back is
    /// given up, so that a lost probe cannot keep the breaker half-open for ever.
    until: i64,
    state: BreakerState,
}

impl CircuitBreaker {
    pub fn new(failure_threshold: u32, open_ms: i64) -> Self {
        Self {
            failure_threshold: failure_threshold.max(1),
            open_ms,
            failures: 0,
            until: 0,
            state: BreakerState::Closed,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn admit(&mut self, now: i64) -> Admission {
        match self.state {
            BreakerState::Closed => Admission::Send,
            BreakerState::Open | BreakerState::HalfOpen if now >= self.until => {
                self.state = BreakerState::HalfOpen;
                self.until = now + self.open_ms;
                Admission::Probe
            }
            BreakerState::Open | BreakerState::HalfOpen => Admission::Skip,
        }
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
    }

    pub fn failed(&mut self, now: i64) {
        self.failures = self.failures.saturating_add(1);
        if self.state == BreakerState::HalfOpen || self.failures >= self.failure_threshold {
            self.state = BreakerState::Open;
            self.until = now + self.open_ms;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_the_pause() {
        let mut b = CircuitBreaker::new(3, 1000);
        for _ in 0..2 {
            assert_eq!(b.admit(0), Admission::Send);
            b.failed(0);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.failed(10);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(500), Admission::Skip);
        assert_eq!(b.admit(1010), Admission::Probe);
        assert_eq!(b.admit(1011), Admission::Skip, "one probe at a time");
        b.succeeded();
        assert_eq!(b.admit(1012), Admission::Send);
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_lost_probe_is_replaced() {
        let mut b = CircuitBreaker::new(1, 1000);
        b.failed(0);
        assert_eq!(b.admit(1000), Admission::Probe);
        b.failed(1100);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(2000), Admission::Skip);
        assert_eq!(b.admit(2100), Admission::Probe);
        // The probe never reports back: after another pause a new one goes.
        assert_eq!(b.admit(2500), Admission::Skip);
        assert_eq!(b.admit(3100), Admission::Probe);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = CircuitBreaker::new(2, 1000);
        b.failed(0);
        b.succeeded();
        b.failed(1);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
