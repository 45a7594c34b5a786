//! The reason codes of risk decisions: a public contract of the API, the events and the dashboards.

/// Why a verification was scored, held or refused: a stable code the API, the events and the
/// dashboards carry (docs/risk.md explains each). The scored rules come first, then the hard
/// limits and the pumping defences, which no score overrides.
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
    ShippingCountryUnusualForCustomer,
    VelocityNumber,
    VelocityCustomer,
    VelocityNetwork,
    VelocityDevice,
    DeviceManyCustomers,
    WrongCodesCustomer,
    WrongCodesNumber,
    NumberChangedRecently,
    NewDeviceHighValue,
    SmsLimitNumber,
    VerificationLimitCustomer,
    WrongCodeLockCustomer,
    WrongCodeLockNumber,
    RangeBurst,
    BlockList,
    SmsBudgetReached,
    RelaySuspected,
    SimSwapRecent,
    DeviceSwapRecent,
    NetworkApiUnavailable,
}

impl RiskReason {
    pub const ALL: [RiskReason; 28] = [
        Self::DestinationCountryNotAllowed,
        Self::PremiumOrSpecialRateNumber,
        Self::NumberCannotReceiveSms,
        Self::VoipNumber,
        Self::UnknownNumberType,
        Self::HighValueHardware,
        Self::ShippingCountryDiffersFromNumber,
        Self::ShippingCountryUnusualForCustomer,
        Self::VelocityNumber,
        Self::VelocityCustomer,
        Self::VelocityNetwork,
        Self::VelocityDevice,
        Self::DeviceManyCustomers,
        Self::WrongCodesCustomer,
        Self::WrongCodesNumber,
        Self::NumberChangedRecently,
        Self::NewDeviceHighValue,
        Self::SmsLimitNumber,
        Self::VerificationLimitCustomer,
        Self::WrongCodeLockCustomer,
        Self::WrongCodeLockNumber,
        Self::RangeBurst,
        Self::BlockList,
        Self::SmsBudgetReached,
        Self::RelaySuspected,
        Self::SimSwapRecent,
        Self::DeviceSwapRecent,
        Self::NetworkApiUnavailable,
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
            Self::ShippingCountryUnusualForCustomer => "shipping_country_unusual_for_customer",
            Self::VelocityNumber => "velocity_number",
            Self::VelocityCustomer => "velocity_customer",
            Self::VelocityNetwork => "velocity_network",
            Self::VelocityDevice => "velocity_device",
            Self::DeviceManyCustomers => "device_many_customers",
            Self::WrongCodesCustomer => "wrong_codes_customer",
            Self::WrongCodesNumber => "wrong_codes_number",
            Self::NumberChangedRecently => "number_changed_recently",
            Self::NewDeviceHighValue => "new_device_high_value",
            Self::SmsLimitNumber => "sms_limit_number",
            Self::VerificationLimitCustomer => "verification_limit_customer",
            Self::WrongCodeLockCustomer => "wrong_code_lock_customer",
            Self::WrongCodeLockNumber => "wrong_code_lock_number",
            Self::RangeBurst => "range_burst",
            Self::BlockList => "block_list",
            Self::SmsBudgetReached => "sms_budget_reached",
            Self::RelaySuspected => "relay_suspected",
            Self::SimSwapRecent => "sim_swap_recent",
            Self::DeviceSwapRecent => "device_swap_recent",
            Self::NetworkApiUnavailable => "network_api_unavailable",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// A finding of the telco's network checks (SIM swap, device swap).
    pub fn is_network_check(self) -> bool {
        matches!(self, Self::SimSwapRecent | Self::DeviceSwapRecent | Self::NetworkApiUnavailable)
    }

    /// A defence against SMS pumping (traffic inflated to cheap or premium numbers for a share of
    /// the fees): the sends per number, the range's pause and the SMS budget.
    pub fn is_pumping_defence(self) -> bool {
        matches!(self, Self::SmsLimitNumber | Self::RangeBurst | Self::SmsBudgetReached)
    }

    /// A scored rule (configurable points, shadow mode in `policy.rules`), not a hard limit nor a
    /// network check (whose policy is `policy.sim_swap` / `policy.device_swap`).
    pub fn is_scored(self) -> bool {
        !matches!(
            self,
            Self::SmsLimitNumber
                | Self::VerificationLimitCustomer
                | Self::WrongCodeLockCustomer
                | Self::WrongCodeLockNumber
                | Self::RangeBurst
                | Self::BlockList
                | Self::SmsBudgetReached
                | Self::RelaySuspected
                | Self::SimSwapRecent
                | Self::DeviceSwapRecent
                | Self::NetworkApiUnavailable
        )
    }
}
