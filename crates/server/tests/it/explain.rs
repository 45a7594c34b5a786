//! Explained decisions: the order trace shows every rule of a risk decision and the policy
//! version, and the locks, refusals and holds in words; the fraud dashboard counts reasons (shadow
//! ones apart), lock-outs, limit refusals and held orders from the counters; a policy change is
//! recorded once, however many instances start with it.

use std::time::Duration;

use orderguard::config::{RuleConfig, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::{Browser, PASSWORD, add_user};
use crate::on_both_databases;
use crate::support::{Db, TestServer, order};

on_both_databases!(the_trace_and_the_dashboard_explain_decisions_locks_and_holds, a_policy_change_is_recorded_once);

fn a_wrong_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// Events of one type in the log, all brands: what the counters must agree with.
async fn logged(server: &TestServer, kind: &str) -> i64 {
    let kind = kind.to_owned();
    server
        .app()
        .store
        .read(move |conn| conn.query_one("SELECT COUNT(*) AS n FROM events WHERE type = $1", &[kind.as_str().into()]))
        .await
        .unwrap()
        .int("n")
        .unwrap()
}

/// The HTML of the table with this id.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<table id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</table>").unwrap()]
}

async fn the_trace_and_the_dashboard_explain_decisions_locks_and_holds(db: Db) {
    assert!(add_user(&db, &["--username", "ops", "--role", "operator"]).0);
    let server = TestServer::start_with(db, |s: &mut Settings| {
        let policy = &mut s.brands[0].policy;
        // Tried on live traffic first: evaluated and recorded, not counted.
        policy.rules.insert("high_value_hardware".into(), RuleConfig { points: Some(20), shadow: true });
        // So that a resend reaches the lock rather than the cooldown.
        policy.resend_cooldown_seconds = Some(0);
    })
    .await;
    let key = server.alpha_key.clone();
    let version = server.app().brands.get("alpha").unwrap().policy_version.clone();

    // Three verifications of one order; ten wrong codes over the first two lock the customer
    // and the number.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let v = server.create(&key, "X-1", "c-1").await;
        assert_eq!(v["status"], "pending", "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        let wrong = a_wrong_code(&server.code(id).await);
        for _ in 0..5 {
            let (status, body) =
                server.post(&key, &format!("/v1/verifications/{id}/check"), json!({ "code": wrong })).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let open = &ids[2];
    let code = server.code(open).await;
    let (status, body) = server.post(&key, &format!("/v1/verifications/{open}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["type"].as_str()), (429, Some("urn:orderguard:problem:limit-reached")), "{body}");
    let (status, body) = server.post(&key, &format!("/v1/verifications/{open}/resend"), json!({})).await;
    assert_eq!((status, body["type"].as_str()), (429, Some("urn:orderguard:problem:limit-reached")), "{body}");
    let blocked = server.create(&key, "X-1", "c-1").await;
    assert_eq!(blocked["status"], "blocked", "{blocked}");

    // Three customers on one device within a day: held for review.
    let on_shared_device = |order_id: &str, customer: &str| {
        let mut body = order(order_id, customer);
        body["client"]["device_id"] = json!("shared-device");
        body
    };
    for (n, customer) in ["load-1", "load-2", "load-3"].into_iter().enumerate() {
        let (status, v) = server.post(&key, "/v1/verifications", on_shared_device(&format!("H-{n}"), customer)).await;
        let expected = if n == 2 { "in_review" } else { "pending" };
        assert_eq!((status, v["status"].as_str()), (201, Some(expected)), "{v}");
    }

    let mut browser = Browser::new(&server);
    browser.sign_in("ops", PASSWORD).await;
    let trace = browser.get("/admin/trace?brand=alpha&order=X-1").await;
    assert_eq!(trace.status, StatusCode::OK);
    for expected in [
        format!("<code class=\"policy-version\">{version}</code>"),
        // Every rule, fired or not, with its points, mode and input.
        "<tr class=\"fired\"><td>high_value_hardware</td><td>fired</td><td>20</td><td>shadow</td><td>–</td></tr>"
            .into(),
        "<tr><td>voip_number</td><td>no</td><td>40</td><td>live</td><td>–</td></tr>".into(),
        "<tr><td>velocity_customer</td><td>no</td><td>30</td><td>live</td><td>2</td></tr>".into(),
        "Decision allow with score 0 (no reasons); shadow rules fired: high_value_hardware".into(),
        "Wrong-code lock engaged on the customer after 10 wrong codes in 24 h".into(),
        "Wrong-code lock engaged on the number after 10 wrong codes in 24 h".into(),
        "Code check refused unjudged by the limit wrong_code_lock_customer; retry after ".into(),
        "Resend refused unjudged by the limit wrong_code_lock_customer; retry after ".into(),
        "Blocked, nothing sent (reasons: wrong_code_lock_customer); retry after ".into(),
        "none evaluated: a hard limit or the range pause refused first".into(),
    ] {
        assert!(trace.html.contains(&expected), "{expected} missing in {}", trace.html);
    }
    // The lock ends a day after the first of its wrong codes: a second or so from now.
    for refusal in ["Code check refused", "Resend refused", "Blocked, nothing sent"] {
        let at = trace.html.find(refusal).unwrap();
        let retry = trace.html[at..].split("retry after ").nth(1).unwrap();
        assert!(retry.starts_with("24 h<") || retry.starts_with("23 h 59 min<"), "{refusal}: {retry}");
    }
    let held = browser.get("/admin/trace?brand=alpha&order=H-2").await;
    let expected = "Held for review, no code sent (reasons: device_many_customers); the hold ends undecided at";
    assert!(held.html.contains(expected), "{}", held.html);
    assert!(held.html.contains("<td>device_many_customers</td><td>fired</td><td>50</td><td>live</td><td>3</td>"));

    // The dashboard counts the same from the counters, once they have caught up with the log.
    let (refused, locks, holds) = (
        logged(&server, "check.refused").await,
        logged(&server, "risk.lock_engaged").await,
        logged(&server, "verification.held").await,
    );
    assert_eq!((refused, locks, holds), (2, 2, 1));
    let expected_rows = [
        ("limit-refusals", "<tr><td>wrong_code_lock_customer</td><td>1</td><td>1</td><td>1</td><td>3</td></tr>"),
        ("lockouts", "<tr><td>customer</td><td>1</td></tr>"),
        ("lockouts", "<tr><td>number</td><td>1</td></tr>"),
        // Six verifications were scored (the blocked one was not): each fired the shadow rule.
        ("shadow-reasons", "<tr><td>high_value_hardware</td><td>6</td></tr>"),
        ("held", "<tr><th scope=\"row\">Held</th><td>1</td></tr>"),
    ];
    let mut fraud = browser.get("/admin/fraud?brand=alpha&days=1").await;
    for _ in 0..100 {
        if expected_rows.iter().all(|(id, row)| table(&fraud.html, id).contains(row)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fraud = browser.get("/admin/fraud?brand=alpha&days=1").await;
    }
    for (id, row) in expected_rows {
        assert!(table(&fraud.html, id).contains(row), "{row} missing in {}", table(&fraud.html, id));
    }
    assert!(fraud.html.contains("<tr><td>wrong_code_lock_customer</td><td>1</td></tr>"), "{}", fraud.html);
    assert!(fraud.html.contains("<tr><td>device_many_customers</td><td>1</td></tr>"), "{}", fraud.html);
    assert!(
        !table(&fraud.html, "shadow-reasons").contains("device_many_customers"),
        "live reasons are not shadow ones"
    );
    let overview = browser.get("/admin/overview?brand=alpha&days=1").await;
    assert!(overview.html.contains("<td>held for review</td><td>1</td>"), "{}", overview.html);
    server.stop().await;
}

/// The brand's `policy.changed` events, oldest first: (policy_version, previous_version).
async fn policy_changes(store: &orderguard::store::Store, brand: &str) -> Vec<(String, Value)> {
    let brand = brand.to_owned();
    store
        .read(move |conn| {
            conn.query(
                "SELECT attrs, verification_id, order_id FROM events WHERE brand = $1 AND type = 'policy.changed' ORDER BY id",
                &[brand.as_str().into()],
            )
        })
        .await
        .unwrap()
        .iter()
        .map(|row| {
            assert_eq!((row.opt_text("verification_id").unwrap(), row.opt_text("order_id").unwrap()), (None, None));
            let attrs: Value = serde_json::from_str(&row.text("attrs").unwrap()).unwrap();
            (attrs["policy_version"].as_str().unwrap().to_owned(), attrs["previous_version"].clone())
        })
        .collect()
}

async fn a_policy_change_is_recorded_once(db: Db) {
    let server = TestServer::start(db).await;
    let first = server.app().brands.get("alpha").unwrap().policy_version.clone();
    let store = server.app().store.clone();
    assert_eq!(policy_changes(&store, "alpha").await, [(first.clone(), Value::Null)], "the first policy is recorded");
    assert_eq!(policy_changes(&store, "beta").await.len(), 1);
    drop(store);
    let db = server.stop_keeping_database().await;

    // Two instances start together with a new policy for alpha: one records the change.
    let tighter = |s: &mut Settings| s.brands[0].policy.review_score = Some(40);
    let settings = crate::support::settings(&db, tighter);
    let now = crate::support::now();
    let (a, b) = tokio::join!(orderguard::prepare_store(&settings, now), orderguard::prepare_store(&settings, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    drop(b);
    let server = TestServer::start_with(db, tighter).await;
    let second = server.app().brands.get("alpha").unwrap().policy_version.clone();
    assert_ne!(second, first);
    let changes = policy_changes(&a, "alpha").await;
    assert_eq!(changes, [(first.clone(), Value::Null), (second.clone(), json!(first))]);
    assert_eq!(policy_changes(&a, "beta").await.len(), 1, "beta's policy did not change");
    drop(a);
    let db = server.stop_keeping_database().await;

    // Unchanged: nothing recorded. Back to the first policy: that is a change too.
    let server = TestServer::start_with(db, tighter).await;
    assert_eq!(policy_changes(&server.app().store, "alpha").await.len(), 2);
    let db = server.stop_keeping_database().await;
    let server = TestServer::start(db).await;
    let changes = policy_changes(&server.app().store, "alpha").await;
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[2], (first, json!(second)));
    server.stop().await;
}
