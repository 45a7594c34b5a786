//! Attackers who adapt to the defences (issue 14): a takeover script with cheap orders that
//! guesses codes, one device for many customers, a new address for every request, pumping one
//! number range across many accounts, resends instead of new verifications, and SIM swappers who
//! hold the victim's number. Each runs after a slot of a simulated day, at its own moments, on
//! customers kept apart for attacks.

use std::sync::Arc;

use serde_json::{Value, json};

use super::api::{Answer, Api, Client, Job, create_job, in_parallel, order_body, text};
use super::defences::Watch;
use super::plan::{self, Rng};
use super::report::SimulationError;
use super::slot::{Brand, Tallies, pick, tally};

/// The kinds of adaptive attack, one after each of a day's slots listed in `Campaign::after_slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Campaign {
    /// One customer's login; many cheap orders without hardware at once, all codes guessed.
    Takeover,
    /// One device id (and address) for many customers.
    DeviceFarm,
    /// One customer, a new client address for every order.
    RotatingAddresses,
    /// Many accounts with numbers in one range, codes never typed.
    RangePumping,
    /// One customer; resends instead of new verifications.
    Resends,
    /// The victim's number moved to the fraudster's SIM: the code would reach them.
    SimSwap,
    /// An incident on a known day (not one of the daily campaigns): a phishing kit's haul of
    /// logins, every victim of the brand, each used from its own address, codes guessed.
    TakeoverWave,
    /// An incident: `RangePumping` for ten minutes instead of five.
    RangePumpingWave,
    /// An incident: a rogue shop employee swapped many customers' SIMs; their fraudsters order
    /// one after another.
    SimSwapWave,
}

impl Campaign {
    /// The campaign that follows slot `slot` of a day (slot 0 is followed by the launch-day
    /// surge, slot 4 has the pumping bursts to premium numbers).
    pub(super) fn after_slot(slot: usize) -> Option<Self> {
        match slot {
            1 => Some(Self::Takeover),
            2 => Some(Self::DeviceFarm),
            3 => Some(Self::RotatingAddresses),
            5 => Some(Self::RangePumping),
            6 => Some(Self::Resends),
            7 => Some(Self::SimSwap),
            _ => None,
        }
    }
}

const MINUTE_S: i64 = 60;

/// A fraudster's own phone (a device id of their own) and address.
fn fraudster(rng: &mut Rng) -> Client {
    let device = Some(format!("bot-{:08x}", rng.next_u64() & 0xffff_ffff));
    Client { ip: format!("100.{}.{}.{}", 64 + rng.below(64), rng.below(256), 1 + rng.below(250)), device }
}

/// One attack campaign against one brand, starting at `t0`.
pub(super) struct Attack<'a> {
    pub(super) api: &'a Arc<Api>,
    pub(super) brand: &'a Arc<Brand>,
    pub(super) t0: i64,
    pub(super) concurrency: usize,
    /// A name for the campaign's order ids.
    pub(super) tag: String,
}

/// A verification the attacker holds: its id and the customer it is for.
struct Held {
    id: String,
    customer: String,
}

impl Attack<'_> {
    async fn at(&self, seconds: i64) -> Result<i64, SimulationError> {
        let at = self.t0 + seconds * 1000;
        self.api.set_clock(Some(at)).await?;
        Ok(at)
    }

    /// Runs the campaign; gives the verifications it may have left pending or held (the
    /// simulation counts those that expire).
    pub(super) async fn run(
        &self,
        campaign: Campaign,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
    ) -> Result<Vec<String>, SimulationError> {
        let brand = self.brand;
        let mut opened = Vec::new();
        let victim = pick(rng, &brand.victims).to_owned();
        // The fraudster's own phone and address.
        let client = fraudster(rng);
        match campaign {
            Campaign::Takeover => {
                // The script of the issue: a volley of cheap orders at once, then every code guessed
                // at once, then more orders a few minutes later.
                for minute in [0, 4, 12] {
                    let orders = (0..15).map(|_| (victim.clone(), client.clone())).collect();
                    let at = self.at(minute * MINUTE_S).await?;
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    let at = self.at(minute * MINUTE_S + 20).await?;
                    self.guess(rng, tallies, watch, &held, 5, at).await?;
                }
            }
            Campaign::DeviceFarm => {
                // Stolen logins of several customers, all from one phone and address.
                for n in 0..8 {
                    let customer = pick(rng, &brand.victims).to_owned();
                    let at = self.at(n * MINUTE_S).await?;
                    let orders = vec![(customer, client.clone())];
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    let at = self.at(n * MINUTE_S + 20).await?;
                    self.guess(rng, tallies, watch, &held, 3, at).await?;
                }
            }
            Campaign::RotatingAddresses => {
                // Around the per-network and per-device scores and the lock: a new address for every
                // order, no device id, one guess each, an order every two minutes (within the
                // number's send limit) until the customer's own limit refuses.
                for n in 0..14 {
                    let client = Client { ip: plan::honest_ip(rng), device: None };
                    let at = self.at(n * 2 * MINUTE_S).await?;
                    let orders = vec![(victim.clone(), client)];
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    let at = self.at(n * 2 * MINUTE_S + 30).await?;
                    self.guess(rng, tallies, watch, &held, 1, at).await?;
                }
            }
            Campaign::RangePumping | Campaign::RangePumpingWave => {
                // Spread over many accounts and addresses so that no number or network stands out;
                // nine orders a minute for five minutes (a wave: ten), the codes never typed.
                let accounts = &brand.pumped_accounts;
                if accounts.is_empty() {
                    return Ok(opened);
                }
                let minutes = if campaign == Campaign::RangePumpingWave { 10 } else { 5 };
                let mut sent = 0;
                for minute in 0..minutes {
                    let orders = (0..9)
                        .map(|n| {
                            let account = accounts.get((minute * 9 + n) % accounts.len()).cloned().unwrap_or_default();
                            (account, Client { ip: plan::honest_ip(rng), device: None })
                        })
                        .collect();
                    let at = self.at(i64::try_from(minute).unwrap_or(0) * MINUTE_S).await?;
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    sent += u64::try_from(held.len()).unwrap_or(0);
                }
                watch.range_pumped(sent);
            }
            Campaign::Resends => {
                // Around the number's send limit: resends instead of new verifications, three rounds
                // eleven minutes apart (each past the 10-minute window, all within the day's).
                for round in 0..3 {
                    let start = round * 11 * MINUTE_S;
                    let at = self.at(start).await?;
                    let orders = vec![(victim.clone(), client.clone()); 2];
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    for n in 1..=4 {
                        let at = self.at(start + 31 * n).await?;
                        self.resend(tallies, watch, &held, at).await?;
                    }
                }
            }
            Campaign::TakeoverWave => {
                // Three rounds four minutes apart: every victim's login orders once, then four
                // guesses each, from a fresh address every time (no one network stands out).
                for round in 0..3 {
                    let orders = brand
                        .victims
                        .iter()
                        .map(|v| (v.clone(), Client { ip: plan::honest_ip(rng), device: None }))
                        .collect();
                    let at = self.at(round * 4 * MINUTE_S).await?;
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    let at = self.at(round * 4 * MINUTE_S + 40).await?;
                    self.guess(rng, tallies, watch, &held, 4, at).await?;
                }
            }
            Campaign::SimSwap => {
                // With the number in hand, one order from the fraudster's phone; the code would
                // come to them, so only the network check stands between them and the order.
                if brand.sim_swapped.is_empty() {
                    return Ok(opened);
                }
                let customer = pick(rng, &brand.sim_swapped).to_owned();
                let at = self.at(0).await?;
                let before = watch.defences.attackers.verifications;
                let held = self.create(rng, tallies, watch, vec![(customer, client)], at, &mut opened).await?;
                let tried = watch.defences.attackers.verifications - before;
                watch.sim_swap_tried(tried, u64::try_from(held.len()).unwrap_or(0));
            }
            Campaign::SimSwapWave => {
                // Every swapped number of the brand, an order every eight seconds, each from its
                // fraudster's own phone and address.
                for (n, customer) in (0_i64..).zip(brand.sim_swapped.iter()) {
                    let client = fraudster(rng);
                    let at = self.at(n * 8).await?;
                    let before = watch.defences.attackers.verifications;
                    let orders = vec![(customer.clone(), client)];
                    let held = self.create(rng, tallies, watch, orders, at, &mut opened).await?;
                    let tried = watch.defences.attackers.verifications - before;
                    watch.sim_swap_tried(tried, u64::try_from(held.len()).unwrap_or(0));
                }
            }
        }
        Ok(opened)
    }

    /// Cheap orders without hardware, all at once; gives the verifications that sent a code. Every
    /// verification that may stay open goes to `opened`.
    async fn create(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
        orders: Vec<(String, Client)>,
        at: i64,
        opened: &mut Vec<String>,
    ) -> Result<Vec<Held>, SimulationError> {
        let brand = self.brand;
        let mut jobs = Vec::new();
        for (n, (customer, client)) in orders.iter().enumerate() {
            let order_id = format!("{}-{at}-{n:02}", self.tag);
            let body = order_body(&order_id, plan::SIM_ONLY, brand.currency, customer, client, rng);
            jobs.push(create_job(self.api, brand.api_key.clone(), body));
        }
        let mut held = Vec::new();
        for ((customer, _), answer) in orders.into_iter().zip(in_parallel(jobs, self.concurrency).await?) {
            let Some(Answer { id, status, reasons }) = answer else { continue };
            let t = tally(tallies, brand);
            t.started += 1;
            t.blocked += u64::from(status == "blocked");
            t.held += u64::from(status == "in_review");
            watch.attack_created(&status, &reasons);
            if status == "pending" {
                watch.sms(true, &brand.slug, &customer, at);
                opened.push(id.clone());
                held.push(Held { id, customer });
            } else if status == "in_review" {
                opened.push(id);
            }
        }
        Ok(held)
    }

    /// `tries` guessed codes for each verification, all at once.
    async fn guess(
        &self,
        rng: &mut Rng,
        tallies: &mut Tallies,
        watch: &mut Watch,
        held: &[Held],
        tries: usize,
        at: i64,
    ) -> Result<(), SimulationError> {
        let mut jobs = Vec::new();
        let mut whose = Vec::new();
        for h in held {
            for _ in 0..tries {
                let path = format!("/v1/verifications/{}/check", h.id);
                let body = json!({ "code": plan::guess(rng, 6) });
                jobs.push(self.post(path, Some(body), &[200, 409, 429]));
                whose.push(h);
            }
        }
        for (h, (status, answer)) in whose.into_iter().zip(in_parallel(jobs, self.concurrency).await?) {
            let t = tally(tallies, self.brand);
            match status {
                200 => {
                    let right = answer.get("valid") == Some(&Value::Bool(true));
                    t.wrong_codes += u64::from(!right);
                    t.approved += u64::from(text(&answer, "status") == "approved");
                    t.failed += u64::from(text(&answer, "status") == "failed");
                    watch.guess_judged(&self.brand.slug, &h.customer, right, at);
                }
                429 => {
                    t.refused_by_lock += 1;
                    watch.refused_by_lock();
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A resend of each verification, all at once.
    async fn resend(
        &self,
        tallies: &mut Tallies,
        watch: &mut Watch,
        held: &[Held],
        at: i64,
    ) -> Result<(), SimulationError> {
        let jobs = held
            .iter()
            .map(|h| self.post(format!("/v1/verifications/{}/resend", h.id), None, &[200, 409, 429]))
            .collect();
        for (h, (status, answer)) in held.iter().zip(in_parallel(jobs, self.concurrency).await?) {
            let t = tally(tallies, self.brand);
            if status == 200 {
                t.resent += 1;
                watch.sms(true, &self.brand.slug, &h.customer, at);
            } else if status == 429 && text(&answer, "type").ends_with(":limit-reached") {
                t.refused_by_lock += 1;
                watch.refused_by_lock();
            }
        }
        Ok(())
    }

    fn post(&self, path: String, body: Option<Value>, expected: &'static [u16]) -> Job<(u16, Value)> {
        let (api, key) = (self.api.clone(), self.brand.api_key.clone());
        Box::pin(async move { api.call(reqwest::Method::POST, &path, Some(&key), body, expected).await })
    }
}
