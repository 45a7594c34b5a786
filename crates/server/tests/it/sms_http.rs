//! The generic HTTP SMS provider against a small provider started by the test: templated body and
//! headers, a slow provider that must not hold requests hostage, failures, retries and failover.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use orderguard::config::{HttpProviderConfig, SmsProviderConfig};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestServer};

on_both_databases!(
    slow_provider_does_not_block_requests,
    failing_provider_makes_undeliverable,
    failover_to_next_provider,
    resend_supersedes_a_queued_retry,
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

async fn start_fake_failing_first(delay: Duration, status: StatusCode, fail_first: usize) -> (String, FakeProvider) {
    let fake = FakeProvider { received: Arc::default(), delay, status, fail_first };
    let app = axum::Router::new().route("/sms", axum::routing::post(receive)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, fake)
}

pub fn http_provider(url: &str, token_file: &std::path::Path) -> SmsProviderConfig {
    SmsProviderConfig::Http(HttpProviderConfig {
        url: url.to_owned(),
        headers: [("Authorization".to_owned(), format!("Bearer ${{file:{}}}", token_file.display()))].into(),
        body: json!({ "from": "{sender}", "to": "{to}", "text": "{text}", "reference": "{id}" }),
        timeout_ms: 5000,
        retries: 0,
        message_id_pointer: Some("/message_id".into()),
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
