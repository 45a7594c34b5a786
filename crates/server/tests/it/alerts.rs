//! Alerts through the real server: an account-takeover campaign (wrong codes across many
//! verifications) against a week-old history at the same hour of the week raises one alert, which
//! names the orders behind it, arrives signed at the brand's webhook endpoint, is acknowledged
//! with a note on its page, and resolves by itself once the campaign has stopped. The evaluator
//! runs on a second instance too, and only one of them raises it.

use std::time::Duration;

use orderguard::config::AlertRuleConfig;
use orderguard_domain::clock::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::{Browser, PASSWORD, add_user_with_config};
use crate::on_both_databases;
use crate::support::{Db, TestServer, load_customer};
use crate::webhooks::{Receiver, endpoint, secret_var};

on_both_databases!(
    an_account_takeover_campaign_is_raised_acknowledged_and_resolves,
    a_lone_provider_behind_an_open_breaker_raises_its_alert,
);

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// Moves the clocks of both instances.
fn move_clock(server: &TestServer, second: &orderguard::Server, to: i64) {
    server.app().clock.set_simulated(Some(Timestamp(to)));
    second.app.clock.set_simulated(Some(Timestamp(to)));
}

/// The alerts on the brand's alerts page: (id, rule, status) of each row.
fn alert_rows(html: &str) -> Vec<(String, String, String)> {
    html.split("<tr class=\"alert-row\"")
        .skip(1)
        .map(|row| {
            let rule = row.split("data-rule=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            let id = row.split("\">#").nth(1).unwrap().split('<').next().unwrap().to_owned();
            let status =
                row.split("class=\"alert-status\">").nth(1).map_or("resolved", |s| s.split('<').next().unwrap());
            (id, rule, status.to_owned())
        })
        .collect()
}

/// Waits (at most 90 s: the evaluator first judges a week of history, slow on a loaded machine)
/// until the receiver has an event of `kind`.
async fn wait_for_event(receiver: &Receiver, kind: &str) -> Value {
    for _ in 0..1800 {
        if let Some(found) = receiver.received().await.into_iter().find(|r| r["type"] == kind) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} arrived: {:?}", receiver.received().await);
}

async fn an_account_takeover_campaign_is_raised_acknowledged_and_resolves(db: Db) {
    let config = db.dir.0.join("users.toml");
    std::fs::write(&config, crate::support::config(&db)).unwrap();
    let (ok, err) = add_user_with_config(&config, &["--username", "ana", "--role", "analyst", "--brand", "alpha"]);
    assert!(ok, "{err}");
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "fraud-desk", "secrets": [secret] })).await;
    let desk = endpoint(&receiver, "fraud-desk", &var, &["alert.raised", "alert.acknowledged", "alert.resolved"]);
    // A small brand: ten codes in the window are enough to judge, a week of 24 approvals a baseline.
    let tuned = AlertRuleConfig { min_volume: Some(10), baseline_volume: Some(20), ..AlertRuleConfig::default() };
    let tweak = move |s: &mut orderguard::config::Settings| {
        s.webhook_private_targets = true;
        s.brands[0].webhooks = vec![desk.clone()];
        s.brands[0].alerts.insert("wrong_code_rate_rise".into(), tuned.clone());
    };
    let server = TestServer::start_with(db, tweak.clone()).await;
    let second = server.another_instance(tweak).await;

    // A week ago, at this hour of the week: 24 customers ordered and typed their code right.
    let wall = server.app().clock.now().millis();
    let campaign_at = wall - wall.rem_euclid(HOUR) + 5 * MINUTE;
    move_clock(&server, &second, campaign_at - 7 * 24 * HOUR);
    for n in 0..24 {
        let v = server.create(&server.alpha_key, &format!("AL-H{n}"), &load_customer(n)).await;
        let id = v["id"].as_str().unwrap();
        let code = server.code(id).await;
        let (status, body) =
            server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    }

    // Now: 12 orders with stolen logins, each a wrong code (the fraudster never gets the SMS).
    move_clock(&server, &second, campaign_at);
    let mut campaign_orders = Vec::new();
    for n in 0..12 {
        let order = format!("AL-C{n}");
        let v = server.create(&server.alpha_key, &order, &load_customer(100 + n)).await;
        let id = v["id"].as_str().unwrap();
        let (status, body) =
            server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": "000000" })).await;
        assert_eq!((status, &body["valid"]), (200, &json!(false)), "{body}");
        campaign_orders.push(order);
    }
    // The minute closes; the evaluator catches up the week and judges it.
    move_clock(&server, &second, campaign_at + 2 * MINUTE);
    let raised = wait_for_event(&receiver, "alert.raised").await;
    assert_eq!(raised["verified"], true, "signed with the endpoint's secret: {raised}");
    let data = &raised["body"]["data"];
    assert_eq!((&data["rule"], &data["baseline"]), (&json!("wrong_code_rate_rise"), &json!("hour_of_week")), "{data}");
    let number = |k: &str| data[k].as_f64().unwrap();
    assert_eq!((number("observed"), number("expected"), number("volume")), (1.0, 0.0, 12.0), "{data}");
    let named: Vec<&str> = data["orders"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert!(!named.is_empty() && named.iter().all(|o| campaign_orders.iter().any(|c| c == o)), "{named:?}");
    let id = data["alert_id"].as_i64().unwrap();

    // The analyst sees it, open, with its orders linked to their traces.
    let mut ana = Browser::new(&server);
    ana.sign_in("ana", PASSWORD).await;
    let list = ana.get("/admin/alerts?brand=alpha").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(alert_rows(&list.html), [(id.to_string(), "wrong_code_rate_rise".into(), "open".into())], "one alert");
    let live = ana.get("/admin/live?brand=alpha").await;
    let link = format!("<a href=\"/admin/alerts/{id}?brand=alpha\">#{id} Wrong codes above their usual level");
    assert!(live.html.contains(&link), "the live monitor shows it on top: {}", live.html);
    let page = ana.get(&format!("/admin/alerts/{id}?brand=alpha")).await;
    assert!(page.html.contains(&format!("/admin/trace?brand=alpha&amp;order={}", named[0])), "{}", page.html);
    assert!(page.html.contains("hour of week"), "the baseline it used: {}", page.html);
    let beta = ana.get(&format!("/admin/alerts/{id}?brand=beta")).await;
    assert_eq!(beta.status, StatusCode::NOT_FOUND, "another brand's team does not see it");

    // Acknowledged with a note (none is refused), as an event the desk hears of.
    let csrf = page.html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let path = format!("/admin/alerts/{id}");
    let bare = ana.post(&path, &[("csrf", &csrf), ("brand", "alpha"), ("step", "acknowledge"), ("note", " ")]).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST, "{}", bare.html);
    let note = "Blocking the customers' sessions; calling them.";
    let done = ana.post(&path, &[("csrf", &csrf), ("brand", "alpha"), ("step", "acknowledge"), ("note", note)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let acknowledged = wait_for_event(&receiver, "alert.acknowledged").await;
    assert_eq!(acknowledged["body"]["data"]["by_role"], json!("analyst"), "{acknowledged}");
    let page = ana.get(&format!("/admin/alerts/{id}?brand=alpha")).await;
    assert!(page.html.contains("by ana: Blocking the customers"), "who and why, on the page: {}", page.html);
    let again = ana.post(&path, &[("csrf", &csrf), ("brand", "alpha"), ("step", "acknowledge"), ("note", note)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "only an open alert is acknowledged");

    // The campaign is over: once out of the 30-minute window, and after 15 quiet minutes, the
    // alert resolves by itself.
    move_clock(&server, &second, campaign_at + 52 * MINUTE);
    let resolved = wait_for_event(&receiver, "alert.resolved").await;
    assert_eq!(resolved["body"]["data"]["alert_id"], json!(id));
    assert!(resolved["body"]["data"].get("by_role").is_none(), "by itself: {resolved}");
    let list = ana.get("/admin/alerts?brand=alpha&status=resolved").await;
    assert_eq!(alert_rows(&list.html), [(id.to_string(), "wrong_code_rate_rise".into(), "resolved".into())]);

    // Two instances evaluated all along; one alert was raised, once.
    let raises = receiver.received().await.iter().filter(|r| r["type"] == "alert.raised").count();
    assert_eq!(raises, 1, "{:?}", receiver.received().await);
    // The management report of its month counts it, from the event log.
    let month = orderguard::clock::rfc3339(campaign_at).get(..7).unwrap().to_owned();
    let counted = "<th scope=\"row\">Alerts raised</th><td class=\"number\">1</td>";
    let mut report = String::new();
    for _ in 0..300 {
        report = ana.get(&format!("/admin/report?brand=alpha&month={month}")).await.html;
        if report.contains(counted) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(report.contains(counted) && report.contains(&format!("#{id} ")), "{report}");
    drop(second);
    let db = server.stop_keeping_database().await;

    // The backtest finds it again over the stored history: not with the defaults (a week of 24
    // approvals is too thin a baseline to trust), and at the same minute with the tuned rule.
    let backtest = |config: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
            .args(["alerts", "backtest", "--brand", "alpha", "--config"])
            .arg(config)
            .args(["--from", &orderguard::clock::rfc3339(campaign_at - 8 * 24 * HOUR)])
            .args(["--to", &orderguard::clock::rfc3339(campaign_at + 90 * MINUTE)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let defaults = backtest(&config);
    assert!(defaults.contains("0 alert(s) would have been raised"), "{defaults}");
    let tuned =
        db_config_with(&config, "[brands.alerts.wrong_code_rate_rise]\nmin_volume = 10\nbaseline_volume = 20\n");
    let found = backtest(&tuned);
    // At the minute the live evaluator raised it, or the one before: run beside other tests, the
    // live one has been seen to judge the campaign's first minute a minute late.
    let live_at = orderguard::clock::parse_rfc3339(&data_timestamp(&raised)).unwrap();
    let raised_line = |at: i64| format!("{}  raised    wrong_code_rate_rise", orderguard::clock::rfc3339(at));
    assert!(
        (found.contains(&raised_line(live_at)) || found.contains(&raised_line(live_at - MINUTE)))
            && found.contains("1 alert(s) would have been raised"),
        "{}\n{found}",
        raised_line(live_at)
    );
    assert!(found.contains("resolved  wrong_code_rate_rise"), "{found}");
    drop(db);
}

/// The test configuration with `alpha_extra` added to brand alpha's section.
fn db_config_with(config: &std::path::Path, alpha_extra: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(config).unwrap();
    let beta = "\n[[brands]]\nslug = \"beta\"";
    assert!(text.contains(beta));
    let path = config.with_file_name("tuned.toml");
    std::fs::write(&path, text.replace(beta, &format!("\n{alpha_extra}{beta}"))).unwrap();
    path
}

/// The moment an event was written, as its payload says (RFC 3339).
fn data_timestamp(delivery: &Value) -> String {
    delivery["body"]["timestamp"].as_str().unwrap().to_owned()
}

/// A route of one SMS provider, which is down: after three refused hand-offs its breaker opens,
/// the provider is still tried as the route's last resort (nothing else could send the codes),
/// and `provider_circuit_open` names it.
async fn a_lone_provider_behind_an_open_breaker_raises_its_alert(db: Db) {
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        // Nothing listens on port 9 of loopback: every connection is refused at once.
        s.sms_providers.insert("dead".into(), crate::sms_http::http_provider("http://127.0.0.1:9/sms", &token));
        s.brands[0].sms_route = vec!["dead".into()];
    })
    .await;
    for n in 0..5 {
        server.create(&server.alpha_key, &format!("CB-{n}"), &load_customer(n)).await;
    }
    // The retries (two seconds later) go through the open breaker.
    let through_open_breaker = || {
        let store = server.app().store.clone();
        async move {
            let rows = store
                .read(|conn| conn.query("SELECT attrs FROM events WHERE type = 'sms.attempt_failed'", &[]))
                .await
                .unwrap();
            rows.iter().filter(|r| r.text("attrs").unwrap().contains("\"breaker_open\":true")).count()
        }
    };
    for _ in 0..200 {
        if through_open_breaker().await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(through_open_breaker().await > 0, "no hand-off was tried through the open breaker");
    // Once the minute has closed, the evaluator names the provider.
    let wall = server.app().clock.now().millis();
    server.app().clock.set_simulated(Some(Timestamp(wall + 2 * MINUTE)));
    let raised = || {
        let store = server.app().store.clone();
        async move {
            let rows =
                store.read(|conn| conn.query("SELECT rule, key FROM alerts WHERE brand = 'alpha'", &[])).await.unwrap();
            rows.iter().map(|r| (r.text("rule").unwrap(), r.text("key").unwrap())).collect::<Vec<_>>()
        }
    };
    let named = ("provider_circuit_open".to_owned(), "dead".to_owned());
    for _ in 0..400 {
        if raised().await.contains(&named) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts = raised().await;
    assert!(alerts.contains(&named), "{alerts:?}");
    server.stop().await;
}
