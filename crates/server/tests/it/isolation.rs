use serde_json::json;

use crate::on_both_databases;
use crate::support::{Db, TestServer, problem_type};

on_both_databases!(another_brands_key_sees_nothing);

async fn another_brands_key_sees_nothing(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "T-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) = server.get(&server.beta_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    for (action, request) in
        [("check", json!({ "code": code })), ("resend", json!({})), ("cancel", json!({ "reason": "x" }))]
    {
        let (status, body) = server.post(&server.beta_key, &format!("/v1/verifications/{id}/{action}"), request).await;
        assert_eq!(status, 404, "{action}: {body}");
    }
    // Nothing was changed by those attempts: alpha still approves with the right code.
    let (_, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!(body["status"], "approved");
    assert_eq!(body["attempts_remaining"], 4);
    // Outcomes are per brand too: beta's report for alpha's order id counts no verification.
    let (_, body) = server.post(&server.beta_key, "/v1/orders/T-1/outcome", json!({ "outcome": "completed" })).await;
    assert_eq!(body["verifications"], 0);
    // Unknown and missing keys.
    let (status, body) = server.get("og_not-a-key", &format!("/v1/verifications/{id}")).await;
    assert_eq!((status, problem_type(&body)), (401, "unauthorized"));
    let response = server.http.get(format!("{}/v1/verifications/{id}", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    server.stop().await;
}
