//! The rules run minute by minute over a stretch of counted history: each minute's windows slide
//! on, the baselines follow the hour, alerts are raised, kept and resolved. The evaluator runs it
//! over the minutes since its last round; the backtest over any period, from nothing open.

use std::collections::BTreeMap;

use super::{
    AlertRule, BASELINE_WEEKS, Baseline, BaselineKind, Counts, Finding, HOUR_MS, MINUTE_MS, RuleSettings, State,
    WEEK_MS, evaluate, reads_state,
};

/// An alert not yet resolved, as the replay starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub rule: AlertRule,
    pub key: String,
    pub last_firing_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Raised { at: i64, rule: AlertRule, finding: Finding },
    Resolved { at: i64, rule: AlertRule, key: String },
}

/// What a replay found: the raises and resolutions in order, and for each alert still open at the
/// end that fired in the stretch, when it last fired and with which figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub transitions: Vec<Transition>,
    pub firing: BTreeMap<(AlertRule, String), (i64, Finding)>,
}

/// The counters a replay reads: per minute (the windows) and per hour (the baselines).
pub struct History<'a> {
    pub minutes: &'a BTreeMap<i64, Counts>,
    pub hours: &'a BTreeMap<i64, Counts>,
}

impl History<'_> {
    /// The baselines of every kind at `at`, finest first.
    fn baselines(&self, at: i64) -> Vec<Baseline> {
        let Some(first) = self.hours.keys().next().copied() else { return Vec::new() };
        let earliest = first.max(at - BASELINE_WEEKS * WEEK_MS - HOUR_MS);
        if earliest >= at {
            return Vec::new();
        }
        BaselineKind::FALLBACKS
            .into_iter()
            .map(|kind| {
                // Summed by reference: the keys are copied once, not once per hour.
                let mut sums: BTreeMap<&(String, String), i64> = BTreeMap::new();
                for (_, c) in self.hours.range(earliest..at).filter(|(h, _)| kind.covers(at, **h)) {
                    for (key, n) in &c.0 {
                        *sums.entry(key).or_default() += n;
                    }
                }
                let counts = Counts(sums.into_iter().map(|(key, n)| (key.clone(), n)).collect());
                let hours = (0..=(at - earliest) / HOUR_MS)
                    .map(|i| earliest - earliest.rem_euclid(HOUR_MS) + i * HOUR_MS)
                    .filter(|h| *h >= earliest && kind.covers(at, *h))
                    .count();
                Baseline::new(kind, &counts, i64::try_from(hours).unwrap_or(0))
            })
            .collect()
    }
}

/// Evaluates every rule at each minute end in `(from, to]` (both whole minutes), the state rules
/// only at `to` and only when `state` is given (it is the brand's state now, not then).
pub fn replay(
    settings: &BTreeMap<AlertRule, RuleSettings>,
    history: &History<'_>,
    unresolved: &[Unresolved],
    state: Option<&State>,
    from: i64,
    to: i64,
) -> Outcome {
    let mut open: BTreeMap<(AlertRule, String), i64> =
        unresolved.iter().map(|u| ((u.rule, u.key.clone()), u.last_firing_at)).collect();
    let mut outcome = Outcome::default();
    let mut windows: BTreeMap<i64, Counts> = BTreeMap::new();
    let mut baselines: Option<(i64, Vec<Baseline>)> = None;
    let mut t = from + MINUTE_MS;
    while t <= to {
        let hour = (t - 1).div_euclid(HOUR_MS);
        if baselines.as_ref().is_none_or(|(h, _)| *h != hour) {
            baselines = Some((hour, history.baselines(t)));
        }
        let current = baselines.as_ref().map(|(_, b)| b.as_slice()).unwrap_or_default();
        let empty = State::default();
        for (rule, s) in settings.iter().filter(|(_, s)| s.enabled) {
            let state_rule = reads_state(*rule);
            if state_rule && (t != to || state.is_none()) {
                continue;
            }
            let window = windows.entry(s.window_minutes).or_insert_with(|| sum(history.minutes, t, s.window_minutes));
            let findings = evaluate(*rule, s, window, state.unwrap_or(&empty), current, t);
            let mut fired: Vec<String> = Vec::new();
            for finding in findings {
                let id = (*rule, finding.key.clone());
                fired.push(finding.key.clone());
                if !open.contains_key(&id) {
                    outcome.transitions.push(Transition::Raised { at: t, rule: *rule, finding: finding.clone() });
                }
                open.insert(id.clone(), t);
                outcome.firing.insert(id, (t, finding));
            }
            // A state rule is only judged now: its quiet time counts from its last judgement.
            let resolved: Vec<String> = open
                .iter()
                .filter(|((r, key), last)| {
                    r == rule && !fired.contains(key) && t - **last >= s.quiet_minutes * MINUTE_MS
                })
                .map(|((_, key), _)| key.clone())
                .collect();
            for key in resolved {
                open.remove(&(*rule, key.clone()));
                outcome.firing.remove(&(*rule, key.clone()));
                outcome.transitions.push(Transition::Resolved { at: t, rule: *rule, key });
            }
        }
        // Slide each window one minute on.
        for (minutes, counts) in &mut windows {
            let (enter, leave) = (t, t - minutes * MINUTE_MS);
            if let Some(c) = history.minutes.get(&enter) {
                merge(counts, c, 1);
            }
            if let Some(c) = history.minutes.get(&leave) {
                merge(counts, c, -1);
            }
        }
        t += MINUTE_MS;
    }
    outcome
}

/// The counts of the `minutes` before `t`.
fn sum(minutes: &BTreeMap<i64, Counts>, t: i64, window: i64) -> Counts {
    let mut counts = Counts::default();
    for (_, c) in minutes.range(t - window * MINUTE_MS..t) {
        merge(&mut counts, c, 1);
    }
    counts
}

fn merge(into: &mut Counts, from: &Counts, sign: i64) {
    for ((d, v), n) in &from.0 {
        into.add(d, v, sign * n);
    }
    into.0.retain(|_, n| *n != 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_780_000_000_000 - 1_780_000_000_000 % WEEK_MS;

    fn minute(counts: &mut BTreeMap<i64, Counts>, at: i64, entries: &[(&str, &str, i64)]) {
        let c = counts.entry(at - at.rem_euclid(MINUTE_MS)).or_default();
        for (d, v, n) in entries {
            c.add(d, v, *n);
        }
    }

    /// Four weeks of an ordinary hour (10 % wrong codes), then an hour with a campaign from minute 20 to 40.
    fn campaign() -> (BTreeMap<i64, Counts>, BTreeMap<i64, Counts>, i64) {
        let mut hours = BTreeMap::new();
        for week in 0..4 {
            let mut c = Counts::default();
            c.add("event", "check.failed", 30);
            c.add("event", "verification.approved", 270);
            hours.insert(T0 + week * WEEK_MS + 10 * HOUR_MS, c);
        }
        let start = T0 + 4 * WEEK_MS + 10 * HOUR_MS;
        let mut minutes = BTreeMap::new();
        for m in 0..120 {
            let at = start + m * MINUTE_MS;
            minute(&mut minutes, at, &[("event", "verification.approved", 5), ("event", "check.failed", 1)]);
            if (20..40).contains(&m) {
                minute(&mut minutes, at, &[("event", "check.failed", 8)]);
            }
        }
        (minutes, hours, start)
    }

    #[test]
    fn a_campaign_is_raised_within_minutes_and_resolved_after_it_ends() {
        let (minutes, hours, start) = campaign();
        let settings: BTreeMap<_, _> = [(AlertRule::WrongCodeRateRise, AlertRule::WrongCodeRateRise.defaults())].into();
        let history = History { minutes: &minutes, hours: &hours };
        let out = replay(&settings, &history, &[], None, start, start + 120 * MINUTE_MS);
        let [Transition::Raised { at: raised, finding, .. }, Transition::Resolved { at: resolved, .. }] =
            out.transitions.as_slice()
        else {
            panic!("{:?}", out.transitions)
        };
        assert!(*raised > start + 20 * MINUTE_MS && *raised <= start + 30 * MINUTE_MS, "raised {}", raised - start);
        assert_eq!(finding.baseline, BaselineKind::HourOfWeek);
        assert!(*resolved >= start + 40 * MINUTE_MS, "resolved only after the campaign");
        assert!(out.firing.is_empty());
    }

    #[test]
    fn minutes_before_any_history_have_no_baseline() {
        let (minutes, hours, start) = campaign();
        let settings: BTreeMap<_, _> = [(AlertRule::WrongCodeRateRise, AlertRule::WrongCodeRateRise.defaults())].into();
        let history = History { minutes: &minutes, hours: &hours };
        let before = T0 - 2 * WEEK_MS;
        assert!(replay(&settings, &history, &[], None, before, before + 90 * MINUTE_MS).transitions.is_empty());
        assert_eq!(replay(&settings, &history, &[], None, before, start + 120 * MINUTE_MS).transitions.len(), 2);
    }

    #[test]
    fn replaying_in_pieces_gives_what_one_replay_gives() {
        let (minutes, hours, start) = campaign();
        let settings: BTreeMap<_, _> = [(AlertRule::WrongCodeRateRise, AlertRule::WrongCodeRateRise.defaults())].into();
        let history = History { minutes: &minutes, hours: &hours };
        let whole = replay(&settings, &history, &[], None, start, start + 120 * MINUTE_MS);
        let mut pieces = Vec::new();
        let mut unresolved: Vec<Unresolved> = Vec::new();
        for piece in 0..4 {
            let from = start + piece * 30 * MINUTE_MS;
            let out = replay(&settings, &history, &unresolved, None, from, from + 30 * MINUTE_MS);
            pieces.extend(out.transitions.clone());
            for t in &out.transitions {
                match t {
                    Transition::Raised { rule, finding, at } => {
                        unresolved.push(Unresolved { rule: *rule, key: finding.key.clone(), last_firing_at: *at })
                    }
                    Transition::Resolved { rule, key, .. } => {
                        unresolved.retain(|u| !(u.rule == *rule && &u.key == key))
                    }
                }
            }
            for ((rule, key), (at, _)) in &out.firing {
                if let Some(u) = unresolved.iter_mut().find(|u| u.rule == *rule && &u.key == key) {
                    u.last_firing_at = *at;
                }
            }
        }
        assert_eq!(pieces, whole.transitions);
    }
}
