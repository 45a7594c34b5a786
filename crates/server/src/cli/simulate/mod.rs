//! `orderguard simulate`: weeks of realistic traffic through the real API of a running instance —
//! several brands; customers who mistype, ask for a new code, give up or cancel; fraudsters with a
//! stolen login who never get the code, code-guessing bots, SMS pumping bursts to premium numbers —
//! and the orders' outcomes reported afterwards, before and after each brand switched 2FA on.
//!
//! It moves the instance's clock (`dev.simulated_clock`) through the days, reads the codes from
//! its outbox (`dev.outbox_page`) and plays the SMS network by posting delivery reports. What the
//! API answered is its report: the figures the dashboards must show.

mod api;
mod options;
pub mod plan;
mod report;
mod slot;

use std::sync::Arc;
use std::time::Duration;

use orderguard_domain::money::Currency;

use crate::analytics::{DAY_MS, HOUR_MS};
use api::{Api, Job, in_parallel, text};
pub use options::{Options, SmsStatus, Target, TargetBrand, TargetCustomer};
use plan::Rng;
pub use report::{Report, SimulationError, Tally};
use slot::{Brand, Flow, Slot, Tallies, tally};

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
        let of_brand = |pumping: bool| -> Vec<String> {
            let customers = target.customers.iter().filter(|c| c.brand == b.slug && c.pumping == pumping);
            customers.map(|c| c.id.clone()).collect()
        };
        let customers = of_brand(false);
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
            pumping_targets: of_brand(true),
            pumping_days,
        }));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|source| SimulationError::Http { what: "building the HTTP client".into(), source })?;
    let base = target.base_url.trim_end_matches('/').to_owned();
    let api = Arc::new(Api { http, base, sms_status: target.sms_status });
    let result = drive(&api, &brands, options, rng).await;
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
) -> Result<Report, SimulationError> {
    let mut tallies: Tallies = brands.iter().map(|b| (b.slug.clone(), Tally::default())).collect();
    let now = crate::clock::Clock::default().now().millis();
    // Whole days, ending early enough that the last slot's windows (velocity, expiry) have passed.
    let first_day = crate::analytics::day_of(now - options.days * DAY_MS);
    let last_moment = now - 2 * HOUR_MS;
    let mut pending: Vec<(Arc<Brand>, String)> = Vec::new();
    let mut simulated = (None, None);
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
                for n in 0..plan::orders_in_slot(&mut rng, options.orders_per_day, share) {
                    flows.push(Flow {
                        brand: brand.clone(),
                        order_id: format!("sim-{}-{day:03}-{slot}-{n:03}", brand.slug),
                        value_minor: plan::product(&mut rng).price_minor,
                        behaviour: plan::behaviour(&mut rng),
                        with_two_factor: brand.two_factor_since.is_none_or(|since| t0 >= since),
                        verification: None,
                        message_id: None,
                        code: String::new(),
                        delivery: plan::delivery_seconds(&mut rng),
                        approved: false,
                        ended: false,
                        held: false,
                    });
                }
            }
            // Pumpers strike in the afternoon.
            let pumping_day = (slot == 4).then_some(day);
            let slot = Slot { api, brands, t0, pumping_day, concurrency: options.concurrency };
            slot.run(&mut rng, &mut tallies, &mut flows).await?;
            for flow in flows.iter().filter(|f| !f.ended || f.held) {
                pending.extend(flow.verification.clone().map(|id| (flow.brand.clone(), id)));
            }
        }
        tracing::info!(day, of = options.days, "simulated day");
    }
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
    Ok(Report { from: crate::clock::rfc3339(from), to: crate::clock::rfc3339(to), brands: tallies })
}
