//! The dashboards' counters: kept up to date from the event log as it grows, equal to a count of
//! the log itself, and the same again after `orderguard analytics rebuild`; the pages built on them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestServer, config};

on_both_databases!(
    counters_follow_the_event_log_and_rebuild_to_the_same,
    market_page_needs_three_other_brands_and_shows_published_figures,
    losses_avoided_are_the_stopped_value_at_the_fraud_share_before_2fa,
    the_dashboard_benchmark_counts_and_times_every_page,
);

type Counts = BTreeMap<(String, String), i64>;

/// The counters of a brand, all hours.
async fn counters(server: &TestServer, brand: &str) -> Counts {
    let brand = brand.to_owned();
    server
        .app()
        .store
        .read(move |conn| orderguard::store::rollups::totals(conn, &brand, 0, i64::MAX))
        .await
        .unwrap()
        .into_iter()
        .map(|(d, v, c)| ((d, v), c))
        .collect()
}

/// Events by type, counted in the log itself.
async fn events_by_type(server: &TestServer, brand: &str) -> Counts {
    let brand = brand.to_owned();
    server
        .app()
        .store
        .read(move |conn| {
            conn.query(
                "SELECT type, COUNT(*) AS n FROM events WHERE brand = $1 GROUP BY type",
                &[brand.as_str().into()],
            )
        })
        .await
        .unwrap()
        .iter()
        .map(|r| (("event".to_owned(), r.text("type").unwrap()), r.int("n").unwrap()))
        .collect()
}

/// A brand's counters, all hours, read from a store opened by the test.
async fn totals_in(store: &orderguard::store::Store, brand: &'static str) -> Counts {
    store
        .read(move |conn| orderguard::store::rollups::totals(conn, brand, 0, i64::MAX))
        .await
        .unwrap()
        .into_iter()
        .map(|(d, v, c)| ((d, v), c))
        .collect()
}

async fn settled(server: &TestServer, brand: &str) -> Counts {
    let expected = events_by_type(server, brand).await;
    // Counted within a tick or two; a loaded CI machine can take seconds.
    for _ in 0..600 {
        let counted = counters(server, brand).await;
        let events: Counts = counted.iter().filter(|((d, _), _)| d == "event").map(|(k, v)| (k.clone(), *v)).collect();
        if events == expected {
            return counted;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the counters never matched the log: {:?} vs {expected:?}", counters(server, brand).await);
}

async fn counters_follow_the_event_log_and_rebuild_to_the_same(db: Db) {
    assert!(crate::admin::add_user(&db, &["--username", "ops", "--role", "operator"]).0);
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, config(&db)).unwrap();
    let server = TestServer::start(db).await;
    let approved = server.create(&server.alpha_key, "N-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&approved).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    server.post(&server.alpha_key, &format!("/v1/verifications/{approved}/check"), json!({ "code": wrong })).await;
    server.post(&server.alpha_key, &format!("/v1/verifications/{approved}/check"), json!({ "code": code })).await;
    let canceled = server.create(&server.alpha_key, "N-2", "c-2").await["id"].as_str().unwrap().to_owned();
    server
        .post(&server.alpha_key, &format!("/v1/verifications/{canceled}/cancel"), json!({ "reason": "customer" }))
        .await;
    server.create(&server.beta_key, "N-3", "c-1").await;

    let alpha = settled(&server, "alpha").await;
    let key = |d: &str, v: &str| (d.to_owned(), v.to_owned());
    assert_eq!(alpha.get(&key("event", "verification.created")), Some(&2));
    assert_eq!(alpha.get(&key("event", "verification.approved")), Some(&1));
    assert_eq!(alpha.get(&key("event", "verification.canceled")), Some(&1));
    assert_eq!(alpha.get(&key("attempts_to_approve", "2")), Some(&1), "{alpha:?}");
    assert_eq!(alpha.get(&key("failed_attempt", "1")), Some(&1));
    assert_eq!(alpha.get(&key("country", "DE")), Some(&2));
    assert_eq!(alpha.get(&key("sms_submitted", "outbox")), Some(&2));
    let beta = settled(&server, "beta").await;
    assert_eq!(beta.get(&key("event", "verification.created")), Some(&1), "brands are counted apart");

    // The funnel and attempts page shows the same: both codes entered, one approved at attempt 2
    // after a wrong first code.
    let mut browser = crate::admin::Browser::new(&server);
    browser.sign_in("ops", crate::admin::PASSWORD).await;
    let funnel = browser.get("/admin/funnel?brand=alpha&days=1").await;
    assert!(funnel.html.contains("<td>started</td><td>2</td><td>100.0 %</td>"), "{}", funnel.html);
    assert!(funnel.html.contains("<td>code entered</td><td>1</td><td>50.0 %</td>"), "{}", funnel.html);
    assert!(funnel.html.contains("<td>approved</td><td>1</td><td>50.0 %</td>"), "{}", funnel.html);
    assert!(
        funnel.html.contains("<tr><td>1</td><td>0</td><td>1</td></tr>")
            && funnel.html.contains("<tr><td>2</td><td>1</td><td>0</td></tr>"),
        "{}",
        funnel.html
    );
    let sms = browser.get("/admin/sms?brand=alpha&days=1").await;
    assert!(sms.html.contains("<td>outbox</td><td>DE</td><td>2</td><td>0</td><td>0</td><td>–</td>"), "{}", sms.html);
    let csv = browser.get("/admin/funnel.csv?brand=alpha&days=1").await;
    assert!(csv.html.starts_with("step,count") && csv.html.contains("approved,1"), "{}", csv.html);
    // The funnel per hour adds up to the funnel of the day.
    let funnel = browser.get("/admin/funnel?brand=alpha&days=1&every=hour").await;
    let table = funnel.html.split("id=\"funnel-trend-table\"").nth(1).unwrap().split("</table>").next().unwrap();
    let column = |n: usize| -> i64 {
        table
            .split("<tr><td>")
            .skip(1)
            .map(|row| row.split("<td>").nth(n).unwrap().split('<').next().unwrap().parse::<i64>().unwrap())
            .sum()
    };
    assert_eq!((column(1), column(5)), (2, 1), "started and approved per hour: {table}");

    // Narrowed to a slice: each outcome counts where its verification belongs.
    assert_eq!(alpha.get(&key("country_event", "DE|verification.created")), Some(&2));
    assert_eq!(alpha.get(&key("decision_event", "allow|verification.approved")), Some(&1));
    let german = browser.get("/admin/overview?brand=alpha&days=1&slice=country:de").await;
    assert!(
        german.html.contains("<td>started</td><td>2</td>") && german.html.contains("<td>canceled</td><td>1</td>"),
        "{}",
        german.html
    );
    assert!(german.html.contains("&#38;country=DE"), "the lists behind the figures keep the slice: {}", german.html);
    let austrian = browser.get("/admin/overview?brand=alpha&days=1&slice=country:AT").await;
    assert!(austrian.html.contains("<td>started</td><td>0</td>"), "{}", austrian.html);
    let denied = browser.get("/admin/overview.csv?brand=alpha&days=1&slice=decision:deny").await;
    assert!(denied.html.contains("started,0,") && !denied.html.contains("median"), "{}", denied.html);
    let wrong = browser.get("/admin/overview?brand=alpha&days=1&slice=country:Germany").await;
    assert_eq!(wrong.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(wrong.html.contains("`Germany` is no two-letter ISO 3166 country code"), "{}", wrong.html);
    let _db = server.stop_keeping_database().await;
    let settings =
        orderguard::config::Settings::from_toml(&std::fs::read_to_string(&config_path).unwrap(), &config_path).unwrap();
    // What the server counted as it went, with anything written after the last tick counted too.
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    orderguard::service::analytics::catch_up(&store, crate::support::now().millis() + 1).await.unwrap();
    let (counted_alpha, counted_beta) = (totals_in(&store, "alpha").await, totals_in(&store, "beta").await);
    assert_eq!(counted_alpha.get(&key("event", "verification.created")), Some(&2), "{counted_alpha:?}");
    drop(store);

    // Counting the whole log again gives the same counters.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["analytics", "rebuild", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && out.contains("event(s) counted"),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    assert_eq!(totals_in(&store, "alpha").await, counted_alpha);
    assert_eq!(totals_in(&store, "beta").await, counted_beta);
}

async fn market_page_needs_three_other_brands_and_shows_published_figures(db: Db) {
    assert!(crate::admin::add_user(&db, &["--username", "alpha-admin", "--role", "brand_admin", "--brand", "alpha"]).0);
    let config_path = db.dir.0.join("orderguard.toml");
    let import = |csv: &str| {
        let file = db.dir.0.join("market.csv");
        std::fs::write(&file, csv).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
            .args(["market", "import"])
            .arg(&file)
            .arg("--config")
            .arg(&config_path)
            .output()
            .unwrap();
        (
            output.status.success(),
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        )
    };
    let (ok, out) = import(
        "period,metric,value,source\n2023,fraud_loss_usd_bn,38.95,CFCA Survey 2023\n2024,fraud_loss_usd_bn,oops,CFCA\n",
    );
    assert!(!ok && out.contains("line 3") && out.contains("nothing was imported"), "{out}");
    let (ok, out) = import(
        "period,metric,value,source\n2023,fraud_loss_usd_bn,38.95,CFCA Survey 2023\n2024,sim_swap_cases,1055,Cifas, Fraudscape 2024\n",
    );
    assert!(ok && out.contains("2 market figure(s) imported"), "{out}");
    let (ok, out) = import("period,metric,value,compare_with,source\n2024,sim_swap_cases,1,swaps,Cifas\n");
    assert!(!ok && out.contains("compare_with `swaps` is none of"), "{out}");
    let (ok, out) = import(
        "period,metric,value,compare_with,source\n2023,uk_sim_swaps,289,sim_swaps,Cifas 2024\n2024,uk_sim_swaps,3000,sim_swaps,Cifas 2025\n",
    );
    assert!(ok && out.contains("2 market figure(s) imported"), "{out}");

    let server = TestServer::start_with(db, |s| {
        for slug in ["gamma", "delta"] {
            let mut brand = s.brands[1].clone();
            brand.slug = slug.into();
            brand.name = format!("Brand {slug}");
            s.brands.push(brand);
        }
    })
    .await;
    let mut browser = crate::admin::Browser::new(&server);
    browser.sign_in("alpha-admin", crate::admin::PASSWORD).await;
    let page = browser.get("/admin/market?brand=alpha&days=1").await;
    assert!(page.html.contains("fewer than 3 other brands with figures"), "{}", page.html);
    // Unmapped figures stay context; a mapped series is set beside the brand figure, indexed.
    assert!(page.html.contains("<td>sim_swap_cases</td><td>1055</td><td>Cifas, Fraudscape 2024</td>"), "{}", page.html);
    assert!(page.html.contains("<h3>uk_sim_swaps <small>beside SIM swaps detected"), "{}", page.html);
    assert!(page.html.contains("Source: Cifas 2024; Cifas 2025. National and yearly"), "{}", page.html);
    assert!(page.html.contains(
        "<td>2024</td><td class=\"number\">3000</td><td class=\"number\">1038</td><td class=\"number\">+938 %</td>"
    ));

    let created = server.create(&server.alpha_key, "M-1", "c-1").await;
    assert_eq!(created["status"], "pending", "{created}");
    let (status, _) = server
        .post(
            &server.alpha_key,
            "/v1/orders/M-1/outcome",
            serde_json::json!({ "outcome": "fraud_confirmed", "amount_lost": "120.00" }),
        )
        .await;
    assert_eq!(status, 200);
    server.create(&server.beta_key, "M-2", "c-1").await;
    for slug in ["gamma", "delta"] {
        let key = orderguard::service::api_keys::create(&server.app().store, slug, "test", crate::support::now())
            .await
            .unwrap();
        server.create(&key, &format!("M-{slug}"), "c-2").await;
    }
    let row = |html: &str, metric: &str| {
        html.split(&format!("<tr data-metric=\"{metric}\">")).nth(1).unwrap().split("</tr>").next().unwrap().to_owned()
    };
    let mut page = browser.get("/admin/market?brand=alpha&days=1").await;
    for _ in 0..60 {
        if row(&page.html, "blocked_or_held").contains("<small>at least 3 other brands</small>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = browser.get("/admin/market?brand=alpha&days=1").await;
    }
    // One order, reported as fraud: 1,000 per 1,000 orders, 120 EUR lost per order.
    let fraud = row(&page.html, "confirmed_fraud");
    assert!(fraud.contains("<td class=\"number\">1000.00</td>"), "{fraud}");
    assert!(fraud.contains("fewer than 3 other brands with figures"), "no other brand reported an order: {fraud}");
    assert!(row(&page.html, "losses").contains("<td class=\"number\">120000.00</td>"), "{}", page.html);
    let held = row(&page.html, "blocked_or_held");
    assert!(held.contains("<td class=\"number\">0.00<br><small>at least 3 other brands</small>"), "{held}");
    assert!(!page.html.contains("Brand gamma") && !page.html.contains("Beta Telecom"), "no other brand is named");
    let csv = browser.get("/admin/market.csv?brand=alpha&days=1&every=day").await;
    let line = csv.html.lines().rfind(|l| l.contains(",confirmed_fraud,")).unwrap();
    assert!(line.ends_with(",day,confirmed_fraud,per 1000 orders,1000.0000,,"), "{}", csv.html);
    server.stop().await;
}

async fn losses_avoided_are_the_stopped_value_at_the_fraud_share_before_2fa(db: Db) {
    assert!(crate::admin::add_user(&db, &["--username", "alpha-admin", "--role", "brand_admin", "--brand", "alpha"]).0);
    let now = crate::support::now().millis();
    let server = TestServer::start_with(db, |s| {
        let alpha = s.brands.iter_mut().find(|b| b.slug == "alpha").unwrap();
        alpha.two_factor_since = Some(orderguard::clock::day(now));
    })
    .await;
    // Two days before the switch: 20 orders without 2FA, 2 of them fraud (a share of 10 %).
    let clock = &server.app().clock;
    clock.set_simulated(Some(orderguard_domain::clock::Timestamp(now - 2 * 86_400_000)));
    for n in 0..20 {
        let outcome = if n < 2 { "fraud_confirmed" } else { "completed" };
        let (status, body) =
            server.post(&server.alpha_key, &format!("/v1/orders/B-{n}/outcome"), json!({ "outcome": outcome })).await;
        assert_eq!(status, 200, "{body}");
    }
    clock.set_simulated(None);
    // After it: an order to a premium-rate number is blocked (849.00 EUR).
    let (status, blocked) =
        server.post(&server.alpha_key, "/v1/verifications", crate::support::order("A-1", "c-premium")).await;
    assert_eq!((status, blocked["status"].as_str()), (201, Some("blocked")), "{blocked}");

    let mut browser = crate::admin::Browser::new(&server);
    browser.sign_in("alpha-admin", crate::admin::PASSWORD).await;
    let avoided =
        |html: &str| html.split("id=\"losses-avoided\"").nth(1).unwrap().split("</section>").next().unwrap().to_owned();
    let mut section = String::new();
    for _ in 0..100 {
        section = avoided(&browser.get("/admin/fraud?brand=alpha&days=1").await.html);
        if section.contains("Then 2 of 20 reported orders were fraud") && section.contains("849.00 EUR") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(section.contains("<th scope=\"row\">Orders blocked</th><td>1</td><td>0</td>"), "{section}");
    assert!(section.contains("<th scope=\"row\">Their value</th><td>849.00 EUR</td><td>–</td>"), "{section}");
    assert!(section.contains("Then 2 of 20 reported orders were fraud: 10.00 %."), "{section}");
    assert!(section.contains("<td><strong>84.90 EUR</strong></td>"), "a tenth of the value: {section}");
    assert!(section.contains("devices not shipped)</th><td>0.1</td>"), "{section}");

    // From the figure to the orders behind it, and from there to the order's trace.
    let stopped = section
        .split("<a href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(stopped.starts_with("/admin/orders?brand=alpha&figure=stopped&from="), "{stopped}");
    let list = browser.get(&stopped).await;
    assert!(list.html.contains("<strong>1 order</strong>"), "{}", list.html);
    assert!(list.html.contains("<a href=\"/admin/trace?brand=alpha&amp;order=A-1\">A-1</a>"), "{}", list.html);
    assert!(
        list.html.contains("<td>849.00 EUR</td><td>DE</td><td>deny</td><td>premium_or_special_rate_number"),
        "{}",
        list.html
    );
    let allowed = browser.get(&format!("{stopped}&decision=allow")).await;
    assert!(allowed.html.contains("<strong>0 orders</strong>"), "{}", allowed.html);
    let trace = browser.get("/admin/trace?brand=alpha&order=A-1").await;
    assert_eq!(trace.status, reqwest::StatusCode::OK);
    // The fraud reported two days ago: the two orders of that day, not the completed ones.
    let day = orderguard::clock::day(now - 2 * 86_400_000);
    let fraud = browser.get(&format!("/admin/orders?brand=alpha&figure=confirmed_fraud&from={day}")).await;
    assert!(fraud.html.contains("<strong>2 orders</strong>") && fraud.html.contains(">B-1</a>"), "{}", fraud.html);
    assert!(!fraud.html.contains(">B-2</a>"), "a completed order among the fraud");
    for bad in
        ["figure=fraud&from=2026-01-01", "figure=stopped&from=yesterday", "figure=stopped&from=2026-01-01&days=32"]
    {
        assert_eq!(
            browser.get(&format!("/admin/orders?brand=alpha&{bad}")).await.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        browser.get("/admin/orders?brand=beta&figure=stopped&from=2026-01-01").await.status,
        reqwest::StatusCode::NOT_FOUND
    );

    // The month's report for management: the same figures, this month against the one before.
    let month = orderguard::clock::day(now).get(..7).unwrap().to_owned();
    let report = browser.get(&format!("/admin/report?brand=alpha&month={month}")).await;
    assert_eq!(report.status, reqwest::StatusCode::OK, "{}", report.html);
    let cells = |label: &str| -> Vec<String> {
        let row = report
            .html
            .split(&format!("<th scope=\"row\">{label}</th>"))
            .nth(1)
            .unwrap()
            .split("</tr>")
            .next()
            .unwrap();
        row.split("<td class=\"number\">").skip(1).map(|c| c.split('<').next().unwrap().to_owned()).collect()
    };
    assert_eq!(cells("Orders stopped")[0], "1");
    assert_eq!(cells("Value of the orders stopped")[0], "849.00 EUR");
    assert_eq!(cells("Losses avoided (estimate)")[0], "84.90 EUR");
    // Two days ago may be last month: the fraud is in one of the two columns.
    let fraud: i64 = cells("Confirmed fraud").iter().map(|c| c.parse::<i64>().unwrap()).sum();
    assert_eq!(fraud, 2);
    assert!(report.html.contains("2 of the 20 orders reported in the 90 days before 2FA"), "{}", report.html);
    assert!(report.html.contains("<tr data-metric=\"confirmed_fraud\">"), "the market comparison");
    let csv = browser.get(&format!("/admin/report.csv?brand=alpha&month={month}")).await;
    assert!(csv.html.starts_with("section,figure,unit,this_month,month_before,other_brands\r\n"), "{}", csv.html);
    assert!(csv.html.contains("key figures,Value of the orders stopped,,849.00 EUR,"), "{}", csv.html);
    assert!(csv.html.contains("\r\nmarket,confirmed_fraud,"), "{}", csv.html);
    for bad in ["month=2026-13", "month=november", "month=2999-01"] {
        assert_eq!(
            browser.get(&format!("/admin/report?brand=alpha&{bad}")).await.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(browser.get("/admin/report?brand=beta").await.status, reqwest::StatusCode::NOT_FOUND);
    server.stop().await;
}

/// `orderguard bench-dashboards` on a small store, so that the benchmark behind BENCHMARKS.md
/// keeps working: it loads, counts every event, signs in through the second factor and gets every
/// page.
async fn the_dashboard_benchmark_counts_and_times_every_page(db: Db) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"));
    command.args(["bench-dashboards", "--events", "20000", "--requests", "2"]);
    if db.url.starts_with("postgres") {
        command.args(["--postgres", &db.url]);
    }
    let output = command.output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}{}", String::from_utf8_lossy(&output.stderr));
    // Whole verifications are loaded, so a few more events than asked for.
    let figure = |label: &str| -> u64 {
        out.split(label).nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_default()
    };
    let (loaded, counted) = (figure("loaded "), figure("counted "));
    assert!(loaded >= 20_000 && counted >= loaded, "every loaded event is counted: {out}");
    for page in ["/admin/market?brand=nordtel&days=90", "/admin/report?brand=nordtel", "/admin/trace?brand=nordtel"] {
        assert!(out.lines().any(|line| line.starts_with(page)), "{page} was not timed: {out}");
    }
}
