//! What a risk assessment decides, shared by the scored rules (`risk`) and the network checks
//! (`swap`): the decision, its score and reasons, and each rule's outcome.

use crate::reason::RiskReason;

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

/// What one rule made of the signals: every rule is reported, fired or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleOutcome {
    pub rule: RiskReason,
    pub fired: bool,
    pub points: u32,
    /// Evaluated and recorded, but not counted towards the decision.
    pub shadow: bool,
    /// The count or age the rule compared (never personal data); absent where it had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub decision: Decision,
    pub score: u32,
    /// The live rules that fired, and any hard limit that refused.
    pub reasons: Vec<RiskReason>,
}
