//! What the fraud defences let through, per group of simulated traffic: the attackers' judged
//! guesses and codes sent, and the honest customers' orders refused or held. These are the bounds
//! of issue 14 ("How it will be checked"), measured from the API's answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analytics::DAY_MS;

const TEN_MINUTES_MS: i64 = 10 * 60_000;

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Defences {
    pub attackers: Attackers,
    pub legitimate: Legitimate,
}

/// Account takeovers, code guessers, device farms, rotating addresses and pumpers.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attackers {
    pub verifications: u64,
    pub blocked: u64,
    pub held: u64,
    /// Guesses the API judged (a refused check judges nothing).
    pub judged_wrong_codes: u64,
    /// Checks and resends refused by a lock (`429 limit-reached`).
    pub refused_by_lock: u64,
    /// The most wrong codes judged for one customer of one brand within any 24 hours.
    pub wrong_codes_per_customer_day_max: u64,
    /// The most codes sent to one attacked number within any 10 minutes, and any 24 hours.
    pub sms_per_number_10_minutes_max: u64,
    pub sms_per_number_day_max: u64,
    /// Bursts to one range spread over many accounts, and the most codes one of them got sent.
    pub range_pumping_bursts: u64,
    pub range_pumping_sms_max: u64,
    /// Verifications an attacker approved by guessing: must stay 0.
    pub guessed_approvals: u64,
    /// Orders of SIM swappers (the victim's number on their SIM), and those that sent a code.
    #[serde(default)]
    pub sim_swap_orders: u64,
    #[serde(default)]
    pub sim_swap_codes_sent: u64,
    /// Reason code → attackers' verifications blocked or held with it.
    pub reasons: BTreeMap<String, u64>,
}

/// Honest customers: typos, resends, second devices, and the launch-day surge.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Legitimate {
    /// Orders verified with 2FA.
    pub orders: u64,
    /// Blocked at creation, or a check or resend refused by a lock.
    pub refused: u64,
    pub held: u64,
    /// (refused + held) / orders, in per cent.
    pub refused_or_held_percent: f64,
    pub surge_orders: u64,
    pub surge_refused: u64,
    pub surge_held: u64,
    pub surge_refused_or_held_percent: f64,
    pub sms_per_number_10_minutes_max: u64,
    /// Reason code → honest orders refused or held with it: the rule to tune when they are many.
    pub reasons: BTreeMap<String, u64>,
}

/// The most of `times` within any window of `window_ms` (a time exactly `window_ms` later is out).
fn most_within(times: &mut [i64], window_ms: i64) -> u64 {
    times.sort_unstable();
    let mut most = 0;
    for (first, &t) in times.iter().enumerate() {
        let within = times.get(first..).unwrap_or_default().partition_point(|&u| u < t + window_ms);
        most = most.max(within);
    }
    u64::try_from(most).unwrap_or(u64::MAX)
}

/// The raw observations, summed up into `Defences` at the end.
#[derive(Debug, Default)]
pub(super) struct Watch {
    pub(super) defences: Defences,
    /// "brand/customer" → the number, where the target told it.
    phones: BTreeMap<String, String>,
    /// "brand/customer" → when an attacker's wrong code was judged.
    wrong_codes: BTreeMap<String, Vec<i64>>,
    /// (attacker?, number) → when a code was sent to it.
    sms: BTreeMap<(bool, String), Vec<i64>>,
}

/// An honest order's fate, once it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Passed,
    Refused,
    Held,
}

impl Watch {
    pub(super) fn new(phones: BTreeMap<String, String>) -> Self {
        Self { phones, ..Self::default() }
    }

    fn number(&self, brand: &str, customer: &str) -> String {
        let key = format!("{brand}/{customer}");
        self.phones.get(&key).cloned().unwrap_or(key)
    }

    /// A code went out to the customer's number at `at`.
    pub(super) fn sms(&mut self, attacker: bool, brand: &str, customer: &str, at: i64) {
        let number = self.number(brand, customer);
        self.sms.entry((attacker, number)).or_default().push(at);
    }

    /// An attacker's new verification, as the API answered it.
    pub(super) fn attack_created(&mut self, status: &str, reasons: &[String]) {
        let a = &mut self.defences.attackers;
        a.verifications += 1;
        a.blocked += u64::from(status == "blocked");
        a.held += u64::from(status == "in_review");
        if status == "blocked" || status == "in_review" {
            for reason in reasons {
                *a.reasons.entry(reason.clone()).or_default() += 1;
            }
        }
    }

    /// An attacker's guess was judged: wrong, or (by luck) right.
    pub(super) fn guess_judged(&mut self, brand: &str, customer: &str, right: bool, at: i64) {
        if right {
            self.defences.attackers.guessed_approvals += 1;
        } else {
            self.defences.attackers.judged_wrong_codes += 1;
            self.wrong_codes.entry(format!("{brand}/{customer}")).or_default().push(at);
        }
    }

    /// SIM swappers' orders and how many of them sent a code (to the fraudster's SIM).
    pub(super) fn sim_swap_tried(&mut self, orders: u64, codes_sent: u64) {
        let a = &mut self.defences.attackers;
        a.sim_swap_orders += orders;
        a.sim_swap_codes_sent += codes_sent;
    }

    pub(super) fn refused_by_lock(&mut self) {
        self.defences.attackers.refused_by_lock += 1;
    }

    /// A burst to one range over many accounts ended with `sent` codes out.
    pub(super) fn range_pumped(&mut self, sent: u64) {
        let a = &mut self.defences.attackers;
        a.range_pumping_bursts += 1;
        a.range_pumping_sms_max = a.range_pumping_sms_max.max(sent);
    }

    /// An honest order's fate, and the reasons the API gave.
    pub(super) fn honest_order(&mut self, surge: bool, fate: Fate, reasons: &[String]) {
        let l = &mut self.defences.legitimate;
        l.orders += 1;
        l.surge_orders += u64::from(surge);
        match fate {
            Fate::Passed => return,
            Fate::Refused => {
                l.refused += 1;
                l.surge_refused += u64::from(surge);
            }
            Fate::Held => {
                l.held += 1;
                l.surge_held += u64::from(surge);
            }
        }
        for reason in reasons {
            *l.reasons.entry(reason.clone()).or_default() += 1;
        }
    }

    pub(super) fn finish(mut self) -> Defences {
        let percent = |part: u64, of: u64| if of == 0 { 0.0 } else { 100.0 * part as f64 / of as f64 };
        let mut d = self.defences;
        for times in self.wrong_codes.values_mut() {
            let most = most_within(times, DAY_MS);
            d.attackers.wrong_codes_per_customer_day_max = d.attackers.wrong_codes_per_customer_day_max.max(most);
        }
        for ((attacker, _), times) in &mut self.sms {
            let ten_minutes = most_within(times, TEN_MINUTES_MS);
            if *attacker {
                let a = &mut d.attackers;
                a.sms_per_number_10_minutes_max = a.sms_per_number_10_minutes_max.max(ten_minutes);
                a.sms_per_number_day_max = a.sms_per_number_day_max.max(most_within(times, DAY_MS));
            } else {
                let l = &mut d.legitimate;
                l.sms_per_number_10_minutes_max = l.sms_per_number_10_minutes_max.max(ten_minutes);
            }
        }
        let l = &mut d.legitimate;
        l.refused_or_held_percent = percent(l.refused + l.held, l.orders);
        l.surge_refused_or_held_percent = percent(l.surge_refused + l.surge_held, l.surge_orders);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_within_a_window_slides() {
        let minute = 60_000;
        let mut times = vec![0, 9 * minute, 10 * minute, 11 * minute, 30 * minute];
        assert_eq!(most_within(&mut times, TEN_MINUTES_MS), 3, "9, 10 and 11; 0 has left at 10");
        assert_eq!(most_within(&mut [], TEN_MINUTES_MS), 0);
    }

    #[test]
    fn honest_orders_refused_or_held_are_a_share() {
        let mut watch = Watch::default();
        watch.honest_order(false, Fate::Passed, &[]);
        watch.honest_order(true, Fate::Held, &["velocity_network".into()]);
        watch.honest_order(true, Fate::Passed, &[]);
        watch.honest_order(false, Fate::Passed, &[]);
        let l = watch.finish().legitimate;
        assert_eq!((l.orders, l.held, l.surge_orders, l.surge_held), (4, 1, 2, 1));
        assert!(
            (l.refused_or_held_percent - 25.0).abs() < 1e-9 && (l.surge_refused_or_held_percent - 50.0).abs() < 1e-9
        );
        assert_eq!(l.reasons.get("velocity_network"), Some(&1));
    }
}
