//! `orderguard simulate`: weeks of realistic traffic through the real API of a running instance —
//! several brands; customers who mistype, ask for a new code, order from a second device, give up
//! or cancel, and a launch-day surge; fraudsters with a stolen login who never get the code,
//! code-guessing bots, SMS pumping bursts to premium numbers, and attackers who adapt to the
//! defences (`attack`), and on known days the incidents of the alert rules (`incident`) — and the orders'
//! outcomes reported afterwards, before and after each brand
//! switched 2FA on. Besides what the API answered per brand, it reports what the defences let
//! through (`defences`).
//!
//! It moves the instance's clock (`dev.simulated_clock`) through the days, reads the codes from
//! its outbox (`dev.outbox_page`) and plays the SMS network by posting delivery reports. What the
//! API answered is its report: the figures the dashboards must show.

mod api;
mod attack;
mod defences;
mod incident;
mod options;
pub mod plan;
mod report;
mod slot;

use std::sync::Arc;
use std::time::Duration;

use orderguard_domain::money::Currency;

use crate::analytics::{DAY_MS, HOUR_MS};
use crate::cli::progress::Progress;
use api::{Api, Job, in_parallel, text};
use attack::{Attack, Campaign};
use defences::Watch;
use incident::Incident;
pub use options::{Options, SmsStatus, Target, TargetBrand, TargetCustomer};
use plan::Rng;
pub use report::{Report, SimulationError, Tally};
use slot::{Brand, Flow, Slot, Tallies, tally};

/// The slot after which the incidents strike (`incident`).
pub const INCIDENT_SLOT: usize = 2;

/// Runs the simulation over the last `options.days` days and gives what the API answered.
pub async fn run(target: Target, options: &Options) -> Result<Report, SimulationError> {
    let mut rng = Rng::new(options.seed);
    let mut brands = Vec::new();
    for b in &target.brands {
        let currency = Currency::parse(&b.currency)
            .map_err(|_| SimulationError::Setup(format!("brand {}: `{}` is not a currency", b.slug, b.currency)))?;
        let two_factor_since = match &b.two_factor_since {
            None => None,
            Some(day) => Some(crate::clock::parse_day(day).ok_or_else(|| {
                SimulationError::Setup(format!("brand {}: two_factor_since `{day}` is not a day", b.slug))
            })?),
        };
        let of_brand = |pumping: bool, range_pumping: bool| -> Vec<String> {
            let customers = target.customers.iter().filter(|c| c.brand == b.slug && !c.sim_swapped);
            let customers = customers.filter(|c| c.pumping == pumping && c.range_pumping == range_pumping);
            customers.map(|c| c.id.clone()).collect()
        };
        let sim_swapped = target.customers.iter().filter(|c| c.brand == b.slug && c.sim_swapped);
        // Every eighth customer's login is in attackers' hands (none when there are few).
        let (victims, customers): (Vec<_>, Vec<_>) =
            of_brand(false, false).into_iter().enumerate().partition(|(n, _)| n % 8 == 7 && *n >= 15);
        let (victims, customers): (Vec<String>, Vec<String>) =
            (victims.into_iter().map(|(_, c)| c).collect(), customers.into_iter().map(|(_, c)| c).collect());
        if customers.is_empty() {
            return Err(SimulationError::Setup(format!("brand {} has no customers to simulate", b.slug)));
        }
        let days = options.days.max(1).unsigned_abs();
        let pumping_days = (0..2).map(|_| i64::try_from(rng.below(days)).unwrap_or(0)).collect();
        brands.push(Arc::new(Brand {
            slug: b.slug.clone(),
            api_key: b.api_key.clone(),
            currency,
            two_factor_since,
            customers,
            victims,
            pumping_targets: of_brand(true, false),
            pumped_accounts: of_brand(false, true),
            sim_swapped: sim_swapped.map(|c| c.id.clone()).collect(),
            pumping_days,
        }));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|source| SimulationError::Http { what: "building the HTTP client".into(), source })?;
    let base = target.base_url.trim_end_matches('/').to_owned();
    let api = Arc::new(Api { http, base, sms_status: target.sms_status });
    let phones = target.customers.iter().filter_map(|c| Some((format!("{}/{}", c.brand, c.id), c.phone.clone()?)));
    let watch = Watch::new(phones.collect());
    let result = drive(&api, &brands, options, rng, watch).await;
    if result.is_err() {
        // Whatever went wrong, the instance gets its wall clock back.
        let _ = api.set_clock(None).await;
    }
    result
}

/// The simulated days, slot by slot, then the expiries at the end.
async fn drive(
    api: &Arc<Api>,
    brands: &[Arc<Brand>],
    options: &Options,
    mut rng: Rng,
    mut watch: Watch,
) -> Result<Report, SimulationError> {
    let mut tallies: Tallies = brands.iter().map(|b| (b.slug.clone(), Tally::default())).collect();
    let now = crate::clock::Clock::default().now().millis();
    // Whole days, ending early enough that the last slot's windows (velocity, expiry) have passed:
    // from a day more back than asked, so that the days wholly simulated are as many whatever the
    // time of day (today's slots are past only late in the day).
    let first_day = crate::analytics::day_of(now - (options.days + 1) * DAY_MS);
    let last_moment = now - 2 * HOUR_MS;
    let mut pending: Vec<(Arc<Brand>, String)> = Vec::new();
    let mut incidents = Vec::new();
    let mut simulated = (None, None);
    // The day a new phone launches: many customers at once, early in the morning.
    let launch_day = (options.days - 1).max(0);
    let mut progress = Progress::new("days simulated", u64::try_from(options.days + 1).ok());
    for day in 0..=options.days {
        for (slot, &(hour, share)) in plan::SLOTS.iter().enumerate() {
            let minute = i64::try_from(rng.below(40)).unwrap_or(0);
            let t0 = first_day + day * DAY_MS + hour * HOUR_MS + minute * 60_000;
            if t0 > last_moment {
                continue;
            }
            simulated = (simulated.0.or(Some(t0)), Some(t0));
            let mut flows = Vec::new();
            for brand in brands {
                let with_two_factor = brand.two_factor_since.is_none_or(|since| t0 >= since);
                for n in 0..plan::orders_in_slot(&mut rng, options.orders_per_day, share) {
                    let order_id = format!("sim-{}-{day:03}-{slot}-{n:03}", brand.slug);
                    flows.push(Flow::new(brand, order_id, with_two_factor, &mut rng));
                }
            }
            // Pumpers strike in the afternoon.
            let pumping_day = (slot == 4 && !options.quiet).then_some(day);
            let run = Slot { api, brands, t0, pumping_day, concurrency: options.concurrency };
            run.run(&mut rng, &mut tallies, &mut watch, &mut flows).await?;
            for flow in flows.iter().filter(|f| !f.ended || f.held) {
                pending.extend(flow.verification.clone().map(|id| (flow.brand.clone(), id)));
            }
            let surge_at = t0 - minute * 60_000 + HOUR_MS;
            if slot == 0 && day == launch_day && surge_at <= last_moment {
                let mut flows = launch_day_surge(brands, day, surge_at, &mut rng);
                let run = Slot { api, brands, t0: surge_at, pumping_day: None, concurrency: options.concurrency };
                run.run(&mut rng, &mut tallies, &mut watch, &mut flows).await?;
                for flow in flows.iter().filter(|f| !f.ended || f.held) {
                    pending.extend(flow.verification.clone().map(|id| (flow.brand.clone(), id)));
                }
            }
            let campaign = Campaign::after_slot(slot).filter(|_| !options.quiet);
            if let Some(campaign) = campaign {
                let targets: Vec<&Arc<Brand>> = brands
                    .iter()
                    .filter(|b| b.two_factor_since.is_none_or(|since| t0 >= since))
                    .filter(|b| !b.victims.is_empty())
                    .filter(|b| campaign != Campaign::RangePumping || !b.pumped_accounts.is_empty())
                    .collect();
                let index = usize::try_from(day).unwrap_or(0) + slot;
                if let Some(&brand) = targets.get(index % targets.len().max(1)) {
                    let tag = format!("atk-{}-{day:03}-{slot}", brand.slug);
                    let (at, concurrency) = (t0 + 15 * 60_000, options.concurrency);
                    let attack = Attack { api, brand, t0: at, concurrency, tag };
                    let opened = attack.run(campaign, &mut rng, &mut tallies, &mut watch).await?;
                    pending.extend(opened.into_iter().map(|id| (brand.clone(), id)));
                }
            }
            // The incidents of the alert rules (docs/alerts.md), after the daily campaign, spread
            // over the brands they can strike.
            let before_last = options.days - day;
            let incident = Incident::on(before_last).filter(|_| slot == INCIDENT_SLOT);
            let at = t0 + 45 * 60_000;
            let with_two_factor = |b: &&Arc<Brand>| b.two_factor_since.is_none_or(|since| at >= since);
            let struck = |incident: Incident| -> Option<&Arc<Brand>> {
                let capable: Vec<_> =
                    brands.iter().filter(with_two_factor).filter(|b| incident.can_strike(b)).collect();
                let index = usize::try_from(before_last).unwrap_or(0) % capable.len().max(1);
                capable.get(index).copied()
            };
            if let Some(incident) = incident
                && let Some(brand) = struck(incident)
            {
                let tag = format!("incident-{}-{day:03}", brand.slug);
                let on = Attack { api, brand, t0: at, concurrency: options.concurrency, tag };
                let (report, opened) = incident.run(on, &mut rng, &mut tallies, &mut watch).await?;
                incidents.push(report);
                pending.extend(opened.into_iter().map(|id| (brand.clone(), id)));
            }
        }
        progress.add(1);
    }
    progress.finish();
    // Back to the wall clock; the sweeper expires what nobody came back to.
    api.set_clock(None).await?;
    // Asked until none is pending any more (the sweeper works in rounds), within a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let statuses = loop {
        let jobs = pending
            .iter()
            .map(|(brand, id)| {
                let (api, key, path) = (api.clone(), brand.api_key.clone(), format!("/v1/verifications/{id}"));
                Box::pin(async move {
                    let (_, v) = api.call(reqwest::Method::GET, &path, Some(&key), None, &[200]).await?;
                    Ok(text(&v, "status"))
                }) as Job<String>
            })
            .collect();
        let statuses = in_parallel(jobs, options.concurrency).await?;
        if !statuses.iter().any(|s| s == "pending") {
            break statuses;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SimulationError::Unsettled(
                "verifications left pending were not expired within a minute of the wall clock's return",
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for ((brand, _), status) in pending.iter().zip(statuses) {
        tally(&mut tallies, brand).expired += u64::from(status == "expired");
    }
    let (from, to) = (simulated.0.unwrap_or(now), simulated.1.unwrap_or(now));
    let (from, to) = (crate::clock::rfc3339(from), crate::clock::rfc3339(to));
    Ok(Report { from, to, brands: tallies, defences: watch.finish(), incidents })
}

/// Launch day: up to 100 distinct customers of each brand with 2FA order within five minutes, and
/// wait at the checkout for their codes.
fn launch_day_surge(brands: &[Arc<Brand>], day: i64, at: i64, rng: &mut Rng) -> Vec<Flow> {
    let mut flows = Vec::new();
    for brand in brands.iter().filter(|b| b.two_factor_since.is_none_or(|since| at >= since)) {
        let mut customers = brand.customers.clone();
        // Shuffled: the first 100 are distinct customers in random order.
        plan::shuffle(&mut customers, rng);
        for (n, customer) in customers.into_iter().take(100).enumerate() {
            let mut behaviour = plan::behaviour(rng);
            while !behaviour.is_legitimate() {
                behaviour = plan::behaviour(rng);
            }
            let order_id = format!("sim-{}-{day:03}-surge-{n:03}", brand.slug);
            let mut flow = Flow::of(brand, order_id, behaviour, customer, true, rng);
            flow.start = i64::try_from(rng.below(300)).unwrap_or(0);
            flow.surge = true;
            flows.push(flow);
        }
    }
    flows
}
