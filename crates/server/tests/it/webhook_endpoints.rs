//! Webhook endpoints managed in the admin area and from the command line, through the real
//! server and binary: created with a secret shown once, rotated, disabled, deleted; the delivery
//! log, replays and test events; an endpoint failing for too long; the cap per endpoint; and a
//! name that resolves to this machine only when the delivery goes out (DNS rebinding).

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::{Browser, PASSWORD, add_user_with_config, csrf_of_home};
use crate::on_both_databases;
use crate::support::{Db, TestServer};
use crate::webhooks::{Receiver, endpoint, secret_var};

on_both_databases!(
    endpoints_are_managed_in_the_admin_area,
    the_command_line_manages_endpoints_and_replays_failures,
    an_endpoint_failing_for_too_long_is_disabled_with_an_event,
    deliveries_to_one_endpoint_are_capped,
    a_name_resolving_to_this_machine_at_send_time_is_refused,
);

/// The test configuration for this database, with `extra` at its top and `dev` lines added.
fn config_file(db: &Db, file: &str, extra: &str, dev: &str) -> std::path::PathBuf {
    let text = crate::support::config(db).replace("[dev]\n", &format!("[dev]\n{dev}\n"));
    let path = db.dir.0.join(file);
    std::fs::write(&path, format!("{extra}\n{text}")).unwrap();
    path
}

fn orderguard(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_orderguard")).args(args).arg("--config").arg(config).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn secret_on(html: &str) -> String {
    let start = html.find("whsec_").expect("a secret on the page");
    html[start..].split('<').next().unwrap().to_owned()
}

/// How many `v1,` signatures a delivery carried.
fn v1_signatures(delivery: &Value) -> usize {
    delivery["signature"].as_str().unwrap().split(' ').filter(|s| s.starts_with("v1,")).count()
}

async fn endpoints_are_managed_in_the_admin_area(db: Db) {
    let config = config_file(&db, "orderguard.toml", "", "");
    for user in [
        ["--username", "ops", "--role", "operator"].as_slice(),
        &["--username", "beta-admin", "--role", "brand_admin", "--brand", "beta"],
        &["--username", "ana", "--role", "analyst", "--brand", "alpha"],
    ] {
        let (ok, err) = add_user_with_config(&config, user);
        assert!(ok, "{err}");
    }
    let receiver = Receiver::start().await;
    let (var, file_secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "from-file", "secrets": [file_secret] })).await;
    let from_file = endpoint(&receiver, "from-file", &var, &["review.approved"]);
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.dev.stored_webhooks_to_private_targets = true;
        s.brands[0].webhooks = vec![from_file];
    })
    .await;
    let mut ops = Browser::new(&server);
    ops.sign_in("ops", PASSWORD).await;
    let csrf = csrf_of_home(&mut ops).await;

    let list = ops.get("/admin/webhooks?brand=alpha").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains("from-file") && list.html.contains("configuration file"), "{}", list.html);

    // Refused with the reason, nothing stored.
    let url = format!("{}/hooks/crm", receiver.base);
    let create = |name: &'static str, url: String, events: &'static [&'static str]| {
        let mut form = vec![("brand", "alpha".to_owned()), ("csrf", csrf.clone()), ("name", name.to_owned())];
        form.push(("url", url));
        form.push(("description", "the fraud team's case tool".to_owned()));
        form.extend(events.iter().map(|e| ("events", (*e).to_owned())));
        form
    };
    let plain = create("crm", "http://shop.example/hooks".into(), &["verification.created"]);
    let page = ops.post("/admin/webhooks", &borrowed(&plain)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("https"), "{}", page.html);
    let unknown = create("crm", url.clone(), &["verification.maybe"]);
    let page = ops.post("/admin/webhooks", &borrowed(&unknown)).await;
    assert!(page.status == StatusCode::BAD_REQUEST && page.html.contains("verification.maybe"), "{}", page.html);
    let taken = create("from-file", url.clone(), &["*"]);
    let page = ops.post("/admin/webhooks", &borrowed(&taken)).await;
    assert!(page.status == StatusCode::BAD_REQUEST && page.html.contains("taken"), "{}", page.html);

    // Created: the secret is shown once, and signs what arrives.
    let form = create("crm", url.clone(), &["verification.created", "verification.approved"]);
    let page = ops.post("/admin/webhooks", &borrowed(&form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let secret = secret_on(&page.html);
    receiver.control("/endpoints", json!({ "name": "crm", "secrets": [&secret] })).await;
    server.create(&server.alpha_key, "WE-1", "c-1").await;
    let first = receiver.wait_for(1).await;
    assert_eq!((&first[0]["endpoint"], &first[0]["type"]), (&json!("crm"), &json!("verification.created")));
    assert_eq!(first[0]["verified"], true, "{}", first[0]);

    // A test event goes to this endpoint alone.
    let action = |action: &'static str, extra: Option<(&'static str, String)>| {
        let mut form = vec![("brand", "alpha".to_owned()), ("csrf", csrf.clone()), ("action", action.to_owned())];
        form.extend(extra);
        form
    };
    let page = ops.post("/admin/webhooks/crm", &borrowed(&action("test", None))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let received = receiver.wait_for(2).await;
    assert_eq!((&received[1]["type"], &received[1]["verified"]), (&json!("webhook.test"), &json!(true)));
    assert_eq!(received[1]["body"]["data"]["endpoint"], "crm");

    // The log shows both, delivered; one sent again arrives under its own id.
    let log = ops.get("/admin/webhooks/crm?brand=alpha").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.html.contains("webhook.test") && log.html.contains("verification.created"), "{}", log.html);
    assert_eq!(log.html.matches("<td class=\"delivery-status\">delivered</td>").count(), 2, "{}", log.html);
    let first_id = first[0]["id"].as_str().unwrap();
    let delivery = first_id.rsplit('_').next().unwrap().to_owned();
    let page = ops.post("/admin/webhooks/crm", &borrowed(&action("replay", Some(("delivery", delivery))))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let received = receiver.wait_for(3).await;
    assert_eq!(received[2]["id"], first[0]["id"], "a replay keeps its webhook-id");

    // Rotation: both secrets sign until it ends; the receiver knowing only the new one accepts.
    let page = ops.post("/admin/webhooks/crm", &borrowed(&action("rotate-secret", None))).await;
    assert_eq!(page.status, StatusCode::OK);
    let new_secret = secret_on(&page.html);
    assert_ne!(new_secret, secret);
    let again = ops.post("/admin/webhooks/crm", &borrowed(&action("rotate-secret", None))).await;
    assert!(again.status == StatusCode::FORBIDDEN && again.html.contains("rotation runs"), "{}", again.html);
    receiver.control("/endpoints", json!({ "name": "crm", "secrets": [new_secret] })).await;
    server.create(&server.alpha_key, "WE-2", "c-2").await;
    let received = receiver.wait_for(4).await;
    assert_eq!((v1_signatures(&received[3]), &received[3]["verified"]), (2, &json!(true)), "{}", received[3]);
    let page = ops.post("/admin/webhooks/crm", &borrowed(&action("end-rotation", None))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    server.create(&server.alpha_key, "WE-3", "c-uk").await;
    let received = receiver.wait_for(5).await;
    assert_eq!((v1_signatures(&received[4]), &received[4]["verified"]), (1, &json!(true)), "{}", received[4]);

    // A configured endpoint is changed in the file only.
    let page = ops.post("/admin/webhooks/from-file", &borrowed(&action("disable", None))).await;
    assert!(page.status == StatusCode::FORBIDDEN && page.html.contains("configuration file"), "{}", page.html);

    // Another brand's admin does not see the brand; an analyst may not manage its webhooks.
    let mut beta_admin = Browser::new(&server);
    beta_admin.sign_in("beta-admin", PASSWORD).await;
    assert_eq!(beta_admin.get("/admin/webhooks?brand=alpha").await.status, StatusCode::NOT_FOUND);
    assert_eq!(beta_admin.get("/admin/webhooks/crm?brand=alpha").await.status, StatusCode::NOT_FOUND);
    assert_eq!(beta_admin.get("/admin/webhooks?brand=beta").await.status, StatusCode::OK);
    let mut analyst = Browser::new(&server);
    analyst.sign_in("ana", PASSWORD).await;
    assert_eq!(analyst.get("/admin/webhooks?brand=alpha").await.status, StatusCode::FORBIDDEN);

    // Every change is audited.
    let audit = ops.get("/admin/audit").await;
    for entry in ["webhook_endpoint_created", "webhook_endpoint_changed", "webhook_replayed"] {
        assert!(audit.html.contains(entry), "{entry} in {}", audit.html);
    }

    // Deleted: nothing more arrives.
    let page = ops.post("/admin/webhooks/crm", &borrowed(&action("delete", None))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(!ops.get("/admin/webhooks?brand=alpha").await.html.contains("/admin/webhooks/crm?"));
    server.create(&server.alpha_key, "WE-4", "load-7").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().await.len(), 5, "a deleted endpoint gets nothing");
}

fn borrowed<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn the_command_line_manages_endpoints_and_replays_failures(db: Db) {
    let config = config_file(&db, "orderguard.toml", "", "stored_webhooks_to_private_targets = true");
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(db, |s| {
        s.dev.stored_webhooks_to_private_targets = true;
        s.limits.webhook_retry_base_ms = 30;
    })
    .await;
    let url = format!("{}/hooks/erp", receiver.base);
    let create = |url: &str, events: &str| {
        orderguard(
            &config,
            &[
                "webhook",
                "create",
                "--brand",
                "alpha",
                "--name",
                "erp",
                "--url",
                url,
                "--events",
                events,
                "--by",
                "ops@example",
            ],
        )
    };
    let (ok, _, err) = create("http://shop.example/hooks", "verification.created");
    assert!(!ok && err.contains("https"), "{err}");
    let (ok, _, err) = create(&url, "verification.created,nonsense");
    assert!(!ok && err.contains("`nonsense` is not an event type"), "{err}");
    let (ok, secret, err) = create(&url, "verification.created");
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    assert!(secret.starts_with("whsec_") && err.contains("not shown again"), "{secret} {err}");
    let (ok, list, _) = orderguard(&config, &["webhook", "list", "--brand", "alpha"]);
    assert!(ok && list.contains("erp\tstored\tenabled"), "{list}");

    // The receiver fails: the delivery waits for its next try; disabled, it is dropped (gone).
    receiver.control("/endpoints", json!({ "name": "erp", "secrets": [secret] })).await;
    receiver.control("/behaviour", json!({ "name": "erp", "statuses": vec![503; 40] })).await;
    server.create(&server.alpha_key, "WC-1", "c-1").await;
    receiver.wait_for(2).await;
    let by = ["--by", "ops@example"];
    let change = |change: &str| {
        let mut args = vec!["webhook", "change", "--brand", "alpha", "--name", "erp", "--change", change];
        args.extend(by);
        orderguard(&config, &args)
    };
    let (ok, _, err) = change("frobnicate");
    assert!(!ok && err.contains("--change must be"), "{err}");
    let (ok, _, err) = change("disable");
    assert!(ok, "{err}");
    let deliveries = |status: &str| {
        orderguard(&config, &["webhook", "deliveries", "--brand", "alpha", "--name", "erp", "--status", status]).1
    };
    let gone = deliveries("gone");
    assert!(gone.contains("verification.created\tgone") && gone.contains("503"), "{gone}");
    let (ok, _, err) = orderguard(
        &config,
        &["webhook", "replay", "--brand", "alpha", "--name", "erp", "--failed-since", "1h", "--by", "ops@example"],
    );
    assert!(!ok && err.contains("disabled"), "a disabled endpoint replays nothing: {err}");

    // Enabled again and answering: the failed one replays under its own id.
    receiver.control("/behaviour", json!({ "name": "erp", "statuses": [] })).await;
    let (ok, _, err) = change("enable");
    assert!(ok, "{err}");
    let before = receiver.received().await.len();
    let (ok, count, err) = orderguard(
        &config,
        &["webhook", "replay", "--brand", "alpha", "--name", "erp", "--failed-since", "1h", "--by", "ops@example"],
    );
    assert!(ok && count.trim() == "1", "{count} {err}");
    let received = receiver.wait_for(before + 1).await;
    let replayed = received.last().unwrap();
    assert_eq!((&replayed["attempt_status"], &replayed["verified"]), (&json!(200), &json!(true)));
    assert_eq!(replayed["id"], received[0]["id"], "the same webhook-id as the failed attempts");
    let (ok, _, err) =
        orderguard(&config, &["webhook", "test", "--brand", "alpha", "--name", "erp", "--by", "ops@example"]);
    assert!(ok, "{err}");
    let received = receiver.wait_for(before + 2).await;
    assert_eq!(received.last().unwrap()["type"], "webhook.test");
    let delivered = deliveries("delivered");
    assert_eq!(delivered.lines().count(), 3, "a header and two delivered: {delivered}");

    // A brand makes ten endpoints at most: each may hold its share of the deliveries in flight.
    for n in 2..=11 {
        let name = format!("erp{n}");
        let (ok, _, err) = orderguard(
            &config,
            &["webhook", "create", "--brand", "alpha", "--name", &name, "--url", &url, "--by", "ops@example"],
        );
        assert_eq!(ok, n <= 10, "endpoint {n}: {err}");
        if n == 11 {
            assert!(err.contains("10 already"), "{err}");
        }
    }
}

/// An endpoint whose attempts keep failing is disabled after the configured time, with a
/// `webhook.endpoint_disabled` event that the brand's other endpoints may hear of.
async fn an_endpoint_failing_for_too_long_is_disabled_with_an_event(db: Db) {
    let receiver = Receiver::start().await;
    let (dead_var, dead_secret) = secret_var();
    let (ops_var, ops_secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "dead", "secrets": [dead_secret] })).await;
    receiver.control("/endpoints", json!({ "name": "ops", "secrets": [ops_secret] })).await;
    receiver.control("/behaviour", json!({ "name": "dead", "statuses": vec![500; 60] })).await;
    let dead = endpoint(&receiver, "dead", &dead_var, &["verification.created"]);
    let ops = endpoint(&receiver, "ops", &ops_var, &["webhook.endpoint_disabled"]);
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.limits.webhook_retry_base_ms = 40;
        s.limits.webhook_disable_after_ms = 700;
        s.brands[0].webhooks = vec![dead, ops];
    })
    .await;
    server.create(&server.alpha_key, "WD-1", "c-1").await;
    let mut notice = None;
    for _ in 0..200 {
        notice = receiver.received().await.into_iter().find(|r| r["endpoint"] == "ops");
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let notice = notice.expect("the disabling was announced");
    assert_eq!((&notice["type"], &notice["verified"]), (&json!("webhook.endpoint_disabled"), &json!(true)));
    let data = &notice["body"]["data"];
    assert_eq!((&data["endpoint"], &data["reason"]), (&json!("dead"), &json!("failing")), "{data}");
    assert!(data["failing_since"].as_str().is_some_and(|t| t.ends_with('Z')), "{data}");
    let attempts = receiver.received().await.iter().filter(|r| r["endpoint"] == "dead").count();
    assert!(attempts >= 2, "it failed several times first: {attempts}");
    server.create(&server.alpha_key, "WD-2", "c-2").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = receiver.received().await.iter().filter(|r| r["endpoint"] == "dead").count();
    assert_eq!(after, attempts, "a disabled endpoint gets nothing more");
}

/// With a slow receiver, no more deliveries are in flight to one endpoint than its cap, though
/// the instance could send more at once.
async fn deliveries_to_one_endpoint_are_capped(db: Db) {
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "slow", "secrets": [secret] })).await;
    receiver.control("/behaviour", json!({ "name": "slow", "delay_ms": 120 })).await;
    let slow = endpoint(&receiver, "slow", &var, &["verification.created"]);
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.limits.webhook_concurrency = 16;
        s.limits.webhook_concurrency_per_endpoint = 3;
        s.brands[0].webhooks = vec![slow];
    })
    .await;
    let orders: Vec<String> = (0..12).map(|n| format!("WP-{n}")).collect();
    let creates = orders.iter().enumerate().map(|(n, order)| {
        let customer = crate::support::load_customer(900 + n);
        let server = &server;
        async move { server.create(&server.alpha_key, order, &customer).await }
    });
    futures_util::future::join_all(creates).await;
    receiver.wait_for(12).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let received = receiver.received().await;
    let spans: Vec<(i64, i64)> =
        received.iter().map(|r| (r["received_at"].as_i64().unwrap(), r["answered_at"].as_i64().unwrap())).collect();
    let most = spans.iter().map(|(at, _)| spans.iter().filter(|(from, to)| from <= at && at < to).count()).max();
    assert_eq!(most, Some(3), "in flight at once, at most the cap and the cap reached: {spans:?}");
}

/// A name that resolved to a public address when the endpoint was saved but to this machine when
/// the delivery goes out is refused then, before any connection (the resolver override maps it;
/// nothing listens there).
async fn a_name_resolving_to_this_machine_at_send_time_is_refused(db: Db) {
    let saved_public =
        config_file(&db, "public.toml", "", "webhook_hosts = { \"hooks.rebind.test\" = \"203.0.113.7\" }");
    let now_private = config_file(&db, "private.toml", "", "webhook_hosts = { \"hooks.rebind.test\" = \"127.0.0.3\" }");
    let args = |config: &std::path::Path| {
        orderguard(
            config,
            &[
                "webhook",
                "create",
                "--brand",
                "alpha",
                "--name",
                "rebind",
                "--url",
                "https://hooks.rebind.test/orderguard",
                "--events",
                "verification.created",
                "--by",
                "ops@example",
            ],
        )
    };
    let (ok, _, err) = args(&now_private);
    assert!(!ok && err.contains("127.0.0.3 is a loopback, private, link-local or metadata address"), "{err}");
    let (ok, _, err) = args(&saved_public);
    assert!(ok, "{err}");
    let server = TestServer::start_with(db, |s| {
        s.dev.webhook_hosts.insert("hooks.rebind.test".into(), "127.0.0.3".parse().unwrap());
    })
    .await;
    server.create(&server.alpha_key, "WR-1", "c-1").await;
    let mut answer = String::new();
    for _ in 0..100 {
        answer = orderguard(&now_private, &["webhook", "deliveries", "--brand", "alpha", "--name", "rebind"]).1;
        if answer.contains("127.0.0.3") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answer.contains("127.0.0.3 is a loopback, private, link-local or metadata address"), "{answer}");
    assert!(
        answer.contains("verification.created\tpending\t1\t-"),
        "refused before any answer, tried again later: {answer}"
    );
}
