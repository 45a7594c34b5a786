//! The incidents the alert rules must notice (docs/alerts.md), one per known day before the last
//! simulated day, each after the mid-morning slot on the first brand with 2FA that it can strike:
//! an SMS provider outage during a newsletter's rush, a pumping wave on one number range, a SIM
//! swap wave and an account-takeover wave. Each is large enough to be told from the noise of a
//! brand's ordinary traffic (the volumes are in the variants' comments).

use std::sync::Arc;

use orderguard_domain::alert::AlertRule;

use super::attack::{Attack, Campaign};
use super::defences::Watch;
use super::plan::{self, Rng};
use super::report::{self, SimulationError};
use super::slot::{Brand, Flow, Slot, Tallies};

const MINUTE_MS: i64 = 60_000;

/// The incidents, each on its own day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Incident {
    /// The brand's SMS provider delivers nothing for a quarter of an hour, while a newsletter
    /// brings 90 honest orders (six a minute): every code is reported undelivered.
    ProviderOutage,
    /// Ninety codes in ten minutes to accounts whose numbers share one range, never typed.
    RangePumpingWave,
    /// Every SIM-swapped customer of the brand (50 in the demo) ordered by their fraudster, one
    /// order every eight seconds.
    SimSwapWave,
    /// Every victim's login (14 per brand in the demo) orders three times, four minutes apart,
    /// four guessed codes each time: over 50 wrong codes in the first minute, then what the
    /// locks let through.
    TakeoverWave,
}

impl Incident {
    /// The incident `days_before_last` days before the last simulated day, if any.
    pub(super) fn on(days_before_last: i64) -> Option<Self> {
        match days_before_last {
            4 => Some(Self::ProviderOutage),
            3 => Some(Self::RangePumpingWave),
            2 => Some(Self::SimSwapWave),
            1 => Some(Self::TakeoverWave),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::ProviderOutage => "provider_outage",
            Self::RangePumpingWave => "range_pumping_wave",
            Self::SimSwapWave => "sim_swap_wave",
            Self::TakeoverWave => "takeover_wave",
        }
    }

    /// The alert rule that must notice it.
    pub(super) fn alert_rule(self) -> AlertRule {
        match self {
            Self::ProviderOutage => AlertRule::SmsDeliveryDrop,
            Self::RangePumpingWave => AlertRule::PumpingRange,
            Self::SimSwapWave => AlertRule::SimSwapRise,
            Self::TakeoverWave => AlertRule::WrongCodeRateRise,
        }
    }

    /// Whether `brand` has the customers the incident needs.
    pub(super) fn can_strike(self, brand: &Brand) -> bool {
        match self {
            Self::ProviderOutage => !brand.customers.is_empty(),
            Self::RangePumpingWave => !brand.pumped_accounts.is_empty(),
            Self::SimSwapWave => !brand.sim_swapped.is_empty(),
            Self::TakeoverWave => !brand.victims.is_empty(),
        }
    }

    /// Plays the incident on `brand` from `at`; gives what it reports and the verifications it
    /// may have left pending or held.
    pub(super) async fn run(
        self,
        on: Attack<'_>,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
    ) -> Result<(report::Incident, Vec<String>), SimulationError> {
        let (brand, at) = (on.brand, on.t0);
        let (opened, minutes) = match self {
            Self::ProviderOutage => {
                let mut flows = newsletter_rush(brand, &on.tag, rng);
                let slot = Slot { api: on.api, brands: &[], t0: at, pumping_day: None, concurrency: on.concurrency };
                slot.run(rng, tallies, watch, &mut flows).await?;
                let opened = flows.iter().filter(|f| !f.ended || f.held).filter_map(|f| f.verification.clone());
                (opened.collect(), 15)
            }
            Self::RangePumpingWave | Self::SimSwapWave | Self::TakeoverWave => {
                let (campaign, minutes) = match self {
                    Self::RangePumpingWave => (Campaign::RangePumpingWave, 10),
                    Self::SimSwapWave => (Campaign::SimSwapWave, 7),
                    _ => (Campaign::TakeoverWave, 10),
                };
                (on.run(campaign, rng, tallies, watch).await?, minutes)
            }
        };
        let report = report::Incident {
            name: self.name().into(),
            brand: brand.slug.clone(),
            at: crate::clock::rfc3339(at),
            until: crate::clock::rfc3339(at + minutes * MINUTE_MS),
            alert_rule: self.alert_rule().as_str().into(),
        };
        Ok((report, opened))
    }
}

/// Ninety orders of distinct honest customers (as many as the brand has), one every ten seconds,
/// whose codes never arrive: the customers give up.
fn newsletter_rush(brand: &Arc<Brand>, tag: &str, rng: &mut Rng) -> Vec<Flow> {
    let mut customers = brand.customers.clone();
    plan::shuffle(&mut customers, rng);
    let mut flows = Vec::new();
    for (n, customer) in (0_i64..).zip(customers.into_iter().take(90)) {
        let mut behaviour = plan::behaviour(rng);
        while !behaviour.is_legitimate() {
            behaviour = plan::behaviour(rng);
        }
        let mut flow = Flow::of(brand, format!("{tag}-{n:03}"), behaviour, customer, true, rng);
        flow.start = n * 10;
        flow.delivery = None;
        flows.push(flow);
    }
    flows
}
