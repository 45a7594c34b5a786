//! `orderguard demo` with a simulated history, as its own process (a simulation moves the
//! process's clock): the dashboards show exactly what the API answered to the simulation, brand by
//! brand; users of another brand see none of it; the live monitor streams new events as they come.

use std::process::{Child, Command};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::admin::Browser;
use crate::on_both_databases;
use crate::support::{Db, TempDir, free_port};

on_both_databases!(
    dashboards_show_what_the_simulation_was_answered,
    a_rerun_that_lost_the_password_gets_a_new_one,
    the_defences_hold_against_adaptive_attackers,
    a_launch_day_surge_of_new_customers_passes,
    each_incident_raises_its_alert_and_quiet_days_stay_quiet,
);

struct Demo {
    child: Child,
    base: String,
    dir: TempDir,
    credentials: Value,
    report: Value,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_demo(db: &Db, history_days: u32) -> Demo {
    start_demo_in(db, history_days, TempDir::new()).await
}

/// The demo with its data in `dir` (an earlier run's, for a rerun).
async fn start_demo_in(db: &Db, history_days: u32, dir: TempDir) -> Demo {
    let port = free_port();
    let log = std::fs::File::create(dir.0.join("demo.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}"), "--database", &db.url, "--history-days"])
        .arg(history_days.to_string())
        .arg("--data")
        .arg(&dir.0)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut demo =
        Demo { child, base: format!("http://127.0.0.1:{port}"), dir, credentials: Value::Null, report: Value::Null };
    let credentials = demo.dir.0.join("demo-credentials.json");
    for _ in 0..1200 {
        if let Some(status) = demo.child.try_wait().unwrap() {
            panic!("the demo exited ({status}): {}", std::fs::read_to_string(demo.dir.0.join("demo.log")).unwrap());
        }
        if let Some(value) = std::fs::read_to_string(&credentials).ok().and_then(|t| serde_json::from_str(&t).ok()) {
            demo.credentials = value;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        demo.credentials.is_object(),
        "the demo did not start: {}",
        std::fs::read_to_string(demo.dir.0.join("demo.log")).unwrap()
    );
    if history_days > 0 {
        let report = std::fs::read_to_string(demo.dir.0.join("simulation-report.json")).unwrap();
        demo.report = serde_json::from_str(&report).unwrap();
    }
    demo
}

/// The alerts an alerts page lists, open and past: (rule, key, raised, resolved if it is).
fn listed_alerts(html: &str) -> Vec<(String, String, i64, Option<i64>)> {
    let time = |s: &str| orderguard::clock::parse_rfc3339(s).unwrap_or_else(|| panic!("`{s}` is not a time"));
    html.split("<tr class=\"alert-row\"")
        .skip(1)
        .map(|row| {
            let tag = row.split('>').next().unwrap();
            let attr = |name: &str| tag.split(&format!("{name}=\"")).nth(1).map(|s| s.split('"').next().unwrap());
            let resolved = attr("data-resolved").filter(|s| !s.is_empty()).map(time);
            (
                attr("data-rule").unwrap().into(),
                attr("data-key").unwrap().into(),
                time(attr("data-raised").unwrap()),
                resolved,
            )
        })
        .collect()
}

/// An incident of the simulation's report raised its alert within ten minutes of its start, which
/// resolved after it ended; gives the brand's alerts.
async fn assert_alerted(admin: &mut Browser, incident: &Value) -> Vec<(String, String, i64, Option<i64>)> {
    let time = |key: &str| orderguard::clock::parse_rfc3339(incident[key].as_str().unwrap()).unwrap();
    let (brand, rule, at, until) =
        (incident["brand"].as_str().unwrap(), &incident["alert_rule"], time("at"), time("until"));
    let alerts = listed_alerts(&admin.get(&format!("/admin/alerts?brand={brand}&days=60")).await.html);
    let alerted = alerts.iter().any(|(r, _, raised, resolved)| {
        rule == r.as_str()
            && (at..=at + 10 * 60_000).contains(raised)
            && resolved.is_some_and(|resolved| resolved > until)
    });
    assert!(alerted, "{incident}: no {rule} alert raised within ten minutes and resolved after it: {alerts:?}");
    alerts
}

/// The number in the table cell after `<td>{label}</td>` (or `<th scope="row">{label}</th>`).
fn figure(html: &str, label: &str) -> u64 {
    let after = html
        .split(&format!("<td>{label}</td><td>"))
        .nth(1)
        .or_else(|| html.split(&format!("<th scope=\"row\">{label}</th><td>")).nth(1))
        .unwrap_or_else(|| panic!("no `{label}` in {html}"));
    after.split('<').next().unwrap().trim().parse().unwrap_or_else(|_| panic!("`{label}` is not a count in {html}"))
}

/// The cells of a market summary row: the brand's figure and the other brands'.
fn market_row(html: &str, metric: &str) -> (String, String) {
    let row =
        html.split(&format!("<tr data-metric=\"{metric}\">")).nth(1).unwrap_or_else(|| panic!("no {metric} in {html}"));
    let row = row.split("</tr>").next().unwrap();
    let cells: Vec<&str> = row.split("<td class=\"number\">").skip(1).map(|c| c.split('<').next().unwrap()).collect();
    (cells[0].to_owned(), cells[2].to_owned())
}

/// The market page's figures against an independent count from the simulation's answers: the
/// brand's own, and the three other brands together.
async fn market_against_the_simulation(admin: &mut Browser, brands: &serde_json::Map<String, Value>) {
    let sum = |brand: &str, keys: &[&str]| -> u64 { keys.iter().map(|k| brands[brand][*k].as_u64().unwrap()).sum() };
    let orders =
        |brand: &str| brands[brand]["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>();
    let fraud = |brand: &str| brands[brand]["outcomes"].get("fraud_confirmed").and_then(Value::as_u64).unwrap_or(0);
    let others: Vec<&str> = brands.keys().map(String::as_str).filter(|b| *b != "nordtel").collect();
    let together = |f: &dyn Fn(&str) -> u64| others.iter().map(|b| f(b)).sum::<u64>();
    let rate = |count: u64, base: u64, scale: f64| format!("{:.2}", count as f64 * scale / base as f64);
    let mut market = admin.get("/admin/market?brand=nordtel&days=5").await;
    let expected_fraud =
        (rate(fraud("nordtel"), orders("nordtel"), 1000.0), rate(together(&fraud), together(&orders), 1000.0));
    for _ in 0..100 {
        if market_row(&market.html, "confirmed_fraud") == expected_fraud {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        market = admin.get("/admin/market?brand=nordtel&days=5").await;
    }
    assert_eq!(market_row(&market.html, "confirmed_fraud"), expected_fraud);
    let stopped = |b: &str| sum(b, &["blocked", "held"]);
    let started = |b: &str| sum(b, &["started"]);
    assert_eq!(
        market_row(&market.html, "blocked_or_held"),
        (rate(stopped("nordtel"), started("nordtel"), 100.0), rate(together(&stopped), together(&started), 100.0))
    );
    assert!(
        market.html.contains("<small>at least 3 other brands</small>") && !market.html.contains("Skyline"),
        "none named"
    );
    // The shipped published series, mapped to the brand figures and indexed year on year.
    assert!(
        market.html.contains("<h3>uk_unauthorised_sim_swaps_cases <small>beside SIM swaps detected"),
        "{}",
        market.html
    );
    assert!(market.html.contains("<td>2024</td><td class=\"number\">3000</td><td class=\"number\">1038</td>"));
    let csv = admin.get("/admin/market.csv?brand=nordtel&days=5&every=day").await;
    assert!(csv.html.starts_with("period_start,every,metric,unit,brand,other_brands,difference\r\n"), "{}", csv.html);
    let fraud_days =
        csv.html.lines().filter(|l| l.contains(",confirmed_fraud,") && l.split(',').all(|f| !f.is_empty()));
    assert!(fraud_days.count() >= 2, "the simulated days have both figures: {}", csv.html);
    let bad = admin.get("/admin/market?brand=nordtel&every=fortnight").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

fn add_user(demo: &Demo, args: &[&str]) {
    let (ok, err) = crate::admin::add_user_with_config(&demo.dir.0.join("orderguard.toml"), args);
    assert!(ok, "{err}");
}

async fn dashboards_show_what_the_simulation_was_answered(db: Db) {
    let demo = start_demo(&db, 3).await;
    let mut admin = Browser::at(&demo.base);
    let password = demo.credentials["admin"]["password"].as_str().unwrap();
    assert_eq!(admin.sign_in("admin", password).await.status, StatusCode::SEE_OTHER);

    // The takeover wave placed the day before the last (every victim's login, three rounds, four
    // guesses each: over 50 wrong codes in its first minute, against a brand that types a few
    // codes an hour) raised its alert within ten minutes, which resolved after the wave. The
    // other incidents need more history than three days: see
    // `each_incident_raises_its_alert_and_quiet_days_stay_quiet`.
    let incidents = demo.report["incidents"].as_array().unwrap();
    let takeover: Vec<&Value> = incidents.iter().filter(|i| i["name"] == "takeover_wave").collect();
    assert_eq!(takeover.len(), 1, "{incidents:?}");
    for incident in takeover {
        assert_alerted(&mut admin, incident).await;
    }

    let brands = demo.report["brands"].as_object().unwrap();
    assert_eq!(brands.len(), 4);
    for (brand, tally) in brands {
        let expected = |key: &str| tally[key].as_u64().unwrap();
        assert!(expected("started") > 100 && expected("approved") > 50, "{brand}: {tally}");
        let lines = [
            ("started", "started"),
            ("approved", "approved"),
            ("failed (wrong codes)", "failed"),
            ("abandoned (code expired)", "expired"),
            ("canceled", "canceled"),
            ("blocked (risk)", "blocked"),
            ("code resent", "resent"),
        ];
        // The counters lag the event log by a few seconds.
        let mut overview = admin.get(&format!("/admin/overview?brand={brand}&days=5")).await;
        for _ in 0..100 {
            if lines.iter().all(|(label, key)| figure(&overview.html, label) == expected(key)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            overview = admin.get(&format!("/admin/overview?brand={brand}&days=5")).await;
        }
        for (label, key) in lines {
            assert_eq!(figure(&overview.html, label), expected(key), "{brand}: {label}");
        }
        assert!(overview.html.contains("id=\"median-time-to-approve\">") && !overview.html.contains("approve\">–"));
        // Over time, per hour and per day: the points add up to the verifications started.
        for every in ["hour", "day"] {
            let trend = admin.get(&format!("/admin/overview?brand={brand}&days=5&every={every}")).await;
            let table = trend.html.split("id=\"trend-table\"").nth(1).unwrap().split("</table>").next().unwrap();
            let started: u64 = table
                .split("<tr><td>")
                .skip(1)
                .map(|row| row.split("<td>").nth(1).unwrap().split('<').next().unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(started, expected("started"), "{brand} per {every}");
            assert_eq!(trend.html.matches("<figure class=\"chart\">").count(), 6, "volume and five shares");
        }

        let outcomes = tally["outcomes"].as_object().unwrap();
        let reported: u64 = outcomes.values().map(|v| v.as_u64().unwrap()).sum();
        let count = |outcome: &str| outcomes.get(outcome).and_then(Value::as_u64).unwrap_or(0);
        let fraud = admin.get(&format!("/admin/fraud?brand={brand}&days=5")).await;
        assert_eq!(fraud.status, StatusCode::OK);
        assert_eq!(figure(&fraud.html, "Orders with a reported outcome"), reported, "{brand}");
        assert_eq!(figure(&fraud.html, "Confirmed fraud"), count("fraud_confirmed"), "{brand}");
        assert_eq!(figure(&fraud.html, "Chargebacks"), count("chargeback"), "{brand}");
        // The orders behind the figure: as many as the simulation had confirmed as fraud.
        let first_day = orderguard::clock::day(crate::support::now().millis() - 5 * 86_400_000);
        let behind =
            admin.get(&format!("/admin/orders?brand={brand}&figure=confirmed_fraud&from={first_day}&days=6")).await;
        let listed = behind.html.split("<tr class=\"tone-").count() - 1;
        assert_eq!(listed as u64, count("fraud_confirmed"), "{brand}: {}", behind.html);
        let csv = admin.get(&format!("/admin/fraud.csv?brand={brand}&days=5")).await;
        assert!(csv.html.starts_with("period_start,days,orders_reported,fraud_confirmed,"), "{}", csv.html);
        let per_day: u64 = csv.html.lines().skip(1).map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap()).sum();
        assert_eq!(per_day, reported, "{brand}: the CSV's days add up");

        let funnel = admin.get(&format!("/admin/funnel?brand={brand}&days=5")).await;
        assert_eq!(figure(&funnel.html, "approved"), expected("approved"));
        let sms = admin.get(&format!("/admin/sms?brand={brand}&days=5&every=day&provider=outbox")).await;
        assert!(sms.html.contains("<td>outbox</td>"), "{}", sms.html);
        let table = sms.html.split("id=\"sms-trend-table\"").nth(1).unwrap().split("</table>").next().unwrap();
        let handed: u64 = table
            .split("<tr><td>")
            .skip(1)
            .map(|row| row.split("<td>").nth(1).unwrap().split('<').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert!(handed >= expected("sms_delivered") + expected("sms_failed"), "{brand}: {handed} SMS handed over");
        assert_eq!(admin.get(&format!("/admin/sms?brand={brand}&every=month")).await.status, StatusCode::BAD_REQUEST);
    }
    // Nordtel switched 2FA on two weeks ago: all of the simulation's orders are after it.
    let fraud = admin.get("/admin/fraud?brand=nordtel&days=5").await;
    assert!(fraud.html.contains("when 2FA was switched on"), "{}", fraud.html);
    // Losses avoided: the stopped orders are the blocked ones the simulation was answered.
    let blocked = brands["nordtel"]["blocked"].as_u64().unwrap();
    assert!(blocked > 0);
    assert_eq!(figure(&fraud.html, "Orders blocked"), blocked, "{}", fraud.html);
    assert!(fraud.html.contains("<strong>Method:</strong>"), "the estimate names its method");
    market_against_the_simulation(&mut admin, brands).await;

    // A Nordtel analyst sees Nordtel's pages and nothing of Skyline's.
    add_user(&demo, &["--username", "nordtel-analyst", "--role", "analyst", "--brand", "nordtel"]);
    let mut analyst = Browser::at(&demo.base);
    analyst.sign_in("nordtel-analyst", crate::admin::PASSWORD).await;
    for path in
        ["/admin/fraud", "/admin/fraud.csv", "/admin/live", "/admin/live/events", "/admin/overview", "/admin/market"]
    {
        assert_eq!(analyst.get(&format!("{path}?brand=skyline")).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(analyst.get("/admin/fraud?brand=nordtel").await.status, StatusCode::OK);
    let live = analyst.get("/admin/live?brand=nordtel").await;
    assert!(live.status == StatusCode::OK && live.html.contains("/assets/admin-live.js"), "{}", live.html);

    // The live monitor: a new Nordtel order shows within moments; Skyline's never does.
    let mut stream = analyst.request("/admin/live/events?brand=nordtel").send().await.unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let key = |slug: &str| {
        let brands = demo.credentials["brands"].as_array().unwrap();
        brands.iter().find(|b| b["slug"] == slug).unwrap()["api_key"].as_str().unwrap().to_owned()
    };
    let api = reqwest::Client::new();
    for (slug, order, customer) in [("skyline", "LIVE-SKY", "s-2001"), ("nordtel", "LIVE-NORD", "c-1001")] {
        let body = crate::support::order(order, customer);
        let answer = api
            .post(format!("{}/v1/verifications", demo.base))
            .bearer_auth(key(slug))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
    }
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("LIVE-NORD") {
        let chunk =
            tokio::time::timeout_at(deadline, stream.chunk()).await.expect("a live event within 5 s").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("verification.created") && seen.contains("id: "), "{seen}");
    assert!(!seen.contains("LIVE-SKY"), "another brand's event in the stream: {seen}");
    // Signing out ends the stream within seconds.
    let csrf = crate::admin::csrf_of_home(&mut analyst).await;
    assert_eq!(analyst.post("/admin/logout", &[("csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
    let drained = async { while let Ok(Some(_)) = stream.chunk().await {} };
    assert!(tokio::time::timeout(Duration::from_secs(10), drained).await.is_ok(), "the stream outlived the session");

    // An order reported twice (completed, then a chargeback) counts once, as the later report.
    let fraud = admin.get("/admin/fraud?brand=nordtel&days=5").await;
    let (orders, chargebacks) =
        (figure(&fraud.html, "Orders with a reported outcome"), figure(&fraud.html, "Chargebacks"));
    for (outcome, lost) in [("completed", None), ("chargeback", Some("849.00"))] {
        let body = serde_json::json!({ "outcome": outcome, "amount_lost": lost });
        let answer = api
            .post(format!("{}/v1/orders/LIVE-NORD/outcome", demo.base))
            .bearer_auth(key("nordtel"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let mut fraud = admin.get("/admin/fraud?brand=nordtel&days=5").await;
    for _ in 0..100 {
        if figure(&fraud.html, "Chargebacks") == chargebacks + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fraud = admin.get("/admin/fraud?brand=nordtel&days=5").await;
    }
    assert_eq!(figure(&fraud.html, "Chargebacks"), chargebacks + 1);
    assert_eq!(figure(&fraud.html, "Orders with a reported outcome"), orders + 1, "the order counts once");
}

/// A demo stopped during its simulation never saved the admin's password: the next run in the same
/// folder gives the admin a new one instead of failing on the existing user.
async fn a_rerun_that_lost_the_password_gets_a_new_one(db: Db) {
    let mut first = start_demo(&db, 1).await;
    let first_password = first.credentials["admin"]["password"].as_str().unwrap().to_owned();
    let dir = std::mem::replace(&mut first.dir, TempDir::new());
    drop(first);
    std::fs::remove_file(dir.0.join("demo-credentials.json")).unwrap();

    let second = start_demo_in(&db, 1, dir).await;
    let password = second.credentials["admin"]["password"].as_str().unwrap();
    assert_ne!(password, first_password);
    assert_eq!(Browser::at(&second.base).sign_in("admin", password).await.status, StatusCode::SEE_OTHER);
    let mut old = Browser::at(&second.base);
    assert_eq!(old.sign_in("admin", &first_password).await.status, StatusCode::UNAUTHORIZED);

    // What the demo writes holds secrets and personal data: only its owner may read it.
    use std::os::unix::fs::PermissionsExt;
    let mut private = vec![second.dir.0.join("orderguard.toml"), second.dir.0.join("demo-credentials.json")];
    if let Some(database) = db.url.strip_prefix("sqlite://") {
        private.extend([database.into(), format!("{database}-wal").into()]);
    }
    for path in private {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
    }
}

/// Days of history for the attack simulation: a few in CI; `SIMULATION_DAYS=28` runs the demo's
/// default, the setting issue 14 is checked against.
fn simulation_days() -> u32 {
    std::env::var("SIMULATION_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(3)
}

/// The bounds of issue 14 ("How it will be checked") on what the simulation was answered; honest
/// orders of the launch-day surge count when `with_surge`.
fn assert_defences_hold(report: &Value, with_surge: bool) {
    let (a, l) = (&report["defences"]["attackers"], &report["defences"]["legitimate"]);
    let n = |v: &Value, key: &str| v[key].as_u64().unwrap_or_else(|| panic!("no `{key}` in {v}"));
    // Every attack ran and met the defence it tries to get around.
    assert!(n(a, "judged_wrong_codes") > 0 && n(a, "refused_by_lock") > 0 && n(a, "held") > 0, "{a}");
    for reason in [
        "wrong_code_lock_customer",
        "verification_limit_customer",
        "sms_limit_number",
        "range_burst",
        "device_many_customers",
    ] {
        assert!(a["reasons"][reason].as_u64().unwrap_or(0) > 0, "no attack met `{reason}`: {a}");
    }
    assert!(n(a, "wrong_codes_per_customer_day_max") <= 10, "wrong codes judged per customer in 24 h: {a}");
    assert!(n(a, "sms_per_number_10_minutes_max") <= 5, "SMS to one number in 10 minutes: {a}");
    assert!(n(a, "sms_per_number_day_max") <= 10, "SMS to one number in 24 hours: {a}");
    assert!(n(l, "sms_per_number_10_minutes_max") <= 5, "{l}");
    assert!(n(a, "range_pumping_bursts") > 0 && n(a, "range_pumping_sms_max") <= 20, "pumping stopped early: {a}");
    assert_eq!(n(a, "guessed_approvals"), 0, "{a}");
    // SIM swappers hold the victim's number: the network check stops every one before a code.
    assert!(n(a, "sim_swap_orders") > 0, "{a}");
    assert_eq!(n(a, "sim_swap_codes_sent"), 0, "{a}");
    assert!(a["reasons"]["sim_swap_recent"].as_u64().unwrap_or(0) >= n(a, "sim_swap_orders"), "{a}");

    assert!(n(l, "surge_orders") >= 300, "the surge ran: {l}");
    let (orders, refused_or_held) = if with_surge {
        (n(l, "orders"), n(l, "refused") + n(l, "held"))
    } else {
        let surge = n(l, "surge_refused") + n(l, "surge_held");
        (n(l, "orders") - n(l, "surge_orders"), n(l, "refused") + n(l, "held") - surge)
    };
    assert!(orders > 500, "{l}");
    // At most 0.5 %, a held order counted as refused.
    assert!(refused_or_held * 200 <= orders, "{refused_or_held} of {orders} honest orders refused or held: {l}");
}

/// Attackers who adapt (a takeover script, one device for many customers, rotating addresses,
/// pumping a range across many accounts, resends instead of creates) stay within the bounds, and
/// honest customers (typos, resends, second devices) pass. The launch-day surge counts with the
/// demo's full history; after a short one, see `a_launch_day_surge_of_new_customers_passes`.
async fn the_defences_hold_against_adaptive_attackers(db: Db) {
    let days = simulation_days();
    let demo = start_demo(&db, days).await;
    assert_defences_hold(&demo.report, days >= 28);

    // The demo's own webhook receiver got the brands' decisions, each signed with the brand's
    // secret (which demo-credentials.json hands to a newcomer).
    let http = reqwest::Client::new();
    let mut received: Vec<Value> = Vec::new();
    for _ in 0..100 {
        received = http.get(format!("{}/dev/webhooks.json", demo.base)).send().await.unwrap().json().await.unwrap();
        if received.iter().any(|r| r["type"] == "verification.blocked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(received.iter().any(|r| r["type"] == "verification.approved"), "{received:?}");
    assert!(received.iter().any(|r| r["type"] == "verification.blocked"), "{received:?}");
    assert!(received.iter().all(|r| r["verified"] == true), "every delivery verified");
    for brand in demo.credentials["brands"].as_array().unwrap() {
        assert!(brand["webhook"]["secret"].as_str().unwrap().starts_with("whsec_"), "{brand}");
    }
}

/// A launch-day surge after only a few days of history: most customers have no approval yet, so
/// the burst rule does not exempt them, and still they pass.
async fn a_launch_day_surge_of_new_customers_passes(db: Db) {
    let demo = start_demo(&db, 3).await;
    assert_defences_hold(&demo.report, true);
}

/// The incidents of docs/alerts.md, through `orderguard simulate --quiet` on a demo without
/// history: ten days of the customers' own traffic (40 orders a day per brand, typos, resends and
/// the odd fraudster among them; no daily attack campaigns), and on four of them an incident large
/// enough to be told from that noise: an SMS outage during a newsletter (90 codes undelivered in
/// 15 minutes), a pumping wave (90 codes to one range in 10 minutes), a SIM swap wave (50 swapped
/// numbers in 7 minutes) and a takeover wave (14 stolen logins, three rounds of four guesses).
/// Each raises its alert within ten minutes and resolves after it ends; outside the incidents a
/// brand gets at most one alert in the ten days; the alerts reach the brands' webhook endpoint
/// signed.
async fn each_incident_raises_its_alert_and_quiet_days_stay_quiet(db: Db) {
    let demo = start_demo(&db, 0).await;
    let report_path = demo.dir.0.join("quiet-report.json");
    let mut simulate = Command::new(env!("CARGO_BIN_EXE_orderguard"));
    simulate.args(["simulate", "--days", "10", "--quiet", "--target"]).arg(demo.dir.0.join("demo-credentials.json"));
    simulate.arg("--report").arg(&report_path);
    let out = tokio::task::spawn_blocking(move || simulate.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();

    // The evaluator follows the simulated clock and catches up after it (within three minutes).
    let http = reqwest::Client::new();
    let mut lag = i64::MAX;
    for _ in 0..360 {
        let metrics_url = demo.credentials["metrics_url"].as_str().unwrap();
        let metrics = http.get(metrics_url).send().await.unwrap().text().await.unwrap();
        let line = metrics.lines().find(|l| l.starts_with("orderguard_alert_evaluation_lag_seconds "));
        lag = line.and_then(|l| l.split(' ').nth(1)?.parse().ok()).unwrap_or(i64::MAX);
        if lag < 900 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(lag < 900, "the alert evaluator is {lag} s behind");

    let mut admin = Browser::at(&demo.base);
    let password = demo.credentials["admin"]["password"].as_str().unwrap();
    assert_eq!(admin.sign_in("admin", password).await.status, StatusCode::SEE_OTHER);
    let incidents = report["incidents"].as_array().unwrap();
    let names: Vec<&str> = incidents.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["provider_outage", "range_pumping_wave", "sim_swap_wave", "takeover_wave"]);
    for incident in incidents {
        assert_alerted(&mut admin, incident).await;
    }

    let time = |i: &Value, key: &str| orderguard::clock::parse_rfc3339(i[key].as_str().unwrap()).unwrap();
    for brand in report["brands"].as_object().unwrap().keys() {
        let alerts = listed_alerts(&admin.get(&format!("/admin/alerts?brand={brand}&days=60")).await.html);
        // An incident's own alerts are those raised while it lasts and in the hour after.
        let during_incident = |raised: i64| {
            incidents
                .iter()
                .filter(|i| i["brand"] == brand.as_str())
                .any(|i| (time(i, "at")..=time(i, "until") + 60 * 60_000).contains(&raised))
        };
        let quiet: Vec<_> = alerts.iter().filter(|(_, _, raised, _)| !during_incident(*raised)).collect();
        assert!(quiet.len() <= 1, "{brand}: alerts on quiet days: {quiet:?}");
    }

    // The takeover wave's alert reached the brand's endpoint, signed with its secret.
    let takeover = incidents.iter().find(|i| i["name"] == "takeover_wave").unwrap();
    let mut received: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let url = format!("{}/dev/webhooks.json?brand={}", demo.base, takeover["brand"].as_str().unwrap());
        received = http.get(url).send().await.unwrap().json().await.unwrap();
        let raised = |r: &&Value| r["type"] == "alert.raised" && r["body"]["data"]["rule"] == takeover["alert_rule"];
        if received.iter().any(|r| raised(&r) && r["verified"] == true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        received.iter().any(|r| r["type"] == "alert.raised" && r["body"]["data"]["rule"] == takeover["alert_rule"]),
        "{received:?}"
    );
    assert!(received.iter().all(|r| r["verified"] == true), "every delivery verified");
}
