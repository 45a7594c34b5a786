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

async fn settled(server: &TestServer, brand: &str) -> Counts {
    let expected = events_by_type(server, brand).await;
    for _ in 0..100 {
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
    let _db = server.stop_keeping_database().await;

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
    let settings =
        orderguard::config::Settings::from_toml(&std::fs::read_to_string(&config_path).unwrap(), &config_path).unwrap();
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    let rebuilt: Counts = store
        .read(|conn| orderguard::store::rollups::totals(conn, "alpha", 0, i64::MAX))
        .await
        .unwrap()
        .into_iter()
        .map(|(d, v, c)| ((d, v), c))
        .collect();
    assert_eq!(rebuilt, alpha);
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
    assert!(page.html.contains("at least three other brands"), "{}", page.html);
    assert!(page.html.contains("<td>sim_swap_cases</td><td>1055</td><td>Cifas, Fraudscape 2024</td>"), "{}", page.html);

    server.create(&server.alpha_key, "M-1", "c-1").await;
    server.create(&server.beta_key, "M-2", "c-1").await;
    for slug in ["gamma", "delta"] {
        let key = orderguard::service::api_keys::create(&server.app().store, slug, "test", crate::support::now())
            .await
            .unwrap();
        server.create(&key, &format!("M-{slug}"), "c-2").await;
    }
    let mut page = browser.get("/admin/market?brand=alpha&days=1").await;
    for _ in 0..60 {
        if page.html.contains("3 other brands together") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = browser.get("/admin/market?brand=alpha&days=1").await;
    }
    assert!(page.html.contains("<td>3 other brands together</td><td>3</td><td>0</td><td>0.0 %</td>"), "{}", page.html);
    assert!(!page.html.contains("Brand gamma") && !page.html.contains("Beta Telecom"), "no other brand is named");
    server.stop().await;
}
