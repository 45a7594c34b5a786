//! The verification state machine (PRODUCT.md §2). Every method takes `now`; the service persists
//! the changed fields with a compare-and-set on `version`, so parallel requests cannot overrun a limit.

use crate::clock::Timestamp;
use crate::reason::RiskReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    /// Held for an analyst (a `review` decision): no code has been sent.
    InReview,
    Approved,
    Failed,
    Expired,
    Canceled,
    Blocked,
    Undeliverable,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Self::Pending,
        Self::InReview,
        Self::Approved,
        Self::Failed,
        Self::Expired,
        Self::Canceled,
        Self::Blocked,
        Self::Undeliverable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InReview => "in_review",
            Self::Approved => "approved",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Canceled => "canceled",
            Self::Blocked => "blocked",
            Self::Undeliverable => "undeliverable",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::InReview)
    }
}

/// Why an action on a verification is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the verification is {}, no longer pending", .0.as_str())]
    NotPending(Status),
    #[error("the code has expired")]
    Expired,
    #[error("the maximum number of resends has been reached")]
    ResendLimit,
    #[error("a new code can be sent in {retry_after_seconds} s")]
    ResendTooSoon { retry_after_seconds: i64 },
    /// A hard limit across verifications (`reason`) refuses for now.
    #[error("refused by the limit {}; try again in {retry_after_seconds} s", .reason.as_str())]
    Limited { reason: RiskReason, retry_after_seconds: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Approved,
    WrongCode {
        attempts_remaining: u32,
    },
    /// The last attempt was wrong: the verification has failed.
    Failed,
}

/// The mutable state of one verification and the limits it was created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub status: Status,
    pub attempts: u32,
    pub max_attempts: u32,
    pub resends: u32,
    pub max_resends: u32,
    pub resend_cooldown_seconds: i64,
    pub code_ttl_seconds: i64,
    pub expires_at: Timestamp,
    pub last_sent_at: Timestamp,
}

impl Verification {
    pub fn attempts_remaining(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts)
    }

    pub fn resends_remaining(&self) -> u32 {
        self.max_resends.saturating_sub(self.resends)
    }

    /// When the next resend is allowed.
    pub fn resend_available_at(&self) -> Timestamp {
        self.last_sent_at.plus_seconds(self.resend_cooldown_seconds)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        !self.status.is_final() && now >= self.expires_at
    }

    /// Pending and not expired: a code may be checked or resent.
    pub fn ensure_open(&self, now: Timestamp) -> Result<(), Rejection> {
        if self.status != Status::Pending {
            return Err(Rejection::NotPending(self.status));
        }
        if self.is_expired(now) {
            return Err(Rejection::Expired);
        }
        Ok(())
    }

    /// A typed code was compared with the stored hash; `code_matches` is that comparison.
    pub fn check(&mut self, code_matches: bool, now: Timestamp) -> Result<CheckOutcome, Rejection> {
        self.ensure_open(now)?;
        self.attempts += 1;
        if code_matches {
            self.status = Status::Approved;
            return Ok(CheckOutcome::Approved);
        }
        if self.attempts >= self.max_attempts {
            self.status = Status::Failed;
            return Ok(CheckOutcome::Failed);
        }
        Ok(CheckOutcome::WrongCode { attempts_remaining: self.attempts_remaining() })
    }

    /// A new code goes out: the old one stops working and the validity starts again.
    /// Attempts are not reset, so resending cannot be used to guess longer.
    pub fn resend(&mut self, now: Timestamp) -> Result<(), Rejection> {
        self.ensure_open(now)?;
        if self.resends >= self.max_resends {
            return Err(Rejection::ResendLimit);
        }
        let available = self.resend_available_at();
        if now < available {
            return Err(Rejection::ResendTooSoon { retry_after_seconds: now.seconds_until(available) });
        }
        self.resends += 1;
        self.last_sent_at = now;
        self.expires_at = now.plus_seconds(self.code_ttl_seconds);
        Ok(())
    }

    /// The shop gives the order up, also while it is held for review.
    pub fn cancel(&mut self, now: Timestamp) -> Result<(), Rejection> {
        if self.status == Status::InReview {
            self.ensure_in_review(now)?;
        } else {
            self.ensure_open(now)?;
        }
        self.status = Status::Canceled;
        Ok(())
    }

    /// A `review` decision at creation: nothing is sent, and an analyst has until `hold_seconds`.
    pub fn hold(&mut self, now: Timestamp, hold_seconds: i64) {
        self.status = Status::InReview;
        self.expires_at = now.plus_seconds(hold_seconds);
    }

    /// A network check before a resend found the number taken over: no new code goes out.
    pub fn block(&mut self, now: Timestamp) -> Result<(), Rejection> {
        self.ensure_open(now)?;
        self.status = Status::Blocked;
        Ok(())
    }

    fn ensure_in_review(&self, now: Timestamp) -> Result<(), Rejection> {
        if self.status != Status::InReview {
            return Err(Rejection::NotPending(self.status));
        }
        if self.is_expired(now) {
            return Err(Rejection::Expired);
        }
        Ok(())
    }

    /// An analyst lets the code go out: the verification waits for it as if just created.
    pub fn release(&mut self, now: Timestamp) -> Result<(), Rejection> {
        self.ensure_in_review(now)?;
        self.status = Status::Pending;
        self.last_sent_at = now;
        self.expires_at = now.plus_seconds(self.code_ttl_seconds);
        Ok(())
    }

    /// An analyst verified the customer another way (a call back on a known number).
    pub fn approve_after_review(&mut self, now: Timestamp) -> Result<(), Rejection> {
        self.ensure_in_review(now)?;
        self.status = Status::Approved;
        Ok(())
    }

    pub fn reject_after_review(&mut self, now: Timestamp) -> Result<(), Rejection> {
        self.ensure_in_review(now)?;
        self.status = Status::Blocked;
        Ok(())
    }

    /// Nobody came back in time (or no analyst decided): the verification is abandoned.
    pub fn expire(&mut self, now: Timestamp) -> Result<(), Rejection> {
        if self.status.is_final() {
            return Err(Rejection::NotPending(self.status));
        }
        if !self.is_expired(now) {
            return Err(Rejection::NotPending(self.status));
        }
        self.status = Status::Expired;
        Ok(())
    }

    /// No provider could deliver the SMS.
    pub fn mark_undeliverable(&mut self) -> Result<(), Rejection> {
        if self.status != Status::Pending {
            return Err(Rejection::NotPending(self.status));
        }
        self.status = Status::Undeliverable;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_000_000);

    fn fresh() -> Verification {
        Verification {
            status: Status::Pending,
            attempts: 0,
            max_attempts: 3,
            resends: 0,
            max_resends: 1,
            resend_cooldown_seconds: 30,
            code_ttl_seconds: 300,
            expires_at: T0.plus_seconds(300),
            last_sent_at: T0,
        }
    }

    #[test]
    fn wrong_codes_use_up_attempts_then_fail() {
        let mut v = fresh();
        assert_eq!(v.check(false, T0), Ok(CheckOutcome::WrongCode { attempts_remaining: 2 }));
        assert_eq!(v.check(false, T0), Ok(CheckOutcome::WrongCode { attempts_remaining: 1 }));
        assert_eq!(v.check(false, T0), Ok(CheckOutcome::Failed));
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.check(true, T0), Err(Rejection::NotPending(Status::Failed)));
    }

    #[test]
    fn a_right_code_approves_once() {
        let mut v = fresh();
        assert_eq!(v.check(true, T0), Ok(CheckOutcome::Approved));
        assert_eq!(v.check(true, T0), Err(Rejection::NotPending(Status::Approved)));
    }

    #[test]
    fn expiry_is_exact() {
        let mut v = fresh();
        let end = T0.plus_seconds(300);
        assert_eq!(v.clone().check(true, Timestamp(end.0 - 1)), Ok(CheckOutcome::Approved));
        assert_eq!(v.check(true, end), Err(Rejection::Expired));
        assert_eq!(v.expire(end), Ok(()));
        assert_eq!(v.status, Status::Expired);
    }

    #[test]
    fn resend_respects_cooldown_and_limit() {
        let mut v = fresh();
        assert_eq!(v.resend(T0.plus_seconds(10)), Err(Rejection::ResendTooSoon { retry_after_seconds: 20 }));
        let later = T0.plus_seconds(30);
        assert_eq!(v.resend(later), Ok(()));
        assert_eq!(v.expires_at, later.plus_seconds(300));
        assert_eq!(v.resend(later.plus_seconds(60)), Err(Rejection::ResendLimit));
    }

    #[test]
    fn a_held_verification_is_decided_once_or_expires() {
        let mut v = fresh();
        v.hold(T0, 3600);
        assert_eq!(v.check(true, T0), Err(Rejection::NotPending(Status::InReview)));
        assert_eq!(v.resend(T0.plus_seconds(60)), Err(Rejection::NotPending(Status::InReview)));
        let mut released = v.clone();
        let later = T0.plus_seconds(600);
        assert_eq!(released.release(later), Ok(()));
        assert_eq!((released.status, released.expires_at), (Status::Pending, later.plus_seconds(300)));
        assert_eq!(released.approve_after_review(later), Err(Rejection::NotPending(Status::Pending)));
        let mut approved = v.clone();
        assert_eq!(approved.approve_after_review(later), Ok(()));
        assert_eq!(approved.status, Status::Approved);
        assert_eq!(v.reject_after_review(T0.plus_seconds(3600)), Err(Rejection::Expired));
        assert_eq!(v.expire(T0.plus_seconds(3600)), Ok(()));
        assert_eq!(v.status, Status::Expired);
    }

    #[test]
    fn cancel_only_while_pending() {
        let mut v = fresh();
        assert_eq!(v.cancel(T0), Ok(()));
        assert_eq!(v.cancel(T0), Err(Rejection::NotPending(Status::Canceled)));
    }
}
