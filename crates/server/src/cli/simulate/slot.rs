//! One slot of a simulated day, every step at its moment: orders placed, codes read, delivery
//! reports, codes entered, resent, guessed or cancelled, and the orders' outcomes reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderguard_domain::money::Currency;
use serde_json::json;

use super::api::{Acted, Action, Answer, Api, Client, Job, act, create_job, in_parallel, money, order_body};
use super::defences::{Fate, Watch};
use super::plan::{self, Behaviour, Outcome, Product, Rng};
use super::report::{SimulationError, Tally};

const SECOND_MS: i64 = 1000;

pub(super) struct Brand {
    pub(super) slug: String,
    pub(super) api_key: String,
    pub(super) currency: Currency,
    pub(super) two_factor_since: Option<i64>,
    /// Customers who order themselves.
    pub(super) customers: Vec<String>,
    /// Customers whose logins attackers hold: kept apart, so that an attacker's lock never
    /// refuses an honest order and the honest share measures the rules alone.
    pub(super) victims: Vec<String>,
    pub(super) pumping_targets: Vec<String>,
    /// Accounts with numbers in one range, for pumping it across many accounts.
    pub(super) pumped_accounts: Vec<String>,
    /// Customers whose SIM a fraudster swapped: only SIM swappers order for them.
    pub(super) sim_swapped: Vec<String>,
    /// Days (from the start) with an SMS pumping burst.
    pub(super) pumping_days: Vec<i64>,
}

/// One of `items`, any equally likely.
pub(super) fn pick<'a>(rng: &mut Rng, items: &'a [String]) -> &'a str {
    let index = usize::try_from(rng.below(items.len() as u64)).unwrap_or(0);
    items.get(index).map_or("", String::as_str)
}

pub(super) type Tallies = BTreeMap<String, Tally>;

pub(super) fn tally<'a>(tallies: &'a mut Tallies, brand: &Brand) -> &'a mut Tally {
    tallies.entry(brand.slug.clone()).or_default()
}

/// One order of a slot and what became of it.
pub(super) struct Flow {
    pub(super) brand: Arc<Brand>,
    pub(super) order_id: String,
    pub(super) product: Product,
    pub(super) behaviour: Behaviour,
    pub(super) customer: String,
    pub(super) client: Client,
    pub(super) with_two_factor: bool,
    /// Seconds after the slot's start that the order is placed.
    pub(super) start: i64,
    /// Part of a launch-day surge: the customer waits at the checkout for the code.
    pub(super) surge: bool,
    pub(super) verification: Option<String>,
    pub(super) message_id: Option<String>,
    pub(super) code: String,
    /// Seconds to the delivery report; `None`: the SMS is lost.
    pub(super) delivery: Option<i64>,
    pub(super) approved: bool,
    /// No longer pending (approved, failed, canceled, blocked).
    pub(super) ended: bool,
    /// Held for review: nothing to type; the hold expires while the simulation lives on.
    pub(super) held: bool,
    /// Blocked, not created, or refused by a lock.
    pub(super) refused: bool,
    /// Why it was blocked or held.
    pub(super) reasons: Vec<String>,
}

impl Flow {
    /// An order of `brand`: who places it, what is in the basket, from where.
    pub(super) fn new(brand: &Arc<Brand>, order_id: String, with_two_factor: bool, rng: &mut Rng) -> Self {
        let behaviour = plan::behaviour(rng);
        let pool =
            if behaviour.is_legitimate() || brand.victims.is_empty() { &brand.customers } else { &brand.victims };
        let customer = pick(rng, pool).to_owned();
        Self::of(brand, order_id, behaviour, customer, with_two_factor, rng)
    }

    /// An order of `customer` who behaves as `behaviour`.
    pub(super) fn of(
        brand: &Arc<Brand>,
        order_id: String,
        behaviour: Behaviour,
        customer: String,
        with_two_factor: bool,
        rng: &mut Rng,
    ) -> Self {
        let legitimate = behaviour.is_legitimate();
        let device = match behaviour {
            Behaviour::SecondDevice => format!("{customer}-tablet"),
            _ if legitimate => format!("{customer}-phone"),
            // The attacker's own device, never the customer's.
            _ => format!("dev-{:08x}", rng.next_u64() & 0xffff_ffff),
        };
        Self {
            brand: brand.clone(),
            order_id,
            product: plan::product(rng),
            behaviour,
            customer,
            client: Client { ip: plan::honest_ip(rng), device: Some(device) },
            with_two_factor,
            start: 0,
            surge: false,
            verification: None,
            message_id: None,
            code: String::new(),
            delivery: plan::delivery_seconds(rng),
            approved: false,
            ended: false,
            held: false,
            refused: false,
            reasons: Vec::new(),
        }
    }

    /// Waiting for the customer: created, not blocked, not ended.
    fn waiting(&self) -> bool {
        self.verification.is_some() && !self.ended
    }

    /// When the delivery report comes (a lost SMS is reported failed after half a minute).
    fn report_moment(&self) -> i64 {
        self.delivery.unwrap_or(30)
    }
}

/// A step of a flow at a moment of the slot; at one moment, orders come first, then delivery
/// reports, then what people do.
#[derive(Debug, Clone, Copy)]
enum Step {
    Create,
    Deliver,
    Act(Action),
}

impl Step {
    fn phase(self) -> u8 {
        match self {
            Self::Create => 0,
            Self::Deliver => 1,
            Self::Act(_) => 2,
        }
    }
}

/// One slot: orders placed at their moments from `t0`; SMS delivered over the next seconds;
/// codes entered, resent, guessed or cancelled over the next minutes; outcomes reported ten
/// minutes after the last order. The clock moves forward through the slot's moments.
pub(super) struct Slot<'a> {
    pub(super) api: &'a Arc<Api>,
    pub(super) brands: &'a [Arc<Brand>],
    pub(super) t0: i64,
    /// The day, if this slot may have SMS pumping bursts.
    pub(super) pumping_day: Option<i64>,
    pub(super) concurrency: usize,
}

impl Slot<'_> {
    async fn at(&self, seconds: i64) -> Result<(), SimulationError> {
        self.api.set_clock(Some(self.t0 + seconds * SECOND_MS)).await
    }

    pub(super) async fn run(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
        flows: &mut [Flow],
    ) -> Result<(), SimulationError> {
        let mut timeline: Vec<(i64, usize, Step)> = flows
            .iter()
            .enumerate()
            .filter(|(_, f)| f.with_two_factor)
            .map(|(i, f)| (f.start, i, Step::Create))
            .collect();
        loop {
            timeline.sort_by_key(|&(moment, i, step)| (moment, step.phase(), i));
            let Some(&(moment, _, first)) = timeline.first() else { break };
            let due = timeline.partition_point(|&(m, _, step)| m == moment && step.phase() == first.phase());
            let batch: Vec<(usize, Step)> = timeline.drain(..due).map(|(_, i, step)| (i, step)).collect();
            self.at(moment).await?;
            match first {
                Step::Create => {
                    let indices: Vec<usize> = batch.iter().map(|&(i, _)| i).collect();
                    self.create(rng, tallies, watch, flows, &indices, moment).await?;
                    self.read_codes(flows, &indices).await?;
                    for &i in &indices {
                        let Some(flow) = flows.get(i).filter(|f| f.waiting()) else { continue };
                        timeline.push((moment + flow.report_moment(), i, Step::Deliver));
                        timeline
                            .extend(plan_actions(flow, rng).into_iter().map(|(s, a)| (moment + s, i, Step::Act(a))));
                    }
                }
                Step::Deliver => self.deliver(tallies, flows, &batch).await?,
                Step::Act(_) => self.act(rng, tallies, watch, flows, &batch, moment).await?,
            }
        }
        for flow in flows.iter().filter(|f| f.with_two_factor && f.behaviour.is_legitimate()) {
            let fate = if flow.refused {
                Fate::Refused
            } else if flow.held {
                Fate::Held
            } else {
                Fate::Passed
            };
            watch.honest_order(flow.surge, fate, &flow.reasons);
        }
        let last_order = flows.iter().map(|f| f.start).max().unwrap_or(0);
        self.report_outcomes(rng, tallies, flows, last_order + 600).await
    }

    /// Orders with 2FA start verifications; on a pumping day, a burst of verifications to
    /// premium-rate numbers comes too (with the orders at the slot's start), which risk assessment blocks.
    async fn create(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
        flows: &mut [Flow],
        indices: &[usize],
        moment: i64,
    ) -> Result<(), SimulationError> {
        let mut jobs = Vec::new();
        for flow in indices.iter().filter_map(|&i| flows.get(i)) {
            let body = order_body(&flow.order_id, flow.product, flow.brand.currency, &flow.customer, &flow.client, rng);
            jobs.push(create_job(self.api, flow.brand.api_key.clone(), body));
        }
        let mut bursts = Vec::new();
        for brand in self.brands.iter().filter(|b| moment == 0 && !b.pumping_targets.is_empty()) {
            let Some(day) = self.pumping_day.filter(|d| brand.pumping_days.contains(d)) else { continue };
            for n in 0..20 + rng.below(15) {
                let customer = pick(rng, &brand.pumping_targets);
                let client = Client { ip: plan::honest_ip(rng), device: None };
                let order_id = format!("pump-{}-{day:03}-{n:03}", brand.slug);
                let body = order_body(&order_id, plan::SIM_ONLY, brand.currency, customer, &client, rng);
                jobs.push(create_job(self.api, brand.api_key.clone(), body));
                bursts.push(brand.clone());
            }
        }
        let at = self.t0 + moment * SECOND_MS;
        let mut answers = in_parallel(jobs, self.concurrency).await?.into_iter();
        for &i in indices {
            let Some(flow) = flows.get_mut(i) else { continue };
            let legitimate = flow.behaviour.is_legitimate();
            let Some(Some(Answer { id, status, reasons })) = answers.next() else {
                flow.refused = true;
                flow.ended = true;
                flow.reasons.push("not_created".into());
                continue;
            };
            let t = tally(tallies, &flow.brand);
            t.started += 1;
            flow.verification = Some(id);
            if !legitimate {
                watch.attack_created(&status, &reasons);
            }
            if status == "blocked" || status == "in_review" {
                t.blocked += u64::from(status == "blocked");
                t.held += u64::from(status == "in_review");
                flow.held = status == "in_review";
                flow.refused = status == "blocked";
                flow.ended = true;
                flow.reasons = reasons;
            } else {
                watch.sms(!legitimate, &flow.brand.slug, &flow.customer, at);
            }
        }
        for (brand, answer) in bursts.iter().zip(answers) {
            if let Some(Answer { status, reasons, .. }) = answer {
                let t = tally(tallies, brand);
                t.started += 1;
                t.blocked += u64::from(status == "blocked");
                t.held += u64::from(status == "in_review");
                watch.attack_created(&status, &reasons);
            }
        }
        Ok(())
    }

    /// The codes, as the customers' phones show them.
    async fn read_codes(&self, flows: &mut [Flow], indices: &[usize]) -> Result<(), SimulationError> {
        let waiting: Vec<usize> =
            indices.iter().copied().filter(|&i| flows.get(i).is_some_and(Flow::waiting)).collect();
        let jobs = waiting
            .iter()
            .filter_map(|&i| flows.get(i))
            .map(|f| {
                let (api, id) = (self.api.clone(), f.verification.clone().unwrap_or_default());
                Box::pin(async move { api.sms(&id, None).await }) as Job<(String, String)>
            })
            .collect();
        let read = in_parallel(jobs, self.concurrency).await?;
        for (i, (message_id, code)) in waiting.into_iter().zip(read) {
            if let Some(flow) = flows.get_mut(i) {
                flow.message_id = Some(message_id);
                flow.code = code;
            }
        }
        Ok(())
    }

    /// The network's delivery reports due now.
    async fn deliver(
        &self,
        tallies: &mut Tallies,
        flows: &[Flow],
        batch: &[(usize, Step)],
    ) -> Result<(), SimulationError> {
        let due: Vec<&Flow> = batch.iter().filter_map(|&(i, _)| flows.get(i)).collect();
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
        Ok(())
    }

    /// What people do with the codes that is due now.
    async fn act(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
        flows: &mut [Flow],
        batch: &[(usize, Step)],
        moment: i64,
    ) -> Result<(), SimulationError> {
        let at = self.t0 + moment * SECOND_MS;
        let mut acting = Vec::new();
        let mut jobs = Vec::new();
        for &(i, step) in batch {
            let Step::Act(action) = step else { continue };
            let Some(flow) = flows.get(i).filter(|f| !f.ended) else { continue };
            let code = match action {
                Action::EnterCode { right: false } => plan::wrong_code(&flow.code, rng),
                _ => flow.code.clone(),
            };
            let (api, key) = (self.api.clone(), flow.brand.api_key.clone());
            let (id, message_id) = (flow.verification.clone().unwrap_or_default(), flow.message_id.clone());
            jobs.push(
                Box::pin(async move { act(&api, &key, &id, action, &code, message_id.as_deref()).await }) as Job<Acted>
            );
            acting.push(i);
        }
        for (i, acted) in acting.into_iter().zip(in_parallel(jobs, self.concurrency).await?) {
            let Some(flow) = flows.get_mut(i) else { continue };
            let legitimate = flow.behaviour.is_legitimate();
            let t = tally(tallies, &flow.brand);
            match acted {
                Acted::Checked { status, valid } => {
                    t.wrong_codes += u64::from(!valid);
                    if !legitimate {
                        watch.guess_judged(&flow.brand.slug, &flow.customer, valid, at);
                    }
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
                    watch.sms(!legitimate, &flow.brand.slug, &flow.customer, at);
                }
                Acted::Canceled => {
                    t.canceled += 1;
                    flow.ended = true;
                }
                Acted::Locked => {
                    t.refused_by_lock += 1;
                    if legitimate {
                        flow.refused = true;
                        flow.reasons.push("refused_by_lock".into());
                    } else {
                        watch.refused_by_lock();
                    }
                }
                Acted::Refused => {}
            }
        }
        Ok(())
    }

    /// After the slot, the shop reports what became of its orders: those that went through may
    /// still turn out fraudulent; the others were cancelled.
    async fn report_outcomes(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        flows: &[Flow],
        moment: i64,
    ) -> Result<(), SimulationError> {
        self.at(moment).await?;
        let mut outcomes = Vec::new();
        let mut jobs = Vec::new();
        for flow in flows {
            let accepted = !flow.with_two_factor || flow.approved;
            let value_minor = flow.product.price_minor;
            let outcome = if accepted {
                plan::outcome_of_accepted_order(rng, value_minor, flow.with_two_factor)
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

/// What a flow's person does with the code, in seconds after the order. Without the SMS, a
/// customer has no code to enter; a guessing bot never had one.
fn plan_actions(flow: &Flow, rng: &mut Rng) -> Vec<(i64, Action)> {
    let reaction = if flow.surge { plan::surge_reaction_seconds(rng) } else { plan::reaction_seconds(rng) };
    let behaviour = match flow.behaviour {
        Behaviour::CodeGuesser | Behaviour::AccountTakeover => flow.behaviour,
        _ if flow.delivery.is_none() => Behaviour::Abandons,
        other => other,
    };
    let enter = |right| Action::EnterCode { right };
    match behaviour {
        Behaviour::Customer | Behaviour::SecondDevice => vec![(reaction, enter(true))],
        Behaviour::Typo => {
            let typos = plan::typos(rng);
            let mut steps: Vec<_> = (0..typos).map(|n| (reaction + 10 * n, enter(false))).collect();
            steps.push((reaction + 10 * typos + 2, enter(true)));
            steps
        }
        Behaviour::Resender => vec![(35, Action::Resend), (35 + reaction, enter(true))],
        Behaviour::Abandons => Vec::new(),
        Behaviour::Cancels => vec![(reaction, Action::Cancel)],
        Behaviour::AccountTakeover => {
            let tries = 1 + i64::try_from(rng.below(3)).unwrap_or(0);
            (0..tries).map(|n| (30 + 20 * n, enter(false))).collect()
        }
        Behaviour::CodeGuesser => (0..10).map(|n| (5 + 2 * n, enter(false))).collect(),
    }
}
