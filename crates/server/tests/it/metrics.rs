//! `/metrics` names every brand's fraud and loss figures: it answers this machine, its own
//! address, or the token, and nobody else.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer, problem_type};

on_both_databases!(metrics_are_for_this_machine_their_own_address_or_the_token);

async fn metrics_are_for_this_machine_their_own_address_or_the_token(db: Db) {
    // By default: this machine. A visitor through the trusted proxy is not this machine.
    let server = TestServer::start_with(db, |s| s.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let url = format!("{}/metrics", server.base);
    server.http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let response = server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("route=\"/healthz\""));
    let response = server.http.get(&url).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_type(&problem), "metrics-refused", "{problem}");
    let database = server.stop_keeping_database().await;

    // With a token: whoever presents it, and nobody else, also on this machine.
    let token = "a metrics token of some length";
    let server = TestServer::start_with(database, |s| {
        s.metrics.token = Some(token.into());
    })
    .await;
    let url = format!("{}/metrics", server.base);
    let response = server.http.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = server.http.get(&url).bearer_auth("a wrong token of some length").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = server.http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let database = server.stop_keeping_database().await;

    // On an address of its own: there for whoever reaches it, and gone from the public listener.
    let server = TestServer::start_with(database, |s| s.metrics.listen = Some("127.0.0.1:0".into())).await;
    let (status, body) = server.get(&server.alpha_key, "/metrics").await;
    assert_eq!((status, problem_type(&body)), (404, "no-route"));
    let own = server.server.as_ref().unwrap().metrics_addr.unwrap();
    server.http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let response = server.http.get(format!("http://{own}/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("route=\"/healthz\""));
    server.stop().await;
}
