use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use orderguard_domain::order::{ItemInput, Order, OrderInput};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestServer, problem_type};

on_both_databases!(
    approve_with_receipt,
    wrong_codes_fail_the_verification,
    resend_respects_the_cooldown,
    resend_replaces_the_code,
    cancel_ends_the_verification,
    expired_codes_are_recorded,
    risky_numbers_are_blocked_without_sms,
    order_outcomes_are_recorded,
);

/// Verifies a compact JWS against the server's JWKS and returns its claims.
pub async fn verify_receipt(server: &TestServer, jws: &str) -> Value {
    let jwks: Value =
        server.http.get(format!("{}/.well-known/jwks.json", server.base)).send().await.unwrap().json().await.unwrap();
    let mut parts = jws.split('.');
    let (header, payload, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let header: Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid in JWKS");
    let x: [u8; 32] = B64.decode(jwk["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();
    let signature = Signature::from_slice(&B64.decode(signature).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts_of(jws).0, parts_of(jws).1).as_bytes(), &signature).expect("valid signature");
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn parts_of(jws: &str) -> (&str, &str) {
    let mut parts = jws.split('.');
    (parts.next().unwrap(), parts.next().unwrap())
}

async fn approve_with_receipt(db: Db) {
    let server = TestServer::start(db).await;
    let v = server.create(&server.alpha_key, "A-100", "c-1").await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["attempts_remaining"], 5);
    assert_eq!(v["resends_remaining"], 3);
    assert_eq!(v["phone_hint"], "+49 *** ****89");
    assert_eq!(v["risk"]["decision"], "allow");
    assert!(v["hosted_url"].as_str().unwrap().starts_with(&format!("{}/v/", server.base)));
    assert!(!v["hosted_url"].as_str().unwrap().contains(v["id"].as_str().unwrap()));
    let id = v["id"].as_str().unwrap();

    let code = server.code(id).await;
    let sms = server.outbox(Some(id)).await;
    assert_eq!(sms.len(), 1);
    let text = sms[0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Alpha Mobil: Code "), "{text}");
    assert!(text.contains("849,00 €"), "{text}");
    assert!(text.ends_with(&format!("\n\n@shop.alpha.example #{code}")), "{text}");
    assert_eq!(code.len(), 6);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": wrong })).await;
    assert_eq!((status, body["status"].clone(), body["attempts_remaining"].clone()), (200, json!("pending"), json!(4)));

    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    let claims = verify_receipt(&server, body["receipt"].as_str().unwrap()).await;
    assert_eq!(claims["brand"], "alpha");
    assert_eq!(claims["verification_id"], id);
    assert_eq!(claims["order_id"], "A-100");
    assert_eq!(claims["amount"], "849.00");
    assert_eq!(claims["currency"], "EUR");
    assert_eq!(claims["method"], "sms");
    assert_eq!(claims["iss"], server.base);
    let order = Order::parse(&OrderInput {
        id: "A-100",
        amount: "849.00",
        currency: "EUR",
        items: vec![ItemInput {
            sku: "PHONE-X",
            name: "Smartphone X",
            quantity: 1,
            unit_price: "849.00",
            hardware: true,
        }],
        shipping_country: Some("DE"),
    })
    .unwrap();
    assert_eq!(claims["order_digest"], order.digest());

    // Single use: the same right code again is refused.
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, problem_type(&body)), (409, "verification-not-pending"));
    assert_eq!(body["verification_status"], "approved");

    let (status, body) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")));
    assert!(body["receipt"].is_string());

    let events = server.events("alpha", id).await;
    for expected in [
        "verification.created",
        "risk.assessed",
        "sms.queued",
        "sms.submitted",
        "check.failed",
        "verification.approved",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} missing in {events:?}");
    }
    server.stop().await;
}

async fn wrong_codes_fail_the_verification(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "A-200", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let mut last = Value::Null;
    for remaining in (0..5).rev() {
        let (status, body) =
            server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": wrong })).await;
        assert_eq!(status, 200);
        assert_eq!(body["attempts_remaining"], remaining);
        last = body;
    }
    assert_eq!(last["status"], "failed");
    // After failing, even the right code is refused.
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["verification_status"].as_str()), (409, Some("failed")));
    // A malformed code is a validation error and uses no attempt.
    let id2 = server.create(&server.alpha_key, "A-201", "c-1").await["id"].as_str().unwrap().to_owned();
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id2}/check"), json!({ "code": "12ab" })).await;
    assert_eq!((status, problem_type(&body)), (422, "validation-error"));
    assert_eq!(body["errors"][0]["field"], "code");
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id2}")).await;
    assert_eq!(v["attempts_remaining"], 5);
    let events = server.events("alpha", &id).await;
    assert_eq!(events.iter().filter(|e| *e == "check.failed").count(), 5);
    assert_eq!(events.iter().filter(|e| *e == "verification.failed").count(), 1);
    server.stop().await;
}

async fn resend_respects_the_cooldown(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "A-300", "c-1").await["id"].as_str().unwrap().to_owned();
    let response = server
        .http
        .post(format!("{}/v1/verifications/{id}/resend", server.base))
        .bearer_auth(&server.alpha_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: i64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(problem_type(&body), "resend-too-soon");
    server.stop().await;
}

async fn resend_replaces_the_code(db: Db) {
    // With the cooldown switched off by policy: a new code replaces the old one, up to the limit.
    let server = TestServer::start_with(db, |s| {
        s.brands[0].policy.resend_cooldown_seconds = Some(0);
        s.brands[0].policy.max_resends = Some(2);
    })
    .await;
    let id = server.create(&server.alpha_key, "A-301", "c-1").await["id"].as_str().unwrap().to_owned();
    let first_code = server.code(&id).await;
    for n in 1..=2 {
        let (status, body) = server.post(&server.alpha_key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["resends_remaining"], 2 - n);
    }
    let (status, body) = server.post(&server.alpha_key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (409, "resend-limit-reached"));
    let codes = server.codes(&id, 3).await;
    let newest = codes[0].clone();
    if first_code != newest {
        let (_, body) = server
            .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": first_code }))
            .await;
        assert_eq!(body["status"], "pending", "the replaced code must not work");
    }
    let (_, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": newest })).await;
    assert_eq!(body["status"], "approved");
    assert_eq!(server.events("alpha", &id).await.iter().filter(|e| *e == "verification.resent").count(), 2);
    server.stop().await;
}

async fn cancel_ends_the_verification(db: Db) {
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "A-400", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) = server
        .post(
            &server.alpha_key,
            &format!("/v1/verifications/{id}/cancel"),
            json!({ "reason": "customer changed their mind" }),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("canceled")));
    assert_eq!(body["cancel_reason"], "customer changed their mind");
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["verification_status"].as_str()), (409, Some("canceled")));
    // Cancel without a body works too; twice is refused.
    let response = server
        .http
        .post(format!("{}/v1/verifications/{id}/cancel", server.base))
        .bearer_auth(&server.alpha_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert!(server.events("alpha", &id).await.contains(&"verification.canceled".to_owned()));
    server.stop().await;
}

async fn expired_codes_are_recorded(db: Db) {
    let server = TestServer::start_with(db, |s| s.brands[0].policy.code_ttl_seconds = Some(10)).await;
    let id = server.create(&server.alpha_key, "A-500", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    tokio::time::sleep(std::time::Duration::from_millis(10_600)).await;
    let (_, body) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(body["status"], "expired", "the sweeper expires it");
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["verification_status"].as_str()), (409, Some("expired")));
    let events = server.events("alpha", &id).await;
    assert_eq!(events.iter().filter(|e| *e == "verification.expired").count(), 1, "{events:?}");
    server.stop().await;
}

async fn risky_numbers_are_blocked_without_sms(db: Db) {
    let server = TestServer::start(db).await;
    for (order, customer, reason) in
        [("A-600", "c-premium", "premium_or_special_rate_number"), ("A-601", "c-landline", "number_cannot_receive_sms")]
    {
        let v = server.create(&server.alpha_key, order, customer).await;
        assert_eq!(v["status"], "blocked");
        assert_eq!(v["risk"]["decision"], "deny");
        assert!(v["risk"]["reasons"].as_array().unwrap().iter().any(|r| r == reason), "{v}");
        let id = v["id"].as_str().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(server.outbox(Some(id)).await.is_empty(), "no SMS to a blocked number");
        assert!(server.events("alpha", id).await.contains(&"verification.blocked".to_owned()));
    }
    let (status, body) =
        server.post(&server.alpha_key, "/v1/verifications", crate::support::order("A-602", "c-unverified")).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-phone-unverified"));
    server.stop().await;
}

async fn order_outcomes_are_recorded(db: Db) {
    let server = TestServer::start(db).await;
    server.create(&server.alpha_key, "A-700", "c-1").await;
    let (status, body) = server
        .post(&server.alpha_key, "/v1/orders/A-700/outcome", json!({ "outcome": "chargeback", "amount_lost": "849" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "order_id": "A-700", "outcome": "chargeback", "amount_lost": "849.00", "currency": "EUR", "verifications": 1 })
    );
    let (status, body) =
        server.post(&server.alpha_key, "/v1/orders/A-700/outcome", json!({ "outcome": "stolen" })).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("outcome")));
    let (status, body) = server
        .post(
            &server.alpha_key,
            "/v1/orders/NEVER-SEEN/outcome",
            json!({ "outcome": "fraud_confirmed", "amount_lost": "10.00" }),
        )
        .await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("currency")));
    // A currency that is none is refused without an amount too, and nothing is recorded.
    let (status, body) = server
        .post(
            &server.alpha_key,
            "/v1/orders/NEVER-SEEN/outcome",
            json!({ "outcome": "hardware_damaged", "currency": "r/." }),
        )
        .await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("currency")), "{body}");
    let (status, _) =
        server.post(&server.alpha_key, "/v1/orders/NEVER-SEEN/outcome", json!({ "outcome": "completed" })).await;
    assert_eq!(status, 200);
    server.stop().await;
}
