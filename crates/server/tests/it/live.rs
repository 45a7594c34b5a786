//! The live monitor: one readable line per step, grouped by order and linked to its trace,
//! filtered by event type, decision and country, with the rate per minute; the stream carries
//! the same lines.

use reqwest::StatusCode;
use serde_json::json;

use crate::admin::{Browser, PASSWORD, add_user};
use crate::on_both_databases;
use crate::support::{Db, TestServer, create_cheap, order};

on_both_databases!(the_live_monitor_reads_as_orders_and_steps);

/// The lines of one order's group on the page, in order.
fn group_of<'a>(html: &'a str, order_id: &str) -> &'a str {
    let start = html
        .find(&format!("<tbody class=\"order\" data-order=\"{order_id}\">"))
        .unwrap_or_else(|| panic!("no group {order_id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tbody>").unwrap()]
}

async fn the_live_monitor_reads_as_orders_and_steps(db: Db) {
    assert!(add_user(&db, &["--username", "ana", "--role", "analyst", "--brand", "alpha"]).0);
    let server = TestServer::start(db).await;
    // A phone order of c-1 (German number), and a blocked premium-rate number.
    let (status, body) = server.post(&server.alpha_key, "/v1/verifications", order("LIVE-1", "c-1")).await;
    assert_eq!(status, 201, "{body}");
    server.code(body["id"].as_str().unwrap()).await;
    let premium = create_cheap(&server, &server.alpha_key, "LIVE-2", "c-premium").await;
    assert_eq!(premium["status"], "blocked", "{premium}");

    let mut ana = Browser::new(&server);
    ana.sign_in("ana", PASSWORD).await;
    let page = ana.get("/admin/live?brand=alpha").await;
    assert_eq!(page.status, StatusCode::OK);
    let first = group_of(&page.html, "LIVE-1");
    assert!(first.contains("Order <a href=\"/admin/trace?brand=alpha&amp;order=LIVE-1\">LIVE-1</a>"), "{first}");
    for words in
        ["order started", "849.00 EUR · DE", "risk assessed", "SMS queued", "SMS handed to a provider", "outbox"]
    {
        assert!(first.contains(words), "{words} missing in {first}");
    }
    let blocked = group_of(&page.html, "LIVE-2");
    assert!(blocked.contains("class=\"event tone-bad\"") && blocked.contains("blocked, no code sent"), "{blocked}");
    assert!(page.html.find("data-order=\"LIVE-2\"") < page.html.find("data-order=\"LIVE-1\""), "newest order on top");
    assert!(page.html.contains("events in the last minute"), "the rate: {}", page.html);

    // Filters: the SMS steps only; the orders the rules denied; a country no event names.
    let sms = ana.get("/admin/live?brand=alpha&kind=sms").await;
    assert!(sms.html.contains("SMS handed to a provider") && !sms.html.contains("order started"), "{}", sms.html);
    let denied = ana.get("/admin/live?brand=alpha&decision=deny").await;
    assert!(
        denied.html.contains("data-order=\"LIVE-2\"") && !denied.html.contains("data-order=\"LIVE-1\""),
        "{}",
        denied.html
    );
    assert!(denied.html.contains("<option value=\"deny\" selected>"), "the filter shows what it chose");
    let nowhere = ana.get("/admin/live?brand=alpha&country=FR").await;
    assert!(!nowhere.html.contains("tr class=\"event"), "{}", nowhere.html);
    let germany = ana.get("/admin/live?brand=alpha&country=de").await;
    assert!(germany.html.contains("data-order=\"LIVE-1\""), "{}", germany.html);
    // The deciding steps name no country: they take their verification's, so filters combine.
    let denied_in_germany = ana.get("/admin/live?brand=alpha&country=DE&decision=deny").await;
    let group = group_of(&denied_in_germany.html, "LIVE-2");
    assert!(group.contains("risk assessed") && group.contains("blocked, no code sent"), "{group}");

    // The stream: a new order's steps arrive as the same lines.
    let last = page.html.split("data-after=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned();
    let (status, body) = server.post(&server.alpha_key, "/v1/verifications", order("LIVE-3", "c-2")).await;
    assert_eq!(status, 201, "{body}");
    let mut stream = ana.request(&format!("/admin/live/events?brand=alpha&after={last}")).send().await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = String::new();
    while !seen.contains("\"step\":\"risk assessed\"") {
        let chunk =
            tokio::time::timeout_at(deadline, stream.chunk()).await.expect("the steps within 5 s").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let created = seen.lines().find(|l| l.contains("\"order_id\":\"LIVE-3\"") && l.contains("order started")).unwrap();
    let event: serde_json::Value = serde_json::from_str(created.trim_start_matches("data:")).unwrap();
    assert_eq!(
        (&event["detail"], &event["tone"], &event["family"], &event["country"]),
        (&json!("849.00 EUR · DE"), &json!("plain"), &json!("verification"), &json!("DE")),
        "{event}"
    );
    // The open stream would hold the server's graceful stop for its five minutes.
    drop(stream);
    server.stop().await;
}
