//! The rules' tests, one by one.

use super::*;

const AT: i64 = 1_780_000_000_000;

fn counts(entries: &[(&str, &str, i64)]) -> Counts {
    let mut c = Counts::default();
    for (d, v, n) in entries {
        c.add(d, v, *n);
    }
    c
}

fn baseline(kind: BaselineKind, entries: &[(&str, &str, i64)], hours: i64) -> Baseline {
    Baseline::new(kind, &counts(entries), hours)
}

fn approvals(approved: i64, failed: i64) -> Vec<(&'static str, &'static str, i64)> {
    vec![("event", "verification.approved", approved), ("event", "verification.failed", failed)]
}

#[test]
fn an_approval_rate_far_below_its_baseline_fires_and_says_which_baseline() {
    let rule = AlertRule::ApprovalRateDrop;
    let history = [baseline(BaselineKind::HourOfWeek, &approvals(900, 100), 4)];
    let low = evaluate(rule, &rule.defaults(), &counts(&approvals(40, 60)), &State::default(), &history, AT);
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].baseline, BaselineKind::HourOfWeek);
    assert!((low[0].observed - 0.4).abs() < 1e-9 && low[0].expected == Some(0.9));
    let usual = evaluate(rule, &rule.defaults(), &counts(&approvals(85, 15)), &State::default(), &history, AT);
    assert!(usual.is_empty(), "{usual:?}");
}

#[test]
fn too_few_verifications_stay_silent_however_bad() {
    let rule = AlertRule::ApprovalRateDrop;
    let history = [baseline(BaselineKind::HourOfWeek, &approvals(900, 100), 4)];
    let few = evaluate(rule, &rule.defaults(), &counts(&approvals(0, 10)), &State::default(), &history, AT);
    assert!(few.is_empty());
}

#[test]
fn a_thin_hour_of_week_falls_back_to_the_day_then_all_hours() {
    let rule = AlertRule::WrongCodeRateRise;
    let wrong = |w, ok| vec![("event", "check.failed", w), ("event", "verification.approved", ok)];
    let history = [
        baseline(BaselineKind::HourOfWeek, &wrong(5, 50), 4),
        baseline(BaselineKind::DayOfWeek, &wrong(20, 150), 96),
        baseline(BaselineKind::AllHours, &wrong(100, 1000), 672),
    ];
    let found = evaluate(rule, &rule.defaults(), &counts(&wrong(60, 40)), &State::default(), &history, AT);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].baseline, BaselineKind::AllHours);
    let none = evaluate(rule, &rule.defaults(), &counts(&wrong(60, 40)), &State::default(), &history[..2], AT);
    assert!(none.is_empty(), "a rate rule without a trusted baseline stays silent");
}

#[test]
fn pumping_is_told_from_a_busy_hour_by_its_country() {
    let rule = AlertRule::PumpingCountry;
    // Codes sent and typed per country: a fifth of the German ones usually go unused.
    let usual = [
        ("event", "verification.created", 4000),
        ("sms_submitted_route", "a|DE", 3960),
        ("approved_country", "DE", 3170),
        ("sms_submitted_route", "a|GB", 40),
        ("approved_country", "GB", 32),
    ];
    let history = [baseline(BaselineKind::HourOfWeek, &usual, 4)];
    // Twice the usual German traffic (a launch) is not pumping; 60 codes to Latvia in an hour,
    // none typed, are.
    let window = counts(&[
        ("sms_submitted_route", "a|DE", 990),
        ("sms_submitted_route", "b|DE", 10),
        ("approved_country", "DE", 790),
        ("sms_submitted_route", "a|LV", 60),
        ("sms_submitted_route", "a|GB", 5),
    ]);
    let found = evaluate(rule, &rule.defaults(), &window, &State::default(), &history, AT);
    assert_eq!(found.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["LV"]);
    assert_eq!(found[0].expected, Some(0.0));
    assert_eq!(found[0].observed, 60.0);
}

#[test]
fn a_rush_of_honest_customers_or_an_outage_is_not_pumping() {
    let rule = AlertRule::PumpingCountry;
    let usual =
        [("event", "verification.created", 400), ("sms_submitted_route", "a|DE", 400), ("approved_country", "DE", 320)];
    let history = [baseline(BaselineKind::AllHours, &usual, 168)];
    // A launch: 100 codes in minutes (40 times the usual hour), 85 of them typed.
    let launch = counts(&[("sms_submitted_route", "a|DE", 100), ("approved_country", "DE", 85)]);
    assert!(evaluate(rule, &rule.defaults(), &launch, &State::default(), &history, AT).is_empty());
    let pumped = counts(&[("sms_submitted_route", "a|DE", 100), ("approved_country", "DE", 5)]);
    assert_eq!(evaluate(rule, &rule.defaults(), &pumped, &State::default(), &history, AT).len(), 1);
    // An outage: the codes are not typed because they never arrive.
    let outage = counts(&[("sms_submitted_route", "a|DE", 100), ("sms_failed_route", "a|DE", 90)]);
    assert!(evaluate(rule, &rule.defaults(), &outage, &State::default(), &history, AT).is_empty());
}

#[test]
fn sms_delivery_is_judged_per_provider_and_per_country() {
    let rule = AlertRule::SmsDeliveryDrop;
    let history = [baseline(
        BaselineKind::HourOfWeek,
        &[("sms_delivered_route", "a|DE", 950), ("sms_failed_route", "a|DE", 50), ("sms_delivered_route", "b|DE", 500)],
        4,
    )];
    let window = counts(&[("sms_delivered_route", "a|DE", 10), ("sms_failed_route", "a|DE", 40)]);
    let keys: Vec<String> =
        evaluate(rule, &rule.defaults(), &window, &State::default(), &history, AT).into_iter().map(|f| f.key).collect();
    assert_eq!(keys, ["country:DE", "provider:a"]);
}

#[test]
fn an_open_breaker_fires_whether_its_provider_is_skipped_or_the_last_resort() {
    let rule = AlertRule::ProviderCircuitOpen;
    let fire = |entries: &[(&str, &str, i64)]| {
        let found = evaluate(rule, &rule.defaults(), &counts(entries), &State::default(), &[], AT);
        found.into_iter().map(|f| f.key).collect::<Vec<_>>()
    };
    assert_eq!(fire(&[("sms_attempt_failed", "smsc-a|skipped", 3)]), ["smsc-a"]);
    assert_eq!(
        fire(&[("sms_attempt_failed", "only|breaker_open", 1), ("sms_attempt_failed", "only|unavailable", 1)]),
        ["only"]
    );
    assert!(
        fire(&[("sms_attempt_failed", "smsc-a|unavailable", 4)]).is_empty(),
        "failures alone are not an open breaker"
    );
}

#[test]
fn state_rules_fire_at_their_level() {
    let state = State {
        held: 30,
        oldest_held_at: Some(AT - 119 * MINUTE_MS),
        webhook_endpoints: vec![("crm".into(), Some(AT - 20 * MINUTE_MS)), ("ok".into(), None)],
    };
    let eval = |rule: AlertRule| evaluate(rule, &rule.defaults(), &Counts::default(), &state, &[], AT);
    assert_eq!(eval(AlertRule::ReviewQueueGrowing).len(), 1);
    assert!(eval(AlertRule::ReviewOldest).is_empty(), "119 minutes is under the 2 h default");
    assert_eq!(eval(AlertRule::WebhookFailing).iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), ["crm"]);
}

#[test]
fn baselines_cover_the_right_hours() {
    let hour = |weeks_back: i64, hours: i64| minute_of(AT) - weeks_back * WEEK_MS + hours * HOUR_MS;
    let at = AT - AT.rem_euclid(HOUR_MS) + 10 * MINUTE_MS;
    let this_hour = at - at.rem_euclid(HOUR_MS);
    assert!(BaselineKind::HourOfWeek.covers(at, this_hour - WEEK_MS));
    assert!(!BaselineKind::HourOfWeek.covers(at, this_hour - WEEK_MS + HOUR_MS));
    assert!(!BaselineKind::HourOfWeek.covers(at, this_hour), "the current hour is not its own baseline");
    assert!(!BaselineKind::AllHours.covers(at, this_hour - HOUR_MS), "a window reaches into the hour before");
    assert!(BaselineKind::AllHours.covers(at, this_hour - 2 * HOUR_MS));
    assert!(!BaselineKind::AllHours.covers(at, this_hour - 5 * WEEK_MS));
    assert!(BaselineKind::AllHours.covers(at, hour(1, 3)));
}

#[test]
fn every_rule_has_a_name_that_parses_back() {
    for rule in AlertRule::ALL {
        assert_eq!(AlertRule::parse(rule.as_str()), Some(rule));
    }
}
