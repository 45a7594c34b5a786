//! A brand's verification policy. Defaults follow PSD2 RTS Art. 4, NIST SP 800-63B and OWASP ASVS V2.7.

use crate::FieldError;
use crate::code::{MAX_LENGTH, MIN_LENGTH};
use crate::limits::BrandLimits;
use crate::order::parse_country;
use crate::reason::RiskReason;

/// What a `review` decision does to the order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReviewAction {
    /// No code is sent: the verification waits `in_review` for an analyst.
    #[default]
    Hold,
    /// The code is sent as for `allow`; the decision and the receipt mark the order for review.
    Send,
}

impl ReviewAction {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "hold" => Some(Self::Hold),
            "send" => Some(Self::Send),
            _ => None,
        }
    }
}

/// What a right code typed from another device or network than the order's does (a relayed
/// code: the fraudster phished it from the customer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelayAction {
    /// The approval stands; the event records the signal.
    Accept,
    /// The approval stands and the receipt says `relay_suspected: true`.
    #[default]
    Mark,
    /// The approval waits for an analyst: the verification is held (`in_review`).
    Review,
}

impl RelayAction {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "accept" => Some(Self::Accept),
            "mark" => Some(Self::Mark),
            "review" => Some(Self::Review),
            _ => None,
        }
    }
}

/// A scored rule's weight at a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSetting {
    pub points: u32,
    /// Evaluated and recorded only: the rule does not change the decision.
    pub shadow: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub code_length: u8,
    pub code_ttl_seconds: i64,
    pub max_attempts: u32,
    pub max_resends: u32,
    pub resend_cooldown_seconds: i64,
    /// ISO 3166-1 alpha-2 regions a code may be sent to; empty means any.
    pub allowed_countries: Vec<String>,
    /// Orders with hardware at or above this amount, in whole units of the order's currency, are a
    /// risk signal.
    pub high_value_amount: i64,
    /// Verifications to one number within an hour before velocity becomes a risk signal.
    pub max_verifications_per_number_per_hour: u32,
    /// Risk score from which the decision is `review` (code sent, order flagged) and `deny`.
    pub review_score: u32,
    pub deny_score: u32,
    /// Send codes to a number the identity service has not verified (off: such customers get a
    /// `customer-phone-unverified` problem).
    pub allow_unverified_phone: bool,
    /// Scored rules whose points or shadow mode differ from the defaults (`Policy::rule`).
    pub rules: std::collections::BTreeMap<RiskReason, RuleSetting>,
    /// A number changed in the identity profile within this many days is a risk signal.
    pub number_changed_days: u32,
    pub review_action: ReviewAction,
    /// How long a held verification waits for an analyst before it expires.
    pub review_hold_seconds: i64,
    /// The brand's own, tighter hard limits.
    pub limits: BrandLimits,
    /// Countries whose numbers are trusted for SMS (geo permission `allow`): the burst rule does
    /// not apply to them. Countries outside `allowed_countries` are `block`, the rest `monitor`.
    pub trusted_countries: Vec<String>,
    /// Codes a day to numbers of one country (`*`: every country without its own figure); past
    /// it, further verifications are held for review. Empty: no budget.
    pub sms_budget_per_day: std::collections::BTreeMap<String, u32>,
    pub relay_action: RelayAction,
    /// The network checks the brand runs before a code goes out (`swap`), each with its API.
    pub swap_checks: Vec<crate::swap::SwapPolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: 6,
            code_ttl_seconds: 300,
            max_attempts: 5,
            max_resends: 3,
            resend_cooldown_seconds: 30,
            allowed_countries: Vec::new(),
            high_value_amount: 500,
            max_verifications_per_number_per_hour: 5,
            review_score: 50,
            deny_score: 100,
            allow_unverified_phone: false,
            rules: std::collections::BTreeMap::new(),
            number_changed_days: 30,
            review_action: ReviewAction::Hold,
            review_hold_seconds: 4 * 3600,
            limits: BrandLimits::default(),
            trusted_countries: Vec::new(),
            sms_budget_per_day: std::collections::BTreeMap::new(),
            relay_action: RelayAction::Mark,
            swap_checks: Vec::new(),
        }
    }
}

impl Policy {
    /// The day's SMS budget for numbers of `country`, if the brand has one.
    pub fn sms_budget(&self, country: Option<&str>) -> Option<u32> {
        country.and_then(|c| self.sms_budget_per_day.get(c)).or_else(|| self.sms_budget_per_day.get("*")).copied()
    }

    /// The points and mode of a scored rule at this brand.
    pub fn rule(&self, reason: RiskReason) -> RuleSetting {
        self.rules.get(&reason).copied().unwrap_or(RuleSetting { points: self.default_points(reason), shadow: false })
    }

    /// A rule's points unless the brand sets its own (docs/risk.md lists them).
    pub fn default_points(&self, reason: RiskReason) -> u32 {
        match reason {
            RiskReason::DestinationCountryNotAllowed
            | RiskReason::PremiumOrSpecialRateNumber
            | RiskReason::NumberCannotReceiveSms => self.deny_score,
            RiskReason::VelocityNumber | RiskReason::DeviceManyCustomers => self.review_score,
            RiskReason::VoipNumber | RiskReason::NumberChangedRecently => 40,
            RiskReason::UnknownNumberType | RiskReason::VelocityCustomer | RiskReason::WrongCodesCustomer => 30,
            RiskReason::HighValueHardware
            | RiskReason::ShippingCountryDiffersFromNumber
            | RiskReason::ShippingCountryUnusualForCustomer
            | RiskReason::VelocityNetwork
            | RiskReason::VelocityDevice
            | RiskReason::NewDeviceHighValue => 20,
            // Mostly the same wrong codes as the customer's: a little on top, not twice.
            RiskReason::WrongCodesNumber => 10,
            // Hard limits: no points, they refuse by themselves.
            RiskReason::SmsLimitNumber
            | RiskReason::VerificationLimitCustomer
            | RiskReason::WrongCodeLockCustomer
            | RiskReason::WrongCodeLockNumber
            | RiskReason::RangeBurst
            | RiskReason::BlockList
            | RiskReason::SmsBudgetReached
            | RiskReason::RelaySuspected
            | RiskReason::SimSwapRecent
            | RiskReason::DeviceSwapRecent
            | RiskReason::NetworkApiUnavailable => 0,
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&self.code_length) {
            return Err(FieldError::new("code_length", format!("must be {MIN_LENGTH} to {MAX_LENGTH}")));
        }
        if !(10..=3600).contains(&self.code_ttl_seconds) {
            return Err(FieldError::new("code_ttl_seconds", "must be 10 to 3600 seconds"));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(FieldError::new("max_attempts", "must be 1 to 10"));
        }
        if self.max_resends > 10 {
            return Err(FieldError::new("max_resends", "must be 0 to 10"));
        }
        if !(0..=3600).contains(&self.resend_cooldown_seconds) {
            return Err(FieldError::new("resend_cooldown_seconds", "must be 0 to 3600 seconds"));
        }
        for country in &self.allowed_countries {
            parse_country("allowed_countries", country)?;
        }
        for country in &self.trusted_countries {
            parse_country("trusted_countries", country)?;
        }
        for country in self.sms_budget_per_day.keys().filter(|c| *c != "*") {
            parse_country("sms_budget_per_day", country)?;
        }
        if self.high_value_amount < 0 {
            return Err(FieldError::new("high_value_amount", "must not be negative"));
        }
        for reason in self.rules.keys() {
            if !reason.is_scored() {
                return Err(FieldError::new(
                    "rules",
                    format!("{} is a hard limit, not a scored rule", reason.as_str()),
                ));
            }
        }
        if !(60..=7 * 24 * 3600).contains(&self.review_hold_seconds) {
            return Err(FieldError::new("review_hold_seconds", "must be 60 seconds to 7 days"));
        }
        for check in &self.swap_checks {
            check.validate()?;
        }
        if self.review_score == 0 || self.deny_score < self.review_score {
            return Err(FieldError::new(
                "deny_score",
                "review_score must be at least 1 and deny_score at least review_score",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_limits_are_checked() {
        assert!(Policy::default().validate().is_ok());
        let too_long = Policy { code_length: 9, ..Policy::default() };
        assert_eq!(too_long.validate().unwrap_err().field, "code_length");
        let bad_country = Policy { allowed_countries: vec!["de".into()], ..Policy::default() };
        assert_eq!(bad_country.validate().unwrap_err().field, "allowed_countries");
    }
}
