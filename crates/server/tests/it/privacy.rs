//! GDPR: retention on a moved clock, data-subject export and erasure down to the database files,
//! the audit log's chain.

use orderguard::records::VerificationRecord;
use orderguard_domain::clock::Timestamp;
use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestServer, config, run_command};

on_both_databases!(
    retention_erases_personal_fields_past_the_brands_period,
    a_person_is_exported_and_erased_from_the_files,
    a_refused_customer_learns_that_a_person_can_review_it,
    nothing_personal_is_kept_in_plain_text,
    the_privacy_officer_answers_requests_in_the_admin_area
);

const DAY: i64 = 86_400_000;

/// The test configuration with alpha keeping personal data 30 days and the audit log 30 days,
/// written for the commands.
fn config_file(db: &Db) -> std::path::PathBuf {
    let path = db.dir.0.join("orderguard.toml");
    let text = config(db).replacen("slug = \"alpha\"\n", "slug = \"alpha\"\nretention_days = 30\n", 1)
        + "\n[retention]\naudit_log_days = 30\n";
    std::fs::write(&path, text).unwrap();
    path
}

async fn record(server: &TestServer, id: &str) -> VerificationRecord {
    let id = id.to_owned();
    server.app().store.read(move |conn| orderguard::store::verifications::find_by_id(conn, &id)).await.unwrap().unwrap()
}

/// Creates and approves a verification at `at` (the server's clock moved there).
async fn approved_at(server: &TestServer, key: &str, order: &str, customer: &str, at: i64) -> String {
    server.app().clock.set_simulated(Some(Timestamp(at)));
    let id = server.create(key, order, customer).await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) = server.post(key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    id
}

fn held(v: &VerificationRecord) -> bool {
    v.phone_enc.is_some() && !v.phone_hash.is_empty() && !v.customer_ref.is_empty()
}

async fn retention_erases_personal_fields_past_the_brands_period(db: Db) {
    let config_path = config_file(&db);
    // The sweeper (which also runs retention) waits ten minutes: here the commands run it.
    let server = TestServer::start_with(db, |s| {
        s.brands[0].retention_days = 30;
        s.limits.sweep_interval_ms = 600_000;
    })
    .await;
    let now = crate::support::now().millis();
    let old = approved_at(&server, &server.alpha_key, "R-OLD", "load-101", now - 40 * DAY).await;
    let recent = approved_at(&server, &server.alpha_key, "R-NEW", "load-102", now - 20 * DAY).await;
    // Beta keeps the default 90 days.
    let other_brand = approved_at(&server, &server.beta_key, "R-BETA", "load-103", now - 40 * DAY).await;
    server.app().clock.set_simulated(None);
    let events_before = server.events("alpha", &old).await;
    // An audit entry older than the audit log's 30 days: an allow-list entry added then.
    let app = server.app();
    let brand = app.brands.get("alpha").unwrap().clone();
    let entry = orderguard::service::lists::NewEntry {
        list: orderguard_domain::lists::ListName::Allow,
        kind: orderguard_domain::lists::ListKind::IpRange,
        value: "203.0.113.0/24".into(),
        reason: "office".into(),
        expires_at: None,
    };
    let actor = orderguard::service::Actor {
        username: "ops".into(),
        role: orderguard_domain::role::Role::Operator,
        brand: None,
    };
    orderguard::service::lists::add(&app.store, &app.secrets, &brand, entry, &actor, Timestamp(now - 40 * DAY))
        .await
        .unwrap();
    let old_link = server.app().secrets.hosted_token(&old);

    let (ok, out, err) = run_command(&["retention", "run", "--dry-run"], &config_path);
    assert!(ok, "{err}");
    assert!(out.contains("would erase alpha: 1 verification(s)"), "{out}");
    assert!(out.contains("would erase beta: 0 verification(s)"), "{out}");
    assert!(out.contains("would erase 1 audit log entries"), "{out}");
    assert!(held(&record(&server, &old).await), "a dry run erases nothing");
    assert_eq!(server.outbox(Some(&old)).await.len(), 1);

    let (ok, out, err) = run_command(&["retention", "run"], &config_path);
    assert!(ok, "{err}");
    assert!(out.contains("erased alpha: 1 verification(s) created before"), "{out}");
    let erased = record(&server, &old).await;
    assert!(erased.phone_enc.is_none() && erased.phone_hash.is_empty() && erased.customer_ref.is_empty());
    assert!(erased.client_ip.is_none() && erased.device_ref.is_none() && erased.range_ref.is_none());
    assert_eq!(erased.phone_hint, "");
    assert_eq!(erased.state.status.as_str(), "approved", "what happened stays");
    assert_eq!(erased.order_id, "R-OLD", "retention keeps the pseudonymous order reference");
    assert_eq!(server.events("alpha", &old).await, events_before, "the pseudonymous events stay");
    assert!(server.outbox(Some(&old)).await.is_empty(), "the development outbox is erased too");
    assert!(held(&record(&server, &recent).await), "younger than 30 days");
    assert!(held(&record(&server, &other_brand).await), "beta keeps 90 days");
    let hosted = server.http.get(format!("{}/v/{old_link}", server.base)).send().await.unwrap();
    assert_eq!(hosted.status().as_u16(), 404, "the hosted page's link is gone");

    let (ok, out, _) = run_command(&["retention", "run"], &config_path);
    assert!(ok && out.contains("erased 0 item(s) in all"), "resumable and idempotent: {out}");

    // An instance running retention by itself (its sweeper every 100 ms) under the lease.
    let older = approved_at(&server, &server.alpha_key, "R-OLDER", "load-104", now - 35 * DAY).await;
    server.app().clock.set_simulated(None);
    let second = server
        .another_instance(|s| {
            s.brands[0].retention_days = 30;
        })
        .await;
    let mut erased_by_job = false;
    // Its sweeper runs retention every 3 s; a loaded CI machine can take longer.
    for _ in 0..600 {
        if !held(&record(&server, &older).await) {
            erased_by_job = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(erased_by_job, "the retention job erased the old verification");
    // The round writes its audit entry after the erasure: wait for it before stopping.
    let mut verified = (false, String::new(), String::new());
    for _ in 0..100 {
        verified = run_command(&["audit", "verify"], &config_path);
        if verified.1.contains("2 chained entries") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    second.stop().await;
    let (ok, out, err) = verified;
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit log intact: 2 chained entries verified"), "one entry per run that erased: {out}");
    assert!(out.contains("the chain starts after entry 1"), "the old entry went, the chain holds: {out}");
    server.stop().await;
}

/// Whether any of `needles` occurs in the bytes of `files`; names what was found where.
fn found_in(files: &[std::path::PathBuf], needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let Ok(bytes) = std::fs::read(file) else { continue };
        for (what, needle) in needles {
            if !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{what} in {}", file.display()));
            }
        }
    }
    found
}

/// The files that hold the test's database: SQLite's file and its WAL, or PostgreSQL's files of
/// the test schema's tables, indexes and TOAST tables (after a checkpoint).
fn database_files(url: &str) -> Vec<std::path::PathBuf> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return ["", "-wal", "-shm"].iter().map(|suffix| std::path::PathBuf::from(format!("{path}{suffix}"))).collect();
    }
    let schema = url.rsplit("search_path%3D").next().unwrap().to_owned();
    let base = url.split('?').next().unwrap().to_owned();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        client.batch_execute("CHECKPOINT").unwrap();
        let dir: String = client.query_one("SHOW data_directory", &[]).unwrap().get(0);
        let rows = client
            .query(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') \
                 UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.reltoastrelid <> 0",
                &[&schema],
            )
            .unwrap();
        let files: Vec<std::path::PathBuf> = rows
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(0))
            .map(|p| std::path::Path::new(&dir).join(p))
            .collect();
        assert!(files.len() > 20, "the schema's relations: {files:?}");
        assert!(std::fs::read(&files[0]).is_ok(), "PostgreSQL's files must be readable by the tests");
        files
    })
    .join()
    .unwrap()
}

async fn a_person_is_exported_and_erased_from_the_files(db: Db) {
    let config_path = config_file(&db);
    let server = TestServer::start(db).await;
    let now = crate::support::now().millis();
    // The person: two orders, an allow-list and a block-list entry, a look in the admin trace.
    let (customer, number) = ("load-1234", "+4915112345678");
    let first = approved_at(&server, &server.alpha_key, "DSR-1", customer, now - 3 * DAY).await;
    let second = server.create(&server.alpha_key, "DSR-2", customer).await["id"].as_str().unwrap().to_owned();
    server.code(&second).await;
    let (status, _) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{second}/cancel"), json!({ "reason": "changed my mind" }))
        .await;
    assert_eq!(status, 200);
    server.app().clock.set_simulated(None);
    let brand = server.app().brands.get("alpha").unwrap().clone();
    let actor = orderguard::service::Actor {
        username: "fraud-lead".into(),
        role: orderguard_domain::role::Role::Operator,
        brand: None,
    };
    for (list, kind, value) in [("allow", "number", number), ("block", "device", "device-of-someone-else")] {
        let entry = orderguard::service::lists::NewEntry {
            list: orderguard_domain::lists::ListName::parse(list).unwrap(),
            kind: orderguard_domain::lists::ListKind::parse(kind).unwrap(),
            value: value.into(),
            reason: "known customer".into(),
            expires_at: None,
        };
        let app = server.app();
        orderguard::service::lists::add(&app.store, &app.secrets, &brand, entry, &actor, crate::support::now())
            .await
            .unwrap();
    }
    // Another person whose order is under a chargeback: erased but for that order.
    let disputed = approved_at(&server, &server.alpha_key, "DSR-CB", "load-1235", now - 2 * DAY).await;
    server.app().clock.set_simulated(None);
    let (status, _) =
        server.post(&server.alpha_key, "/v1/orders/DSR-CB/outcome", json!({ "outcome": "chargeback" })).await;
    assert_eq!(status, 200);

    let held_record = record(&server, &first).await;
    let secrets = &server.app().secrets;
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("the number", number.as_bytes().to_vec()),
        ("the number without +", number.trim_start_matches('+').as_bytes().to_vec()),
        ("the customer id", customer.as_bytes().to_vec()),
        ("the number's keyed hash", held_record.phone_hash.clone()),
        ("the number's keyed hash in hex", orderguard_domain::order::hex(&held_record.phone_hash).into_bytes()),
        ("the customer's pseudonym", held_record.customer_ref.clone().into_bytes()),
        ("the number's ciphertext", held_record.phone_enc.clone().unwrap()),
    ];
    assert_eq!(held_record.customer_ref, secrets.customer_ref("alpha", customer));

    // Art. 15: everything held, as JSON.
    let export_path = server_dir(&config_path).join("export.json");
    let export_arg = export_path.to_str().unwrap();
    let (ok, _, err) = run_command(
        &["subject", "export", "--brand", "alpha", "--customer", customer, "--reference", "DPO-7", "--out", export_arg],
        &config_path,
    );
    assert!(ok, "{err}");
    let export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&export_path).unwrap()).unwrap();
    let verifications = export["verifications"].as_array().unwrap();
    assert_eq!(verifications.len(), 2, "{export}");
    assert_eq!(verifications[0]["phone"], number);
    assert_eq!(verifications[0]["order_id"], "DSR-1");
    assert!(verifications[0]["events"].as_array().unwrap().iter().any(|e| e["type"] == "verification.approved"));
    let lists = export["list_entries"].as_array().unwrap();
    assert_eq!(lists.len(), 1, "the allow-list entry for the number: {export}");
    assert_eq!(lists[0]["list"], "allow");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&export_path).unwrap().permissions().mode() & 0o777, 0o600);

    // Art. 17: erased, the aggregates kept; the other person's disputed order withheld.
    let reclaim: &[&str] = if server.database_url.starts_with("postgres") { &["--vacuum-full"] } else { &[] };
    let (ok, out, err) = run_command(
        &[&["subject", "erase", "--brand", "alpha", "--customer", customer, "--reference", "DPO-8"], reclaim].concat(),
        &config_path,
    );
    assert!(ok, "{err}");
    assert!(out.contains("erased 2 verification(s) (0 erased before), removed 1 list entr(ies)"), "{out}");
    assert!(out.contains("withheld 0"), "{out}");
    let (ok, out, err) =
        run_command(&["subject", "erase", "--brand", "alpha", "--phone", "+4915112355678"], &config_path);
    assert!(ok, "{err}");
    assert!(out.contains("withheld verification") && out.contains("chargeback"), "{out}");
    assert!(held(&record(&server, &disputed).await), "the disputed order's data stays");
    let (ok, out, _) = run_command(&["subject", "erase", "--brand", "alpha", "--customer", customer], &config_path);
    assert!(ok && out.contains("erased 0 verification(s)"), "idempotent: {out}");

    let erased = record(&server, &first).await;
    assert!(!held(&erased) && erased.order_id.starts_with("erased:") && erased.receipt.is_none());
    assert_eq!(erased.state.status.as_str(), "approved");
    assert!(!server.events("alpha", &first).await.is_empty(), "the pseudonymous events stay");
    let (status, _) = server.get(&server.alpha_key, &format!("/v1/verifications/{second}")).await;
    assert_eq!(status, 200, "the verification itself stays, without the person");

    // Nothing of the person is left in the database files.
    server.app().clock.set_simulated(None);
    let left = found_in(&database_files(&server.database_url), &needles);
    assert!(left.is_empty(), "after the erasure the files still hold: {left:?}");

    let (ok, out, _) = run_command(&["subject", "register", "--brand", "alpha"], &config_path);
    assert!(ok && out.contains("DPO-7") && out.contains("DPO-8"), "{out}");
    assert_eq!(out.lines().filter(|l| l.contains(" erase ")).count(), 3, "{out}");
    assert_eq!(out.lines().filter(|l| l.contains(" export ")).count(), 1, "{out}");
    assert!(!out.contains(customer) && !out.contains(number), "the register names nobody: {out}");

    // The audit log: intact, and a changed entry is found.
    let (ok, out, err) = run_command(&["audit", "verify"], &config_path);
    assert!(ok, "{out}{err}");
    let url = server.database_url.clone();
    let _db = server.stop_keeping_database().await;
    tamper(&url, "UPDATE admin_audit SET subject = 'nothing to see' WHERE seq = 3");
    let (ok, _, err) = run_command(&["audit", "verify"], &config_path);
    assert!(!ok && err.contains("entry 3 was changed"), "{err}");
    tamper(&url, "DELETE FROM admin_audit WHERE seq = 3");
    let (ok, _, err) = run_command(&["audit", "verify"], &config_path);
    assert!(!ok && err.contains("entries 3 to 3 are missing"), "{err}");
}

fn server_dir(config_path: &std::path::Path) -> std::path::PathBuf {
    config_path.parent().unwrap().to_owned()
}

/// Runs a statement on the database behind the server's back, as an intruder would.
fn tamper(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        if let Some(path) = url.strip_prefix("sqlite://") {
            rusqlite::Connection::open(path).unwrap().execute_batch(&sql).unwrap();
        } else {
            let base = url.split('?').next().unwrap();
            let schema = url.rsplit("search_path%3D").next().unwrap();
            let mut client = postgres::Client::connect(base, postgres::NoTls).unwrap();
            client.batch_execute(&format!("SET search_path = {schema}; {sql}")).unwrap();
        }
    })
    .join()
    .unwrap();
}

async fn block_customer(server: &TestServer, brand: &str, customer: &str) {
    let app = server.app();
    let brand = app.brands.get(brand).unwrap().clone();
    let entry = orderguard::service::lists::NewEntry {
        list: orderguard_domain::lists::ListName::Block,
        kind: orderguard_domain::lists::ListKind::Customer,
        value: customer.into(),
        reason: "chargebacks".into(),
        expires_at: None,
    };
    let actor = orderguard::service::Actor {
        username: "fraud-lead".into(),
        role: orderguard_domain::role::Role::Operator,
        brand: None,
    };
    orderguard::service::lists::add(&app.store, &app.secrets, &brand, entry, &actor, crate::support::now())
        .await
        .unwrap();
}

async fn a_refused_customer_learns_that_a_person_can_review_it(db: Db) {
    let server = TestServer::start_with(db, |s| {
        s.brands[0].review_contact = Some("pruefung@alpha.example".into());
    })
    .await;
    block_customer(&server, "alpha", "load-300").await;
    block_customer(&server, "beta", "load-301").await;

    let (status, refused) =
        server.post(&server.alpha_key, "/v1/verifications", crate::support::order("ART22-A", "load-300")).await;
    assert_eq!((status, refused["status"].as_str()), (201, Some("blocked")), "{refused}");
    let notice = refused["customer_notice"].as_str().unwrap();
    assert!(
        notice.contains("automatisch") && notice.contains("pruefung@alpha.example"),
        "German, with the contact: {notice}"
    );
    let page = server.http.get(refused["hosted_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"review-right\"") && page.contains("pruefung@alpha.example"), "{page}");

    let (_, refused) =
        server.post(&server.beta_key, "/v1/verifications", crate::support::order("ART22-B", "load-301")).await;
    assert_eq!(refused["status"], "blocked");
    let notice = refused["customer_notice"].as_str().unwrap();
    assert!(notice.contains("Kundenservice des Shops"), "no contact: the shop's service: {notice}");

    let allowed = server.create(&server.alpha_key, "ART22-C", "load-302").await;
    assert!(allowed.get("customer_notice").is_none(), "only refused orders carry it: {allowed}");
    let page = server.http.get(allowed["hosted_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("review-right"));
    server.stop().await;
}

/// The SMS an aggregator received: number and text.
fn sms_texts(fake: &crate::sms_http::FakeProvider) -> Vec<(String, String)> {
    fake.received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| (body["to"].as_str().unwrap().to_owned(), body["text"].as_str().unwrap().to_owned()))
        .collect()
}

fn code_of(text: &str) -> String {
    text.rsplit('#').next().unwrap().split_whitespace().next().unwrap().to_owned()
}

/// Traffic through a server process with an SMS aggregator and no development outbox; then the
/// database files (with SQLite's WAL) and the server's log are searched for every number, customer
/// id, client address, device id, hosted link and code that went through: none is there.
async fn nothing_personal_is_kept_in_plain_text(db: Db) {
    let (aggregator, fake) = crate::sms_http::start_fake(std::time::Duration::ZERO, axum::http::StatusCode::OK).await;
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let text = crate::support::config_on_port(&db, port)
        .replace("outbox_page = true", "outbox_page = false")
        .replace("sms_route = [\"outbox\"]", "sms_route = [\"aggregator\"]")
        + &format!(
            "\n[sms_providers.aggregator]\nkind = \"http\"\nurl = \"{aggregator}\"\nmessage_id_pointer = \"/message_id\"\n\
             body = {{ from = \"{{sender}}\", to = \"{{to}}\", text = \"{{text}}\", reference = \"{{id}}\" }}\n"
        );
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, &text).unwrap();
    let settings = orderguard::config::Settings::load(&config_path).unwrap();
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    let key = orderguard::service::api_keys::create(&store, "alpha", "plain", crate::support::now()).await.unwrap();
    drop(store);
    let log_path = db.dir.0.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["serve", "--config"])
        .arg(&config_path)
        // Also a directive aimed at the PostgreSQL client's statements: they must stay quiet.
        .env("RUST_LOG", "trace,tokio_postgres::query=trace")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..300 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "the server did not become ready");

    let post = |path: String, body: serde_json::Value| {
        let (http, key) = (http.clone(), key.clone());
        async move {
            let response = http.post(path).bearer_auth(key).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    let mut needle = |what: String, value: String| needles.push((what, value.into_bytes()));
    let mut ids = Vec::new();
    for n in 0..16_usize {
        let customer = format!("load-{}", 1600 + n);
        let number = format!("+49151{:04}5678", 1600 + n);
        let ip = if n % 2 == 0 { format!("198.51.100.{}", 20 + n) } else { format!("2001:db8:77:{n}::{}", 9 + n) };
        let device = format!("device-private-{n}-7f3a");
        let mut body = crate::support::order(&format!("PLAIN-{n}"), &customer);
        body["client"] = json!({ "ip": ip, "device_id": device });
        let (status, created) = post(format!("{base}/v1/verifications"), body).await;
        assert_eq!((status, created["status"].as_str()), (201, Some("pending")), "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let link = created["hosted_url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        needle(format!("number {number}"), number.clone());
        needle(format!("number {number} without +"), number.trim_start_matches('+').to_owned());
        needle(format!("number {number} national"), format!("0{}", number.trim_start_matches("+49")));
        needle(format!("customer {customer}"), customer);
        needle(format!("address {ip}"), ip);
        needle(format!("device {device}"), device);
        needle(format!("hosted link of {id}"), link);
        ids.push((id, number));
    }
    // Wrong codes, resends, approvals, a cancel: every kind of step.
    for (n, (id, number)) in ids.iter().enumerate() {
        let mut text = None;
        for _ in 0..500 {
            text = sms_texts(&fake).into_iter().rev().find(|(to, _)| to == number).map(|(_, t)| t);
            if text.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text = text.unwrap_or_else(|| panic!("no SMS for {id}"));
        let code = code_of(&text);
        let check = |code: String| post(format!("{base}/v1/verifications/{id}/check"), json!({ "code": code }));
        match n % 4 {
            0 => {
                let wrong = if code == "000000" { "111111".to_owned() } else { "000000".to_owned() };
                assert_eq!(check(wrong).await.1["status"], "pending");
                assert_eq!(check(code).await.1["status"], "approved");
            }
            1 => assert_eq!(check(code).await.1["status"], "approved"),
            2 => {
                let (status, _) = post(format!("{base}/v1/verifications/{id}/cancel"), json!({})).await;
                assert_eq!(status, 200);
            }
            _ => {}
        }
    }
    for (number, text) in sms_texts(&fake) {
        let code = code_of(&text);
        needle(format!("the SMS to {number}"), text);
        needle(format!("the code {code} after its #"), format!("#{code}"));
    }
    assert!(needles.len() > 100);
    let _ = child.kill();
    let _ = child.wait();

    let mut files = database_files(&db.url);
    files.push(log_path.clone());
    let log_text = std::fs::read_to_string(&log_path).unwrap();
    assert!(log_text.contains("DEBUG"), "the server logged at debug level: {log_text}");
    let needles: Vec<(&str, Vec<u8>)> = needles.iter().map(|(w, v)| (w.as_str(), v.clone())).collect();
    let found = found_in(&files, &needles);
    if !found.is_empty() {
        let leaking: Vec<&str> = log_text
            .lines()
            .filter(|l| needles.iter().any(|(_, n)| l.contains(std::str::from_utf8(n).unwrap_or("\u{0}"))))
            .take(5)
            .collect();
        panic!("personal data in plain text: {found:?}\nlog lines: {leaking:#?}");
    }
}

async fn the_privacy_officer_answers_requests_in_the_admin_area(db: Db) {
    use crate::admin::{Browser, PASSWORD, add_user_with_config, hidden_csrf};
    let config_path = config_file(&db);
    for args in [
        ["--username", "dpo", "--role", "privacy_officer", "--brand", "alpha"],
        ["--username", "ana", "--role", "analyst", "--brand", "alpha"],
    ] {
        let (ok, err) = add_user_with_config(&config_path, &args);
        assert!(ok, "{err}");
    }
    let server = TestServer::start(db).await;
    let now = crate::support::now().millis();
    let id = approved_at(&server, &server.alpha_key, "DPO-ORDER", "load-1400", now - DAY).await;
    server.app().clock.set_simulated(None);

    let mut officer = Browser::new(&server);
    officer.sign_in("dpo", PASSWORD).await;
    let home = officer.get("/admin").await;
    assert!(home.html.contains("/admin/privacy?brand=alpha"), "{}", home.html);
    assert!(!home.html.contains("/admin/overview?brand=alpha"), "requests, not the dashboards");
    let page = officer.get("/admin/privacy?brand=alpha").await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.html);
    let csrf = hidden_csrf(&page.html);
    assert_eq!(officer.get("/admin/privacy?brand=beta").await.status.as_u16(), 403, "another brand's");

    let base = [("csrf", csrf.as_str()), ("brand", "alpha"), ("customer", "load-1400"), ("reference", "TICKET-9")];
    let fields = base.to_vec();
    let confirmed = [&base[..], &[("confirm", "yes")]].concat();
    let export = officer.post("/admin/privacy/export", &fields).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.html);
    let document: serde_json::Value = serde_json::from_str(&export.html).unwrap();
    assert_eq!(document["verifications"][0]["id"], id);
    assert_eq!(document["verifications"][0]["phone"], "+4915114005678");

    let refused = officer.post("/admin/privacy/erase", &fields).await;
    assert_eq!(refused.status.as_u16(), 400, "an erasure is confirmed first");
    assert!(held(&record(&server, &id).await));
    let erased = officer.post("/admin/privacy/erase", &confirmed).await;
    assert_eq!(erased.status.as_u16(), 200, "{}", erased.html);
    assert!(erased.html.contains("1 verification(s) erased") && erased.html.contains("Nothing was withheld"));
    assert!(!held(&record(&server, &id).await));
    let register = officer.get("/admin/privacy?brand=alpha").await.html;
    let rows = register.split("<tbody>").nth(1).unwrap().matches("<tr>").count();
    assert_eq!(rows, 2, "the export and the erasure: {register}");
    assert!(register.contains("customer id") && register.contains("TICKET-9") && !register.contains("load-1400"));

    let mut analyst = Browser::new(&server);
    analyst.sign_in("ana", PASSWORD).await;
    assert_eq!(analyst.get("/admin/privacy?brand=alpha").await.status.as_u16(), 403);
    let (ok, out, err) = run_command(&["audit", "verify"], &config_path);
    assert!(ok && out.contains("intact"), "{out}{err}");
    server.stop().await;
}
