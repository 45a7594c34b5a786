//! `orderguard bench-dashboards`: loads millions of events (verifications of four brands over three
//! months, as the service writes them), counts them for the dashboards as `orderguard analytics
//! rebuild` does, starts the real server on that store and times every dashboard page over HTTP.

use crate::cli::progress::Progress;
use std::time::Instant;

use anyhow::Context;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use serde_json::json;

use crate::cli::simulate::plan::{self, Behaviour, Rng};
use crate::records::{NewEvent, VerificationRecord};
use crate::store::events;

#[derive(Debug, Clone, clap::Args)]
pub struct DashboardBenchArgs {
    /// Events to load.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Times each page is requested.
    #[arg(long, default_value_t = 20)]
    pub requests: usize,
    /// Run against this PostgreSQL database instead of SQLite (use a scratch database or schema).
    #[arg(long)]
    pub postgres: Option<String>,
}

const BRANDS: [&str; 4] = ["nordtel", "skyline", "fjordnett", "alpentel"];
const DAYS: i64 = 90;
/// Events per write transaction while loading.
const LOAD_BATCH: usize = 20_000;
/// An event every verification has: the sample order's trace page must show it.
const TRACED: &[u8] = b"verification.created";

/// The events one simulated verification started at `at` leaves, as the service writes them.
fn verification_events(rng: &mut Rng, n: u64, at: i64) -> Vec<(EventKind, i64, serde_json::Value)> {
    let product = plan::product(rng);
    let region = if n.is_multiple_of(7) { "AT" } else { "DE" };
    let created = json!({
        "amount": product.price_minor, "currency": "EUR", "locale": "de", "phone_region": region,
        "number_type": "mobile", "hardware": product.hardware, "phone_verified": true,
    });
    let reasons =
        if product.hardware && product.price_minor >= 50_000 { json!(["high_value_hardware"]) } else { json!([]) };
    let mut out = vec![
        (EventKind::VerificationCreated, at, created),
        (EventKind::RiskAssessed, at, json!({ "decision": "allow", "score": 0, "reasons": reasons.clone() })),
        (EventKind::SmsQueued, at, json!({ "message_id": n })),
        (EventKind::SmsSubmitted, at + 40, json!({ "provider": "smsc-a", "country": "DE", "message_id": n })),
    ];
    let delivered = plan::delivery_seconds(rng);
    let latency = delivered.unwrap_or(30) * 1000;
    let report = if delivered.is_some() { EventKind::SmsDelivered } else { EventKind::SmsFailed };
    out.push((
        report,
        at + latency,
        json!({ "provider": "smsc-a", "country": "DE", "latency_ms": latency, "stage": "delivery" }),
    ));
    let seconds = plan::reaction_seconds(rng);
    let done = at + seconds * 1000;
    match plan::behaviour(rng) {
        Behaviour::Customer | Behaviour::Resender | Behaviour::SecondDevice => {
            out.push((
                EventKind::VerificationApproved,
                done,
                json!({ "attempts": 1, "resends": 0, "seconds_since_sent": seconds }),
            ));
        }
        Behaviour::Typo => {
            out.push((EventKind::CheckFailed, done, json!({ "attempt": 1 })));
            out.push((
                EventKind::VerificationApproved,
                done + 12_000,
                json!({ "attempts": 2, "resends": 0, "seconds_since_sent": seconds + 12 }),
            ));
        }
        Behaviour::Abandons | Behaviour::AccountTakeover => {
            out.push((EventKind::VerificationExpired, at + 300_000, json!({ "attempts": 0, "resends": 0 })));
        }
        Behaviour::Cancels => out.push((EventKind::VerificationCanceled, done, json!({ "with_reason": false }))),
        Behaviour::CodeGuesser => {
            for attempt in 1..=5 {
                out.push((EventKind::CheckFailed, done + attempt * 2000, json!({ "attempt": attempt })));
            }
            out.push((
                EventKind::VerificationFailed,
                done + 10_000,
                json!({ "attempts": 5, "risk": "allow", "amount": product.price_minor, "currency": "EUR" }),
            ));
        }
    }
    let outcome = plan::outcome_of_accepted_order(rng, product.price_minor, true);
    let reported = json!({
        "outcome": outcome.as_str(), "verifications": 1, "currency": "EUR", "amount_lost": outcome.lost_minor(),
    });
    out.push((EventKind::OrderOutcomeReported, done + 600_000, reported));
    let slice = json!({ "country": region, "decision": "allow", "reasons": reasons });
    for (kind, _, attrs) in &mut out {
        if let Some(fields) = attrs.as_object_mut().filter(|_| kind.carries_slice()) {
            fields.insert("slice".into(), slice.clone());
        }
    }
    out
}

pub async fn run(args: DashboardBenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("orderguard-bench-dashboards-{}", crate::ids::random_token(6)));
    // The folder holds the run's configuration and secret key: gone afterwards, failed or not.
    let result = measure(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &DashboardBenchArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let url = args.postgres.clone().unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let clock_now = crate::clock::Clock::default().now();
    let status_token = crate::ids::random_token(24);
    let mut settings = crate::cli::demo::setup::prepare("127.0.0.1:0", dir, Some(&url), &status_token, clock_now)?;
    // The bench counts the events itself (timed); the server's job then finds nothing to do.
    settings.limits.rollup_lag_ms = 0;
    let store = crate::prepare_store(&settings, clock_now).await?;
    let now = clock_now.millis();
    let start = now - DAYS * 24 * crate::analytics::HOUR_MS;
    let mut rng = Rng::new(42);
    println!(
        "orderguard bench-dashboards: {} events over {DAYS} days, 4 brands, {}",
        args.events,
        if args.postgres.is_some() { "PostgreSQL" } else { "SQLite" }
    );

    let loading = Instant::now();
    let mut progress = Progress::new("events loaded", Some(args.events));
    let (mut loaded, mut verification) = (0_u64, 0_u64);
    let mut sample_order = String::new();
    // The service appends events as they happen, so the log is loaded in time order: each batch
    // covers its share of the span, sorted. (Loaded in random order, every index by time would
    // be written all over instead of at its end, which no real store sees.)
    let span = now - start - 3_600_000;
    // Where the `n`th event of the load falls in the span.
    let moment = |n: u64| {
        let share = i128::from(span) * i128::from(n.min(args.events)) / i128::from(args.events.max(1));
        start + i64::try_from(share).unwrap_or(span)
    };
    while loaded < args.events {
        let mut batch: Vec<(String, String, String, EventKind, i64, serde_json::Value)> =
            Vec::with_capacity(LOAD_BATCH + 16);
        let (batch_start, batch_end) = (moment(loaded), moment(loaded + LOAD_BATCH as u64));
        while batch.len() < LOAD_BATCH && loaded + (batch.len() as u64) < args.events {
            verification += 1;
            let brand = BRANDS.get(usize::try_from(verification % 4).unwrap_or(0)).copied().unwrap_or("nordtel");
            let (id, order) = (format!("v-{verification:010}"), format!("o-{verification:010}"));
            let at =
                batch_start + i64::try_from(rng.below((batch_end - batch_start).max(1).unsigned_abs())).unwrap_or(0);
            for (kind, at, attrs) in verification_events(&mut rng, verification, at) {
                batch.push((brand.to_owned(), id.clone(), order.clone(), kind, at, attrs));
            }
            if verification == 1_000 {
                sample_order = order;
            }
        }
        loaded += batch.len() as u64;
        progress.add(batch.len() as u64);
        batch.sort_by_key(|row| row.4);
        store
            .write(move |conn| {
                let rows: Vec<NewEvent<'_>> = batch
                    .iter()
                    .map(|(brand, id, order, kind, at, attrs)| {
                        NewEvent::of_verification(brand, id, order, *kind, Timestamp(*at), attrs.clone())
                    })
                    .collect();
                events::append_many(conn, &rows)
            })
            .await?;
    }
    progress.finish();
    // The traced order's verification row: the trace finds an order's events through it. (The
    // other verifications have events only: the pages measured here read events and counters.)
    let traced = traced_verification(&sample_order, now)?;
    store.write(move |conn| crate::store::verifications::insert(conn, &traced)).await?;
    let load_s = loading.elapsed().as_secs_f64();
    println!(
        "loaded {loaded} events ({verification} verifications) in {load_s:.0} s ({:.0} events/s)",
        loaded as f64 / load_s
    );

    let counting = Instant::now();
    // One millisecond on: the policy events written when the store opened are stamped `clock_now`,
    // and a rebuild counts what happened before the moment it is given.
    let mut progress = Progress::new("events counted", Some(loaded));
    let counted =
        crate::service::analytics::rebuild(&store, Timestamp(now + 1), &mut |n| progress.add(n as u64)).await?;
    progress.finish();
    let count_s = counting.elapsed().as_secs_f64();
    anyhow::ensure!(
        counted as u64 >= loaded,
        "counted {counted} events of the {loaded} loaded: the pages would be timed on missing counters"
    );
    let rollup_rows = store.read(crate::store::rollups::count_hourly).await?;
    println!(
        "counted {counted} events into {rollup_rows} counter rows in {count_s:.0} s ({:.0} events/s)",
        counted as f64 / count_s
    );

    crate::service::admin::add_user(
        &store,
        &crate::brand::Brands::build(&settings)?,
        "bench",
        "bench passphrase!",
        "operator",
        None,
        clock_now,
    )
    .await?;
    drop(store);
    let server = crate::start(settings).await.context("starting the server")?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let cookie = sign_in(&http, &base).await?;
    let pages = [
        "/admin".to_owned(),
        "/admin/overview?brand=nordtel&days=7".into(),
        "/admin/overview?brand=nordtel&days=90".into(),
        "/admin/overview.csv?brand=nordtel&days=90".into(),
        "/admin/funnel?brand=nordtel&days=90".into(),
        "/admin/sms?brand=nordtel&days=90".into(),
        "/admin/fraud?brand=nordtel&days=90".into(),
        "/admin/fraud.csv?brand=nordtel&days=90".into(),
        "/admin/overview?brand=nordtel&days=7&every=hour".into(),
        "/admin/overview?brand=nordtel&days=90&slice=country:AT".into(),
        "/admin/funnel?brand=nordtel&days=90&every=day".into(),
        "/admin/sms?brand=nordtel&days=90&every=day".into(),
        "/admin/market?brand=nordtel&days=90".into(),
        "/admin/market?brand=nordtel&days=90&every=day".into(),
        "/admin/market.csv?brand=nordtel&days=90".into(),
        format!(
            "/admin/orders?brand=nordtel&figure=confirmed_fraud&from={}&days=7",
            crate::clock::day(now - 7 * crate::analytics::DAY_MS)
        ),
        format!(
            "/admin/orders?brand=nordtel&figure=blocked&from={}",
            crate::clock::day(now - crate::analytics::DAY_MS)
        ),
        "/admin/report?brand=nordtel".into(),
        "/admin/live?brand=nordtel".into(),
        format!("/admin/trace?brand=nordtel&order={sample_order}"),
        "/admin/audit".into(),
    ];
    println!("{:<48} {:>9} {:>9} {:>9}", "page", "p50 ms", "p95 ms", "max ms");
    for page in &pages {
        let mut times = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let started = Instant::now();
            let response = http.get(format!("{base}{page}")).header("cookie", &cookie).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            anyhow::ensure!(status.is_success(), "{page} answered {status}");
            anyhow::ensure!(
                !page.starts_with("/admin/trace") || body.windows(TRACED.len()).any(|w| w == TRACED),
                "{page} shows none of the order's events"
            );
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let at = |p: f64| super::percentile(&times, p);
        println!("{page:<48} {:>9.1} {:>9.1} {:>9.1}", at(0.5), at(0.95), at(1.0));
    }
    server.stop().await;
    Ok(())
}

/// Signs in as the bench's operator: password, then the second factor (enrolment on the first
/// sign-in), answered with the code the development settings show on the page.
async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let mut jar = Cookies::default();
    let form = http.get(format!("{base}/admin/login")).send().await?;
    jar.take(&form);
    let csrf =
        between(&form.text().await?, "name=\"csrf\" value=\"", "\"").context("no CSRF token on the sign-in form")?;
    let answer = http
        .post(format!("{base}/admin/login"))
        .header("cookie", jar.header())
        .form(&[("username", "bench"), ("password", "bench passphrase!"), ("csrf", &csrf)])
        .send()
        .await?;
    jar.take(&answer);
    let step = answer
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
        .with_context(|| format!("the password was refused ({})", answer.status()))?;
    let page = http.get(format!("{base}{step}")).header("cookie", jar.header()).send().await?.text().await?;
    let code = between(&page, "the code is <strong>", "<")
        .context("the second factor's page shows no development code (dev.show_admin_codes)")?;
    let done = http
        .post(format!("{base}{step}"))
        .header("cookie", jar.header())
        .form(&[("code", &code), ("csrf", &csrf)])
        .send()
        .await?;
    jar.take(&done);
    jar.0.iter().find(|c| c.starts_with("og_admin=")).cloned().context("signing in to the admin area failed")
}

/// The cookies the admin area set during sign-in, as `name=value` pairs.
#[derive(Default)]
struct Cookies(Vec<String>);

impl Cookies {
    fn take(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) else { continue };
            let name = pair.split('=').next().unwrap_or_default();
            self.0.retain(|c| c.split('=').next() != Some(name));
            if !pair.ends_with('=') {
                self.0.push(pair.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0.join("; ")
    }
}

fn between(text: &str, before: &str, after: &str) -> Option<String> {
    Some(text.split(before).nth(1)?.split(after).next()?.to_owned())
}

/// The stored verification of the sample order (`v-0000001000` of nordtel), as the service would
/// have written it; the amounts and state do not matter to the trace.
fn traced_verification(order: &str, now: i64) -> anyhow::Result<VerificationRecord> {
    use orderguard_domain::brand::BrandSlug;
    use orderguard_domain::money::{Currency, Money};
    use orderguard_domain::phone::NumberType;
    use orderguard_domain::risk::{Assessment, Decision};
    use orderguard_domain::verification::{Status, Verification};
    Ok(VerificationRecord {
        id: "v-0000001000".into(),
        brand: BrandSlug::parse("nordtel")?,
        order_id: order.to_owned(),
        customer_ref: "bench-customer".into(),
        phone_enc: None,
        phone_hash: vec![0; 32],
        phone_hint: "+49 *** ****00".into(),
        phone_region: Some("DE".into()),
        number_type: NumberType::Mobile,
        amount: Money::from_minor(84_900, Currency::parse("EUR")?),
        order_digest: String::new(),
        order_summary: "[]".into(),
        shipping_country: Some("DE".into()),
        locale: "de".into(),
        return_url: None,
        code_entry: orderguard_domain::sms_text::CodeEntry::Shop,
        client_ip: None,
        state: Verification {
            status: Status::Approved,
            attempts: 1,
            max_attempts: 5,
            resends: 0,
            max_resends: 3,
            resend_cooldown_seconds: 30,
            code_ttl_seconds: 300,
            expires_at: Timestamp(now),
            last_sent_at: Timestamp(now),
        },
        code_hash: vec![0; 32],
        risk: Assessment { decision: Decision::Allow, score: 0, reasons: Vec::new() },
        hosted_token_hash: "bench-traced-order".into(),
        cancel_reason: None,
        idempotency_key: None,
        request_hash: None,
        created_at: Timestamp(now),
        updated_at: Timestamp(now),
        version: 0,
        receipt: None,
        range_ref: None,
        device_ref: None,
        network_checked_at: None,
        lookup_key: 1,
        device_enc: None,
        initial_risk: None,
    })
}
