//! SIM swap and device swap: what the telco's network APIs (CAMARA SIM Swap, Device Swap) said
//! about the number, and what the brand's policy makes of it. A fraudster who moved the victim's
//! number to a SIM or a handset of their own receives every code sent to it, so a recent change
//! is judged before a code goes out; unlike the scored rules, an allow-list entry does not skip it.

use crate::clock::Timestamp;
use crate::decision::{Assessment, Decision, RuleOutcome};
use crate::reason::RiskReason;

const HOUR_MS: i64 = 3_600_000;
/// A change dated later than this ahead of `now` is no clock difference but a broken answer.
const MOST_AHEAD_MS: i64 = HOUR_MS;

/// The two network checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapKind {
    /// The SIM behind the number changed (CAMARA SIM Swap).
    SimSwap,
    /// The handset using the number changed (CAMARA Device Swap).
    DeviceSwap,
}

impl SwapKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimSwap => "sim_swap",
            Self::DeviceSwap => "device_swap",
        }
    }

    /// The reason code of a recent change.
    pub fn reason(self) -> RiskReason {
        match self {
            Self::SimSwap => RiskReason::SimSwapRecent,
            Self::DeviceSwap => RiskReason::DeviceSwapRecent,
        }
    }
}

/// Which CAMARA operation asks the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapMethod {
    /// `retrieve-date`: the date of the latest change, so that its age picks the band (preferred).
    RetrieveDate,
    /// `check` with `maxAge`: whether a change happened within a number of hours. The widest band
    /// is asked first; only a "yes" asks the narrower ones.
    Check,
}

impl SwapMethod {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "retrieve_date" => Some(Self::RetrieveDate),
            "check" => Some(Self::Check),
            _ => None,
        }
    }
}

/// What a change within a band leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapAction {
    Deny,
    /// Held for an analyst (or marked, when the brand's `review_action` is `send`).
    Review,
    /// Points added to the risk score.
    Score(u32),
}

/// What happens when the network API cannot answer in time (down, slow, an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnavailable {
    /// Fail open: the code goes out as if no change was found; the decision names the reason.
    Allow,
    Review,
    Deny,
}

impl WhenUnavailable {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "allow" => Some(Self::Allow),
            "review" => Some(Self::Review),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// A change younger than `within_hours` leads to `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapBand {
    pub within_hours: u32,
    pub action: SwapAction,
}

/// The most hours `check` accepts as `maxAge` (CAMARA: 1 to 2400).
pub const MAX_AGE_HOURS: u32 = 2400;

/// A brand's policy for one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapPolicy {
    pub kind: SwapKind,
    pub method: SwapMethod,
    /// Narrowest first; a change older than the widest band changes nothing.
    pub bands: Vec<SwapBand>,
    pub when_unavailable: WhenUnavailable,
    /// How long the call may take before it counts as unavailable.
    pub timeout_ms: u64,
    /// A resend this long after the last check asks the network again.
    pub recheck_after_seconds: i64,
    /// Evaluated and recorded only: the finding does not change the decision.
    pub shadow: bool,
}

impl SwapPolicy {
    /// Deny within a day, review within a week (docs/network-apis.md).
    pub fn default_for(kind: SwapKind) -> Self {
        let bands = match kind {
            SwapKind::SimSwap => vec![
                SwapBand { within_hours: 24, action: SwapAction::Deny },
                SwapBand { within_hours: 7 * 24, action: SwapAction::Review },
            ],
            // A new handset is common and less telling than a new SIM.
            SwapKind::DeviceSwap => vec![
                SwapBand { within_hours: 24, action: SwapAction::Review },
                SwapBand { within_hours: 7 * 24, action: SwapAction::Score(20) },
            ],
        };
        Self {
            kind,
            method: SwapMethod::RetrieveDate,
            bands,
            when_unavailable: WhenUnavailable::Allow,
            timeout_ms: 1000,
            recheck_after_seconds: 300,
            shadow: false,
        }
    }

    pub fn validate(&self) -> Result<(), crate::FieldError> {
        let field = self.kind.as_str();
        if self.bands.is_empty() {
            return Err(crate::FieldError::new(field, "needs at least one band"));
        }
        if self.bands.windows(2).any(|w| matches!(w, [a, b] if a.within_hours >= b.within_hours)) {
            return Err(crate::FieldError::new(field, "bands must be listed narrowest first, each wider"));
        }
        if self.bands.iter().any(|b| !(1..=MAX_AGE_HOURS).contains(&b.within_hours)) {
            return Err(crate::FieldError::new(field, format!("a band's hours must be 1 to {MAX_AGE_HOURS}")));
        }
        if !(50..=10_000).contains(&self.timeout_ms) {
            return Err(crate::FieldError::new(field, "timeout_ms must be 50 to 10000"));
        }
        if !(0..=86_400).contains(&self.recheck_after_seconds) {
            return Err(crate::FieldError::new(field, "recheck_after_seconds must be 0 to 86400"));
        }
        Ok(())
    }

    /// The `maxAge` values `check` asks, widest first.
    pub fn check_ages(&self) -> impl Iterator<Item = u32> + '_ {
        self.bands.iter().rev().map(|b| b.within_hours)
    }
}

/// What the network API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapAnswer {
    /// `retrieve-date`: the latest change, `None` when none is known within the monitored period
    /// (`monitored_days`, when the operator says how far back it looks).
    Date { latest_change: Option<Timestamp>, monitored_days: Option<u32> },
    /// `check`: the narrowest `maxAge` (hours) answered `swapped: true`, if any.
    Checked { swapped_within_hours: Option<u32> },
    /// No answer in time, or an error: `error` is readable and holds no personal data.
    Unavailable { error: String },
}

/// The outcome in three words, for events, dashboards and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapOutcome {
    /// A change within one of the policy's bands.
    Swapped,
    /// No change within the widest band (or none known).
    NotSwapped,
    Unavailable,
}

impl SwapOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Swapped => "swapped",
            Self::NotSwapped => "not_swapped",
            Self::Unavailable => "unavailable",
        }
    }
}

/// What the policy made of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapFinding {
    pub kind: SwapKind,
    pub outcome: SwapOutcome,
    /// The band the change fell in (`24h`, `7d`, …), `older` beyond the widest band, `none` when
    /// the network knows of no change; absent when unavailable. The age itself is not kept.
    pub age_band: Option<String>,
    /// The band's hours, for the risk event's rule outcome.
    pub band_hours: Option<u32>,
    /// What it does to the decision; `None` when nothing.
    pub action: Option<FindingAction>,
    pub shadow: bool,
}

/// The effect of a finding on the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingAction {
    Deny,
    Review,
    Score(u32),
    /// Let through without a change of the decision, but named (fail open).
    Note,
}

/// `24h`, `7d`: how a band is named in events and pages.
pub fn band_name(hours: u32) -> String {
    if hours.is_multiple_of(24) && hours > 48 { format!("{}d", hours / 24) } else { format!("{hours}h") }
}

pub fn judge(policy: &SwapPolicy, answer: &SwapAnswer, now: Timestamp) -> SwapFinding {
    let finding = |outcome, band: Option<String>, band_hours, action| SwapFinding {
        kind: policy.kind,
        outcome,
        age_band: band,
        band_hours,
        action,
        shadow: policy.shadow,
    };
    let within = |hours: u32| policy.bands.iter().find(|b| b.within_hours == hours);
    // No answer, or a change dated far ahead (a broken answer, not a clock difference).
    let unanswered = match answer {
        SwapAnswer::Unavailable { .. } => true,
        SwapAnswer::Date { latest_change: Some(at), .. } => at.millis() > now.millis() + MOST_AHEAD_MS,
        SwapAnswer::Date { latest_change: None, .. } | SwapAnswer::Checked { .. } => false,
    };
    if unanswered {
        let action = match policy.when_unavailable {
            WhenUnavailable::Allow => FindingAction::Note,
            WhenUnavailable::Review => FindingAction::Review,
            WhenUnavailable::Deny => FindingAction::Deny,
        };
        return finding(SwapOutcome::Unavailable, None, None, Some(action));
    }
    let band = match answer {
        SwapAnswer::Unavailable { .. } => None,
        SwapAnswer::Date { latest_change: None, .. } => {
            return finding(SwapOutcome::NotSwapped, Some("none".into()), None, None);
        }
        // A change dated a little in the future (clocks differ) is as recent as can be.
        SwapAnswer::Date { latest_change: Some(at), .. } => {
            let age_ms = (now.millis() - at.millis()).max(0);
            policy.bands.iter().find(|b| age_ms < i64::from(b.within_hours) * HOUR_MS)
        }
        SwapAnswer::Checked { swapped_within_hours: Some(hours) } => within(*hours),
        SwapAnswer::Checked { swapped_within_hours: None } => None,
    };
    match band {
        Some(band) => {
            let action = match band.action {
                SwapAction::Deny => FindingAction::Deny,
                SwapAction::Review => FindingAction::Review,
                SwapAction::Score(points) => FindingAction::Score(points),
            };
            finding(SwapOutcome::Swapped, Some(band_name(band.within_hours)), Some(band.within_hours), Some(action))
        }
        None => finding(SwapOutcome::NotSwapped, Some("older".into()), None, None),
    }
}

impl SwapFinding {
    /// The reason code it names, if it names one.
    pub fn reason(&self) -> Option<RiskReason> {
        match (self.outcome, self.action) {
            (SwapOutcome::Unavailable, _) => Some(RiskReason::NetworkApiUnavailable),
            (SwapOutcome::Swapped, Some(_)) => Some(self.kind.reason()),
            _ => None,
        }
    }

    /// Its line in the risk event's rule outcomes: `input` is the band's hours.
    pub fn rule_outcome(&self) -> RuleOutcome {
        let rule = match self.outcome {
            SwapOutcome::Unavailable => RiskReason::NetworkApiUnavailable,
            _ => self.kind.reason(),
        };
        let points = match self.action {
            Some(FindingAction::Score(points)) => points,
            _ => 0,
        };
        RuleOutcome {
            rule,
            fired: self.reason().is_some(),
            points,
            shadow: self.shadow,
            input: self.band_hours.map(i64::from),
        }
    }
}

/// Applies the live findings to a decision: a deny denies, a review holds at least, points add to
/// the score (and may reach the brand's thresholds); every finding that acts names its reason.
/// Returns the reasons of the shadow findings, which change nothing.
pub fn apply(
    assessment: &mut Assessment,
    findings: &[SwapFinding],
    review_score: u32,
    deny_score: u32,
) -> Vec<RiskReason> {
    let mut shadow = Vec::new();
    for finding in findings {
        let (Some(reason), Some(action)) = (finding.reason(), finding.action) else { continue };
        if finding.shadow {
            shadow.push(reason);
            continue;
        }
        if !assessment.reasons.contains(&reason) {
            assessment.reasons.push(reason);
        }
        let at_least = match action {
            FindingAction::Deny => Decision::Deny,
            FindingAction::Review => Decision::Review,
            FindingAction::Score(points) => {
                assessment.score = assessment.score.saturating_add(points);
                if assessment.score >= deny_score {
                    Decision::Deny
                } else if assessment.score >= review_score {
                    Decision::Review
                } else {
                    Decision::Allow
                }
            }
            FindingAction::Note => Decision::Allow,
        };
        assessment.decision = stricter(assessment.decision, at_least);
    }
    shadow
}

fn stricter(a: Decision, b: Decision) -> Decision {
    let rank = |d: Decision| match d {
        Decision::Allow => 0,
        Decision::Review => 1,
        Decision::Deny => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn ago(hours: i64) -> Option<Timestamp> {
        Some(Timestamp(NOW.millis() - hours * HOUR_MS))
    }

    fn allow() -> Assessment {
        Assessment { decision: Decision::Allow, score: 0, reasons: Vec::new() }
    }

    #[test]
    fn the_age_of_a_change_picks_its_band() {
        let policy = SwapPolicy::default_for(SwapKind::SimSwap);
        let date = |at| SwapAnswer::Date { latest_change: at, monitored_days: None };
        let two_hours = judge(&policy, &date(ago(2)), NOW);
        assert_eq!((two_hours.outcome, two_hours.age_band.as_deref()), (SwapOutcome::Swapped, Some("24h")));
        assert_eq!(two_hours.action, Some(FindingAction::Deny));
        assert_eq!(two_hours.reason(), Some(RiskReason::SimSwapRecent));
        let three_days = judge(&policy, &date(ago(72)), NOW);
        assert_eq!((three_days.age_band.as_deref(), three_days.action), (Some("7d"), Some(FindingAction::Review)));
        let months = judge(&policy, &date(ago(24 * 90)), NOW);
        assert_eq!((months.outcome, months.age_band.as_deref()), (SwapOutcome::NotSwapped, Some("older")));
        assert_eq!(months.reason(), None);
        let never = judge(&policy, &SwapAnswer::Date { latest_change: None, monitored_days: Some(120) }, NOW);
        assert_eq!((never.outcome, never.age_band.as_deref()), (SwapOutcome::NotSwapped, Some("none")));
        // Exactly a day old has left the one-day band.
        assert_eq!(judge(&policy, &date(ago(24)), NOW).age_band.as_deref(), Some("7d"));
        let ahead = Some(Timestamp(NOW.millis() + 10 * 60_000));
        assert_eq!(judge(&policy, &date(ahead), NOW).action, Some(FindingAction::Deny));
        // Years ahead is a broken answer: the policy for an unavailable API decides.
        let broken = judge(&policy, &date(Some(Timestamp(NOW.millis() + 400 * 24 * HOUR_MS))), NOW);
        assert_eq!((broken.outcome, broken.action), (SwapOutcome::Unavailable, Some(FindingAction::Note)));
    }

    #[test]
    fn check_answers_pick_the_band_they_were_asked_for() {
        let policy = SwapPolicy { method: SwapMethod::Check, ..SwapPolicy::default_for(SwapKind::SimSwap) };
        assert_eq!(policy.check_ages().collect::<Vec<_>>(), [168, 24]);
        let within_week = judge(&policy, &SwapAnswer::Checked { swapped_within_hours: Some(168) }, NOW);
        assert_eq!(within_week.action, Some(FindingAction::Review));
        let not = judge(&policy, &SwapAnswer::Checked { swapped_within_hours: None }, NOW);
        assert_eq!(not.outcome, SwapOutcome::NotSwapped);
    }

    #[test]
    fn findings_deny_hold_score_or_note() {
        let sim = SwapPolicy::default_for(SwapKind::SimSwap);
        let date = |at| SwapAnswer::Date { latest_change: at, monitored_days: None };
        let mut a = allow();
        assert!(apply(&mut a, &[judge(&sim, &date(ago(2)), NOW)], 50, 100).is_empty());
        assert_eq!((a.decision, a.reasons.as_slice()), (Decision::Deny, &[RiskReason::SimSwapRecent][..]));

        let device = SwapPolicy::default_for(SwapKind::DeviceSwap);
        let mut a = Assessment { decision: Decision::Allow, score: 40, reasons: vec![RiskReason::VoipNumber] };
        apply(&mut a, &[judge(&device, &date(ago(50)), NOW)], 50, 100);
        assert_eq!((a.decision, a.score), (Decision::Review, 60));

        let down = SwapAnswer::Unavailable { error: "timed out".into() };
        let mut a = allow();
        apply(&mut a, &[judge(&sim, &down, NOW)], 50, 100);
        assert_eq!((a.decision, a.reasons.as_slice()), (Decision::Allow, &[RiskReason::NetworkApiUnavailable][..]));
        let strict = SwapPolicy { when_unavailable: WhenUnavailable::Deny, ..sim.clone() };
        let mut a = allow();
        apply(&mut a, &[judge(&strict, &down, NOW)], 50, 100);
        assert_eq!(a.decision, Decision::Deny);

        let shadow = SwapPolicy { shadow: true, ..sim };
        let mut a = allow();
        assert_eq!(apply(&mut a, &[judge(&shadow, &date(ago(2)), NOW)], 50, 100), [RiskReason::SimSwapRecent]);
        assert_eq!(a, allow());
    }

    #[test]
    fn policies_are_checked() {
        assert!(SwapPolicy::default_for(SwapKind::SimSwap).validate().is_ok());
        let mut p = SwapPolicy::default_for(SwapKind::SimSwap);
        p.bands.reverse();
        assert!(p.validate().is_err());
        p.bands = vec![SwapBand { within_hours: 3000, action: SwapAction::Deny }];
        assert!(p.validate().is_err());
        assert_eq!(band_name(24), "24h");
        assert_eq!(band_name(168), "7d");
        assert_eq!(band_name(36), "36h");
    }
}
