//! Alert rules: what each watches, over which rolling window, against which baseline, and when
//! it fires. Pure: the service hands in the counts of the window and of the history (the
//! dashboards' counters), and the state figures it read (review queue, webhook endpoints); the
//! rule says, per key (a provider, a country, …), whether the condition holds and with which figures.

pub mod replay;

use std::collections::BTreeMap;

use serde::Serialize;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;

/// How many weeks of history a baseline is learnt from.
pub const BASELINE_WEEKS: i64 = 4;

/// Counters of one brand over a period, by (dimension, value) as the dashboards count them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<(String, String), i64>);

impl Counts {
    pub fn add(&mut self, dimension: &str, value: &str, count: i64) {
        *self.0.entry((dimension.to_owned(), value.to_owned())).or_default() += count;
    }

    pub fn get(&self, dimension: &str, value: &str) -> i64 {
        self.0.get(&(dimension.to_owned(), value.to_owned())).copied().unwrap_or(0)
    }

    /// The values of one dimension and their counts.
    pub fn of(&self, dimension: &str) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().filter(move |((d, _), _)| d == dimension).map(|((_, v), c)| (v.as_str(), *c))
    }

    fn event(&self, kind: &str) -> i64 {
        self.get("event", kind)
    }
}

/// What the service read of the brand's state at the moment of the evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Orders held for review, and since when the oldest waits (ms).
    pub held: i64,
    pub oldest_held_at: Option<i64>,
    /// Enabled webhook endpoints and since when each fails (ms); `None` when its last attempt went through.
    pub webhook_endpoints: Vec<(String, Option<i64>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// Approvals among the verifications that ended, below the baseline.
    ApprovalRateDrop,
    /// Wrong codes among the codes typed, above the baseline (an account-takeover campaign).
    WrongCodeRateRise,
    /// SMS delivered among those with a delivery report, below the baseline, per provider and per country.
    SmsDeliveryDrop,
    /// A provider skipped because its circuit breaker is open.
    ProviderCircuitOpen,
    /// Verifications to one destination country far above its baseline (SMS pumping).
    PumpingCountry,
    /// Codes to one number range bursting (the range-burst defence paused it).
    PumpingRange,
    /// The brand's daily SMS budget refused codes.
    SmsBudgetReached,
    /// SIM swaps found among the SIM swap checks, above the baseline.
    SimSwapRise,
    /// Device swaps found among the device swap checks, above the baseline.
    DeviceSwapRise,
    /// The telco's network API not answering.
    NetworkApiFailing,
    /// The identity service not answering.
    IdentityFailing,
    /// A webhook endpoint failing for a while.
    WebhookFailing,
    /// Many orders waiting for review.
    ReviewQueueGrowing,
    /// The oldest order held for review waiting too long.
    ReviewOldest,
    /// Wrong-code lock-outs among verifications, above the baseline.
    LockoutsRise,
}

impl AlertRule {
    pub const ALL: [AlertRule; 15] = [
        Self::ApprovalRateDrop,
        Self::WrongCodeRateRise,
        Self::SmsDeliveryDrop,
        Self::ProviderCircuitOpen,
        Self::PumpingCountry,
        Self::PumpingRange,
        Self::SmsBudgetReached,
        Self::SimSwapRise,
        Self::DeviceSwapRise,
        Self::NetworkApiFailing,
        Self::IdentityFailing,
        Self::WebhookFailing,
        Self::ReviewQueueGrowing,
        Self::ReviewOldest,
        Self::LockoutsRise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApprovalRateDrop => "approval_rate_drop",
            Self::WrongCodeRateRise => "wrong_code_rate_rise",
            Self::SmsDeliveryDrop => "sms_delivery_drop",
            Self::ProviderCircuitOpen => "provider_circuit_open",
            Self::PumpingCountry => "pumping_country",
            Self::PumpingRange => "pumping_range",
            Self::SmsBudgetReached => "sms_budget_reached",
            Self::SimSwapRise => "sim_swap_rise",
            Self::DeviceSwapRise => "device_swap_rise",
            Self::NetworkApiFailing => "network_api_failing",
            Self::IdentityFailing => "identity_failing",
            Self::WebhookFailing => "webhook_failing",
            Self::ReviewQueueGrowing => "review_queue_growing",
            Self::ReviewOldest => "review_oldest",
            Self::LockoutsRise => "lockouts_rise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// One line for people: what it means when it fires.
    pub fn title(self) -> &'static str {
        match self {
            Self::ApprovalRateDrop => "Approval rate below its usual level",
            Self::WrongCodeRateRise => "Wrong codes above their usual level (account takeover?)",
            Self::SmsDeliveryDrop => "SMS delivery rate dropping",
            Self::ProviderCircuitOpen => "SMS provider circuit open",
            Self::PumpingCountry => "Codes to one country far above usual (SMS pumping?)",
            Self::PumpingRange => "Codes to one number range bursting (SMS pumping)",
            Self::SmsBudgetReached => "Daily SMS budget reached",
            Self::SimSwapRise => "SIM swaps above their usual level",
            Self::DeviceSwapRise => "Device swaps above their usual level",
            Self::NetworkApiFailing => "Network API failing",
            Self::IdentityFailing => "Identity service failing",
            Self::WebhookFailing => "Webhook endpoint failing",
            Self::ReviewQueueGrowing => "Review queue growing",
            Self::ReviewOldest => "Held order waiting too long",
            Self::LockoutsRise => "Wrong-code lock-outs above their usual level",
        }
    }

    /// What the rule measures, and so how it compares.
    pub fn test(self) -> Test {
        match self {
            Self::ApprovalRateDrop | Self::SmsDeliveryDrop => Test::RateBelowBaseline,
            Self::WrongCodeRateRise | Self::SimSwapRise | Self::DeviceSwapRise | Self::LockoutsRise => {
                Test::RateAboveBaseline
            }
            Self::PumpingCountry => Test::CountAboveBaseline,
            Self::NetworkApiFailing | Self::IdentityFailing => Test::RateAboveLevel,
            Self::ProviderCircuitOpen
            | Self::PumpingRange
            | Self::SmsBudgetReached
            | Self::WebhookFailing
            | Self::ReviewQueueGrowing
            | Self::ReviewOldest => Test::CountAtLevel,
        }
    }

    /// Its defaults: chosen so that a brand's ordinary traffic stays quiet (see docs/alerts.md).
    pub fn defaults(self) -> RuleSettings {
        let base = RuleSettings {
            enabled: true,
            severity: Severity::Warning,
            window_minutes: 30,
            min_volume: 30,
            change: 0.15,
            factor: 2.0,
            z: 4.0,
            level: 1.0,
            quiet_minutes: 15,
            baseline_volume: 200,
        };
        match self {
            Self::ApprovalRateDrop => RuleSettings { severity: Severity::Critical, ..base },
            Self::WrongCodeRateRise => RuleSettings { min_volume: 40, change: 0.10, ..base },
            Self::SmsDeliveryDrop => RuleSettings { min_volume: 30, change: 0.20, ..base },
            Self::ProviderCircuitOpen => RuleSettings { severity: Severity::Critical, window_minutes: 5, ..base },
            Self::PumpingCountry => RuleSettings { window_minutes: 60, min_volume: 40, factor: 4.0, ..base },
            Self::PumpingRange => RuleSettings { window_minutes: 60, ..base },
            Self::SmsBudgetReached => RuleSettings { severity: Severity::Critical, window_minutes: 60, ..base },
            Self::SimSwapRise | Self::DeviceSwapRise => {
                RuleSettings { min_volume: 40, change: 0.05, factor: 3.0, severity: Severity::Critical, ..base }
            }
            Self::NetworkApiFailing | Self::IdentityFailing => {
                RuleSettings { window_minutes: 10, min_volume: 10, level: 0.5, ..base }
            }
            Self::WebhookFailing => RuleSettings { window_minutes: 1, level: 15.0, ..base },
            Self::ReviewQueueGrowing => RuleSettings { window_minutes: 1, level: 25.0, ..base },
            Self::ReviewOldest => RuleSettings { window_minutes: 1, level: 120.0, ..base },
            Self::LockoutsRise => RuleSettings { min_volume: 40, change: 0.03, factor: 3.0, ..base },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Warning, Self::Critical].into_iter().find(|v| v.as_str() == s)
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [Self::Open, Self::Acknowledged, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// How a rule compares what it measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// A share below the baseline's by at least `change` (absolute) and `z` standard errors.
    RateBelowBaseline,
    /// A share above the baseline's: at least `factor` times it, `change` above it, `z` standard errors.
    RateAboveBaseline,
    /// A count at least `factor` times the baseline's expectation for the window, and `z` Poisson deviations.
    CountAboveBaseline,
    /// A share at or above `level`.
    RateAboveLevel,
    /// A count (or an age in minutes) at or above `level`.
    CountAtLevel,
}

/// A rule's settings for one brand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuleSettings {
    pub enabled: bool,
    pub severity: Severity,
    /// The rolling window.
    pub window_minutes: i64,
    /// Below this many in the window (the share's denominator, the count) the rule stays silent;
    /// the rules with a fixed `level` read the level only.
    pub min_volume: i64,
    /// The least absolute change of a share against its baseline.
    pub change: f64,
    /// The least ratio to the baseline (rising rules).
    pub factor: f64,
    /// The least distance from the baseline in standard errors.
    pub z: f64,
    /// The level of the rules without a baseline (more than 0).
    pub level: f64,
    /// Resolved by itself after this long without firing.
    pub quiet_minutes: i64,
    /// The least volume a baseline must have seen (of the share's denominator; of the brand's
    /// verifications for a count) to be trusted; a thinner one gives way to the next coarser.
    pub baseline_volume: i64,
}

/// Which history a baseline was learnt from: the finest one with enough volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// The same hour of the week in the last four weeks.
    HourOfWeek,
    /// The same day of the week in the last four weeks.
    DayOfWeek,
    /// Every hour of the last four weeks.
    AllHours,
    /// Too little history: the rule compares against nothing (rate rules stay silent, count rules
    /// need `factor` times their minimum volume).
    None,
}

impl BaselineKind {
    pub const FALLBACKS: [BaselineKind; 3] = [Self::HourOfWeek, Self::DayOfWeek, Self::AllHours];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HourOfWeek => "hour_of_week",
            Self::DayOfWeek => "day_of_week",
            Self::AllHours => "all_hours",
            Self::None => "none",
        }
    }

    /// Whether the hour starting at `hour` belongs to this baseline at `at` (from the four weeks
    /// before `at`). The hour before the current one is left out too: a window of up to an hour
    /// reaches into it, and an anomaly must not dilute its own baseline.
    pub fn covers(self, at: i64, hour: i64) -> bool {
        let age = at - hour;
        // The same hour four weeks back is still in: its start is up to an hour older than that.
        if !(2 * HOUR_MS..BASELINE_WEEKS * WEEK_MS + HOUR_MS).contains(&age) {
            return false;
        }
        match self {
            Self::HourOfWeek => hour.rem_euclid(WEEK_MS) / HOUR_MS == at.rem_euclid(WEEK_MS) / HOUR_MS,
            Self::DayOfWeek => hour.rem_euclid(WEEK_MS) / DAY_MS == at.rem_euclid(WEEK_MS) / DAY_MS,
            Self::AllHours => true,
            Self::None => false,
        }
    }
}

/// A baseline: the counts of the hours it covers, how many hours those were, and what each rule
/// measures in them (worked out once, as a baseline serves every minute of an hour).
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub kind: BaselineKind,
    pub hours: i64,
    verifications: i64,
    measured: BTreeMap<AlertRule, BTreeMap<String, Measured>>,
}

impl Baseline {
    pub fn new(kind: BaselineKind, counts: &Counts, hours: i64) -> Self {
        let measured = AlertRule::ALL.into_iter().map(|rule| (rule, measure(rule, counts))).collect();
        Self { kind, hours, verifications: counts.event("verification.created"), measured }
    }
}

/// What a rule found for one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub key: String,
    /// The share or the count in the window.
    pub observed: f64,
    /// The share or the expected count of the baseline (absent for a fixed level).
    pub expected: Option<f64>,
    /// The share's denominator or the count.
    pub volume: i64,
    pub baseline: BaselineKind,
    pub window_minutes: i64,
}

/// One measurement: a share (`part` of `whole`) or a count (`part`, `whole` = 1).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Measured {
    part: i64,
    whole: i64,
}

/// Reads a rule's measurements per key out of a period's counts.
fn measure(rule: AlertRule, counts: &Counts) -> BTreeMap<String, Measured> {
    let mut out: BTreeMap<String, Measured> = BTreeMap::new();
    let brand = |part: i64, whole: i64| BTreeMap::from([(String::new(), Measured { part, whole })]);
    match rule {
        AlertRule::ApprovalRateDrop => {
            let approved = counts.event("verification.approved");
            let ended = approved + counts.event("verification.failed") + counts.event("verification.expired");
            return brand(approved, ended);
        }
        AlertRule::WrongCodeRateRise => {
            let wrong = counts.event("check.failed");
            return brand(wrong, wrong + counts.event("verification.approved"));
        }
        AlertRule::SmsDeliveryDrop => {
            for (dimension, delivered) in [("sms_delivered_route", true), ("sms_failed_route", false)] {
                for (route, n) in counts.of(dimension) {
                    let (provider, country) = route.split_once('|').unwrap_or((route, "ZZ"));
                    for key in [format!("provider:{provider}"), format!("country:{country}")] {
                        let m = out.entry(key).or_default();
                        m.part += if delivered { n } else { 0 };
                        m.whole += n;
                    }
                }
            }
        }
        AlertRule::ProviderCircuitOpen => {
            // Skipped for an open breaker, or tried through it as a route's last provider.
            for (value, n) in counts.of("sms_attempt_failed") {
                let provider = value.strip_suffix("|skipped").or_else(|| value.strip_suffix("|breaker_open"));
                if let Some(provider) = provider {
                    out.entry(provider.to_owned()).or_default().part += n;
                }
            }
        }
        AlertRule::PumpingCountry => {
            // Codes sent to the country, neither typed nor reported undelivered: pumped codes
            // never are typed, a rush of honest customers' mostly are, and codes an outage keeps
            // from arriving are the delivery rule's to report.
            for (route, n) in counts.of("sms_submitted_route") {
                let country = route.split_once('|').map_or("ZZ", |(_, country)| country);
                out.entry(country.to_owned()).or_insert(Measured { part: 0, whole: 1 }).part += n;
            }
            let undelivered = counts
                .of("sms_failed_route")
                .map(|(route, n)| (route.split_once('|').map_or("ZZ", |(_, country)| country), n));
            for (country, n) in counts.of("approved_country").chain(undelivered) {
                if let Some(m) = out.get_mut(country) {
                    m.part = (m.part - n).max(0);
                }
            }
        }
        AlertRule::PumpingRange => return brand(counts.event("risk.range_burst"), 1),
        AlertRule::SmsBudgetReached => {
            // Past the budget an order is held (a risk reason) or, as a hard limit, refused.
            let over = counts.get("risk_reason", "sms_budget_reached")
                + counts.get("limit_refusal", "create|sms_budget_reached");
            return brand(over, 1);
        }
        AlertRule::SimSwapRise | AlertRule::DeviceSwapRise => {
            let api = if rule == AlertRule::SimSwapRise { "sim_swap" } else { "device_swap" };
            let found = counts.get("network_check", &format!("{api}|swapped"));
            return brand(found, found + counts.get("network_check", &format!("{api}|not_swapped")));
        }
        AlertRule::NetworkApiFailing => {
            for api in ["sim_swap", "device_swap"] {
                let failed = counts.get("network_check", &format!("{api}|unavailable"));
                let asked =
                    counts.of("network_check").filter(|(v, _)| v.starts_with(&format!("{api}|"))).map(|(_, n)| n);
                out.insert(api.to_owned(), Measured { part: failed, whole: asked.sum() });
            }
        }
        AlertRule::IdentityFailing => {
            let failed = counts.get("identity_failure", "unavailable");
            return brand(failed, failed + counts.event("verification.created"));
        }
        AlertRule::LockoutsRise => {
            return brand(counts.event("risk.lock_engaged"), counts.event("verification.created"));
        }
        AlertRule::WebhookFailing | AlertRule::ReviewQueueGrowing | AlertRule::ReviewOldest => {}
    }
    out.retain(|_, m| m.part > 0 || m.whole > 0);
    out
}

/// Measurements of the rules that read the brand's state rather than its counts.
fn measure_state(rule: AlertRule, state: &State, at: i64) -> BTreeMap<String, Measured> {
    let minutes = |since: i64| (at - since).max(0) / MINUTE_MS;
    match rule {
        AlertRule::WebhookFailing => state
            .webhook_endpoints
            .iter()
            .filter_map(|(name, since)| Some((name.clone(), Measured { part: minutes((*since)?), whole: 1 })))
            .collect(),
        AlertRule::ReviewQueueGrowing => BTreeMap::from([(String::new(), Measured { part: state.held, whole: 1 })]),
        AlertRule::ReviewOldest => state
            .oldest_held_at
            .map(|since| (String::new(), Measured { part: minutes(since), whole: 1 }))
            .into_iter()
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Whether the rule reads the state of the brand (not its counters).
pub fn reads_state(rule: AlertRule) -> bool {
    matches!(rule, AlertRule::WebhookFailing | AlertRule::ReviewQueueGrowing | AlertRule::ReviewOldest)
}

/// Whether the rule compares with a baseline.
pub fn needs_baseline(rule: AlertRule) -> bool {
    matches!(rule.test(), Test::RateBelowBaseline | Test::RateAboveBaseline | Test::CountAboveBaseline)
}

/// The finest baseline with enough volume for this rule and key; the `candidates` are the
/// baselines of the kinds in `BaselineKind::FALLBACKS`, finest first.
fn choose<'a>(
    rule: AlertRule,
    settings: &RuleSettings,
    key: &str,
    candidates: &'a [Baseline],
) -> Option<(&'a Baseline, Measured)> {
    candidates.iter().find_map(|b| {
        let m = b.measured.get(&rule).and_then(|m| m.get(key)).copied().unwrap_or_default();
        let volume = match rule.test() {
            Test::CountAboveBaseline => b.verifications,
            _ => m.whole,
        };
        (volume >= settings.baseline_volume && b.hours > 0).then_some((b, m))
    })
}

/// Evaluates one rule at `at` over its window's counts (and the brand's state), against the
/// baselines offered (finest first); gives the keys for which it fires.
pub fn evaluate(
    rule: AlertRule,
    settings: &RuleSettings,
    window: &Counts,
    state: &State,
    baselines: &[Baseline],
    at: i64,
) -> Vec<Finding> {
    if !settings.enabled {
        return Vec::new();
    }
    let measured = if reads_state(rule) { measure_state(rule, state, at) } else { measure(rule, window) };
    let s = settings;
    let mut found = Vec::new();
    for (key, m) in measured {
        let finding = |observed: f64, expected: Option<f64>, volume: i64, baseline: BaselineKind| Finding {
            key: key.clone(),
            observed,
            expected,
            volume,
            baseline,
            window_minutes: s.window_minutes,
        };
        let share = |m: Measured| if m.whole > 0 { m.part as f64 / m.whole as f64 } else { 0.0 };
        match rule.test() {
            Test::CountAtLevel => {
                if m.part as f64 >= s.level {
                    found.push(finding(m.part as f64, None, m.part, BaselineKind::None));
                }
            }
            Test::RateAboveLevel => {
                if m.whole >= s.min_volume && share(m) >= s.level {
                    found.push(finding(share(m), None, m.whole, BaselineKind::None));
                }
            }
            Test::RateBelowBaseline | Test::RateAboveBaseline => {
                if m.whole < s.min_volume {
                    continue;
                }
                let Some((baseline, history)) = choose(rule, s, &key, baselines) else { continue };
                let (p, p0) = (share(m), share(history));
                // The standard error of a share of `whole` at the baseline's rate (never zero, so
                // that a baseline of 100 % or 0 % still needs a real change).
                let se = (p0 * (1.0 - p0)).max(0.0025).sqrt() / (m.whole as f64).sqrt();
                let fires = match rule.test() {
                    Test::RateBelowBaseline => p0 - p >= s.change && (p0 - p) / se >= s.z,
                    _ => p >= p0 * s.factor && p - p0 >= s.change && (p - p0) / se >= s.z,
                };
                if fires {
                    found.push(finding(p, Some(p0), m.whole, baseline.kind));
                }
            }
            Test::CountAboveBaseline => {
                if m.part < s.min_volume {
                    continue;
                }
                let window_hours = s.window_minutes as f64 / 60.0;
                let (expected, kind) = match choose(rule, s, &key, baselines) {
                    Some((b, history)) => (history.part as f64 / b.hours as f64 * window_hours, b.kind),
                    // Nothing learnt: only a count far above the least volume fires.
                    None => (s.min_volume as f64, BaselineKind::None),
                };
                let floor = expected.max(1.0);
                let observed = m.part as f64;
                if observed >= floor * s.factor && (observed - floor) / floor.sqrt() >= s.z {
                    found.push(finding(observed, Some(expected), m.part, kind));
                }
            }
        }
    }
    found
}

/// The start of the minute `at` falls in.
pub fn minute_of(at: i64) -> i64 {
    at.div_euclid(MINUTE_MS) * MINUTE_MS
}

#[cfg(test)]
mod tests;
