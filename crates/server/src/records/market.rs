//! Published market reference figures, and the brand figures they are set beside.

/// What a brand is compared with the market on: a rate of its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MarketMetric {
    ConfirmedFraud,
    Losses,
    BlockedOrHeld,
    SimSwaps,
    DeviceSwaps,
    Lockouts,
    PumpingBlocks,
}

impl MarketMetric {
    pub const ALL: [Self; 7] = [
        Self::ConfirmedFraud,
        Self::Losses,
        Self::BlockedOrHeld,
        Self::SimSwaps,
        Self::DeviceSwaps,
        Self::Lockouts,
        Self::PumpingBlocks,
    ];

    /// The name in CSV files (`compare_with`) and links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmedFraud => "confirmed_fraud",
            Self::Losses => "losses",
            Self::BlockedOrHeld => "blocked_or_held",
            Self::SimSwaps => "sim_swaps",
            Self::DeviceSwaps => "device_swaps",
            Self::Lockouts => "lockouts",
            Self::PumpingBlocks => "pumping_blocks",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ConfirmedFraud => "Confirmed fraud",
            Self::Losses => "Losses",
            Self::BlockedOrHeld => "Orders blocked or held",
            Self::SimSwaps => "SIM swaps detected",
            Self::DeviceSwaps => "Device swaps detected",
            Self::Lockouts => "Wrong-code lock-outs",
            Self::PumpingBlocks => "SMS pumping blocks",
        }
    }

    /// The unit of the figure; losses are in `currency`.
    pub fn unit(self, currency: &str) -> String {
        match self {
            Self::ConfirmedFraud => "per 1,000 orders".into(),
            Self::Losses => format!("{currency} per 1,000 orders"),
            Self::BlockedOrHeld => "% of verifications".into(),
            Self::SimSwaps | Self::DeviceSwaps | Self::Lockouts | Self::PumpingBlocks => {
                "per 1,000 verifications".into()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub period: String,
    pub metric: String,
    /// As published, e.g. `2.22`.
    pub value: String,
    /// The brand figure the series is set beside, if any: published figures are national and
    /// yearly, so they show a trend to compare with, never a like-for-like rate.
    pub compare_with: Option<MarketMetric>,
    pub source: String,
}
