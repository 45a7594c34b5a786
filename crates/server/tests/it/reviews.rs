//! The review queue through the real server: orders held by a `review` decision appear for the
//! brand's analysts, who approve them (a receipt that says so), send the code, or reject them —
//! once, with a note, as an event and an audit entry; another brand's users neither see nor decide.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::{Browser, PASSWORD, add_user, csrf_of_home};
use crate::on_both_databases;
use crate::support::{Db, TestServer, order};

on_both_databases!(
    an_approved_review_is_decided_once_with_a_receipt_that_says_so,
    sending_the_code_releases_the_order_within_the_number_limits,
    a_rejected_review_is_blocked,
);

const NOTE: &str = "Called back Ms Example on the number in our CRM; she placed the order.";
/// The held customer's number in full (the tests' identity directory), and as analysts see it.
const HELD_NUMBER: &str = "+447400123456";
const HELD_HINT: &str = "+44 *** ****56";

/// An order of `c-uk` held for review: the third customer on one device within a day (the
/// device's name is `ring-{tag}`, so that each call holds its own order `tag`).
async fn held_order(server: &TestServer, tag: &str) -> String {
    let on_ring = |order_id: &str, customer: &str| {
        let mut body = order(order_id, customer);
        body["client"]["device_id"] = json!(format!("ring-{tag}"));
        body
    };
    for customer in ["c-1", "c-2"] {
        let (status, v) =
            server.post(&server.alpha_key, "/v1/verifications", on_ring(&format!("{tag}-{customer}"), customer)).await;
        assert_eq!((status, v["status"].as_str()), (201, Some("pending")), "{v}");
    }
    let (status, v) = server.post(&server.alpha_key, "/v1/verifications", on_ring(tag, "c-uk")).await;
    assert_eq!((status, v["status"].as_str()), (201, Some("in_review")), "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn decide(
    browser: &mut Browser,
    brand: &str,
    id: &str,
    decision: &str,
    note: &str,
    csrf: &str,
) -> crate::admin::Page {
    let form = [("brand", brand), ("decision", decision), ("note", note), ("csrf", csrf)];
    browser.post(&format!("/admin/reviews/{id}"), &form).await
}

async fn status_of(server: &TestServer, id: &str) -> Value {
    let (status, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// The claims of a receipt (a JWS; its signature is checked in api_flow).
fn claims(receipt: &str) -> Value {
    let payload = receipt.split('.').nth(1).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The events of a verification with their attributes.
async fn events(server: &TestServer, id: &str) -> Vec<(String, Value)> {
    let id = id.to_owned();
    let found = server
        .app()
        .store
        .read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &id))
        .await
        .unwrap();
    found.into_iter().map(|e| (e.kind.as_str().to_owned(), e.attrs)).collect()
}

fn users(db: &Db) {
    for args in [
        ["--username", "alpha-analyst", "--role", "analyst", "--brand", "alpha"].as_slice(),
        &["--username", "beta-analyst", "--role", "analyst", "--brand", "beta"],
        &["--username", "auditor", "--role", "auditor"],
    ] {
        assert!(add_user(db, args).0);
    }
}

async fn an_approved_review_is_decided_once_with_a_receipt_that_says_so(db: Db) {
    users(&db);
    let server = TestServer::start(db).await;
    let id = held_order(&server, "HELD-1").await;

    let mut analyst = Browser::new(&server);
    analyst.sign_in("alpha-analyst", PASSWORD).await;
    let queue = analyst.get("/admin/reviews?brand=alpha").await;
    assert_eq!(queue.status, StatusCode::OK);
    let link = format!("/admin/reviews/{id}?brand=alpha");
    for expected in [link.as_str(), "HELD-1", "device_many_customers (3)", HELD_HINT] {
        assert!(queue.html.contains(expected), "{expected} missing in {}", queue.html);
    }
    assert!(!queue.html.contains(HELD_NUMBER), "numbers stay masked");
    assert!(analyst.get("/admin/overview?brand=alpha").await.html.contains("/admin/reviews?brand=alpha"), "in the nav");

    let detail = analyst.get(&format!("/admin/reviews/{id}?brand=alpha")).await;
    assert_eq!(detail.status, StatusCode::OK);
    for expected in [
        "<td>device_many_customers</td><td>yes</td><td>50</td><td>no</td><td>3</td>",
        "<td>velocity_customer</td><td>no</td>",
        "/admin/trace?brand=alpha&amp;order=HELD-1",
        "name=\"decision\" value=\"approve\"",
        "name=\"decision\" value=\"send\"",
        "name=\"decision\" value=\"reject\"",
        HELD_HINT,
    ] {
        assert!(detail.html.contains(expected), "{expected} missing in {}", detail.html);
    }
    assert!(!detail.html.contains(HELD_NUMBER));

    // Another brand's analyst: neither the queue nor the order nor a decision exists for them.
    let mut other = Browser::new(&server);
    other.sign_in("beta-analyst", PASSWORD).await;
    let other_csrf = csrf_of_home(&mut other).await;
    assert_eq!(other.get("/admin/reviews?brand=alpha").await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&format!("/admin/reviews/{id}?brand=alpha")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&format!("/admin/reviews/{id}?brand=beta")).await.status, StatusCode::NOT_FOUND);
    assert!(!other.get("/admin/reviews?brand=beta").await.html.contains("HELD-1"));
    for brand in ["alpha", "beta"] {
        let page = decide(&mut other, brand, &id, "approve", NOTE, &other_csrf).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{brand}: {}", page.html);
    }

    // Bad input is refused readably and changes nothing.
    let csrf = csrf_of_home(&mut analyst).await;
    let forged = decide(&mut analyst, "alpha", &id, "approve", NOTE, "forged").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let no_note = decide(&mut analyst, "alpha", &id, "approve", "   ", &csrf).await;
    assert!(
        no_note.status == StatusCode::BAD_REQUEST && no_note.html.contains("The note is required"),
        "{}",
        no_note.html
    );
    let long = decide(&mut analyst, "alpha", &id, "approve", &"x".repeat(501), &csrf).await;
    assert!(long.status == StatusCode::BAD_REQUEST && long.html.contains("at most 500"), "{}", long.html);
    let unknown = decide(&mut analyst, "alpha", &id, "maybe", NOTE, &csrf).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(status_of(&server, &id).await["status"], "in_review");

    let approved = decide(&mut analyst, "alpha", &id, "approve", NOTE, &csrf).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.html);
    assert_eq!(approved.location.as_deref(), Some(format!("/admin/reviews/{id}?brand=alpha").as_str()));
    let v = status_of(&server, &id).await;
    assert_eq!(v["status"], "approved", "{v}");
    let receipt = v["receipt"].as_str().expect("a receipt").to_owned();
    let receipt_claims = claims(&receipt);
    assert_eq!(receipt_claims["method"], "manual_review", "{receipt_claims}");
    assert!(receipt_claims.get("review").is_none(), "the analyst's approval is the review: {receipt_claims}");
    assert_eq!(receipt_claims["order_id"], "HELD-1", "{receipt_claims}");
    assert_eq!(status_of(&server, &id).await["receipt"].as_str(), Some(receipt.as_str()), "issued once");
    assert!(server.outbox(Some(&id)).await.is_empty(), "no code was sent");

    // Decided once: a second decision is refused, the first stands.
    let again = decide(&mut analyst, "alpha", &id, "reject", NOTE, &csrf).await;
    assert!(
        again.status == StatusCode::CONFLICT && again.html.contains("already been decided: it is approved"),
        "{}",
        again.html
    );
    assert_eq!(status_of(&server, &id).await["status"], "approved");
    let decided = analyst.get(&format!("/admin/reviews/{id}?brand=alpha")).await;
    assert!(decided.html.contains("Decided: approved") && decided.html.contains("Ms Example"), "{}", decided.html);
    assert!(!decided.html.contains("name=\"decision\""), "no forms once decided");
    assert!(!analyst.get("/admin/reviews?brand=alpha").await.html.contains("HELD-1"), "off the queue");

    // One event with who (by role) and that there was a note; the note itself is not in the log.
    let events = events(&server, &id).await;
    let reviewed: Vec<_> = events.iter().filter(|(kind, _)| kind.starts_with("review.")).collect();
    assert_eq!(reviewed.len(), 1, "{events:?}");
    let decided_attrs = json!({ "actor_role": "analyst", "with_note": true, "amount": 84_900, "currency": "EUR" });
    assert_eq!(reviewed[0], &("review.approved".to_owned(), decided_attrs));
    assert!(!events.iter().any(|(_, attrs)| attrs.to_string().contains("Example")));

    let mut auditor = Browser::new(&server);
    auditor.sign_in("auditor", PASSWORD).await;
    let log = auditor.get("/admin/audit").await;
    assert!(
        log.html.contains("<td>alpha-analyst</td><td>analyst</td><td>review_approve</td><td>alpha</td><td>HELD-1</td>"),
        "{}",
        log.html
    );
    assert_eq!(log.html.matches("review_").count(), 1, "refused decisions are not audited: {}", log.html);
    assert!(!log.html.contains("Example"), "the note is not in the audit log");
    server.stop().await;
}

async fn sending_the_code_releases_the_order_within_the_number_limits(db: Db) {
    users(&db);
    let server = TestServer::start_with(db, |s| s.fraud_limits.sms_per_number_10_minutes = 1).await;
    let mut analyst = Browser::new(&server);
    analyst.sign_in("alpha-analyst", PASSWORD).await;
    let csrf = csrf_of_home(&mut analyst).await;

    // Held first (no SMS), then the number gets its one code of the window from another order:
    // sending the held order's code now would exceed the limit.
    let limited = held_order(&server, "HELD-L").await;
    server.create(&server.alpha_key, "OTHER", "c-uk").await;
    let page = decide(&mut analyst, "alpha", &limited, "send", NOTE, &csrf).await;
    assert!(page.status == StatusCode::TOO_MANY_REQUESTS && page.html.contains("sms_limit_number"), "{}", page.html);
    assert_eq!(status_of(&server, &limited).await["status"], "in_review", "nothing changed");
    assert!(!events(&server, &limited).await.iter().any(|(kind, _)| kind.starts_with("review.")));

    // Ten minutes on, the window has room: the code goes out, counted, and approves the order.
    let clock = &server.app().clock;
    clock.set_simulated(Some(orderguard_domain::clock::Timestamp(clock.now().millis() + 10 * 60_000 + 1000)));
    let page = decide(&mut analyst, "alpha", &limited, "send", NOTE, &csrf).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let v = status_of(&server, &limited).await;
    assert_eq!(v["status"], "pending", "{v}");
    let code = server.code(&limited).await;
    let events_now = events(&server, &limited).await;
    let released = events_now.iter().find(|(kind, _)| kind == "review.released").expect("review.released");
    assert!(released.1["message_id"].is_string() && released.1["actor_role"] == "analyst", "{released:?}");
    let (status, checked) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{limited}/check"), json!({ "code": code })).await;
    assert_eq!((status, checked["status"].as_str()), (200, Some("approved")), "{checked}");
    assert_eq!(claims(checked["receipt"].as_str().unwrap())["method"], "sms");

    // The SMS counts: another order to the number within the window is refused.
    let (status, v) = server.post(&server.alpha_key, "/v1/verifications", order("AFTER", "c-uk")).await;
    assert_eq!((status, v["status"].as_str()), (201, Some("blocked")), "{v}");
    assert!(v["risk"]["reasons"].as_array().unwrap().contains(&json!("sms_limit_number")), "{v}");

    let again = decide(&mut analyst, "alpha", &limited, "approve", NOTE, &csrf).await;
    assert!(again.status == StatusCode::CONFLICT && again.html.contains("it is approved"), "{}", again.html);
    server.stop().await;
}

async fn a_rejected_review_is_blocked(db: Db) {
    users(&db);
    let server = TestServer::start(db).await;
    let id = held_order(&server, "HELD-R").await;
    let mut analyst = Browser::new(&server);
    analyst.sign_in("alpha-analyst", PASSWORD).await;
    let csrf = csrf_of_home(&mut analyst).await;
    let page = decide(&mut analyst, "alpha", &id, "reject", NOTE, &csrf).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let v = status_of(&server, &id).await;
    assert!(v["status"] == "blocked" && v["receipt"].is_null(), "{v}");
    assert!(events(&server, &id).await.iter().any(|(kind, _)| kind == "review.rejected"));
    let send = decide(&mut analyst, "alpha", &id, "send", NOTE, &csrf).await;
    assert!(send.status == StatusCode::CONFLICT && send.html.contains("it is blocked"), "{}", send.html);
    assert!(server.outbox(Some(&id)).await.is_empty(), "a rejected order sends nothing");

    // An order whose hold ran out is expired, not decided.
    let late = held_order(&server, "HELD-X").await;
    let clock = &server.app().clock;
    clock.set_simulated(Some(orderguard_domain::clock::Timestamp(clock.now().millis() + 4 * 3_600_000 + 1000)));
    let page = decide(&mut analyst, "alpha", &late, "approve", NOTE, &csrf).await;
    assert!(page.status == StatusCode::CONFLICT && page.html.contains("expired"), "{}", page.html);
    assert_eq!(status_of(&server, &late).await["status"], "expired");
    server.stop().await;
}
