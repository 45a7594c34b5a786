//! `orderguard simulate`: weeks of realistic traffic through the real API of a running instance —
//! several brands; customers who mistype, ask for a new code, give up or cancel; fraudsters with a
//! stolen login who never get the code, code-guessing bots, SMS pumping bursts to premium numbers —
//! and the orders' outcomes reported afterwards, before and after each brand switched 2FA on.
//!
//! It moves the instance's clock (`dev.simulated_clock`) through the days, reads the codes from
//! its outbox (`dev.outbox_page`) and plays the SMS network by posting delivery reports. What the
//! API answered is its report: the figures the dashboards must show.

pub mod plan;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use orderguard_domain::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::analytics::{DAY_MS, HOUR_MS};
use plan::{Behaviour, Outcome, Rng};

const SECOND_MS: i64 = 1000;

/// The instance to drive: what `orderguard demo` writes to `demo-credentials.json`.
#[derive(Debug, Deserialize)]
pub struct Target {
    pub base_url: String,
    pub brands: Vec<TargetBrand>,
    pub customers: Vec<TargetCustomer>,
    /// Where delivery reports go; without it no SMS counts as delivered.
    pub sms_status: Option<SmsStatus>,
}

#[derive(Debug, Deserialize)]
pub struct TargetBrand {
    pub slug: String,
    pub api_key: String,
    /// ISO 4217 of the brand's shop.
    pub currency: String,
    /// `YYYY-MM-DD`: orders before it are placed without 2FA (only their outcomes are reported).
    pub two_factor_since: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TargetCustomer {
    pub id: String,
    pub brand: String,
    /// A premium-rate number SMS pumpers send to.
    #[serde(default)]
    pub pumping: bool,
}

#[derive(Debug, Deserialize)]
pub struct SmsStatus {
    pub provider: String,
    pub token: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Days of history, ending two hours ago.
    #[arg(long, default_value_t = Options::default().days)]
    pub days: i64,
    /// Orders per brand and day.
    #[arg(long, default_value_t = Options::default().orders_per_day)]
    pub orders_per_day: u64,
    #[arg(long, default_value_t = Options::default().seed)]
    pub seed: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = Options::default().concurrency)]
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { days: 28, orders_per_day: 40, seed: 1, concurrency: 16 }
    }
}

/// What the API answered, per brand.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tally {
    pub started: u64,
    pub blocked: u64,
    /// Held for review (`in_review`): no code was sent.
    #[serde(default)]
    pub held: u64,
    pub approved: u64,
    pub failed: u64,
    pub canceled: u64,
    pub expired: u64,
    pub resent: u64,
    pub wrong_codes: u64,
    pub sms_delivered: u64,
    pub sms_failed: u64,
    pub orders_without_two_factor: u64,
    /// Outcome → orders reported with it.
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// RFC 3339: the first and last simulated moment.
    pub from: String,
    pub to: String,
    pub brands: BTreeMap<String, Tally>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {source}")]
    Http { what: String, source: reqwest::Error },
    #[error("{what}: answered {status}: {body}")]
    Unexpected { what: String, status: u16, body: String },
    #[error("{0}")]
    Unsettled(&'static str),
}

/// The instance's HTTP API, as a shop, a handset network and a test harness use it.
struct Api {
    http: reqwest::Client,
    base: String,
    sms_status: Option<SmsStatus>,
}

impl Api {
    /// Sends a request and gives the answer if its status is one of `expected`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        expected: &[u16],
    ) -> Result<(u16, Value), SimulationError> {
        let what = format!("{method} {path}");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|source| SimulationError::Http { what: what.clone(), source })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|source| SimulationError::Http { what: what.clone(), source })?;
        if !expected.contains(&status) {
            return Err(SimulationError::Unexpected { what, status, body: text.chars().take(400).collect() });
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn set_clock(&self, at: Option<i64>) -> Result<(), SimulationError> {
        let now = at.map(crate::clock::rfc3339);
        match self.call(reqwest::Method::POST, "/dev/clock", None, Some(json!({ "now": now })), &[200]).await {
            Err(SimulationError::Unexpected { status: 404, .. }) => Err(SimulationError::Setup(
                "the instance does not let its clock be moved: set `simulated_clock = true` under [dev] \
                 (development instances only)"
                    .into(),
            )),
            other => other.map(|_| ()),
        }
    }

    /// The newest SMS of a verification other than `not`, waiting a moment for it: (message id, code).
    async fn sms(&self, verification: &str, not: Option<&str>) -> Result<(String, String), SimulationError> {
        let path = format!("/dev/outbox.json?verification_id={verification}&limit=1&wait_ms=5000");
        for _ in 0..100 {
            let (_, messages) = match self.call(reqwest::Method::GET, &path, None, None, &[200]).await {
                Err(SimulationError::Unexpected { status: 404, .. }) => {
                    return Err(SimulationError::Setup(
                        "the instance does not show its outbox: set `outbox_page = true` under [dev] and route the \
                         brands' SMS to an `outbox` provider"
                            .into(),
                    ));
                }
                other => other?,
            };
            let newest = messages.get(0);
            let id = newest.and_then(|m| m.get("id")?.as_str()).unwrap_or_default();
            if !id.is_empty() && Some(id) != not {
                let code = newest.and_then(|m| m.get("text")?.as_str()).and_then(plan::code_in).unwrap_or_default();
                return Ok((id.to_owned(), code));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(SimulationError::Setup(format!("no SMS arrived in the outbox for verification {verification}")))
    }

    async fn report_delivery(&self, message_id: &str, delivered: bool) -> Result<(), SimulationError> {
        let Some(status) = &self.sms_status else { return Ok(()) };
        let path = format!("/v1/sms-status/{}", status.provider);
        let body = json!({ "message_id": message_id, "status": if delivered { "delivered" } else { "failed" } });
        self.call(reqwest::Method::POST, &path, Some(&status.token), Some(body), &[204]).await.map(|_| ())
    }
}

/// What the customer (or fraudster) does at a moment of the slot.
#[derive(Debug, Clone, Copy)]
enum Action {
    EnterCode { right: bool },
    Resend,
    Cancel,
}

/// One order of a slot and what became of it.
struct Flow {
    brand: Arc<Brand>,
    order_id: String,
    value_minor: i64,
    behaviour: Behaviour,
    with_two_factor: bool,
    verification: Option<String>,
    message_id: Option<String>,
    code: String,
    /// Seconds to the delivery report; `None`: the SMS is lost.
    delivery: Option<i64>,
    approved: bool,
    /// No longer pending (approved, failed, canceled, blocked).
    ended: bool,
    /// Held for review: nothing to type; the hold expires while the simulation lives on.
    held: bool,
}

impl Flow {
    /// Waiting for the customer: created, not blocked, not ended.
    fn waiting(&self) -> bool {
        self.verification.is_some() && !self.ended
    }

    /// When the delivery report comes (a lost SMS is reported failed after half a minute).
    fn report_moment(&self) -> i64 {
        self.delivery.unwrap_or(30)
    }
}

type Job<T> = Pin<Box<dyn Future<Output = Result<T, SimulationError>> + Send>>;

/// Runs the jobs, at most `limit` at a time; their results in their order, or the first error.
async fn in_parallel<T: Send + 'static>(jobs: Vec<Job<T>>, limit: usize) -> Result<Vec<T>, SimulationError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (index, job.await)
        });
    }
    let mut results = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        let (index, result) = joined.map_err(|e| SimulationError::Setup(format!("a simulated request failed: {e}")))?;
        results.push((index, result?));
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

struct Brand {
    slug: String,
    api_key: String,
    currency: Currency,
    two_factor_since: Option<i64>,
    customers: Vec<String>,
    pumping_targets: Vec<String>,
    /// Days (from the start) with an SMS pumping burst.
    pumping_days: Vec<i64>,
}

/// A text field of an answer, empty when missing.
fn text(answer: &Value, key: &str) -> String {
    answer.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_decimal()
}

/// One of `items`, any equally likely.
fn pick<'a>(rng: &mut Rng, items: &'a [String]) -> &'a str {
    let index = usize::try_from(rng.below(items.len() as u64)).unwrap_or(0);
    items.get(index).map_or("", String::as_str)
}

type Tallies = BTreeMap<String, Tally>;

fn tally<'a>(tallies: &'a mut Tallies, brand: &Brand) -> &'a mut Tally {
    tallies.entry(brand.slug.clone()).or_default()
}

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

/// One slot: orders placed at `t0`; SMS delivered over the next seconds; codes entered, resent,
/// guessed or cancelled over the next minutes; outcomes reported ten minutes later. The clock
/// moves forward through the slot's moments, every flow acting at its moment.
struct Slot<'a> {
    api: &'a Arc<Api>,
    brands: &'a [Arc<Brand>],
    t0: i64,
    /// The day, if this slot may have SMS pumping bursts.
    pumping_day: Option<i64>,
    concurrency: usize,
}

impl Slot<'_> {
    async fn at(&self, seconds: i64) -> Result<(), SimulationError> {
        self.api.set_clock(Some(self.t0 + seconds * SECOND_MS)).await
    }

    async fn run(&self, rng: &mut Rng, tallies: &mut Tallies, flows: &mut [Flow]) -> Result<(), SimulationError> {
        self.at(0).await?;
        self.create(rng, tallies, flows).await?;
        self.read_codes(flows).await?;
        self.deliver(tallies, flows).await?;
        self.act(rng, tallies, flows).await?;
        self.report_outcomes(rng, tallies, flows).await
    }

    /// Orders with 2FA start verifications; on a pumping day, a burst of verifications to
    /// premium-rate numbers comes too, which risk assessment blocks.
    async fn create(&self, rng: &mut Rng, tallies: &mut Tallies, flows: &mut [Flow]) -> Result<(), SimulationError> {
        let mut jobs = Vec::new();
        for flow in flows.iter().filter(|f| f.with_two_factor) {
            let customer = pick(rng, &flow.brand.customers);
            let body = order_body(&flow.order_id, flow.value_minor, flow.brand.currency, customer, rng);
            jobs.push(create_job(self.api, flow.brand.api_key.clone(), body));
        }
        let mut bursts = Vec::new();
        for brand in self.brands.iter().filter(|b| !b.pumping_targets.is_empty()) {
            let Some(day) = self.pumping_day.filter(|d| brand.pumping_days.contains(d)) else { continue };
            for n in 0..20 + rng.below(15) {
                let customer = pick(rng, &brand.pumping_targets);
                let body =
                    order_body(&format!("pump-{}-{day:03}-{n:03}", brand.slug), 1_500, brand.currency, customer, rng);
                jobs.push(create_job(self.api, brand.api_key.clone(), body));
                bursts.push(brand.clone());
            }
        }
        let mut answers = in_parallel(jobs, self.concurrency).await?.into_iter();
        for flow in flows.iter_mut().filter(|f| f.with_two_factor) {
            let Some(Some((id, status))) = answers.next() else { continue };
            let t = tally(tallies, &flow.brand);
            t.started += 1;
            flow.verification = Some(id);
            if status == "blocked" || status == "in_review" {
                t.blocked += u64::from(status == "blocked");
                t.held += u64::from(status == "in_review");
                flow.held = status == "in_review";
                flow.ended = true;
            }
        }
        for (brand, answer) in bursts.iter().zip(answers) {
            if let Some((_, status)) = answer {
                let t = tally(tallies, brand);
                t.started += 1;
                t.blocked += u64::from(status == "blocked");
                t.held += u64::from(status == "in_review");
            }
        }
        Ok(())
    }

    /// The codes, as the customers' phones show them.
    async fn read_codes(&self, flows: &mut [Flow]) -> Result<(), SimulationError> {
        let jobs = flows
            .iter()
            .filter(|f| f.waiting())
            .map(|f| {
                let (api, id) = (self.api.clone(), f.verification.clone().unwrap_or_default());
                Box::pin(async move { api.sms(&id, None).await }) as Job<(String, String)>
            })
            .collect();
        let read = in_parallel(jobs, self.concurrency).await?;
        for (flow, (message_id, code)) in flows.iter_mut().filter(|f| f.waiting()).zip(read) {
            flow.message_id = Some(message_id);
            flow.code = code;
        }
        Ok(())
    }

    /// The network's delivery reports, each at its moment.
    async fn deliver(&self, tallies: &mut Tallies, flows: &[Flow]) -> Result<(), SimulationError> {
        let mut moments: Vec<i64> = flows.iter().filter(|f| f.waiting()).map(Flow::report_moment).collect();
        moments.sort_unstable();
        moments.dedup();
        for moment in moments {
            self.at(moment).await?;
            let due: Vec<&Flow> = flows.iter().filter(|f| f.waiting() && f.report_moment() == moment).collect();
            let jobs = due
                .iter()
                .map(|f| {
                    let (api, message_id) = (self.api.clone(), f.message_id.clone().unwrap_or_default());
                    let delivered = f.delivery.is_some();
                    Box::pin(async move { api.report_delivery(&message_id, delivered).await }) as Job<()>
                })
                .collect();
            in_parallel(jobs, self.concurrency).await?;
            for flow in due.into_iter().filter(|_| self.api.sms_status.is_some()) {
                let t = tally(tallies, &flow.brand);
                if flow.delivery.is_some() {
                    t.sms_delivered += 1;
                } else {
                    t.sms_failed += 1;
                }
            }
        }
        Ok(())
    }

    /// What people do with the codes, in the order of their moments.
    async fn act(&self, rng: &mut Rng, tallies: &mut Tallies, flows: &mut [Flow]) -> Result<(), SimulationError> {
        let mut schedule: Vec<(i64, usize, Action)> = Vec::new();
        for (i, flow) in flows.iter().enumerate().filter(|(_, f)| f.waiting()) {
            let reaction = plan::reaction_seconds(rng);
            // Without the SMS, a customer has no code to enter; a guessing bot never had one.
            let behaviour = match flow.behaviour {
                Behaviour::CodeGuesser | Behaviour::AccountTakeover => flow.behaviour,
                _ if flow.delivery.is_none() => Behaviour::Abandons,
                other => other,
            };
            let enter = |right| Action::EnterCode { right };
            match behaviour {
                Behaviour::Customer => schedule.push((reaction, i, enter(true))),
                Behaviour::Typo => schedule.extend([(reaction, i, enter(false)), (reaction + 12, i, enter(true))]),
                Behaviour::Resender => schedule.extend([(35, i, Action::Resend), (35 + reaction, i, enter(true))]),
                Behaviour::Abandons => {}
                Behaviour::Cancels => schedule.push((reaction, i, Action::Cancel)),
                Behaviour::AccountTakeover => {
                    let tries = 1 + i64::try_from(rng.below(3)).unwrap_or(0);
                    schedule.extend((0..tries).map(|n| (30 + 20 * n, i, enter(false))));
                }
                Behaviour::CodeGuesser => schedule.extend((0..10).map(|n| (5 + 2 * n, i, enter(false)))),
            }
        }
        schedule.sort_by_key(|(moment, i, _)| (*moment, *i));
        for batch in schedule.chunk_by(|a, b| a.0 == b.0) {
            let Some((moment, _, _)) = batch.first() else { continue };
            self.at(*moment).await?;
            let mut acting = Vec::new();
            let mut jobs = Vec::new();
            for &(_, i, action) in batch {
                let Some(flow) = flows.get(i).filter(|f| !f.ended) else { continue };
                let code = match action {
                    Action::EnterCode { right: false } => plan::wrong_code(&flow.code, rng),
                    _ => flow.code.clone(),
                };
                let (api, key) = (self.api.clone(), flow.brand.api_key.clone());
                let (id, message_id) = (flow.verification.clone().unwrap_or_default(), flow.message_id.clone());
                jobs.push(Box::pin(async move { act(&api, &key, &id, action, &code, message_id.as_deref()).await })
                    as Job<Acted>);
                acting.push(i);
            }
            for (i, acted) in acting.into_iter().zip(in_parallel(jobs, self.concurrency).await?) {
                let Some(flow) = flows.get_mut(i) else { continue };
                let t = tally(tallies, &flow.brand);
                match acted {
                    Acted::Checked { status, valid } => {
                        t.wrong_codes += u64::from(!valid);
                        if status == "approved" {
                            t.approved += 1;
                            flow.approved = true;
                            flow.ended = true;
                        } else if status == "failed" {
                            t.failed += 1;
                            flow.ended = true;
                        }
                    }
                    Acted::Resent { message_id, code } => {
                        t.resent += 1;
                        flow.message_id = Some(message_id);
                        flow.code = code;
                    }
                    Acted::Canceled => {
                        t.canceled += 1;
                        flow.ended = true;
                    }
                    Acted::Refused => {}
                }
            }
        }
        Ok(())
    }

    /// Ten minutes on, the shop reports what became of its orders: those that went through may
    /// still turn out fraudulent; the others were cancelled.
    async fn report_outcomes(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        flows: &[Flow],
    ) -> Result<(), SimulationError> {
        self.at(600).await?;
        let mut outcomes = Vec::new();
        let mut jobs = Vec::new();
        for flow in flows {
            let accepted = !flow.with_two_factor || flow.approved;
            let outcome = if accepted {
                plan::outcome_of_accepted_order(rng, flow.value_minor, flow.with_two_factor)
            } else {
                Outcome::Canceled
            };
            let body = json!({
                "outcome": outcome.as_str(),
                "currency": flow.brand.currency.code(),
                "amount_lost": outcome.lost_minor().map(|lost| money(lost, flow.brand.currency)),
            });
            let (api, key, path) =
                (self.api.clone(), flow.brand.api_key.clone(), format!("/v1/orders/{}/outcome", flow.order_id));
            jobs.push(Box::pin(async move {
                api.call(reqwest::Method::POST, &path, Some(&key), Some(body), &[200]).await.map(|_| ())
            }) as Job<()>);
            outcomes.push((flow, outcome));
        }
        in_parallel(jobs, self.concurrency).await?;
        for (flow, outcome) in outcomes {
            let t = tally(tallies, &flow.brand);
            *t.outcomes.entry(outcome.as_str().to_owned()).or_default() += 1;
            t.orders_without_two_factor += u64::from(!flow.with_two_factor);
        }
        Ok(())
    }
}

fn order_body(order_id: &str, value_minor: i64, currency: Currency, customer: &str, rng: &mut Rng) -> Value {
    let product = plan::product(rng);
    let amount = money(value_minor, currency);
    json!({
        "order": {
            "id": order_id, "amount": amount, "currency": currency.code(),
            "items": [{ "sku": product.sku, "name": product.name, "quantity": 1, "unit_price": amount, "hardware": product.hardware }],
        },
        "customer": { "id": customer },
        "locale": if rng.chance(200) { Some("en") } else { None },
        "client": { "ip": format!("203.0.113.{}", 1 + rng.below(250)), "user_agent": "Mozilla/5.0 (orderguard simulate)" },
    })
}

/// Creates a verification: its id and status, or `None` when the API refused the order (a problem
/// with the customer's number, say).
fn create_job(api: &Arc<Api>, key: String, body: Value) -> Job<Option<(String, String)>> {
    let api = api.clone();
    Box::pin(async move {
        let (status, v) =
            api.call(reqwest::Method::POST, "/v1/verifications", Some(&key), Some(body), &[201, 422]).await?;
        Ok((status == 201).then(|| (text(&v, "id"), text(&v, "status"))))
    })
}

enum Acted {
    Checked {
        status: String,
        valid: bool,
    },
    Resent {
        message_id: String,
        code: String,
    },
    Canceled,
    /// No longer pending (it expired, or the attempts ran out in a parallel guess).
    Refused,
}

async fn act(
    api: &Api,
    key: &str,
    id: &str,
    action: Action,
    code: &str,
    message_id: Option<&str>,
) -> Result<Acted, SimulationError> {
    let post = |path: String, body: Option<Value>, expected: &'static [u16]| async move {
        api.call(reqwest::Method::POST, &path, Some(key), body, expected).await
    };
    Ok(match action {
        Action::EnterCode { .. } => {
            match post(format!("/v1/verifications/{id}/check"), Some(json!({ "code": code })), &[200, 409]).await? {
                (200, v) => {
                    Acted::Checked { status: text(&v, "status"), valid: v.get("valid") == Some(&Value::Bool(true)) }
                }
                _ => Acted::Refused,
            }
        }
        Action::Resend => match post(format!("/v1/verifications/{id}/resend"), None, &[200, 409, 429]).await? {
            (200, _) => {
                let (message_id, code) = api.sms(id, message_id).await?;
                Acted::Resent { message_id, code }
            }
            _ => Acted::Refused,
        },
        Action::Cancel => match post(format!("/v1/verifications/{id}/cancel"), None, &[200, 409]).await? {
            (200, _) => Acted::Canceled,
            _ => Acted::Refused,
        },
    })
}
