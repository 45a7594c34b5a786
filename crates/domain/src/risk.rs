//! Risk assessment before a code is sent: signals in, score, reasons and decision out.

use crate::money::Money;
use crate::phone::NumberType;
use crate::policy::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Review,
    Deny,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Self::Allow, Self::Review, Self::Deny];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Review => "review",
            Self::Deny => "deny",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }
}

/// Why the rules scored a verification: a stable code the API, the events and the dashboards
/// carry (docs/risk.md explains each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskReason {
    DestinationCountryNotAllowed,
    PremiumOrSpecialRateNumber,
    NumberCannotReceiveSms,
    VoipNumber,
    UnknownNumberType,
    HighValueHardware,
    ShippingCountryDiffersFromNumber,
    VelocityNumber,
    RecentFailedVerifications,
}

impl RiskReason {
    pub const ALL: [RiskReason; 9] = [
        Self::DestinationCountryNotAllowed,
        Self::PremiumOrSpecialRateNumber,
        Self::NumberCannotReceiveSms,
        Self::VoipNumber,
        Self::UnknownNumberType,
        Self::HighValueHardware,
        Self::ShippingCountryDiffersFromNumber,
        Self::VelocityNumber,
        Self::RecentFailedVerifications,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DestinationCountryNotAllowed => "destination_country_not_allowed",
            Self::PremiumOrSpecialRateNumber => "premium_or_special_rate_number",
            Self::NumberCannotReceiveSms => "number_cannot_receive_sms",
            Self::VoipNumber => "voip_number",
            Self::UnknownNumberType => "unknown_number_type",
            Self::HighValueHardware => "high_value_hardware",
            Self::ShippingCountryDiffersFromNumber => "shipping_country_differs_from_number",
            Self::VelocityNumber => "velocity_number",
            Self::RecentFailedVerifications => "recent_failed_verifications",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// Everything the rules look at, gathered by the service before the decision.
#[derive(Debug, Clone)]
pub struct Signals<'a> {
    pub phone_region: Option<&'a str>,
    pub number_type: NumberType,
    pub order_amount: Money,
    pub order_has_hardware: bool,
    pub shipping_country: Option<&'a str>,
    pub verifications_to_number_last_hour: u32,
    pub failed_verifications_of_customer_last_day: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub decision: Decision,
    pub score: u32,
    pub reasons: Vec<RiskReason>,
}

pub fn assess(policy: &Policy, signals: &Signals<'_>) -> Assessment {
    let mut reasons = Vec::new();
    let mut score: u32 = 0;
    let mut add = |points: u32, reason: RiskReason| {
        score = score.saturating_add(points);
        reasons.push(reason);
    };

    let region_allowed = policy.allowed_countries.is_empty()
        || signals.phone_region.is_some_and(|r| policy.allowed_countries.iter().any(|c| c == r));
    if !region_allowed {
        add(policy.deny_score, RiskReason::DestinationCountryNotAllowed);
    }
    match signals.number_type {
        NumberType::PremiumRate | NumberType::SharedCost | NumberType::TollFree => {
            add(policy.deny_score, RiskReason::PremiumOrSpecialRateNumber);
        }
        NumberType::FixedLine | NumberType::Pager => add(policy.deny_score, RiskReason::NumberCannotReceiveSms),
        NumberType::Voip => add(40, RiskReason::VoipNumber),
        NumberType::Unknown | NumberType::Other | NumberType::Personal => add(30, RiskReason::UnknownNumberType),
        NumberType::Mobile | NumberType::FixedLineOrMobile => {}
    }
    let threshold_minor =
        policy.high_value_amount.saturating_mul(10_i64.pow(u32::from(signals.order_amount.currency.exponent())));
    if signals.order_has_hardware && signals.order_amount.minor >= threshold_minor {
        add(20, RiskReason::HighValueHardware);
    }
    if let (Some(ship), Some(region)) = (signals.shipping_country, signals.phone_region)
        && ship != region
    {
        add(20, RiskReason::ShippingCountryDiffersFromNumber);
    }
    if signals.verifications_to_number_last_hour >= policy.max_verifications_per_number_per_hour {
        add(policy.review_score, RiskReason::VelocityNumber);
    }
    if signals.failed_verifications_of_customer_last_day >= 2 {
        add(30, RiskReason::RecentFailedVerifications);
    }

    let decision = if score >= policy.deny_score {
        Decision::Deny
    } else if score >= policy.review_score {
        Decision::Review
    } else {
        Decision::Allow
    };
    Assessment { decision, score, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount: &str) -> Money {
        Money::parse(amount, crate::money::Currency::parse("EUR").unwrap()).unwrap()
    }

    #[test]
    fn high_value_threshold_is_in_the_order_currency() {
        let yen = |amount| Money::parse(amount, crate::money::Currency::parse("JPY").unwrap()).unwrap();
        let s = Signals { order_has_hardware: true, order_amount: yen("499"), ..clean() };
        assert!(!assess(&Policy::default(), &s).reasons.contains(&RiskReason::HighValueHardware));
        let s = Signals { order_has_hardware: true, order_amount: yen("500"), ..clean() };
        assert!(assess(&Policy::default(), &s).reasons.contains(&RiskReason::HighValueHardware));
        let s = Signals { order_has_hardware: true, order_amount: eur("500.00"), ..clean() };
        assert!(assess(&Policy::default(), &s).reasons.contains(&RiskReason::HighValueHardware));
    }

    fn clean() -> Signals<'static> {
        Signals {
            phone_region: Some("DE"),
            number_type: NumberType::Mobile,
            order_amount: eur("100.00"),
            order_has_hardware: false,
            shipping_country: Some("DE"),
            verifications_to_number_last_hour: 0,
            failed_verifications_of_customer_last_day: 0,
        }
    }

    #[test]
    fn a_clean_order_is_allowed() {
        let a = assess(&Policy::default(), &clean());
        assert_eq!((a.decision, a.score), (Decision::Allow, 0));
    }

    #[test]
    fn premium_numbers_and_foreign_destinations_are_denied() {
        let premium = Signals { number_type: NumberType::PremiumRate, ..clean() };
        assert_eq!(assess(&Policy::default(), &premium).decision, Decision::Deny);
        let policy = Policy { allowed_countries: vec!["AT".into()], ..Policy::default() };
        let a = assess(&policy, &clean());
        assert_eq!(a.decision, Decision::Deny);
        assert_eq!(a.reasons, vec![RiskReason::DestinationCountryNotAllowed]);
    }

    #[test]
    fn signals_add_up_to_review() {
        let s = Signals {
            order_has_hardware: true,
            order_amount: eur("900.00"),
            shipping_country: Some("FR"),
            verifications_to_number_last_hour: 0,
            ..clean()
        };
        let a = assess(&Policy::default(), &s);
        assert_eq!(a.score, 40);
        assert_eq!(a.decision, Decision::Allow);
        let s = Signals { verifications_to_number_last_hour: 9, ..s };
        assert_eq!(assess(&Policy::default(), &s).decision, Decision::Review);
    }
}
