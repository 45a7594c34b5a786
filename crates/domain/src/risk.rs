//! Risk assessment before a code is sent: signals in, score, reasons and decision out.

use crate::money::Money;
use crate::phone::NumberType;
use crate::policy::Policy;

pub use crate::decision::{Assessment, Decision, RuleOutcome};
pub use crate::reason::RiskReason;

/// Everything the rules look at, gathered by the service before the decision. Counts include
/// every verification committed before this one; `None` where the shop sent nothing to count by.
#[derive(Debug, Clone)]
pub struct Signals<'a> {
    pub phone_region: Option<&'a str>,
    pub number_type: NumberType,
    pub order_amount: Money,
    pub order_has_hardware: bool,
    pub shipping_country: Option<&'a str>,
    /// Verifications to this number in the last hour, at every brand.
    pub verifications_to_number_last_hour: u32,
    pub verifications_of_customer_last_hour: u32,
    /// From the client's network (IPv4 /24, IPv6 /56) and from the device, at this brand.
    pub verifications_from_network_last_hour: Option<u32>,
    pub verifications_from_device_last_hour: Option<u32>,
    /// Distinct customers who used the device at this brand in the last 24 h, this one included.
    pub customers_on_device_last_day: Option<u32>,
    pub wrong_codes_of_customer_last_day: u32,
    pub wrong_codes_to_number_last_day: u32,
    /// Days since the identity service says the number last changed.
    pub number_changed_days_ago: Option<i64>,
    /// Whether the device had approved verifications of this customer; `None` without a device
    /// id or without any known device of the customer.
    pub device_known: Option<bool>,
    /// Whether the customer's approved orders went to this shipping country before; `None`
    /// without history.
    pub shipping_country_known: Option<bool>,
}

/// The thresholds of the counting rules (docs/risk.md).
pub const VELOCITY_CUSTOMER_PER_HOUR: u32 = 5;
pub const VELOCITY_NETWORK_PER_HOUR: u32 = 20;
pub const VELOCITY_DEVICE_PER_HOUR: u32 = 5;
pub const DEVICE_CUSTOMERS_PER_DAY: u32 = 3;
pub const WRONG_CODES_PER_DAY: u32 = 5;

/// The decision with every rule's outcome, for the risk event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub assessment: Assessment,
    pub rules: Vec<RuleOutcome>,
}

impl Evaluation {
    pub fn shadow_reasons(&self) -> Vec<RiskReason> {
        self.rules.iter().filter(|r| r.fired && r.shadow).map(|r| r.rule).collect()
    }
}

pub fn assess(policy: &Policy, signals: &Signals<'_>) -> Evaluation {
    let mut rules = Vec::new();
    let mut rule = |reason: RiskReason, fired: bool, input: Option<i64>| {
        let setting = policy.rule(reason);
        rules.push(RuleOutcome { rule: reason, fired, points: setting.points, shadow: setting.shadow, input });
    };
    let count = |n: u32| Some(i64::from(n));

    let region_allowed = policy.allowed_countries.is_empty()
        || signals.phone_region.is_some_and(|r| policy.allowed_countries.iter().any(|c| c == r));
    rule(RiskReason::DestinationCountryNotAllowed, !region_allowed, None);
    let number_type = signals.number_type;
    rule(
        RiskReason::PremiumOrSpecialRateNumber,
        matches!(number_type, NumberType::PremiumRate | NumberType::SharedCost | NumberType::TollFree),
        None,
    );
    rule(RiskReason::NumberCannotReceiveSms, matches!(number_type, NumberType::FixedLine | NumberType::Pager), None);
    rule(RiskReason::VoipNumber, number_type == NumberType::Voip, None);
    rule(
        RiskReason::UnknownNumberType,
        matches!(number_type, NumberType::Unknown | NumberType::Other | NumberType::Personal),
        None,
    );
    let threshold_minor =
        policy.high_value_amount.saturating_mul(10_i64.pow(u32::from(signals.order_amount.currency.exponent())));
    let high_value = signals.order_has_hardware && signals.order_amount.minor >= threshold_minor;
    rule(RiskReason::HighValueHardware, high_value, None);
    let differs = matches!((signals.shipping_country, signals.phone_region), (Some(s), Some(r)) if s != r);
    rule(RiskReason::ShippingCountryDiffersFromNumber, differs, None);
    rule(RiskReason::ShippingCountryUnusualForCustomer, signals.shipping_country_known == Some(false), None);
    let to_number = signals.verifications_to_number_last_hour;
    rule(RiskReason::VelocityNumber, to_number >= policy.max_verifications_per_number_per_hour, count(to_number));
    let of_customer = signals.verifications_of_customer_last_hour;
    rule(RiskReason::VelocityCustomer, of_customer >= VELOCITY_CUSTOMER_PER_HOUR, count(of_customer));
    let network = signals.verifications_from_network_last_hour;
    rule(RiskReason::VelocityNetwork, network.is_some_and(|n| n >= VELOCITY_NETWORK_PER_HOUR), network.and_then(count));
    let device = signals.verifications_from_device_last_hour;
    rule(RiskReason::VelocityDevice, device.is_some_and(|n| n >= VELOCITY_DEVICE_PER_HOUR), device.and_then(count));
    let customers = signals.customers_on_device_last_day;
    rule(
        RiskReason::DeviceManyCustomers,
        customers.is_some_and(|n| n >= DEVICE_CUSTOMERS_PER_DAY),
        customers.and_then(count),
    );
    let wrong = signals.wrong_codes_of_customer_last_day;
    rule(RiskReason::WrongCodesCustomer, wrong >= WRONG_CODES_PER_DAY, count(wrong));
    let wrong = signals.wrong_codes_to_number_last_day;
    rule(RiskReason::WrongCodesNumber, wrong >= WRONG_CODES_PER_DAY, count(wrong));
    let changed = signals.number_changed_days_ago;
    rule(
        RiskReason::NumberChangedRecently,
        changed.is_some_and(|days| days <= i64::from(policy.number_changed_days)),
        changed,
    );
    rule(RiskReason::NewDeviceHighValue, high_value && signals.device_known == Some(false), None);

    let live = || rules.iter().filter(|r| r.fired && !r.shadow);
    let score = live().fold(0_u32, |sum, r| sum.saturating_add(r.points));
    let reasons = live().map(|r| r.rule).collect();
    let decision = if score >= policy.deny_score {
        Decision::Deny
    } else if score >= policy.review_score {
        Decision::Review
    } else {
        Decision::Allow
    };
    Evaluation { assessment: Assessment { decision, score, reasons }, rules }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RuleSetting;

    fn eur(amount: &str) -> Money {
        Money::parse(amount, crate::money::Currency::parse("EUR").unwrap()).unwrap()
    }

    #[test]
    fn high_value_threshold_is_in_the_order_currency() {
        let yen = |amount| Money::parse(amount, crate::money::Currency::parse("JPY").unwrap()).unwrap();
        let s = Signals { order_has_hardware: true, order_amount: yen("499"), ..clean() };
        assert!(!assess(&Policy::default(), &s).assessment.reasons.contains(&RiskReason::HighValueHardware));
        let s = Signals { order_has_hardware: true, order_amount: yen("500"), ..clean() };
        assert!(assess(&Policy::default(), &s).assessment.reasons.contains(&RiskReason::HighValueHardware));
        let s = Signals { order_has_hardware: true, order_amount: eur("500.00"), ..clean() };
        assert!(assess(&Policy::default(), &s).assessment.reasons.contains(&RiskReason::HighValueHardware));
    }

    fn clean() -> Signals<'static> {
        Signals {
            phone_region: Some("DE"),
            number_type: NumberType::Mobile,
            order_amount: eur("100.00"),
            order_has_hardware: false,
            shipping_country: Some("DE"),
            verifications_to_number_last_hour: 0,
            verifications_of_customer_last_hour: 0,
            verifications_from_network_last_hour: None,
            verifications_from_device_last_hour: None,
            customers_on_device_last_day: None,
            wrong_codes_of_customer_last_day: 0,
            wrong_codes_to_number_last_day: 0,
            number_changed_days_ago: None,
            device_known: None,
            shipping_country_known: None,
        }
    }

    #[test]
    fn a_clean_order_is_allowed() {
        let a = assess(&Policy::default(), &clean()).assessment;
        assert_eq!((a.decision, a.score), (Decision::Allow, 0));
    }

    #[test]
    fn premium_numbers_and_foreign_destinations_are_denied() {
        let premium = Signals { number_type: NumberType::PremiumRate, ..clean() };
        assert_eq!(assess(&Policy::default(), &premium).assessment.decision, Decision::Deny);
        let policy = Policy { allowed_countries: vec!["AT".into()], ..Policy::default() };
        let a = assess(&policy, &clean()).assessment;
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
        let a = assess(&Policy::default(), &s).assessment;
        assert_eq!(a.score, 40);
        assert_eq!(a.decision, Decision::Allow);
        let s = Signals { verifications_to_number_last_hour: 9, ..s };
        assert_eq!(assess(&Policy::default(), &s).assessment.decision, Decision::Review);
    }

    #[test]
    fn a_shadow_rule_is_reported_but_not_counted() {
        let mut policy = Policy::default();
        policy.rules.insert(RiskReason::DeviceManyCustomers, RuleSetting { points: 50, shadow: true });
        let s = Signals { customers_on_device_last_day: Some(4), ..clean() };
        let evaluation = assess(&policy, &s);
        assert_eq!(evaluation.assessment.decision, Decision::Allow);
        assert_eq!(evaluation.shadow_reasons(), vec![RiskReason::DeviceManyCustomers]);
        let outcome = evaluation.rules.iter().find(|r| r.rule == RiskReason::DeviceManyCustomers).unwrap();
        assert_eq!((outcome.fired, outcome.input), (true, Some(4)));
        policy.rules.insert(RiskReason::DeviceManyCustomers, RuleSetting { points: 50, shadow: false });
        assert_eq!(assess(&policy, &s).assessment.decision, Decision::Review);
    }

    #[test]
    fn a_typing_customer_is_not_held_but_a_guessing_one_is() {
        let typos = Signals { wrong_codes_of_customer_last_day: 2, wrong_codes_to_number_last_day: 2, ..clean() };
        assert_eq!(assess(&Policy::default(), &typos).assessment.decision, Decision::Allow);
        let guessing = Signals {
            wrong_codes_of_customer_last_day: 6,
            wrong_codes_to_number_last_day: 6,
            verifications_of_customer_last_hour: 5,
            ..clean()
        };
        assert_eq!(assess(&Policy::default(), &guessing).assessment.decision, Decision::Review);
    }
}
