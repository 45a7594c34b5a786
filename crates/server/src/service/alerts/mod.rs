//! Alerts: the evaluator's rounds (one instance at a time, by a lease), the backtest, and the
//! people's side in `manage`. Each round replays the rules (`domain::alert::replay`) over the
//! minutes counted since the last round and records what changed, each raise and resolution with
//! its event (`alert.raised`, `alert.resolved`) in one transaction — the event goes to the
//! brand's webhook endpoints like any other.

pub mod manage;

use std::collections::BTreeMap;

use orderguard_domain::alert::replay::{History, Outcome, Transition, Unresolved, replay};
use orderguard_domain::alert::{AlertRule, BASELINE_WEEKS, Counts, Finding, Severity, State, minute_of};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::event::EventKind;
use serde_json::{Value, json};

use super::ServiceError;
use crate::app::App;
use crate::brand::Brand;
use crate::records::NewEvent;
use crate::records::alert::NewAlert;
use crate::store::{Conn, Store, StoreError, alerts as store};

/// The lease's name.
const JOB: &str = "alerts";
/// A holder that stops renewing is replaced after this long (longer than a round takes).
pub const LEASE_MS: i64 = 60_000;
/// At most this many minutes per round, so that a round after a long pause stays short (each
/// round reads the baselines' four weeks of hourly counters once).
const MOST_MINUTES: i64 = 24 * 60;
/// A first round looks back no further than this.
const FIRST_LOOK_BACK_MS: i64 = 24 * 60 * 60_000;
const MINUTE_MS: i64 = 60_000;
/// After the clock was moved back, the evaluator starts again this far before the moment it reads.
const REVISITED_MS: i64 = 60 * MINUTE_MS;
/// Minute counters are kept this long (the backtest's reach); older ones are pruned.
const MINUTES_KEPT_MS: i64 = 35 * 24 * 60 * 60_000;
/// Orders named in an alert.
const ORDERS_NAMED: usize = 20;

/// One round, if this instance (`holder`) holds the evaluator's lease or can take it: the
/// minutes counted since the last round, every brand. Gives how many minutes it evaluated, or
/// `None` when another instance holds the lease.
pub async fn evaluate_due(app: &App, holder: &str, now: Timestamp) -> Result<Option<i64>, ServiceError> {
    let holder_owned = holder.to_owned();
    let at = now.millis();
    let taken = app
        .store
        .write(move |conn| crate::store::leases::take_lease(conn, JOB, &holder_owned, at, at + LEASE_MS))
        .await?;
    let Some(done_until) = taken else { return Ok(None) };
    let lag = i64::try_from(app.settings.limits.rollup_lag_ms).unwrap_or(0);
    let counted = app.store.read(store::counted_until).await?;
    // Every event before `upto` is counted (and no later one can still arrive within the lag).
    let upto = minute_of(counted.unwrap_or(at - lag).min(at - lag));
    let from = match done_until {
        Some(done) if done <= at => done,
        // The clock was moved back (a simulation): the last hour again, as far as it reads now.
        Some(_) => minute_of(at - lag) - REVISITED_MS,
        // The first round only: the first event is a scan of the whole log. An empty log is
        // judged until now, so that history written later under a clock moved back (a
        // simulation) is judged from its start.
        None => match app.store.read(store::first_event_at).await? {
            None => minute_of(at - lag),
            Some(first) => minute_of(first.max(at - FIRST_LOOK_BACK_MS).min(at - lag)) - MINUTE_MS,
        },
    };
    if upto <= from {
        // A new start (first round, or the clock moved back) is kept even with nothing to judge
        // yet, or the next round would start from the old place again.
        if done_until != Some(from) {
            let holder = holder.to_owned();
            app.store.write(move |conn| crate::store::leases::set_done(conn, JOB, &holder, from)).await?;
        }
        app.metrics.set_gauge("orderguard_alert_evaluation_lag_seconds", &[], (at - from).max(0) / 1000);
        return Ok(Some(0));
    }
    let to = upto.min(from + MOST_MINUTES * MINUTE_MS);
    // The state rules judge the brand as it is now: only in a round that reaches the present.
    let present = to >= minute_of(at - lag) - 2 * MINUTE_MS;
    // The brands at once: a round is mostly waiting for the database.
    let rounds = app.brands.all().map(|brand| evaluate_brand(app, brand, from, to, present.then_some(at)));
    futures_util::future::try_join_all(rounds).await?;
    let holder_owned = holder.to_owned();
    let slugs: Vec<String> = app.brands.all().map(|b| b.slug.to_string()).collect();
    app.store
        .write(move |conn| {
            crate::store::leases::set_done(conn, JOB, &holder_owned, to)?;
            // Brand by brand along the key: each round removes only the minutes aged out since the last.
            for slug in &slugs {
                store::prune_minutes(conn, slug, at - MINUTES_KEPT_MS)?;
            }
            Ok::<_, StoreError>(())
        })
        .await?;
    app.metrics.set_gauge("orderguard_alert_evaluation_lag_seconds", &[], (at - to).max(0) / 1000);
    Ok(Some((to - from) / MINUTE_MS))
}

/// The counters a replay of `(from, to]` reads: the minutes of the longest window before `from`
/// on, the hours of the baselines' weeks.
async fn history_of(
    db: &Store,
    brand: &Brand,
    from: i64,
    to: i64,
) -> Result<(BTreeMap<i64, Counts>, BTreeMap<i64, Counts>), ServiceError> {
    let longest = brand.alerts.values().map(|s| s.window_minutes).max().unwrap_or(60);
    let slug = brand.slug.to_string();
    let (minutes_from, hours_from) = (from - longest * MINUTE_MS, from - (BASELINE_WEEKS * 7 * 24 + 1) * 3_600_000);
    let (minute_rows, hour_rows) = db
        .read(move |conn| {
            Ok::<_, StoreError>((
                store::minute_counts(conn, &slug, minutes_from, to)?,
                store::hour_counts(conn, &slug, hours_from, to)?,
            ))
        })
        .await?;
    let group = |rows: Vec<(i64, String, String, i64)>| {
        let mut grouped: BTreeMap<i64, Counts> = BTreeMap::new();
        for (slot, dimension, value, count) in rows {
            grouped.entry(slot).or_default().add(&dimension, &value, count);
        }
        grouped
    };
    Ok((group(minute_rows), group(hour_rows)))
}

async fn evaluate_brand(app: &App, brand: &Brand, from: i64, to: i64, now: Option<i64>) -> Result<(), ServiceError> {
    let (minutes, hours) = history_of(&app.store, brand, from, to).await?;
    let slug = brand.slug.to_string();
    let state = match now {
        None => None,
        Some(now) => {
            let slug = slug.clone();
            let (queue, endpoints) = app
                .store
                .read(move |conn| {
                    Ok::<_, StoreError>((store::review_queue(conn, &slug, now)?, store::webhook_failures(conn, &slug)?))
                })
                .await?;
            Some(State { held: queue.0, oldest_held_at: queue.1, webhook_endpoints: endpoints })
        }
    };
    let unresolved = {
        let slug = slug.clone();
        app.store.read(move |conn| store::unresolved(conn, &slug)).await?
    };
    let ids: BTreeMap<(AlertRule, String), i64> = unresolved.iter().map(|a| ((a.rule, a.key.clone()), a.id)).collect();
    let known: Vec<Unresolved> = unresolved
        .into_iter()
        .map(|a| Unresolved { rule: a.rule, key: a.key, last_firing_at: a.last_firing_at })
        .collect();
    let history = History { minutes: &minutes, hours: &hours };
    let outcome = replay(&brand.alerts, &history, &known, state.as_ref(), from, to);
    record(app, brand, outcome, ids).await
}

/// Writes a replay's raises, resolutions and latest figures, each with its event.
async fn record(
    app: &App,
    brand: &Brand,
    outcome: Outcome,
    mut ids: BTreeMap<(AlertRule, String), i64>,
) -> Result<(), ServiceError> {
    let slug = brand.slug.to_string();
    let severities: BTreeMap<AlertRule, _> = brand.alerts.iter().map(|(r, s)| (*r, s.severity)).collect();
    app.store
        .write(move |conn| -> Result<(), StoreError> {
            for transition in &outcome.transitions {
                match transition {
                    Transition::Raised { at, rule, finding } => {
                        let severity = severities.get(rule).copied().unwrap_or(rule.defaults().severity);
                        let orders = evidence(conn, &slug, *rule, finding, *at)?;
                        let figures = figures(finding);
                        let new = NewAlert { brand: &slug, rule: *rule, key: &finding.key, severity, at: *at, figures: &figures, orders: &orders };
                        let Some(id) = store::raise(conn, &new)? else { continue };
                        ids.insert((*rule, finding.key.clone()), id);
                        let mut attrs = json!({
                            "alert_id": id, "rule": rule.as_str(), "key": finding.key, "severity": severity.as_str(),
                            "title": rule.title(), "orders": orders,
                        });
                        merge(&mut attrs, &figures);
                        append(conn, &slug, EventKind::AlertRaised, *at, attrs)?;
                    }
                    Transition::Resolved { at, rule, key } => {
                        let Some(id) = ids.remove(&(*rule, key.clone())) else { continue };
                        let severity = severities.get(rule).copied().unwrap_or(rule.defaults().severity);
                        if store::resolve(conn, id, &slug, *at, None, None)? {
                            let attrs = json!({ "alert_id": id, "rule": rule.as_str(), "key": key, "severity": severity.as_str() });
                            append(conn, &slug, EventKind::AlertResolved, *at, attrs)?;
                        }
                    }
                }
            }
            for ((rule, key), (at, finding)) in &outcome.firing {
                if let Some(id) = ids.get(&(*rule, key.clone())) {
                    store::still_firing(conn, *id, *at, &figures(finding))?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(())
}

fn append(conn: &mut dyn Conn, brand: &str, kind: EventKind, at: i64, attrs: Value) -> Result<(), StoreError> {
    crate::store::events::append(conn, &NewEvent::of_brand(brand, kind, Timestamp(at), attrs))
}

fn merge(into: &mut Value, from: &Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// What the rule saw, as stored with the alert and sent in its event.
pub fn figures(f: &Finding) -> Value {
    json!({
        "observed": f.observed, "expected": f.expected, "volume": f.volume,
        "baseline": f.baseline.as_str(), "window_minutes": f.window_minutes,
    })
}

/// Which of a window's events stand behind a finding.
enum Behind {
    Any,
    /// `provider:…` or `country:…` of an SMS event.
    Route(String),
    /// A verification to this region.
    Region(String),
    /// A network check of this API with this outcome.
    Check(String, &'static str),
}

impl Behind {
    fn matches(&self, attrs: &Value) -> bool {
        let field = |f: &str| attrs.get(f).and_then(Value::as_str).unwrap_or("ZZ").to_owned();
        match self {
            Self::Any => true,
            Self::Route(key) => {
                *key == format!("provider:{}", field("provider")) || *key == format!("country:{}", field("country"))
            }
            Self::Region(region) => field("phone_region") == *region,
            Self::Check(api, outcome) => field("api") == *api && field("outcome") == *outcome,
        }
    }
}

/// Some orders behind a finding: those of the window's events of the kinds the rule counts.
fn evidence(
    conn: &mut dyn Conn,
    brand: &str,
    rule: AlertRule,
    finding: &Finding,
    at: i64,
) -> Result<Vec<String>, StoreError> {
    let key = finding.key.clone();
    let (types, behind): (&[&str], Behind) = match rule {
        AlertRule::ApprovalRateDrop => (&["verification.failed", "verification.expired"], Behind::Any),
        AlertRule::WrongCodeRateRise => (&["check.failed"], Behind::Any),
        AlertRule::SmsDeliveryDrop => (&["sms.failed"], Behind::Route(key)),
        AlertRule::PumpingCountry => (&["verification.created"], Behind::Region(key)),
        AlertRule::PumpingRange => (&["risk.range_burst"], Behind::Any),
        AlertRule::SmsBudgetReached => (&["verification.held", "verification.blocked"], Behind::Any),
        AlertRule::SimSwapRise => (&["network.checked"], Behind::Check("sim_swap".into(), "swapped")),
        AlertRule::DeviceSwapRise => (&["network.checked"], Behind::Check("device_swap".into(), "swapped")),
        AlertRule::NetworkApiFailing => (&["network.checked"], Behind::Check(key, "unavailable")),
        AlertRule::IdentityFailing => (&["identity.failed"], Behind::Any),
        AlertRule::LockoutsRise => (&["risk.lock_engaged"], Behind::Any),
        AlertRule::ReviewQueueGrowing | AlertRule::ReviewOldest => (&["verification.held"], Behind::Any),
        AlertRule::ProviderCircuitOpen | AlertRule::WebhookFailing => return Ok(Vec::new()),
    };
    let since = match rule {
        AlertRule::ReviewQueueGrowing | AlertRule::ReviewOldest => at - 24 * 3_600_000,
        _ => at - finding.window_minutes * MINUTE_MS,
    };
    let mut orders: Vec<String> = Vec::new();
    for (order, attrs) in store::evidence(conn, brand, types, since, at, 500)? {
        let attrs: Value = serde_json::from_str(&attrs).unwrap_or_default();
        if behind.matches(&attrs) && !orders.contains(&order) {
            orders.push(order);
            if orders.len() == ORDERS_NAMED {
                break;
            }
        }
    }
    Ok(orders)
}

/// When each rule would have fired over `[from, to)` with the brand's settings, from nothing open
/// (the state rules, which judge only the present, apart). Reads; writes nothing.
pub async fn backtest(db: &Store, brand: &Brand, from: i64, to: i64) -> Result<Vec<Transition>, ServiceError> {
    let (from, to) = (minute_of(from), minute_of(to));
    let (minutes, hours) = history_of(db, brand, from, to).await?;
    let history = History { minutes: &minutes, hours: &hours };
    Ok(replay(&brand.alerts, &history, &[], None, from, to).transitions)
}

/// Up to where the evaluator has judged the minutes (`None`: it never ran).
pub async fn evaluated_until(db: &Store) -> Result<Option<i64>, ServiceError> {
    Ok(db.read(|conn| crate::store::leases::done_until(conn, JOB)).await?)
}

/// Sets the open-alert gauges of every brand, rule and severity (0 where none is open).
pub async fn measure_open(app: &App) -> Result<(), ServiceError> {
    let open = app.store.read(store::open_counts).await?;
    for brand in app.brands.all() {
        let slug = brand.slug.as_str();
        for rule in AlertRule::ALL {
            for severity in [Severity::Warning, Severity::Critical] {
                let (rule, severity) = (rule.as_str(), severity.as_str());
                let n = open.iter().filter(|(b, r, s, _)| b == slug && r == rule && s == severity).map(|o| o.3).sum();
                let labels = [("brand", slug), ("rule", rule), ("severity", severity)];
                app.metrics.set_gauge("orderguard_alerts_open", &labels, n);
            }
        }
    }
    Ok(())
}
