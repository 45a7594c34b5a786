use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestServer, order, problem_type};

on_both_databases!(same_key_same_body_returns_the_same_verification, parallel_retries_send_one_sms);

async fn same_key_same_body_returns_the_same_verification(db: Db) {
    let server = TestServer::start(db).await;
    let send = |key: &'static str, body: serde_json::Value| {
        server
            .http
            .post(format!("{}/v1/verifications", server.base))
            .bearer_auth(&server.alpha_key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("order-1", order("I-1", "c-1")).await.unwrap();
    assert_eq!(first.status().as_u16(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();
    let second = send("order-1", order("I-1", "c-1")).await.unwrap();
    assert_eq!(second.status().as_u16(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let id = first["id"].as_str().unwrap();
    server.code(id).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(server.outbox(Some(id)).await.len(), 1, "a replay sends no second SMS");

    // The same key with another body is refused and changes nothing.
    let mut changed = order("I-1", "c-1");
    changed["order"]["amount"] = json!("1.00");
    let response = send("order-1", changed).await.unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem_type(&body), "idempotency-key-reused");
    let (_, unchanged) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(unchanged["amount"], "849.00");

    // Keys are per brand: beta may use the same key for its own order.
    let response = server
        .http
        .post(format!("{}/v1/verifications", server.base))
        .bearer_auth(&server.beta_key)
        .header("Idempotency-Key", "order-1")
        .json(&order("I-1", "c-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let beta: serde_json::Value = response.json().await.unwrap();
    assert_ne!(beta["id"], first["id"]);
    server.stop().await;
}

async fn parallel_retries_send_one_sms(db: Db) {
    let server = TestServer::start(db).await;
    let requests = (0..10).map(|_| {
        server
            .http
            .post(format!("{}/v1/verifications", server.base))
            .bearer_auth(&server.alpha_key)
            .header("Idempotency-Key", "burst-1")
            .json(&order("I-2", "c-1"))
            .send()
    });
    let mut ids = std::collections::HashSet::new();
    for response in futures_join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "every retry gets the same verification");
    let id = ids.into_iter().next().unwrap();
    server.code(&id).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.outbox(None).await.len(), 1, "exactly one SMS");
    server.stop().await;
}

/// Runs futures concurrently on the runtime and collects their results in order.
pub async fn futures_join_all<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
