//! The generic HTTP SMS provider against a small provider started by the test: templated body and
//! headers, a slow provider that must not hold requests hostage, failures, retries and failover.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use orderguard::config::{HttpBodyFormat, HttpProviderConfig, SmsProviderConfig, StatusCallbackConfig};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestServer};

on_both_databases!(
    slow_provider_does_not_block_requests,
    failing_provider_makes_undeliverable,
    failover_to_next_provider,
    resend_supersedes_a_queued_retry,
    delivery_status_callbacks,
    form_api_that_answers_200_to_refusals,
    routes_per_destination_country,
);

#[derive(Clone)]
pub struct FakeProvider {
    pub received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    delay: Duration,
    status: StatusCode,
    /// Requests answered with 503 before `status` applies.
    fail_first: usize,
}

async fn receive(
    State(fake): State<FakeProvider>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    tokio::time::sleep(fake.delay).await;
    let n = {
        let mut received = fake.received.lock().unwrap();
        received.push((headers, body.0));
        received.len()
    };
    let status = if n <= fake.fail_first { StatusCode::SERVICE_UNAVAILABLE } else { fake.status };
    (status, axum::Json(json!({ "message_id": format!("prov-{n}") })))
}

pub async fn start_fake(delay: Duration, status: StatusCode) -> (String, FakeProvider) {
    start_fake_failing_first(delay, status, 0).await
}

/// A Vonage-shaped API: form fields in, `{"messages": [{"message-id", "status"}]}` out, with
/// status "0" for accepted and "3" (invalid parameters) for numbers starting 4917.
async fn receive_form(
    State(fake): State<FakeProvider>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let to = fields.get("to").cloned().unwrap_or_default();
    let n = {
        let mut received = fake.received.lock().unwrap();
        received.push((headers, serde_json::to_value(&fields).unwrap()));
        received.len()
    };
    let status = if to.starts_with("4917") { "3" } else { "0" };
    axum::Json(
        json!({ "message-count": "1", "messages": [{ "to": to, "message-id": format!("v-{n}"), "status": status }] }),
    )
}

async fn start_fake_failing_first(delay: Duration, status: StatusCode, fail_first: usize) -> (String, FakeProvider) {
    let fake = FakeProvider { received: Arc::default(), delay, status, fail_first };
    let app = axum::Router::new()
        .route("/sms", axum::routing::post(receive))
        .route("/form", axum::routing::post(receive_form))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fake)
}

pub fn http_provider(url: &str, token_file: &std::path::Path) -> SmsProviderConfig {
    SmsProviderConfig::Http(HttpProviderConfig {
        url: url.to_owned(),
        headers: [("Authorization".to_owned(), format!("Bearer ${{file:{}}}", token_file.display()).into())].into(),
        body: json!({ "from": "{sender}", "to": "{to}", "text": "{text}", "reference": "{id}" }).into(),
        format: HttpBodyFormat::Json,
        timeout_ms: 5000,
        retries: 0,
        message_id_pointer: Some("/message_id".into()),
        accepted_pointer: None,
        accepted_values: Vec::new(),
        status_callback: None,
    })
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

async fn slow_provider_does_not_block_requests(db: Db) {
    let (url, fake) = start_fake(Duration::from_millis(1500), StatusCode::OK).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("aggregator".into(), http_provider(&url, &token));
        s.brands[0].sms_route = vec!["aggregator".into()];
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let started = Instant::now();
        let v = server.create(&server.alpha_key, &format!("H-{n}"), "c-1").await;
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "create waited for the provider: {:?}",
            started.elapsed()
        );
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    wait_for(|| fake.received.lock().unwrap().len() == 5).await;
    let received = fake.received.lock().unwrap().clone();
    for (headers, body) in &received {
        assert_eq!(headers["authorization"], "Bearer s3cret-token");
        assert_eq!(body["from"], "Alpha");
        assert_eq!(body["to"], "+4915123456789");
        assert!(body["text"].as_str().unwrap().contains("@shop.alpha.example #"));
    }
    for id in &ids {
        let id = id.clone();
        let mut submitted = false;
        for _ in 0..100 {
            if server.events("alpha", &id).await.contains(&"sms.submitted".to_owned()) {
                submitted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(submitted, "sms.submitted for {id}");
    }
    server.stop().await;
}

async fn failing_provider_makes_undeliverable(db: Db) {
    let (url, fake) = start_fake(Duration::ZERO, StatusCode::SERVICE_UNAVAILABLE).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("aggregator".into(), http_provider(&url, &token));
        s.brands[0].sms_route = vec!["aggregator".into()];
        s.limits.sms_max_attempts = 2;
    })
    .await;
    let id = server.create(&server.alpha_key, "H-10", "c-1").await["id"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for _ in 0..200 {
        status = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await.1["status"].clone();
        if status == "undeliverable" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "undeliverable");
    assert_eq!(fake.received.lock().unwrap().len(), 2, "one hand-off per attempt, no more");
    let events = server.events("alpha", &id).await;
    assert_eq!(events.iter().filter(|e| *e == "sms.failed").count(), 2, "{events:?}");
    assert!(events.contains(&"verification.undeliverable".to_owned()));
    server.stop().await;
}

async fn failover_to_next_provider(db: Db) {
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        // Nothing listens on port 9 of loopback: the connection is refused at once.
        s.sms_providers.insert("dead".into(), http_provider("http://127.0.0.1:9/sms", &token));
        s.brands[0].sms_route = vec!["dead".into(), "outbox".into()];
    })
    .await;
    let id = server.create(&server.alpha_key, "H-20", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    assert_eq!(code.len(), 6);
    server.stop().await;
}

async fn resend_supersedes_a_queued_retry(db: Db) {
    let (url, fake) = start_fake_failing_first(Duration::ZERO, StatusCode::OK, 1).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("aggregator".into(), http_provider(&url, &token));
        s.brands[0].sms_route = vec!["aggregator".into()];
        s.brands[0].policy.resend_cooldown_seconds = Some(0);
    })
    .await;
    let id = server.create(&server.alpha_key, "H-30", "c-1").await["id"].as_str().unwrap().to_owned();
    // The first hand-off fails; the message waits for its retry (2 s later).
    wait_for(|| fake.received.lock().unwrap().len() == 1).await;
    let (status, _) = server.post(&server.alpha_key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!(status, 200);
    wait_for(|| fake.received.lock().unwrap().len() == 2).await;
    // Well past the retry time of the first message: it must not go out with its dead code.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "the superseded message was sent again");
    assert_ne!(received[0].1["reference"], received[1].1["reference"]);
    server.stop().await;
}

const CALLBACK_TOKEN: &str = "callback-secret-0123456789";

async fn delivery_status_callbacks(db: Db) {
    assert!(crate::admin::add_user(&db, &["--username", "ops", "--role", "operator"]).0);
    let (url, fake) = start_fake(Duration::ZERO, StatusCode::OK).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        let SmsProviderConfig::Http(mut config) = http_provider(&url, &token) else { unreachable!() };
        config.status_callback = Some(StatusCallbackConfig {
            token: CALLBACK_TOKEN.into(),
            message_id_field: "messageId".into(),
            status_field: "status".into(),
            error_field: Some("err-code".into()),
            delivered: vec!["delivered".into()],
            failed: vec!["failed".into(), "rejected".into()],
        });
        s.sms_providers.insert("aggregator".into(), SmsProviderConfig::Http(config));
        s.brands[0].sms_route = vec!["aggregator".into()];
    })
    .await;
    let first = server.create(&server.alpha_key, "D-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let second = server.create(&server.alpha_key, "D-2", "c-2").await["id"].as_str().unwrap().to_owned();
    wait_for(|| fake.received.lock().unwrap().len() == 2).await;
    let provider_id = |verification: &str| {
        let events = server.app().store.clone();
        let verification = verification.to_owned();
        async move {
            for _ in 0..200 {
                let v = verification.clone();
                let found = events
                    .read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &v))
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|e| e.kind.as_str() == "sms.submitted");
                if let Some(e) = found {
                    return e.attrs["provider_message_id"].as_str().unwrap().to_owned();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("no sms.submitted for {verification}");
        }
    };
    let (first_id, second_id) = (provider_id(&first).await, provider_id(&second).await);
    let callback = format!("{}/v1/sms-status/aggregator", server.base);

    // Without the secret, with a wrong one, or for a provider without callbacks: refused.
    let no_token = server
        .http
        .post(&callback)
        .json(&json!({ "messageId": first_id, "status": "delivered" }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(no_token.headers()["content-type"], "application/problem+json");
    let wrong = server.http.post(format!("{callback}?token=nope")).json(&json!({})).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let unknown =
        server.http.post(format!("{}/v1/sms-status/outbox?token={CALLBACK_TOKEN}", server.base)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // An interim status records nothing; a missing field is a clear problem.
    let interim = server
        .http
        .post(&callback)
        .bearer_auth(CALLBACK_TOKEN)
        .json(&json!({ "messageId": first_id, "status": "buffered" }))
        .send()
        .await
        .unwrap();
    assert_eq!(interim.status(), 204);
    let missing = server
        .http
        .post(&callback)
        .bearer_auth(CALLBACK_TOKEN)
        .json(&json!({ "status": "delivered" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 422);
    let problem: Value = missing.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("messageId"), "{problem}");

    // Delivered as JSON with a bearer token; failed as a GET with everything in the query.
    let delivered = server
        .http
        .post(&callback)
        .bearer_auth(CALLBACK_TOKEN)
        .json(&json!({ "messageId": first_id, "status": "delivered", "err-code": "0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 204);
    let failed = server
        .http
        .get(format!("{callback}?token={CALLBACK_TOKEN}&messageId={second_id}&status=rejected&err-code=6"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 204);
    // A repeat changes nothing.
    let repeat = server
        .http
        .post(format!("{callback}?token={CALLBACK_TOKEN}"))
        .form(&[("messageId", first_id.as_str()), ("status", "failed")])
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), 204);

    let events = |id: String| {
        let store = server.app().store.clone();
        async move { store.read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &id)).await.unwrap() }
    };
    let first_events = events(first.clone()).await;
    let delivered = first_events.iter().find(|e| e.kind.as_str() == "sms.delivered").expect("sms.delivered");
    assert_eq!(delivered.attrs["provider"], "aggregator");
    assert!(delivered.attrs["latency_ms"].as_i64().unwrap() >= 0);
    assert!(!first_events.iter().any(|e| e.kind.as_str() == "sms.failed"), "the repeat was recorded");
    let second_events = events(second).await;
    let failed = second_events.iter().find(|e| e.kind.as_str() == "sms.failed").expect("sms.failed");
    assert_eq!((failed.attrs["status"].as_str(), failed.attrs["error_code"].as_str()), (Some("rejected"), Some("6")));

    // The admin's SMS page counts them by provider and country, with the latency.
    let mut admin = crate::admin::Browser::new(&server);
    admin.sign_in("ops", crate::admin::PASSWORD).await;
    let mut page = admin.get("/admin/sms?brand=alpha&days=1").await.html;
    for _ in 0..60 {
        if page.contains("<td>aggregator</td><td>DE</td><td>2</td><td>1</td><td>1</td><td>50.0 %</td>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = admin.get("/admin/sms?brand=alpha&days=1").await.html;
    }
    assert!(page.contains("<td>aggregator</td><td>DE</td><td>2</td><td>1</td><td>1</td><td>50.0 %</td>"), "{page}");
    assert!(page.contains("<td>aggregator</td><td>1</td>"), "one delivery within a second: {page}");
    let csv = admin.get("/admin/sms.csv?brand=alpha&days=1").await.html;
    assert!(csv.contains("aggregator,DE,2,1,1"), "{csv}");
    server.stop().await;
}

async fn form_api_that_answers_200_to_refusals(db: Db) {
    let (url, fake) = start_fake(Duration::ZERO, StatusCode::OK).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        let SmsProviderConfig::Http(mut config) = http_provider(&url.replace("/sms", "/form"), &token) else {
            unreachable!()
        };
        config.format = HttpBodyFormat::Form;
        config.body = json!({ "from": "{sender}", "to": "{to_digits}", "text": "{text}", "type": "{encoding}", "client-ref": "{id}" }).into();
        config.message_id_pointer = Some("/messages/0/message-id".into());
        config.accepted_pointer = Some("/messages/0/status".into());
        config.accepted_values = vec!["0".into()];
        s.sms_providers.insert("vonage".into(), SmsProviderConfig::Http(config));
        s.brands[0].sms_route = vec!["vonage".into()];
        s.brands[0].sms_templates.insert("en".into(), "{brand} ✅ {code}".into());
        s.limits.sms_max_attempts = 1;
    })
    .await;
    let accepted = server.create(&server.alpha_key, "V-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let mut english = crate::support::order("V-2", "c-1");
    english["locale"] = json!("en");
    let (status, unicode) = server.post(&server.alpha_key, "/v1/verifications", english).await;
    assert_eq!(status, 201);
    let refused = server.create(&server.alpha_key, "V-3", "c-2").await["id"].as_str().unwrap().to_owned();
    wait_for(|| fake.received.lock().unwrap().len() == 3).await;
    let received = fake.received.lock().unwrap().clone();
    let sent_to = |to: &str, kind: &str| received.iter().any(|(_, f)| f["to"] == to && f["type"] == kind);
    assert!(
        sent_to("4915123456789", "text") && sent_to("4915123456789", "unicode") && sent_to("4917612345678", "text")
    );
    assert!(received.iter().all(|(h, _)| h["content-type"] == "application/x-www-form-urlencoded"));

    for _ in 0..200 {
        let events = server.events("alpha", &accepted).await;
        if events.contains(&"sms.submitted".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = |id: String| {
        let store = server.app().store.clone();
        async move { store.read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &id)).await.unwrap() }
    };
    let submitted = events(accepted).await.into_iter().find(|e| e.kind.as_str() == "sms.submitted").expect("submitted");
    assert!(submitted.attrs["provider_message_id"].as_str().unwrap().starts_with("v-"));
    let mut status = Value::Null;
    for _ in 0..200 {
        status = server.get(&server.alpha_key, &format!("/v1/verifications/{refused}")).await.1["status"].clone();
        if status == "undeliverable" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "undeliverable");
    let failed =
        events(refused).await.into_iter().find(|e| e.kind.as_str() == "sms.attempt_failed").expect("attempt_failed");
    assert_eq!(failed.attrs["result"], "rejected");
    assert!(failed.attrs["error"].as_str().unwrap().contains("`3`"), "{}", failed.attrs);
    assert_eq!(unicode["status"], "pending");
    server.stop().await;
}

async fn routes_per_destination_country(db: Db) {
    let (url, fake) = start_fake(Duration::ZERO, StatusCode::OK).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("uk-aggregator".into(), http_provider(&url, &token));
        s.brands[0].sms_route = vec!["outbox".into()];
        s.brands[0].sms_route_by_country.insert("GB".into(), vec!["uk-aggregator".into()]);
    })
    .await;
    let german = server.create(&server.alpha_key, "C-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let british = server.create(&server.alpha_key, "C-2", "c-uk").await;
    assert_eq!(british["status"], "pending", "{british}");
    let british = british["id"].as_str().unwrap().to_owned();
    assert_eq!(server.code(&german).await.len(), 6, "the German number's SMS went through the outbox");
    wait_for(|| fake.received.lock().unwrap().len() == 1).await;
    assert_eq!(fake.received.lock().unwrap()[0].1["to"], "+447400123456");
    assert!(server.outbox(Some(&british)).await.is_empty(), "the British number's SMS took its own route");
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("country=\"GB\",provider=\"uk-aggregator\",result=\"submitted\""), "{metrics}");
    server.stop().await;
}
