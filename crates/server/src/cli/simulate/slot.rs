//! One slot of a simulated day, flow by flow at its moments: create, read the codes, deliver,
//! act on the codes, report the orders' outcomes.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderguard_domain::money::Currency;
use serde_json::json;

use super::api::{Acted, Action, Api, Job, act, create_job, in_parallel, money, order_body};
use super::plan::{self, Behaviour, Outcome, Rng};
use super::report::{SimulationError, Tally};

const SECOND_MS: i64 = 1000;

pub(super) struct Brand {
    pub(super) slug: String,
    pub(super) api_key: String,
    pub(super) currency: Currency,
    pub(super) two_factor_since: Option<i64>,
    pub(super) customers: Vec<String>,
    pub(super) pumping_targets: Vec<String>,
    /// Days (from the start) with an SMS pumping burst.
    pub(super) pumping_days: Vec<i64>,
}

/// One of `items`, any equally likely.
fn pick<'a>(rng: &mut Rng, items: &'a [String]) -> &'a str {
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
    pub(super) value_minor: i64,
    pub(super) behaviour: Behaviour,
    pub(super) with_two_factor: bool,
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
/// One slot: orders placed at `t0`; SMS delivered over the next seconds; codes entered, resent,
/// guessed or cancelled over the next minutes; outcomes reported ten minutes later. The clock
/// moves forward through the slot's moments, every flow acting at its moment.
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
        flows: &mut [Flow],
    ) -> Result<(), SimulationError> {
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
