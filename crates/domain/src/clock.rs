/// A point in time as Unix milliseconds: what the store keeps, so that time buckets are
/// integer arithmetic on every database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds.saturating_mul(1000)))
    }

    /// Whole seconds from `self` until `later`, rounded up, never negative.
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        let ms = later.0.saturating_sub(self.0).max(0);
        (ms + 999) / 1000
    }
}
