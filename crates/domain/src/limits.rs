//! Hard limits: counts past which nothing is sent or judged, whatever the score says. The
//! operator sets them for the deployment; a brand may only tighten them (`HardLimits::tightened`).

use crate::FieldError;
use crate::activity::{CustomerActivity, DAY_MS, HOUR_MS, MAX_KEPT, MINUTE_MS, NumberActivity};
use crate::clock::Timestamp;
use crate::reason::RiskReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardLimits {
    /// Codes to one number (new verifications and resends, all brands) per 10 minutes and per day.
    pub sms_per_number_10_minutes: u32,
    pub sms_per_number_day: u32,
    /// Wrong codes per brand, per customer and per number, within a day, before checks are refused.
    pub wrong_codes_day: u32,
    /// Verifications one customer may start per hour and per day.
    pub verifications_per_customer_hour: u32,
    pub verifications_per_customer_day: u32,
}

impl Default for HardLimits {
    fn default() -> Self {
        Self {
            sms_per_number_10_minutes: 5,
            sms_per_number_day: 10,
            wrong_codes_day: 10,
            verifications_per_customer_hour: 10,
            verifications_per_customer_day: 30,
        }
    }
}

/// A limit that refused: which one, and when trying again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit {
    pub reason: RiskReason,
    pub until: Timestamp,
}

impl LimitHit {
    pub fn retry_after_seconds(&self, now: Timestamp) -> i64 {
        now.seconds_until(self.until).max(1)
    }
}

const TEN_MINUTES_MS: i64 = 10 * MINUTE_MS;

impl HardLimits {
    pub fn fields(&self) -> [(&'static str, u32); 5] {
        [
            ("sms_per_number_10_minutes", self.sms_per_number_10_minutes),
            ("sms_per_number_day", self.sms_per_number_day),
            ("wrong_codes_day", self.wrong_codes_day),
            ("verifications_per_customer_hour", self.verifications_per_customer_hour),
            ("verifications_per_customer_day", self.verifications_per_customer_day),
        ]
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let most = u32::try_from(MAX_KEPT).unwrap_or(u32::MAX) - 1;
        for (field, value) in self.fields() {
            if !(1..=most).contains(&value) {
                return Err(FieldError::new(field, format!("must be 1 to {most}")));
            }
        }
        Ok(())
    }

    /// The stricter of these limits and a brand's own (`None` fields keep the deployment's).
    pub fn tightened(&self, brand: &BrandLimits) -> Result<Self, FieldError> {
        let pick = |field: &'static str, deployment: u32, own: Option<u32>| match own {
            Some(own) if own > deployment => {
                Err(FieldError::new(field, format!("may only tighten the deployment's limit of {deployment}")))
            }
            Some(own) => Ok(own),
            None => Ok(deployment),
        };
        let limits = Self {
            sms_per_number_10_minutes: pick(
                "sms_per_number_10_minutes",
                self.sms_per_number_10_minutes,
                brand.sms_per_number_10_minutes,
            )?,
            sms_per_number_day: pick("sms_per_number_day", self.sms_per_number_day, brand.sms_per_number_day)?,
            wrong_codes_day: pick("wrong_codes_day", self.wrong_codes_day, brand.wrong_codes_day)?,
            verifications_per_customer_hour: pick(
                "verifications_per_customer_hour",
                self.verifications_per_customer_hour,
                brand.verifications_per_customer_hour,
            )?,
            verifications_per_customer_day: pick(
                "verifications_per_customer_day",
                self.verifications_per_customer_day,
                brand.verifications_per_customer_day,
            )?,
        };
        limits.validate()?;
        Ok(limits)
    }

    /// Another code to `number` now would exceed a send limit.
    pub fn sms_refused(&self, number: &NumberActivity, now: Timestamp) -> Option<LimitHit> {
        let since = |window| Timestamp(now.millis() - window);
        [(TEN_MINUTES_MS, self.sms_per_number_10_minutes), (DAY_MS, self.sms_per_number_day)]
            .into_iter()
            .filter_map(|(window, limit)| number.sms.frees_at(since(window), window, limit))
            .max()
            .map(|until| LimitHit { reason: RiskReason::SmsLimitNumber, until })
    }

    /// Codes of this customer's or number's verifications at `brand` are not judged now.
    pub fn code_lock(
        &self,
        brand: &str,
        customer: &CustomerActivity,
        number: &NumberActivity,
        now: Timestamp,
    ) -> Option<LimitHit> {
        let limit = self.wrong_codes_day;
        let by_customer = customer
            .wrong_codes
            .locked_until(now, DAY_MS, limit)
            .map(|until| LimitHit { reason: RiskReason::WrongCodeLockCustomer, until });
        let by_number = number
            .wrong_codes
            .get(brand)
            .and_then(|w| w.locked_until(now, DAY_MS, limit))
            .map(|until| LimitHit { reason: RiskReason::WrongCodeLockNumber, until });
        // The later end; on a tie the customer's lock (the last of equal maxima) is named.
        by_number.into_iter().chain(by_customer).max_by_key(|hit| hit.until)
    }

    /// The customer may start no further verification now.
    pub fn customer_refused(&self, customer: &CustomerActivity, now: Timestamp) -> Option<LimitHit> {
        let since = |window| Timestamp(now.millis() - window);
        [(HOUR_MS, self.verifications_per_customer_hour), (DAY_MS, self.verifications_per_customer_day)]
            .into_iter()
            .filter_map(|(window, limit)| customer.created.frees_at(since(window), window, limit))
            .max()
            .map(|until| LimitHit { reason: RiskReason::VerificationLimitCustomer, until })
    }

    /// A new verification: the first limit that refuses it — a lock first (the strongest signal),
    /// then the customer's count, then the number's sends.
    pub fn create_refused(
        &self,
        brand: &str,
        customer: &CustomerActivity,
        number: &NumberActivity,
        now: Timestamp,
    ) -> Option<LimitHit> {
        self.code_lock(brand, customer, number, now)
            .or_else(|| self.customer_refused(customer, now))
            .or_else(|| self.sms_refused(number, now))
    }
}

/// A brand's own, tighter limits (`None`: the deployment's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrandLimits {
    pub sms_per_number_10_minutes: Option<u32>,
    pub sms_per_number_day: Option<u32>,
    pub wrong_codes_day: Option<u32>,
    pub verifications_per_customer_hour: Option<u32>,
    pub verifications_per_customer_day: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000_000);

    fn at(minutes: i64) -> Timestamp {
        Timestamp(T0.millis() + minutes * MINUTE_MS)
    }

    #[test]
    fn five_codes_per_ten_minutes_then_ten_per_day() {
        let limits = HardLimits::default();
        let mut number = NumberActivity::default();
        for m in 0..5 {
            assert_eq!(limits.sms_refused(&number, at(m)), None);
            number.sms.record(at(m));
        }
        let hit = limits.sms_refused(&number, at(5)).unwrap();
        assert_eq!((hit.reason, hit.until), (RiskReason::SmsLimitNumber, at(10)));
        for m in 10..15 {
            assert_eq!(limits.sms_refused(&number, at(m)), None, "minute {m}");
            number.sms.record(at(m));
        }
        let hit = limits.sms_refused(&number, at(30)).unwrap();
        assert_eq!(hit.until, Timestamp(at(0).millis() + DAY_MS), "the day's limit frees with the first code");
    }

    #[test]
    fn wrong_codes_lock_per_brand() {
        let limits = HardLimits::default();
        let customer = CustomerActivity::default();
        let mut number = NumberActivity::default();
        let wrong = number.wrong_codes.entry("nordtel".into()).or_default();
        for m in 0..10 {
            wrong.times.record(at(m));
        }
        let hit = limits.code_lock("nordtel", &customer, &number, at(10)).unwrap();
        assert_eq!(hit.reason, RiskReason::WrongCodeLockNumber);
        assert_eq!(limits.code_lock("skyline", &customer, &number, at(10)), None);
        assert_eq!(limits.code_lock("nordtel", &customer, &number, Timestamp(at(0).millis() + DAY_MS)), None);
    }

    #[test]
    fn a_brand_may_only_tighten() {
        let deployment = HardLimits::default();
        let tighter = deployment.tightened(&BrandLimits { sms_per_number_day: Some(4), ..BrandLimits::default() });
        assert_eq!(tighter.unwrap().sms_per_number_day, 4);
        let looser = deployment.tightened(&BrandLimits { wrong_codes_day: Some(50), ..BrandLimits::default() });
        assert_eq!(looser.unwrap_err().field, "wrong_codes_day");
    }
}
