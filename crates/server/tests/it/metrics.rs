//! `/metrics` names every brand's fraud and loss figures: it is served on an address of its own
//! (loopback by default), and on the public listener only behind its token.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer, problem_type};

on_both_databases!(metrics_have_their_own_address_or_a_token);

async fn metrics_have_their_own_address_or_a_token(db: Db) {
    // By default: on their own address, not on the one the shops and customers reach.
    let server = TestServer::start(db).await;
    server.http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let (status, body) = server.get(&server.alpha_key, "/metrics").await;
    assert_eq!((status, problem_type(&body)), (404, "no-route"));
    let response = server.http.get(server.metrics_url()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("route=\"/healthz\""));
    let doc: Value =
        server.http.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"].get("/metrics").is_none(), "the public listener's document has no /metrics");
    let database = server.stop_keeping_database().await;

    // With a token: asked on both addresses, and the public listener serves /metrics behind it.
    let token = "a metrics token of some length";
    let server = TestServer::start_with(database, |s| s.metrics.token = Some(token.into())).await;
    for url in [format!("{}/metrics", server.base), server.metrics_url()] {
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{url}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem_type(&problem), "metrics-refused", "{problem}");
        let response = server.http.get(&url).bearer_auth("a wrong token of some length").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{url}");
        let response = server.http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        assert!(response.text().await.unwrap().contains("orderguard_http_requests_total"));
    }
    let doc: Value =
        server.http.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"].get("/metrics").is_some(), "behind its token, /metrics is documented");
    server.stop().await;
}
