use serde_json::json;

use crate::idempotency::futures_join_all;
use crate::on_both_databases;
use crate::support::{Db, TestServer};

on_both_databases!(parallel_wrong_checks_evaluate_at_most_the_attempt_limit, parallel_right_checks_approve_once);

async fn parallel_wrong_checks_evaluate_at_most_the_attempt_limit(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "L-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let wrong = if code == "999999" { "888888" } else { "999999" };
    let requests = (0..50).map(|_| {
        server
            .http
            .post(format!("{}/v1/verifications/{id}/check", server.base))
            .bearer_auth(&server.alpha_key)
            .json(&json!({ "code": wrong }))
            .send()
    });
    let mut evaluated = 0;
    let mut refused = 0;
    for response in futures_join_all(requests).await {
        match response.unwrap().status().as_u16() {
            200 => evaluated += 1,
            409 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(evaluated, 5, "exactly the attempt limit is evaluated");
    assert_eq!(refused, 45);
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(v["status"], "failed");
    let events = server.events("alpha", &id).await;
    assert_eq!(events.iter().filter(|e| *e == "check.failed").count(), 5);
    server.stop().await;
}

async fn parallel_right_checks_approve_once(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "L-2", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let requests = (0..20).map(|_| {
        server
            .http
            .post(format!("{}/v1/verifications/{id}/check", server.base))
            .bearer_auth(&server.alpha_key)
            .json(&json!({ "code": code }))
            .send()
    });
    let statuses: Vec<u16> =
        futures_join_all(requests).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    assert_eq!(server.events("alpha", &id).await.iter().filter(|e| *e == "verification.approved").count(), 1);
    server.stop().await;
}
