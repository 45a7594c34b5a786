//! Attacks on the defences across verifications, written as an attacker would try them: more
//! verifications instead of more guesses, another brand, parallel requests, resends instead of
//! creates, many accounts in one number range. Each asserts a bound through the real API.

use serde_json::{Value, json};

use crate::idempotency::futures_join_all;
use crate::on_both_databases;
use crate::support::{Db, TestServer, cheap_order, create_cheap, order, problem_type};

on_both_databases!(
    wrong_codes_lock_the_customer_whatever_the_verification_and_parallelism,
    a_lock_at_one_brand_does_not_lock_the_customer_out_of_another,
    codes_to_one_number_stay_within_five_per_ten_minutes_and_ten_a_day,
    pumping_a_number_range_pauses_it_but_not_its_honest_numbers,
    a_review_decision_holds_the_order_and_sends_nothing,
    a_customer_with_typos_is_not_held,
    receipts_are_issued_once,
    lists_block_and_allow_and_the_block_list_wins,
    past_the_day_s_sms_budget_orders_are_held,
    a_code_typed_elsewhere_is_marked_or_held,
    prometheus_counts_refusals_and_locks,
    the_hosted_page_reads_the_client_behind_a_trusted_proxy_only,
);

/// Waits until the outbox holds `expected` messages (SMS go out after the API answers), then
/// checks that no more arrive.
async fn outbox_settles_at(server: &TestServer, expected: usize) {
    for _ in 0..200 {
        if server.outbox(None).await.len() >= expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(server.outbox(None).await.len(), expected);
}

async fn check(server: &TestServer, key: &str, id: &str, code: &str) -> (u16, Value) {
    server.post(key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await
}

fn a_wrong_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn wrong_codes_lock_the_customer_whatever_the_verification_and_parallelism(db: Db) {
    let server = TestServer::start(db).await;
    let key = server.alpha_key.clone();
    // Four verifications at once, then twenty guesses spread over them in parallel.
    let mut ids = Vec::new();
    for n in 0..4 {
        let v = server.create(&key, &format!("LOCK-{n}"), "c-1").await;
        assert_eq!(v["status"], "pending", "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let mut wrongs = Vec::new();
    for id in &ids {
        wrongs.push(a_wrong_code(&server.code(id).await));
    }
    let guesses = (0..20).map(|n| {
        let (http, base, key) = (server.http.clone(), server.base.clone(), key.clone());
        let (id, wrong) = (ids[n % 4].clone(), wrongs[n % 4]);
        async move {
            let response = http
                .post(format!("{base}/v1/verifications/{id}/check"))
                .bearer_auth(key)
                .json(&json!({ "code": wrong }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").is_some();
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }
    });
    let answers = futures_join_all(guesses).await;
    let judged = answers.iter().filter(|(status, _, _)| *status == 200).count();
    let locked: Vec<_> = answers.iter().filter(|(status, _, _)| *status == 429).collect();
    assert_eq!(judged, 10, "exactly the day's wrong codes are judged: {answers:?}");
    assert_eq!(locked.len(), 10, "{answers:?}");
    assert!(locked.iter().all(|(_, retry_after, body)| *retry_after && problem_type(body) == "limit-reached"));

    // The right code of an open verification is refused too: guessing cannot go on.
    let mut open = None;
    for id in &ids {
        if server.get(&key, &format!("/v1/verifications/{id}")).await.1["status"] == "pending" {
            open = Some(id.clone());
        }
    }
    let open = open.expect("ten wrong codes over four verifications leave one open");
    let right = server.codes(&open, 1).await.remove(0);
    let (status, _) = check(&server, &key, &open, &right).await;
    assert_eq!(status, 429);

    // A new verification is recorded, blocked, sends nothing and says when to come back.
    let sms_before = server.outbox(None).await.len();
    let v = server.create(&key, "LOCK-NEW", "c-1").await;
    assert_eq!(v["status"], "blocked", "{v}");
    assert_eq!(v["risk"]["reasons"], json!(["wrong_code_lock_customer"]));
    assert!(v["retry_after"].as_i64().unwrap() > 23 * 3600, "{v}");
    assert_eq!(server.outbox(None).await.len(), sms_before);
    let id = v["id"].as_str().unwrap();
    let events = server.events("alpha", id).await;
    assert!(events.contains(&"verification.blocked".to_owned()), "{events:?}");
    let engaged = server.events("alpha", &ids[0]).await.into_iter().chain(server.events("alpha", &ids[1]).await);
    let all: Vec<String> =
        engaged.chain(server.events("alpha", &ids[2]).await).chain(server.events("alpha", &ids[3]).await).collect();
    assert!(all.contains(&"risk.lock_engaged".to_owned()), "{all:?}");
    assert!(all.contains(&"check.refused".to_owned()), "{all:?}");

    // After the day, the customer may try again.
    let clock = &server.app().clock;
    clock.set_simulated(Some(orderguard_domain::clock::Timestamp(clock.now().millis() + 24 * 3_600_000 + 1000)));
    let v = server.create(&key, "LOCK-LATER", "c-1").await;
    assert_eq!(v["status"], "pending", "{v}");
    server.stop().await;
}

async fn a_lock_at_one_brand_does_not_lock_the_customer_out_of_another(db: Db) {
    let server = TestServer::start(db).await;
    let mut judged = 0;
    for n in 0..2 {
        let v = create_cheap(&server, &server.alpha_key, &format!("A-{n}"), "c-2").await;
        let id = v["id"].as_str().unwrap();
        let wrong = a_wrong_code(&server.code(id).await);
        for _ in 0..5 {
            if check(&server, &server.alpha_key, id, wrong).await.0 == 200 {
                judged += 1;
            }
        }
    }
    assert_eq!(judged, 10);
    // The same person (same number) at the other brand is not locked out by the attacker's guesses.
    let v = server.create(&server.beta_key, "B-1", "c-2").await;
    assert_eq!(v["status"], "pending", "{v}");
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let (status, body) = check(&server, &server.beta_key, id, &code).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    server.stop().await;
}

async fn codes_to_one_number_stay_within_five_per_ten_minutes_and_ten_a_day(db: Db) {
    // The velocity rules would hold the later orders for review: in shadow mode they only record,
    // so that what stops the codes here is the hard limit alone.
    let server = TestServer::start_with(db, |settings| {
        for brand in &mut settings.brands {
            for rule in ["velocity_number", "velocity_customer", "velocity_device"] {
                let shadow = orderguard::config::RuleConfig { points: None, shadow: true };
                brand.policy.rules.insert(rule.into(), shadow);
            }
        }
    })
    .await;
    // Two brands, parallel creates: the number's codes are counted once for the deployment.
    let creates = (0..12).map(|n| {
        let (http, base) = (server.http.clone(), server.base.clone());
        let key = if n % 2 == 0 { server.alpha_key.clone() } else { server.beta_key.clone() };
        async move {
            let response = http
                .post(format!("{base}/v1/verifications"))
                .bearer_auth(key)
                .json(&cheap_order(&format!("PUMP-{n}"), "c-1"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
            response.json::<Value>().await.unwrap()
        }
    });
    let created = futures_join_all(creates).await;
    let sent: Vec<&Value> = created.iter().filter(|v| v["status"] == "pending").collect();
    let blocked: Vec<&Value> = created.iter().filter(|v| v["status"] == "blocked").collect();
    assert_eq!(sent.len(), 5, "{created:?}");
    assert_eq!(blocked.len(), 7);
    assert!(
        blocked
            .iter()
            .all(|v| v["risk"]["reasons"] == json!(["sms_limit_number"]) && v["retry_after"].as_i64().unwrap() > 0)
    );
    // Resends instead of creates: refused once the number has had its five.
    let resend_id = sent[0]["id"].as_str().unwrap();
    let clock = &server.app().clock;
    let start = clock.now().millis();
    let at = |minutes: i64| Some(orderguard_domain::clock::Timestamp(start + minutes * 60_000));
    clock.set_simulated(at(1));
    let key = if sent[0]["brand"] == "alpha" { &server.alpha_key } else { &server.beta_key };
    let (status, body) = server.post(key, &format!("/v1/verifications/{resend_id}/resend"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (429, "limit-reached"), "{body}");
    outbox_settles_at(&server, 5).await;

    // Ten minutes on, five more; then the day's ten are used up, resends included.
    clock.set_simulated(at(11));
    let mut later = Vec::new();
    for n in 0..8 {
        let key = if n % 2 == 0 { &server.alpha_key } else { &server.beta_key };
        later.push(create_cheap(&server, key, &format!("LATER-{n}"), "c-1").await);
    }
    let statuses: Vec<&str> = later.iter().map(|v| v["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "pending").count(), 5, "{later:?}");
    outbox_settles_at(&server, 10).await;
    clock.set_simulated(at(12));
    let open = later[0]["id"].as_str().unwrap();
    let (status, body) = server.post(&server.alpha_key, &format!("/v1/verifications/{open}/resend"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (429, "limit-reached"), "{body}");
    clock.set_simulated(at(30));
    let v = create_cheap(&server, &server.alpha_key, "DAY", "c-1").await;
    assert_eq!(v["status"], "blocked", "{v}");
    assert_eq!(v["risk"]["reasons"], json!(["sms_limit_number"]));
    assert!(v["retry_after"].as_i64().unwrap() > 20 * 3600, "the day's limit: {v}");
    outbox_settles_at(&server, 10).await;
    server.stop().await;
}

async fn pumping_a_number_range_pauses_it_but_not_its_honest_numbers(db: Db) {
    use orderguard::config::{IdentityConfig, StaticCustomer};
    let server = TestServer::start_with(db, |settings| {
        if let Some(IdentityConfig::Static { customers }) = settings.identity.get_mut("directory") {
            for n in 0..40 {
                customers.push(StaticCustomer {
                    id: format!("pumped-{n}"),
                    phone: format!("+491519990{n:04}"),
                    phone_verified: true,
                });
            }
        }
    })
    .await;
    // An honest customer of the range confirmed an order before the attack.
    let honest = server.create(&server.alpha_key, "HONEST-1", "pumped-39").await;
    let id = honest["id"].as_str().unwrap();
    let code = server.code(id).await;
    assert_eq!(check(&server, &server.alpha_key, id, &code).await.0, 200);

    // Many accounts, one range, a code every 11 seconds, none ever typed: the SMS pumper's pattern.
    let clock = &server.app().clock;
    let start = clock.now().millis();
    let mut sent = 0;
    let mut paused = 0;
    for n in 0..38 {
        clock.set_simulated(Some(orderguard_domain::clock::Timestamp(start + n * 11_000)));
        let key = if n % 2 == 0 { &server.alpha_key } else { &server.beta_key };
        let v = create_cheap(&server, key, &format!("PUMP-{n}"), &format!("pumped-{n}")).await;
        match v["status"].as_str() {
            Some("pending") => sent += 1,
            Some("blocked") => {
                assert_eq!(v["risk"]["reasons"].as_array().unwrap().last().unwrap(), "range_burst", "{v}");
                paused += 1;
            }
            other => panic!("{other:?}: {v}"),
        }
    }
    // Once the older codes show that nobody types them, the 20th unused code is paused.
    assert_eq!(sent, 19, "the burst is stopped early");
    assert_eq!(paused, 19);
    // The honest number is exempt and still gets its code.
    let v = server.create(&server.alpha_key, "HONEST-2", "pumped-39").await;
    assert_eq!(v["status"], "pending", "{v}");
    server.stop().await;
}

async fn a_review_decision_holds_the_order_and_sends_nothing(db: Db) {
    let server = TestServer::start(db).await;
    // Three customers from one device within a day: a fraud ring's phone (50 points, review).
    let with_device = |order_id: &str, customer: &str| {
        let mut body = order(order_id, customer);
        body["client"]["device_id"] = json!("shared-device");
        body
    };
    for (n, customer) in ["c-1", "c-2"].into_iter().enumerate() {
        let (status, v) =
            server.post(&server.alpha_key, "/v1/verifications", with_device(&format!("R-{n}"), customer)).await;
        assert_eq!((status, v["status"].as_str()), (201, Some("pending")), "{v}");
        server.code(v["id"].as_str().unwrap()).await;
    }
    let sms_before = server.outbox(None).await.len();
    let (status, v) = server.post(&server.alpha_key, "/v1/verifications", with_device("R-3", "c-uk")).await;
    assert_eq!((status, v["status"].as_str()), (201, Some("in_review")), "{v}");
    assert!(v["risk"]["reasons"].as_array().unwrap().contains(&json!("device_many_customers")), "{v}");
    let id = v["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.outbox(None).await.len(), sms_before, "a held order sends no code");
    let (status, body) = check(&server, &server.alpha_key, id, "123456").await;
    assert_eq!((status, body["verification_status"].as_str()), (409, Some("in_review")), "{body}");
    let (status, body) = server.post(&server.alpha_key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let events = server.events("alpha", id).await;
    assert!(events.contains(&"verification.held".to_owned()), "{events:?}");
    // Undecided, the hold ends after four hours.
    let clock = &server.app().clock;
    clock.set_simulated(Some(orderguard_domain::clock::Timestamp(clock.now().millis() + 4 * 3_600_000 + 1000)));
    let mut status = String::new();
    for _ in 0..100 {
        status = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await.1["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "expired");
    server.stop().await;
}

async fn a_customer_with_typos_is_not_held(db: Db) {
    let server = TestServer::start(db).await;
    // Two typos per order, three orders a day, a resend each: an honest, clumsy customer.
    for n in 0..3 {
        let v = server.create(&server.alpha_key, &format!("T-{n}"), "c-2").await;
        assert_eq!(v["status"], "pending", "order {n}: {v}");
        let id = v["id"].as_str().unwrap();
        let code = server.code(id).await;
        for _ in 0..2 {
            assert_eq!(check(&server, &server.alpha_key, id, a_wrong_code(&code)).await.0, 200);
        }
        let (status, body) = check(&server, &server.alpha_key, id, &code).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    }
    server.stop().await;
}

async fn receipts_are_issued_once(db: Db) {
    let server = TestServer::start(db).await;
    let v = server.create(&server.alpha_key, "RECEIPT", "c-1").await;
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let (_, checked) = check(&server, &server.alpha_key, id, &code).await;
    let receipt = checked["receipt"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, read) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(read["receipt"].as_str(), Some(receipt.as_str()), "the same receipt on every read");
    server.stop().await;
}

/// `orderguard list …` against the server's database: success, standard output and error.
pub fn list_command(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let dir = crate::support::TempDir::new();
    let config = dir.0.join("orderguard.toml");
    std::fs::write(&config, crate::support::config_for(&server.database_url)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .arg("list")
        .args(args)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

async fn lists_block_and_allow_and_the_block_list_wins(db: Db) {
    let server = TestServer::start(db).await;
    let add = |list: &'static str, kind: &'static str, value: &'static str| {
        let args = ["add", "--brand", "alpha", "--list", list, "--kind", kind, "--value", value];
        let (ok, id, err) =
            list_command(&server, &[&args[..], &["--reason", "test case", "--by", "fraud-desk"]].concat());
        assert!(ok, "{err}");
        id
    };
    // A blocked customer: recorded, blocked, nothing sent.
    let blocked = add("block", "customer", "c-2");
    let v = server.create(&server.alpha_key, "LIST-1", "c-2").await;
    assert_eq!((v["status"].as_str(), &v["risk"]["reasons"]), (Some("blocked"), &json!(["block_list"])), "{v}");
    // Only at that brand.
    assert_eq!(server.create(&server.beta_key, "LIST-2", "c-2").await["status"], "pending");
    // Removed, the customer is served again.
    let (ok, _, err) = list_command(&server, &["remove", "--brand", "alpha", "--id", &blocked, "--by", "fraud-desk"]);
    assert!(ok, "{err}");
    assert_eq!(server.create(&server.alpha_key, "LIST-3", "c-2").await["status"], "pending");

    // An allow-listed customer skips the scored rules: a VoIP-like risk score does not hold them.
    let shared = |order_id: &str, customer: &str| {
        let mut body = order(order_id, customer);
        body["client"]["device_id"] = json!("shared-device");
        body
    };
    add("allow", "customer", "c-uk");
    for (n, customer) in ["c-1", "c-2"].into_iter().enumerate() {
        server.post(&server.alpha_key, "/v1/verifications", shared(&format!("LIST-S{n}"), customer)).await;
    }
    let (_, v) = server.post(&server.alpha_key, "/v1/verifications", shared("LIST-S3", "c-uk")).await;
    assert_eq!(v["status"], "pending", "three customers on one device would be held, but c-uk is allowed: {v}");
    // Where both lists match, the block list wins: the whole client network is blocked.
    add("block", "ip_range", "203.0.113.0/24");
    let v = server.create(&server.alpha_key, "LIST-4", "c-uk").await;
    assert_eq!(v["risk"]["reasons"], json!(["block_list"]), "{v}");
    // A number prefix.
    add("block", "number_prefix", "+4917");
    let (ok, shown, _) = list_command(&server, &["show", "--brand", "alpha"]);
    assert!(ok && shown.contains("number_prefix") && shown.contains("+4917") && !shown.contains("c-uk"), "{shown}");

    // Bad input is refused with a readable message and stores nothing.
    let (ok, _, err) = list_command(
        &server,
        &[
            "add",
            "--brand",
            "alpha",
            "--list",
            "grey",
            "--kind",
            "number",
            "--value",
            "+4915123456789",
            "--reason",
            "x",
            "--by",
            "me",
        ],
    );
    assert!(!ok && err.contains("--list must be allow or block"), "{err}");
    let (ok, _, err) = list_command(
        &server,
        &[
            "add",
            "--brand",
            "alpha",
            "--list",
            "block",
            "--kind",
            "ip_range",
            "--value",
            "300.1.1.1/8",
            "--reason",
            "x",
            "--by",
            "me",
        ],
    );
    assert!(!ok && err.contains("CIDR"), "{err}");
    let (_, shown, _) = list_command(&server, &["show", "--brand", "alpha"]);
    assert_eq!(shown.lines().count(), 1 + 3, "header and the three live entries: {shown}");

    // Every change is audited, by its label (a masked number, never the number).
    let audit = server
        .app()
        .store
        .read(|conn| orderguard::store::admin::audit_search(conn, Some("fraud-desk"), 100))
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "list_entry_added").count(), 4, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "list_entry_removed").count(), 1);
    server.stop().await;
}

async fn past_the_day_s_sms_budget_orders_are_held(db: Db) {
    let server = TestServer::start_with(db, |settings| {
        settings.brands[0].policy.sms_budget_per_day = [("DE".to_owned(), 3)].into_iter().collect();
    })
    .await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let v = server.create(&server.alpha_key, &format!("BUDGET-{n}"), &crate::support::load_customer(n)).await;
        statuses.push(v["status"].as_str().unwrap().to_owned());
        if v["status"] == "in_review" {
            assert_eq!(v["risk"]["reasons"].as_array().unwrap().last().unwrap(), "sms_budget_reached", "{v}");
        }
    }
    assert_eq!(statuses, ["pending", "pending", "pending", "in_review", "in_review"]);
    // Another country's numbers have their own budget (none here), another brand its own.
    assert_eq!(server.create(&server.alpha_key, "BUDGET-UK", "c-uk").await["status"], "pending");
    assert_eq!(
        server.create(&server.beta_key, "BUDGET-BETA", &crate::support::load_customer(9)).await["status"],
        "pending"
    );
    server.stop().await;
}

/// The claims of a receipt (a compact JWS), unverified: the API tests check the signature.
fn receipt_claims(receipt: &str) -> Value {
    use base64::Engine;
    let payload = receipt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn a_code_typed_elsewhere_is_marked_or_held(db: Db) {
    let server = TestServer::start_with(db, |settings| {
        settings.brands[1].policy.relay_action = Some("review".into());
    })
    .await;
    let elsewhere = json!({ "ip": "198.51.100.1", "device_id": "phisher-laptop" });
    // Alpha marks: the approval stands and the receipt says so.
    let v = server.create(&server.alpha_key, "RELAY-A", "c-1").await;
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let (status, body) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code, "client": elsewhere }))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    assert_eq!(receipt_claims(body["receipt"].as_str().unwrap())["relay_suspected"], true);
    // Typed where the order was placed: no mark.
    let v = server.create(&server.alpha_key, "RELAY-A2", "c-2").await;
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let here = json!({ "ip": "203.0.113.80", "device_id": "device-of-c-2" });
    let (_, body) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code, "client": here }))
        .await;
    assert_eq!(receipt_claims(body["receipt"].as_str().unwrap()).get("relay_suspected"), None, "{body}");
    // Beta reviews: the right code from elsewhere waits for an analyst, without a receipt.
    let v = server.create(&server.beta_key, "RELAY-B", "c-uk").await;
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let (status, body) = server
        .post(&server.beta_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code, "client": elsewhere }))
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["valid"].as_bool()),
        (200, Some("in_review"), Some(true)),
        "{body}"
    );
    assert!(body.get("receipt").is_none());
    let (_, read) = server.get(&server.beta_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(read["status"], "in_review");
    assert!(read["risk"]["reasons"].as_array().unwrap().contains(&json!("relay_suspected")), "{read}");
    assert!(server.events("beta", id).await.contains(&"verification.held".to_owned()));
    // The dashboards count the hold where the verification started: allowed, with the reasons
    // scored then and no relay.
    let logged = server.logged("beta", id).await;
    let slices: Vec<_> = logged.iter().filter(|e| e.kind.carries_slice()).map(|e| e.attrs["slice"].clone()).collect();
    assert_eq!(slices.len(), 2, "created and held: {slices:?}");
    assert_eq!(slices[0], slices[1]);
    assert_eq!((&slices[0]["country"], &slices[0]["decision"]), (&json!("GB"), &json!("allow")), "{slices:?}");
    assert!(!slices[0]["reasons"].as_array().unwrap().contains(&json!("relay_suspected")), "{slices:?}");
    server.stop().await;
}

async fn the_hosted_page_reads_the_client_behind_a_trusted_proxy_only(db: Db) {
    let server = TestServer::start_with(db, |settings| settings.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let approve_on_page = |forwarded: &'static str, order_id: &'static str, customer: &'static str| {
        let (server, http) = (&server, &http);
        async move {
            let v = server.create(&server.alpha_key, order_id, customer).await;
            let id = v["id"].as_str().unwrap().to_owned();
            let code = server.code(&id).await;
            let response = http
                .post(format!("{}/check", v["hosted_url"].as_str().unwrap()))
                .header("x-forwarded-for", forwarded)
                .form(&[("code", code)])
                .send()
                .await
                .unwrap();
            assert!(response.status().is_redirection(), "{}", response.status());
            let (_, read) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
            assert_eq!(read["status"], "approved", "{read}");
            receipt_claims(read["receipt"].as_str().unwrap())
        }
    };
    // The proxy saw the order's own network: no relay.
    assert_eq!(approve_on_page("203.0.113.12", "PROXY-1", "c-1").await.get("relay_suspected"), None);
    // The proxy saw another network: marked.
    assert_eq!(approve_on_page("198.51.100.7", "PROXY-2", "c-2").await["relay_suspected"], true);
    server.stop().await;

    // Without the setting the header is not believed: the page's peer (127.0.0.1) is another network.
    let server = TestServer::start(crate::support::Db::sqlite()).await;
    let v = server.create(&server.alpha_key, "PROXY-3", "c-1").await;
    let id = v["id"].as_str().unwrap();
    let code = server.code(id).await;
    let response = http
        .post(format!("{}/check", v["hosted_url"].as_str().unwrap()))
        .header("x-forwarded-for", "203.0.113.12")
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection());
    let (_, read) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(receipt_claims(read["receipt"].as_str().unwrap())["relay_suspected"], true);
    server.stop().await;
}

async fn prometheus_counts_refusals_and_locks(db: Db) {
    let server = TestServer::start(db).await;
    for n in 0..2 {
        let v = create_cheap(&server, &server.alpha_key, &format!("PROM-{n}"), "c-1").await;
        let id = v["id"].as_str().unwrap();
        let wrong = a_wrong_code(&server.code(id).await);
        for _ in 0..5 {
            check(&server, &server.alpha_key, id, wrong).await;
        }
    }
    let v = create_cheap(&server, &server.alpha_key, "PROM-LOCKED", "c-1").await;
    assert_eq!(v["status"], "blocked");
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"orderguard_lockouts_total{brand="alpha",subject="customer"} 1"#,
        r#"orderguard_lockouts_total{brand="alpha",subject="number"} 1"#,
        r#"orderguard_limit_refusals_total{action="create",brand="alpha",limit="wrong_code_lock_customer"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in:\n{metrics}");
    }
    assert!(metrics.contains("orderguard_risk_duration_seconds_count{brand=\"alpha\"} 3"), "{metrics}");
    // The exposition passes Prometheus's own linter (scripts/test installs promtool).
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed: apt-get install prometheus (scripts/test does)");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let output = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool check metrics: {said}");
    server.stop().await;
}
